//! `/api/settings/disk`: how much space the data takes (the data directory's filesystem, and the bytes the storage
//! holds for builds), and the usage at which users are warned.
//!
//! Bodies are read as JSON values and checked field by field, so a missing or mistyped field gets the contract's
//! own message rather than a generic deserializer error.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{Data, Json};
use hub_domain::model::disk::{DiskUsageEntry, StorageUsage};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::dto::{format_time, json_response};
use crate::error::ApiError;
use crate::openapi::IN_ROUTE_TABLE;
use crate::state::AppState;

/// The disk space one project's files take.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DiskUsageEntry)]
pub struct DiskUsageEntryDto {
    /// `<envId>/<projectId>`.
    path: String,
    bytes: i64,
}

/// Disk usage: the data directory's filesystem, the bytes the storage holds for builds, and the largest projects.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DiskUsage)]
pub struct DiskUsageDto {
    /// Where results and reports are kept: `filesystem` (under the data directory, so its figures include them)
    /// or `s3` (in a bucket; the data directory's figures are its database and scratch work only).
    #[schema(pattern = "^(filesystem|s3)$")]
    storage: &'static str,
    /// Bytes of every file under the data directory.
    used_bytes: i64,
    /// Bytes available on the data directory's filesystem (0 when unknown).
    free_bytes: i64,
    /// The data directory's filesystem capacity (0 when unknown).
    total_bytes: i64,
    /// Bytes the storage holds for every build (results and reports), as the hub measured each build when its
    /// files were written, not by listing the storage; a build not measured yet counts 0.
    stored_bytes: i64,
    /// At most 20 projects, largest first, ties by `path`: the bytes under each project's directory when `storage`
    /// is `filesystem`, else the stored bytes of its builds.
    breakdown: Vec<DiskUsageEntryDto>,
    computed_at: String,
}

impl DiskUsageDto {
    fn of(u: StorageUsage, storage: &'static str) -> Self {
        Self {
            storage,
            used_bytes: u.used_bytes,
            free_bytes: u.free_bytes,
            total_bytes: u.total_bytes,
            stored_bytes: u.stored_bytes,
            breakdown: u
                .breakdown
                .into_iter()
                .map(|DiskUsageEntry { path, bytes }| DiskUsageEntryDto { path, bytes })
                .collect(),
            computed_at: format_time(u.computed_at),
        }
    }
}

/// The disk usage (in percent of the filesystem) at which users with `manage` are notified.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DiskThreshold)]
pub struct ThresholdDto {
    /// 0–100; 0 turns the disk warning off.
    threshold_percent: i64,
}

/// `GET /api/settings/disk`: how much space the data takes and how much is free.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "settings",
    responses((status = 200, description = "the measurement, at most 60 s old", body = DiskUsageDto)))]
pub async fn get_disk_usage(state: Data<AppState>) -> Result<HttpResponse, ApiError> {
    let usage = state.disk.usage().await?;
    Ok(json_response(StatusCode::OK, &DiskUsageDto::of(usage, state.storage.kind())))
}

/// `GET /api/settings/disk/notification-threshold`: the disk usage that triggers a warning notification.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "settings",
    responses((status = 200, description = "85 until a value has been saved", body = ThresholdDto)))]
pub async fn get_disk_threshold(state: Data<AppState>) -> Result<HttpResponse, ApiError> {
    let threshold_percent = state.disk.threshold().await?;
    Ok(json_response(StatusCode::OK, &ThresholdDto { threshold_percent }))
}

/// `PUT /api/settings/disk/notification-threshold`: sets the disk usage that triggers a warning notification.
#[utoipa::path(put, path = IN_ROUTE_TABLE, tag = "settings", request_body = ThresholdDto,
    responses(
        (status = 204, description = "saved"),
        (status = 400, description = "`thresholdPercent must be an integer between 0 and 100`"),
    ))]
pub async fn put_disk_threshold(state: Data<AppState>, body: Json<Value>) -> Result<HttpResponse, ApiError> {
    let percent = body
        .get("thresholdPercent")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::bad_request("thresholdPercent must be an integer between 0 and 100"))?;
    state.disk.set_threshold(percent).await?;
    Ok(HttpResponse::NoContent().finish())
}
