//! `/settings/users`: the users, searched by email or name, with their roles and where each role comes from.

use hub_domain::model::access::{Principal, PrincipalRef};
use hub_domain::model::page::PageRequest;
use hub_domain::model::policy::BUILTIN_ROLES;

use super::{SettingsBody, internal};
use crate::html::query_value;
use crate::pages::PageError;
use crate::pages::format::time_text;
use hub_domain::services::Services;

/// A user as a table row.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Email.
    pub email: String,
    /// Email, encoded for a URL path segment.
    pub email_path: String,
    /// Display name.
    pub name: String,
    /// Latest sign-in method.
    pub provider: String,
    /// Role now, or `none`.
    pub role: String,
    /// `override`, `policy`, `default` or `none`.
    pub source: String,
    /// Latest sign-in.
    pub last_login: String,
    /// Whether it is the viewer (whose own role cannot be changed).
    pub is_self: bool,
}

/// The users matching `search`, and the roles an override may choose from.
pub(super) async fn body(
    services: &Services,
    who: &Principal,
    search: Option<String>,
    rows: PageRequest,
) -> Result<SettingsBody, PageError> {
    let users = services.users.list(search.clone(), rows).await.map_err(|e| internal(&e))?;
    let me = match &who.identity {
        PrincipalRef::User(email) => Some(email.to_string()),
        PrincipalRef::ApiKey { .. } => None,
    };
    let mut roles: Vec<String> = BUILTIN_ROLES.map(str::to_owned).to_vec();
    for role in users.items.iter().filter_map(|u| u.role.as_ref()) {
        if !roles.iter().any(|r| r == role.as_str()) {
            roles.push(role.as_str().to_owned());
        }
    }
    Ok(SettingsBody::Users {
        search: search.unwrap_or_default(),
        total: users.total,
        roles,
        users: users
            .items
            .iter()
            .map(|u| UserRow {
                email: u.user.email.to_string(),
                email_path: query_value(&u.user.email.to_string()),
                name: u.user.name.clone(),
                provider: u.user.provider.as_str().to_owned(),
                role: u.role.as_ref().map_or_else(|| "none".to_owned(), |r| r.as_str().to_owned()),
                source: u.role_source.as_str().to_owned(),
                last_login: time_text(&u.user.last_login_at),
                is_self: me.as_deref() == Some(u.user.email.as_str()),
            })
            .collect(),
    })
}
