//! hub-identity: who people are and what the policy lets them do.
//!
//! * [`password`]: argon2id password hashing behind the domain's `PasswordHasher` port;
//! * [`policy`]: the role policy file (YAML), parsed and checked, re-read periodically behind `PolicySource`.
//!
//! OAuth2/OpenID Connect sign-in (openidconnect) is added here with the rest of the authentication milestone.

pub mod password;
pub mod policy;

pub use password::Argon2Hasher;
pub use policy::{PolicyFile, PolicyFileError};
