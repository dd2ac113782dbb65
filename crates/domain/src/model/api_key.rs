//! API keys used by CI and scripts.

use crate::Timestamp;
use crate::ids::{ApiKeyId, Email};
use crate::model::access::RoleName;

/// A stored API key. The secret itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Record id.
    pub id: ApiKeyId,
    /// Name, unique among active keys (case-insensitively).
    pub name: String,
    /// Role fixed at creation.
    pub role: RoleName,
    /// First 11 characters of the secret, to recognise it.
    pub prefix: String,
    /// Lower-case hex SHA-256 of the secret.
    pub key_hash: String,
    /// Email of the user who created it.
    pub created_by: Email,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last successful authentication.
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// Whether uploads with it create missing environments and projects.
    pub auto_create: bool,
}
