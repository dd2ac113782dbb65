//! Users (people who signed in at least once) and their sessions.

use crate::Timestamp;
use crate::ids::Email;
use crate::model::access::RoleName;

crate::string_enum! {
    /// The sign-in method of a user's latest login.
    Provider {
        /// Google.
        Google = "google",
        /// GitHub.
        Github = "github",
        /// GitLab.
        Gitlab = "gitlab",
        /// A generic OpenID Connect issuer.
        Oidc = "oidc",
        /// Local password.
        Local = "local",
    }
}

crate::string_enum! {
    /// What decided a user's role.
    RoleSource {
        /// An override stored in the database.
        Override = "override",
        /// Membership in a policy role.
        Policy = "policy",
        /// The policy's default role.
        Default = "default",
        /// Nothing: the user has no role.
        None = "none",
    }
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Lower-cased identifier.
    pub email: Email,
    /// Display name.
    pub name: String,
    /// Avatar image URL.
    pub avatar_url: Option<String>,
    /// Method of the latest sign-in.
    pub provider: Provider,
    /// argon2id hash for local accounts.
    pub password_hash: Option<String>,
    /// First sign-in.
    pub first_login_at: Timestamp,
    /// Latest sign-in.
    pub last_login_at: Timestamp,
}

/// A server-side login session, referenced by an opaque cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSession {
    /// SHA-256 of the cookie value (the value itself is never stored).
    pub token_hash: String,
    /// Signed-in user.
    pub email: Email,
    /// Role resolved at login.
    pub role: Option<RoleName>,
    /// Sign-in method.
    pub provider: Provider,
    /// Login time.
    pub created_at: Timestamp,
    /// Fixed expiry (`SESSION_TTL` after login).
    pub expires_at: Timestamp,
}
