//! hub-identity: who people are and what the policy lets them do.
//!
//! * [`password`]: argon2id password hashing behind the domain's `PasswordHasher` port;
//! * [`policy`]: the role policy file (YAML), parsed and checked, re-read periodically behind `PolicySource`.
//!
//! * [`oauth`]: OAuth sign-in behind `IdentityProvider`: OpenID Connect (Google, GitLab, any issuer) and
//!   [`github`] (plain OAuth 2.0 with the REST API).

pub mod github;
pub mod oauth;
pub mod password;
pub mod policy;

pub use github::GithubSettings;
pub use oauth::{OAuthProviders, OidcSettings};
pub use password::Argon2Hasher;
pub use policy::{PolicyFile, PolicyFileError};
