//! argon2id with the library's recommended parameters (m = 19 MiB, t = 2, p = 1) and a random salt.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use hub_domain::ports::PasswordHasher;

/// The production [`PasswordHasher`].
#[derive(Debug, Default, Clone)]
pub struct Argon2Hasher;

impl PasswordHasher for Argon2Hasher {
    fn hash(&self, password: &str) -> Result<String, String> {
        let hash: PasswordHash = Argon2::default().hash_password(password.as_bytes()).map_err(|e| e.to_string())?;
        Ok(hash.to_string())
    }

    fn verify(&self, password: &str, hash: &str) -> bool {
        PasswordHash::new(hash)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_the_recommended_parameters_and_a_fresh_salt() {
        let h = Argon2Hasher;
        let one = h.hash("s3cret-Passw0rd").unwrap();
        let two = h.hash("s3cret-Passw0rd").unwrap();
        assert!(one.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{one}");
        assert_ne!(one, two, "a fresh salt per hash");
        assert!(h.verify("s3cret-Passw0rd", &one));
        assert!(!h.verify("s3cret-passw0rd", &one));
        assert!(!h.verify("anything", "not a hash"));
    }
}
