//! Who may do what: permissions, role names and the principal behind a request.

use crate::ids::{ApiKeyId, Email};

/// Name of the browser session cookie: set by sign-in, read by the API and the web UI alike.
pub const SESSION_COOKIE: &str = "allure_hub_session";

crate::string_enum! {
    /// A permission granted by a role.
    Permission {
        /// Every read.
        View = "view",
        /// Sending results and triggering generation.
        Upload = "upload",
        /// Creating, changing and deleting; all settings.
        Manage = "manage",
    }
}

/// The name of a role in the policy (`^[A-Za-z0-9_-]{1,64}$`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleName(String);

impl RoleName {
    /// The role that unlocks admin-only routes.
    pub const ADMIN: &'static str = "admin";

    /// Checks the role name format.
    ///
    /// # Errors
    /// [`crate::ids::IdError::Invalid`] for a bad format.
    pub fn parse(s: &str) -> Result<Self, crate::ids::IdError> {
        let ok =
            !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok { Ok(Self(s.to_owned())) } else { Err(crate::ids::IdError::Invalid) }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the `admin` role.
    pub fn is_admin(&self) -> bool {
        self.0 == Self::ADMIN
    }
}

/// The authenticated party behind a request, as recorded on what it creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalRef {
    /// A signed-in user.
    User(Email),
    /// An API key, with its name for display.
    ApiKey {
        /// Key id.
        id: ApiKeyId,
        /// Key name.
        name: String,
    },
}

impl PrincipalRef {
    /// What `uploadedBy` and `createdBy` record: the email, or `apikey:<name>`.
    pub fn display(&self) -> String {
        match self {
            Self::User(email) => email.to_string(),
            Self::ApiKey { name, .. } => format!("apikey:{name}"),
        }
    }

    /// A stable key identifying the principal for ownership checks (`user:<email>` or `apikey:<id>`).
    pub fn owner_key(&self) -> String {
        match self {
            Self::User(email) => format!("user:{email}"),
            Self::ApiKey { id, .. } => format!("apikey:{id}"),
        }
    }
}

/// An authenticated request's party with what it may do, resolved once per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who.
    pub identity: PrincipalRef,
    /// Role name (fixed at login for users, at creation for keys).
    pub role: Option<RoleName>,
    /// The role's permissions in the current policy, in order view, upload, manage.
    pub permissions: Vec<Permission>,
    /// The browser session, when authenticated by one.
    pub session: Option<SessionInfo>,
    /// Whether uploads may create missing environments and projects (API keys with `autoCreate`; never sessions).
    pub auto_create: bool,
}

impl Principal {
    /// Whether the principal holds `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// Whether the principal's role is `admin`.
    pub fn is_admin(&self) -> bool {
        self.role.as_ref().is_some_and(RoleName::is_admin)
    }
}

/// The session behind a cookie-authenticated principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// SHA-256 of the cookie value.
    pub token_hash: String,
    /// Sign-in method.
    pub provider: crate::model::user::Provider,
    /// Fixed expiry.
    pub expires_at: crate::Timestamp,
    /// The value `X-CSRF-Token` must carry for this session.
    pub csrf_token: String,
}
