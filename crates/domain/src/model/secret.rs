//! The one-way form in which the server stores the secrets it hands out (API keys, session tokens).

use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of a secret: what is stored instead of the secret itself.
pub fn sha256_hex(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Lower-case hex of bytes (digests computed incrementally elsewhere use it too).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_the_known_sha256_digest() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
