//! `/settings/api-keys`: the API keys, searched by name or prefix.

use hub_domain::model::access::Principal;
use hub_domain::model::page::PageRequest;

use super::{SettingsBody, internal};
use crate::pages::PageError;
use crate::pages::format::time_text;
use hub_domain::services::Services;

/// An API key as a table row.
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role name.
    pub role: String,
    /// First 11 characters of the key.
    pub prefix: String,
    /// Creator's email.
    pub created_by: String,
    /// Creation time.
    pub created: String,
    /// Last use, or `never`.
    pub last_used: String,
    /// Revocation time, when revoked.
    pub revoked: Option<String>,
    /// Whether uploads with it create missing environments and projects.
    pub auto_create: bool,
    /// Whether the viewer may revoke or delete it (only admins act on admin keys).
    pub actionable: bool,
}

/// The keys matching `search`, as `who` may act on them.
pub(super) async fn body(
    services: &Services,
    who: &Principal,
    search: Option<String>,
    rows: PageRequest,
) -> Result<SettingsBody, PageError> {
    let keys = services.api_keys.list(search.clone(), rows).await.map_err(|e| internal(&e))?;
    Ok(SettingsBody::ApiKeys {
        search: search.unwrap_or_default(),
        total: keys.total,
        keys: keys
            .items
            .iter()
            .map(|k| KeyRow {
                id: k.id.to_string(),
                name: k.name.clone(),
                role: k.role.as_str().to_owned(),
                prefix: k.prefix.clone(),
                created_by: k.created_by.to_string(),
                created: time_text(&k.created_at),
                last_used: k.last_used_at.as_ref().map_or_else(|| "never".to_owned(), time_text),
                revoked: k.revoked_at.as_ref().map(time_text),
                auto_create: k.auto_create,
                actionable: who.is_admin() || !k.role.is_admin(),
            })
            .collect(),
    })
}
