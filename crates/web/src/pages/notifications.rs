//! `/notifications`: the viewer's notifications, newest first, all or only the unread ones.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use hub_domain::model::access::Principal;

use super::format::{project_url, time_text};
use super::layout::{Layout, layout, notification_viewer};
use super::response::html;
use super::{Ctx, PageError};

/// Notifications listed on `/notifications`.
pub const NOTIFICATIONS_SHOWN: i64 = 100;

/// One notification as a list entry.
#[derive(Debug, Clone)]
pub struct NotificationRow {
    /// Id.
    pub id: String,
    /// Headline.
    pub title: String,
    /// Text.
    pub body: String,
    /// `upload`, `disk`, `retention` or `allure`.
    pub category: &'static str,
    /// `info`, `success`, `warning` or `error`.
    pub severity: &'static str,
    /// Whether the viewer read it.
    pub read: bool,
    /// Creation time for display.
    pub created: String,
    /// Creation time, RFC 3339.
    pub created_iso: String,
    /// The build page it is about, if any.
    pub url: Option<String>,
}

impl NotificationRow {
    /// The entry of a notification as the viewer sees it.
    pub fn of(view: &hub_domain::model::notification::NotificationView) -> Self {
        let n = &view.notification;
        let text = |key: &str| n.payload.get(key).and_then(|v| v.as_str()).filter(|v| !v.is_empty());
        let url = match (text("env_id"), text("project_id"), text("build_id")) {
            (Some(env), Some(project), Some(build)) => Some(format!("{}/builds/{build}", project_url(env, project))),
            _ => None,
        };
        Self {
            id: n.id.to_string(),
            title: n.title.clone(),
            body: n.body.clone(),
            category: n.category.as_str(),
            severity: n.severity.as_str(),
            read: view.read,
            created: time_text(&n.created_at),
            created_iso: n.created_at.to_rfc3339(),
            url,
        }
    }
}

/// `/notifications`.
#[derive(Debug, Template)]
#[template(path = "notifications.html")]
pub struct NotificationsPage {
    /// Frame.
    pub layout: Layout,
    /// Whether only unread ones are shown.
    pub unread_only: bool,
    /// The notifications, newest first.
    pub items: Vec<NotificationRow>,
}

/// The viewer's notifications, only the unread ones with `unread=true`.
pub(super) async fn notifications(
    state: &Ctx<'_>,
    who: &Principal,
    query: &HashMap<String, String>,
) -> Result<HttpResponse, PageError> {
    let services = state.services;
    let unread_only = query.get("unread").is_some_and(|v| v == "true");
    let items = services
        .notifications
        .list(&notification_viewer(who), unread_only, NOTIFICATIONS_SHOWN)
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let page = NotificationsPage {
        layout: layout(state, "Notifications", "notifications", Some(who)).await,
        unread_only,
        items: items.iter().map(NotificationRow::of).collect(),
    };
    Ok(html(StatusCode::OK, page.render()?))
}
