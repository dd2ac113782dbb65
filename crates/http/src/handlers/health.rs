//! `/api/healthz` and `/api/version` (§12.1–12.2).

use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::Data;
use serde::Serialize;
use utoipa::ToSchema;

use crate::dto::json_response;
use crate::openapi::IN_ROUTE_TABLE;
use crate::state::AppState;

/// How long the readiness check waits for the database, and for the storage.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Readiness of the server, its database and its storage.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Health<'a> {
    /// `ok`, or `degraded` when the database or the storage does not answer.
    #[schema(pattern = "^(ok|degraded)$")]
    status: &'static str,
    /// `ok` or `unavailable`.
    #[schema(pattern = "^(ok|unavailable)$")]
    db: &'static str,
    /// `ok` or `unavailable`: where results and reports are kept (`DATA_DIR`, or the bucket of `STORAGE_URL`).
    #[schema(pattern = "^(ok|unavailable)$")]
    storage: &'static str,
    /// Time since start, as `26h0m5s`.
    uptime: String,
    uptime_seconds: u64,
    version: &'a str,
    /// The node that answers (its `NODE_ID`), among the server processes sharing the database.
    node: &'a str,
}

/// What this server binary was built from; a value that is not known is `unknown` (`version`: `dev`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Version<'a> {
    version: &'a str,
    build_time: &'a str,
    rust_version: &'a str,
    git_commit: &'a str,
}

/// Whole seconds as hours, minutes and seconds with leading zero units left out: `45s`, `3m12s`, `26h0m5s`.
pub fn format_uptime(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// `GET /api/healthz`: 200 when the database and the storage answer within 2 s each, else 503 (without detail; the
/// cause is logged).
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "health",
    responses(
        (status = 200, description = "the server, its database and its storage are ready", body = Health),
        (status = 503, description = "the database or the storage check failed", body = Health),
    ))]
pub async fn get_health(state: Data<AppState>) -> HttpResponse {
    let (db_ok, storage_ok) =
        tokio::join!(passes("database", state.health.ping()), passes("storage", state.storage.check()),);
    let uptime_seconds = state.started_at.elapsed().as_secs();
    let ready = |ok: bool| if ok { "ok" } else { "unavailable" };
    let body = Health {
        status: if db_ok && storage_ok { "ok" } else { "degraded" },
        db: ready(db_ok),
        storage: ready(storage_ok),
        uptime: format_uptime(uptime_seconds),
        uptime_seconds,
        version: &state.version.version,
        node: state.nodes.id().as_str(),
    };
    let status = if db_ok && storage_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    json_response(status, &body)
}

/// Whether `check` succeeds within [`CHECK_TIMEOUT`]; a failure is logged with its cause.
async fn passes<E: std::fmt::Display>(what: &str, check: impl Future<Output = Result<(), E>>) -> bool {
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: {what} unavailable");
            false
        }
        Err(_) => {
            tracing::warn!("readiness check: {what} did not answer within 2 s");
            false
        }
    }
}

/// `GET /api/version`.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "health",
    responses((status = 200, description = "build facts", body = Version)))]
pub async fn get_version(state: Data<AppState>) -> HttpResponse {
    let v = &state.version;
    json_response(
        StatusCode::OK,
        &Version {
            version: &v.version,
            build_time: &v.build_time,
            rust_version: &v.rust_version,
            git_commit: &v.git_commit,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::format_uptime;

    #[test]
    fn uptime_omits_leading_zero_units_only() {
        assert_eq!(format_uptime(0), "0s");
        assert_eq!(format_uptime(45), "45s");
        assert_eq!(format_uptime(192), "3m12s");
        assert_eq!(format_uptime(3600), "1h0m0s");
        assert_eq!(format_uptime(26 * 3600 + 5), "26h0m5s");
    }
}
