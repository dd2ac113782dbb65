//! `/api/settings/allure`: the Allure CLI version that generates reports.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{Data, Json};
use hub_domain::model::allure_version::AllureVersion;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::dto::json_response;
use crate::error::ApiError;
use crate::openapi::IN_ROUTE_TABLE;
use crate::state::AppState;

/// Body of `PUT /api/settings/allure`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AllureVersionBody {
    /// `MAJOR.MINOR.PATCH`, major at least 3.
    #[serde(default)]
    #[schema(required = true, nullable = false)]
    version: Option<String>,
}

/// The Allure CLI that generates reports: the version in use and the newest one published.
#[derive(Serialize, ToSchema)]
#[schema(as = AllureVersion)]
struct AllureStatusDto {
    /// Version of the active CLI; `""` without a working one.
    version: String,
    /// Latest version in the npm registry; `""` when unknown.
    latest: String,
    /// `false` when `ALLURE_BIN` is set.
    managed: bool,
    /// The version being installed right now.
    #[schema(required = true)]
    installing: Option<String>,
}

/// The version in use after `PUT /api/settings/allure`.
#[derive(Serialize, ToSchema)]
#[schema(as = AllureActivated)]
struct AllureActivatedDto {
    version: String,
}

/// `GET /api/settings/allure`.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "settings",
    responses((status = 200, description = "installed and latest versions", body = AllureStatusDto)))]
pub async fn get_allure(state: Data<AppState>) -> HttpResponse {
    let status = state.allure.status().await;
    let body = AllureStatusDto {
        version: status.version,
        latest: status.latest,
        managed: status.managed,
        installing: status.installing,
    };
    json_response(StatusCode::OK, &body)
}

/// `PUT /api/settings/allure`: installs (when needed) and activates a version; answers once it is in use.
#[utoipa::path(put, path = IN_ROUTE_TABLE, tag = "settings", request_body = AllureVersionBody,
    responses(
        (status = 200, description = "the version is installed and active", body = AllureActivatedDto),
        (status = 400, description = "`version is required`, `version must be MAJOR.MINOR.PATCH (for example 3.18.0)`, `only Allure 3 versions are supported`, `allure@<version> was not found in the registry`"),
        (status = 409, description = "`an Allure CLI installation is already in progress`, `the Allure CLI is set by ALLURE_BIN and cannot be changed here`"),
        (status = 500, description = "`npm install allure@<version> failed`, with `detail`"),
    ))]
pub async fn put_allure(state: Data<AppState>, body: Json<AllureVersionBody>) -> Result<HttpResponse, ApiError> {
    let requested = body.into_inner().version.unwrap_or_default();
    let version = AllureVersion::parse(&requested).map_err(|e| ApiError::bad_request(e.to_string()))?;
    state.allure.activate(&version).await?;
    Ok(json_response(StatusCode::OK, &AllureActivatedDto { version: version.as_str().to_owned() }))
}
