//! Notifications (contract §10): each principal's list, unread count, read state and deletions, and the live
//! stream. The viewer (whose state applies, and whether operational notifications are in its audience) comes from
//! the authenticated principal, never from the request.

use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;
use hub_domain::ids::NotificationId;
use hub_domain::model::access::Permission;
use hub_domain::model::notification::{Notification, NotificationView};
use hub_domain::model::syntax;
use hub_domain::ports::NotificationViewer;
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::Principal;
use crate::dto::{format_time, json_response};
use crate::error::ApiError;
use crate::extract::QueryMap;
use crate::openapi::IN_ROUTE_TABLE;
use crate::sse::{self, SseStream};
use crate::state::AppState;

/// A notification as one user or API key sees it (its own read state). Fields are snake_case.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Notification)]
pub struct NotificationDto {
    id: String,
    title: String,
    body: String,
    /// `upload`, `disk`, `retention` or `allure`.
    category: String,
    /// `info`, `success`, `warning` or `error`.
    severity: String,
    /// Whether the requesting user or API key has read it.
    read: bool,
    created_at: String,
    /// Event details with snake_case keys; `{}` when there are none.
    #[schema(value_type = Object)]
    payload: serde_json::Value,
}

impl NotificationDto {
    fn new(n: Notification, read: bool) -> Self {
        let payload = if n.payload.is_object() { n.payload } else { serde_json::json!({}) };
        Self {
            id: n.id.to_string(),
            title: n.title,
            body: n.body,
            category: n.category.as_str().to_owned(),
            severity: n.severity.as_str().to_owned(),
            read,
            created_at: format_time(n.created_at),
            payload,
        }
    }
}

impl From<NotificationView> for NotificationDto {
    fn from(view: NotificationView) -> Self {
        Self::new(view.notification, view.read)
    }
}

/// How many visible notifications this user or API key has not read.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UnreadCount)]
pub struct UnreadCountDto {
    count: i64,
}

/// Whose read and deletion state applies, and whether operational notifications are in its audience (`manage`).
fn viewer(principal: &Principal) -> NotificationViewer {
    NotificationViewer { principal: principal.0.identity.owner_key(), operational: principal.0.can(Permission::Manage) }
}

fn notification_id(req: &HttpRequest) -> Result<NotificationId, ApiError> {
    NotificationId::parse(req.match_info().get("id").unwrap_or_default())
        .map_err(|_| ApiError::bad_request("invalid id"))
}

/// `GET /api/notifications`: the notifications this user or API key can see, with its own read state.
#[utoipa::path(
    get,
    path = IN_ROUTE_TABLE,
    tag = "notifications",
    params(
        ("unread" = Option<bool>, Query, description = "`true`: only notifications this user or API key has not read"),
        ("limit" = Option<i64>, Query, description = "at most this many (non-negative); 0 or absent means no cap"),
    ),
    responses(
        (status = 200, description = "newest first", body = Vec<NotificationDto>),
        (status = 400, description = "`invalid unread: must be true or false`, `invalid limit: must be a non-negative integer`"),
    )
)]
pub async fn list_notifications(
    state: Data<AppState>,
    principal: Principal,
    query: QueryMap,
) -> Result<HttpResponse, ApiError> {
    let unread = match query.get("unread") {
        None => false,
        Some(v) => syntax::boolean(v).ok_or_else(|| ApiError::bad_request("invalid unread: must be true or false"))?,
    };
    let limit = match query.get("limit") {
        None => 0,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::bad_request("invalid limit: must be a non-negative integer"))?,
    };
    let list = state.notifications.list(&viewer(&principal), unread, limit).await?;
    Ok(json_response(StatusCode::OK, &list.into_iter().map(NotificationDto::from).collect::<Vec<_>>()))
}

/// `GET /api/notifications/unread`: how many are unread.
#[utoipa::path(
    get,
    path = IN_ROUTE_TABLE,
    tag = "notifications",
    responses(
        (status = 200, description = "unread count", body = UnreadCountDto),
    )
)]
pub async fn unread_count(state: Data<AppState>, principal: Principal) -> Result<HttpResponse, ApiError> {
    let count = state.notifications.unread_count(&viewer(&principal)).await?;
    Ok(json_response(StatusCode::OK, &UnreadCountDto { count }))
}

/// `PATCH /api/notifications/{id}/read`: marks one as read, for this user or API key only.
#[utoipa::path(
    patch,
    path = IN_ROUTE_TABLE,
    tag = "notifications",
    responses(
        (status = 204, description = "read (idempotent)"),
        (status = 404, description = "`notification <id> not found`: unknown, deleted by this user or API key, or not meant for it"),
    )
)]
pub async fn mark_read(
    req: HttpRequest,
    state: Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let id = notification_id(&req)?;
    state.notifications.mark_read(&viewer(&principal), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/notifications/read`: marks every visible notification as read, for this user or API key only.
#[utoipa::path(
    post,
    path = IN_ROUTE_TABLE,
    tag = "notifications",
    responses(
        (status = 204, description = "every visible notification read"),
    )
)]
pub async fn mark_all_read(state: Data<AppState>, principal: Principal) -> Result<HttpResponse, ApiError> {
    state.notifications.mark_all_read(&viewer(&principal)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/notifications/{id}`: removes one, for this user or API key only.
#[utoipa::path(
    delete,
    path = IN_ROUTE_TABLE,
    tag = "notifications",
    responses(
        (status = 204, description = "deleted for this user or API key only"),
        (status = 404, description = "`notification <id> not found`"),
    )
)]
pub async fn delete_notification(
    req: HttpRequest,
    state: Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let id = notification_id(&req)?;
    state.notifications.hide(&viewer(&principal), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/notifications/stream`: `event: notification` for each new notification this user or API key can see.
#[utoipa::path(
    get,
    path = IN_ROUTE_TABLE,
    tag = "notifications",
    responses(
        (status = 200, description = "server-sent events (`event: notification`, data = Notification)", content_type = "text/event-stream", body = String),
    )
)]
pub async fn notification_stream(
    req: HttpRequest,
    state: Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let events = state.notifications.subscribe(&viewer(&principal)).map(|n| match n {
        Ok(n) => Ok(sse::Event {
            name: "notification",
            data: serde_json::to_string(&NotificationDto::new(n, false)).unwrap_or_default(),
        }),
        // §1.10: a subscriber that fell behind is disconnected.
        Err(_) => Err(()),
    });
    Ok(sse::response_for(SseStream::Notifications, &req, state, principal.0, Box::pin(events)))
}
