//! `/settings/{tab}`: the settings page, for `manage` only. One template (`settings.html`) draws the tab bar and
//! the body of the tab shown; each tab's module gathers that body and its rows.

pub mod allure;
pub mod api_keys;
pub mod disk;
pub mod retention;
pub mod users;

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use hub_domain::model::access::Principal;
use hub_domain::model::page::PageRequest;

use self::api_keys::KeyRow;
use self::disk::DiskRow;
use self::retention::RunRow;
use self::users::UserRow;
use super::layout::{Layout, layout};
use super::response::html;
use super::{Ctx, PageError};
use crate::routes::SettingsTab;

/// Rows listed on a settings tab with a search (the API's maximum page).
const SETTINGS_ROWS: i64 = 100;

/// A link of the settings tab bar.
#[derive(Debug, Clone)]
pub struct TabLink {
    /// The tab's page.
    pub url: String,
    /// Its label.
    pub label: &'static str,
    /// Whether it is the page shown.
    pub current: bool,
}

/// What a settings tab shows.
#[derive(Debug, Clone)]
pub enum SettingsBody {
    /// API keys, with the search.
    ApiKeys {
        /// The search text.
        search: String,
        /// Matching keys (newest first, at most 100).
        keys: Vec<KeyRow>,
        /// Keys matching in all.
        total: i64,
    },
    /// Users, with the search.
    Users {
        /// The search text.
        search: String,
        /// Matching users.
        users: Vec<UserRow>,
        /// Users matching in all.
        total: i64,
        /// Role names of the policy (for overrides).
        roles: Vec<String>,
    },
    /// Disk usage and the threshold.
    Disk {
        /// Whether results and reports are kept under the data directory (else in object storage).
        local_files: bool,
        /// Bytes the storage holds for builds.
        stored: String,
        /// Used bytes under the data directory.
        used: String,
        /// Free bytes.
        free: String,
        /// Capacity.
        total: String,
        /// Filesystem fill, 0–100, when the capacity is known.
        percent: Option<i64>,
        /// The largest projects.
        breakdown: Vec<DiskRow>,
        /// When it was measured.
        computed: String,
        /// The warning threshold (0 = off).
        threshold: i64,
    },
    /// The Allure CLI.
    Allure {
        /// Installed version, empty when none works.
        version: String,
        /// Newest published version, empty when unknown.
        latest: String,
        /// Whether the server may install versions.
        managed: bool,
        /// A version being installed.
        installing: Option<String>,
        /// Whether `latest` is newer than `version`.
        update: bool,
    },
    /// Retention settings and the recent runs.
    Retention {
        /// Days builds are kept.
        days: i64,
        /// Hours between sweeps.
        hours: i64,
        /// Whether sweeps only count.
        dry_run: bool,
        /// The next scheduled sweep.
        next_run: String,
        /// The newest runs.
        runs: Vec<RunRow>,
    },
}

/// `/settings/{tab}`.
#[derive(Debug, Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    /// Frame.
    pub layout: Layout,
    /// The tab bar.
    pub tabs: Vec<TabLink>,
    /// The tab's content.
    pub body: SettingsBody,
}

/// A failed service call of a tab: logged, never shown.
fn internal(e: &dyn std::fmt::Display) -> PageError {
    PageError::Internal(e.to_string())
}

/// The settings page on `tab`, searched by the `search` of the query where the tab lists rows.
pub(super) async fn settings(
    state: &Ctx<'_>,
    who: &Principal,
    tab: SettingsTab,
    query: &HashMap<String, String>,
) -> Result<HttpResponse, PageError> {
    let services = state.services;
    let search = query.get("search").map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let rows = PageRequest { limit: SETTINGS_ROWS, offset: 0 };
    let body = match tab {
        SettingsTab::ApiKeys => api_keys::body(services, who, search, rows).await?,
        SettingsTab::Users => users::body(services, who, search, rows).await?,
        SettingsTab::Disk => disk::body(services).await?,
        SettingsTab::Allure => allure::body(services).await,
        SettingsTab::Retention => retention::body(services).await?,
    };
    let page = SettingsPage {
        layout: layout(state, format!("Settings: {}", tab.label()), "settings", Some(who)).await,
        tabs: SettingsTab::ALL
            .into_iter()
            .map(|t| TabLink { url: format!("/settings/{}", t.slug()), label: t.label(), current: t == tab })
            .collect(),
        body,
    };
    Ok(html(StatusCode::OK, page.render()?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::pages::layout::fixture;

    fn settings(layout: Layout, body: SettingsBody) -> String {
        SettingsPage { layout, tabs: Vec::new(), body }.render().unwrap()
    }

    #[test]
    fn management_controls_follow_the_role() {
        let mut manager = fixture(Some("v@x.io"));
        manager.manage = true;
        manager.unread = Some(3);

        // A manager who is not an admin: no admin role for new keys, no role changes, no Allure install, and no
        // actions on an admin's key.
        let key = |role: &str, actionable| KeyRow {
            id: format!("id-{role}"),
            name: format!("{role}-key"),
            role: role.into(),
            prefix: "ah_12345678".into(),
            created_by: "a@x.io".into(),
            created: "t".into(),
            last_used: "never".into(),
            revoked: None,
            auto_create: false,
            actionable,
        };
        let keys = SettingsBody::ApiKeys {
            search: String::new(),
            keys: vec![key("admin", false), key("developer", true)],
            total: 2,
        };
        let html = settings(manager.clone(), keys.clone());
        assert!(!html.contains(r#"<option value="admin">"#), "{html}");
        assert!(!html.contains("/api/settings/apikeys/id-admin"), "{html}");
        assert!(html.contains("/api/settings/apikeys/id-developer?action=revoke"), "{html}");
        let mut admin = manager.clone();
        admin.admin = true;
        assert!(settings(admin.clone(), keys).contains(r#"<option value="admin">"#));

        let allure = SettingsBody::Allure {
            version: "3.18.0".into(),
            latest: "3.19.1".into(),
            managed: true,
            installing: None,
            update: true,
        };
        let html = settings(manager.clone(), allure.clone());
        assert!(html.contains("Allure 3.19.1 is available") && !html.contains("/api/settings/allure"), "{html}");
        assert!(settings(admin.clone(), allure).contains(r#"data-url="/api/settings/allure""#));

        let users = SettingsBody::Users {
            search: String::new(),
            users: vec![UserRow {
                email: "d@x.io".into(),
                email_path: "d%40x.io".into(),
                name: "D".into(),
                provider: "local".into(),
                role: "developer".into(),
                source: "override".into(),
                last_login: "t".into(),
                is_self: false,
            }],
            total: 1,
            roles: vec!["admin".into()],
        };
        assert!(!settings(manager, users.clone()).contains("/role"));
        let html = settings(admin, users);
        assert!(html.contains(r#"data-url="/api/settings/users/d%40x.io/role""#), "{html}");
        assert!(html.contains(">Reset</button>"), "an override can be reset: {html}");
    }
}
