//! hub-identity: who people are and what the policy lets them do.
//!
//! * [`password`]: argon2id password hashing behind the domain's `PasswordHasher` port;
//! * [`policy`]: the role policy file (YAML), parsed and checked, re-read periodically behind `PolicySource`.
//!
//! * [`oauth`]: OpenID Connect sign-in (Google, GitLab, any issuer) behind `IdentityProvider`.

pub mod oauth;
pub mod password;
pub mod policy;

pub use oauth::{OidcProviders, OidcSettings};
pub use password::Argon2Hasher;
pub use policy::{PolicyFile, PolicyFileError};
