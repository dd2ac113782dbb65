//! Secrets the server hands out (API keys, session tokens) and the one-way form in which it stores them.

use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of a secret: what is stored instead of the secret itself.
pub fn sha256_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `key` has the API key shape: `ah_` and 64 lower-case hex digits.
pub fn is_api_key_shape(key: &str) -> bool {
    key.len() == 67
        && key.starts_with("ah_")
        && key[3..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_the_known_sha256_digest() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn api_keys_are_recognised_by_shape() {
        assert!(is_api_key_shape(&format!("ah_{}", "0f".repeat(32))));
        assert!(!is_api_key_shape(&format!("ah_{}", "0F".repeat(32))));
        assert!(!is_api_key_shape("ah_short"));
    }
}
