//! `/api/settings/retention`: how long builds are kept, and the sweeps that delete older ones.
//!
//! Bodies are read as JSON values and checked field by field, so a missing or mistyped field gets the contract's
//! own message rather than a generic deserializer error.

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::{Bytes, Data, Json};
use actix_web::{HttpRequest, HttpResponse};
use hub_domain::model::retention::{CleanupRun, CleanupTrigger, RetentionSettings};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::dto::{format_time, json_response};
use crate::error::ApiError;
use crate::extract::QueryMap;
use crate::openapi::IN_ROUTE_TABLE;
use crate::state::AppState;

/// Data retention: builds older than `retentionDays` are deleted by a sweep every `intervalHours`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RetentionSettings)]
pub struct RetentionSettingsDto {
    /// 1–36500.
    retention_days: i64,
    /// 1–8760.
    interval_hours: i64,
    dry_run: bool,
    /// Read-only; `null` when scheduled cleanup is disabled (ignored when sent).
    #[serde(default, skip_deserializing)]
    #[schema(required = true)]
    next_run_at: Option<String>,
}

/// One sweep of data retention, scheduled or started by hand.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CleanupRun)]
pub struct CleanupRunDto {
    id: String,
    started_at: String,
    finished_at: String,
    /// `success` or `failed`.
    status: String,
    /// `schedule` or `manual`.
    trigger: String,
    deleted_count: i64,
    skipped_count: i64,
    freed_bytes: i64,
    dry_run: bool,
    /// Present only when `status` is `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
}

impl From<CleanupRun> for CleanupRunDto {
    fn from(r: CleanupRun) -> Self {
        Self {
            id: r.id.to_string(),
            started_at: format_time(r.started_at),
            finished_at: format_time(r.finished_at),
            status: r.status.as_str().to_owned(),
            trigger: r.trigger.as_str().to_owned(),
            deleted_count: r.deleted_count,
            skipped_count: r.skipped_count,
            freed_bytes: r.freed_bytes,
            dry_run: r.dry_run,
            error_message: r.error_message,
        }
    }
}

// For the OpenAPI document only: [`run_dry_run`] reads the body itself, because no body at all is valid too.
/// The optional body of a sweep started by hand.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CleanupRunRequest)]
#[allow(dead_code, reason = "only described, never built: run_dry_run reads the body")]
pub struct RunBody {
    /// Overrides the stored `dryRun` for this sweep.
    dry_run: Option<bool>,
}

/// `GET /api/settings/retention`: the retention settings and when the next sweep is due.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "settings",
    responses((status = 200, description = "stored settings and the next scheduled sweep", body = RetentionSettingsDto)))]
pub async fn get_retention(state: Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (settings, next) = state.retention.settings_and_next_run().await?;
    let dto = RetentionSettingsDto {
        retention_days: settings.retention_days,
        interval_hours: settings.interval_hours,
        dry_run: settings.dry_run,
        next_run_at: next.map(format_time),
    };
    Ok(json_response(StatusCode::OK, &dto))
}

/// A required integer field in `range`, with the contract's messages.
fn ranged(body: &Value, name: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Err(ApiError::bad_request(format!("{name} is required"))),
        Some(v) => v.as_i64().filter(|n| range.contains(n)).ok_or_else(|| {
            ApiError::bad_request(format!("{name} must be an integer between {} and {}", range.start(), range.end()))
        }),
    }
}

/// `PUT /api/settings/retention`: all three fields, stored together.
#[utoipa::path(put, path = IN_ROUTE_TABLE, tag = "settings", request_body = RetentionSettingsDto,
    responses(
        (status = 204, description = "saved"),
        (status = 400, description = "`<field> is required`, `retentionDays must be an integer between 1 and 36500`, `intervalHours must be an integer between 1 and 8760`, `dryRun must be a boolean`"),
    ))]
pub async fn put_retention(state: Data<AppState>, body: Json<Value>) -> Result<HttpResponse, ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request("invalid JSON body: expected an object"));
    }
    let retention_days = ranged(&body, "retentionDays", 1..=36_500)?;
    let interval_hours = ranged(&body, "intervalHours", 1..=8_760)?;
    let dry_run = match body.get("dryRun") {
        None | Some(Value::Null) => return Err(ApiError::bad_request("dryRun is required")),
        Some(v) => v.as_bool().ok_or_else(|| ApiError::bad_request("dryRun must be a boolean"))?,
    };
    state.retention.put_settings(RetentionSettings { retention_days, interval_hours, dry_run }).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/settings/retention/runs`: the latest sweeps (the server keeps 5).
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "settings",
    params(("limit" = Option<i64>, Query, description = "1–50, default 5")),
    responses(
        (status = 200, description = "newest first", body = Vec<CleanupRunDto>),
        (status = 400, description = "`invalid limit: must be an integer between 1 and 50`"),
    ))]
pub async fn list_cleanup_runs(state: Data<AppState>, query: QueryMap) -> Result<HttpResponse, ApiError> {
    let limit = crate::extract::page_request(&query, 5, 50)?.limit;
    let runs = state.retention.runs(usize::try_from(limit).unwrap_or(5)).await?;
    Ok(json_response(StatusCode::OK, &runs.into_iter().map(CleanupRunDto::from).collect::<Vec<_>>()))
}

/// The optional body of a manual sweep: none, or a JSON object with an optional boolean `dryRun`.
fn run_dry_run(req: &HttpRequest, body: &Bytes, max: usize) -> Result<Option<bool>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if body.len() > max {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"));
    }
    let media = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !media.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json"));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ApiError::bad_request("invalid JSON body: expected an object"));
    };
    match map.get("dryRun") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_bool().map(Some).ok_or_else(|| ApiError::bad_request("dryRun must be a boolean")),
    }
}

/// `POST /api/settings/retention/run`: one sweep now, answered when it has finished.
#[utoipa::path(post, path = IN_ROUTE_TABLE, tag = "settings", request_body(content = Option<RunBody>),
    responses(
        (status = 200, description = "the finished run", body = CleanupRunDto),
        (status = 400, description = "`dryRun must be a boolean`"),
        (status = 409, description = "`a cleanup run is already in progress`"),
    ))]
pub async fn run_cleanup(req: HttpRequest, state: Data<AppState>, body: Bytes) -> Result<HttpResponse, ApiError> {
    let dry_run = run_dry_run(&req, &body, state.config.max_json_bytes)?;
    let report = state.retention.sweep(CleanupTrigger::Manual, dry_run).await?;
    crate::metrics::observe_sweep(&report);
    Ok(json_response(StatusCode::OK, &CleanupRunDto::from(report.run)))
}
