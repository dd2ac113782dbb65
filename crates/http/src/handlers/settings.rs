//! `/api/settings/apikeys`, `/api/settings/users` and `/api/settings/allure` (§13.1–13.2, §13.5).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{Data, Json};
use hub_domain::ids::{ApiKeyId, Email};
use hub_domain::model::allure_version::AllureVersion;
use hub_domain::services::NewApiKey;
use hub_domain::services::api_keys::{DEFAULT_KEY_ROLE, key_role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::Principal;
use crate::dto::{ApiKeyDto, PageDto, UserDto, json_response};
use crate::error::ApiError;
use crate::extract::{QueryMap, page_request};
use crate::openapi::params::{EmailParams, IdParams, KeyActionParams, SearchPageParams};
use crate::state::AppState;

/// Longest API key name, in characters after trimming.
const MAX_KEY_NAME_CHARS: usize = 64;

// `autoCreate` is read loosely so that a wrong type gets the contract's own message rather than the JSON parser's.
/// Body of `POST /api/settings/apikeys`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateKeyBody {
    /// 1–64 characters after trimming, unique among active keys.
    #[serde(default)]
    #[schema(required = true, nullable = false, min_length = 1, max_length = 64)]
    name: Option<String>,
    #[serde(default)]
    #[schema(schema_with = new_key_role)]
    role: Option<String>,
    /// Uploads with this key create missing environments and projects (default `false`).
    #[serde(default, rename = "autoCreate")]
    #[schema(value_type = Option<bool>)]
    auto_create: Option<serde_json::Value>,
}

/// `role` of a new key, which may be left out (`schema_with` replaces the field's own description).
fn new_key_role() -> utoipa::openapi::schema::Object {
    let mut schema = crate::dto::names::key_role();
    schema.description =
        Some(format!("The key's role, `{DEFAULT_KEY_ROLE}` when left out. Only an admin may create an `admin` key."));
    schema.default = Some(serde_json::Value::from(DEFAULT_KEY_ROLE));
    schema
}

/// A new API key with its secret: the only response that ever contains it. The server keeps only its SHA-256 hash.
#[derive(Serialize, ToSchema)]
#[schema(as = ApiKeyCreated)]
struct CreatedKeyDto {
    id: String,
    name: String,
    #[schema(schema_with = crate::dto::names::key_role)]
    role: String,
    /// The full secret: `ah_` and 64 hex digits.
    key: String,
    /// Its first 11 characters.
    prefix: String,
}

/// Body of `PATCH /api/settings/users/{email}/role`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleBody {
    /// A role defined in the current policy.
    #[serde(default)]
    #[schema(required = true, nullable = false, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    role: Option<String>,
}

fn search_of(query: &QueryMap) -> Option<String> {
    query.get("search").map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// `GET /api/settings/apikeys`.
#[utoipa::path(get, path = "/api/settings/apikeys", tag = "settings", params(SearchPageParams),
    responses(
        (status = 200, description = "API keys (revoked ones too), newest first", body = PageDto<ApiKeyDto>),
        (status = 400, description = "`invalid limit: …`, `invalid offset: …`"),
    ))]
pub async fn list_api_keys(state: Data<AppState>, query: QueryMap) -> Result<HttpResponse, ApiError> {
    let page = page_request(&query, 20, 100)?;
    let keys = state.api_keys.list(search_of(&query), page).await?;
    let body = PageDto { items: keys.items.into_iter().map(ApiKeyDto::from).collect(), total: keys.total };
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /api/settings/apikeys`: the only response that ever contains the secret.
#[utoipa::path(post, path = "/api/settings/apikeys", tag = "settings", request_body = CreateKeyBody,
    responses(
        (status = 201, description = "the new key with its secret", body = CreatedKeyDto),
        (status = 400, description = "`name is required`, `name must be at most 64 characters`, `role must be one of admin, developer, viewer`, `autoCreate must be a boolean`, invalid JSON"),
        (status = 403, description = "`settings require a browser session`, `missing permission: manage`, `only admins can create admin keys`, `cross-site request rejected`"),
        (status = 409, description = "`an active API key named <name> already exists`"),
    ))]
pub async fn create_api_key(
    state: Data<AppState>,
    Principal(principal): Principal,
    body: Json<CreateKeyBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = body.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let name = name.ok_or_else(|| ApiError::bad_request("name is required"))?;
    if name.chars().count() > MAX_KEY_NAME_CHARS {
        return Err(ApiError::bad_request("name must be at most 64 characters"));
    }
    let role = key_role(body.role.as_deref())
        .ok_or_else(|| ApiError::bad_request("role must be one of admin, developer, viewer"))?;
    let auto_create = match body.auto_create {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => b,
        Some(_) => return Err(ApiError::bad_request("autoCreate must be a boolean")),
    };
    let minted = state.api_keys.create(&principal, NewApiKey { name, role, auto_create }).await?;
    let body = CreatedKeyDto {
        id: minted.key.id.to_string(),
        name: minted.key.name,
        role: minted.key.role.as_str().to_owned(),
        prefix: minted.key.prefix,
        key: minted.secret,
    };
    Ok(json_response(StatusCode::CREATED, &body))
}

/// `DELETE /api/settings/apikeys/{id}?action=revoke|delete`.
#[utoipa::path(delete, path = "/api/settings/apikeys/{id}", tag = "settings", params(IdParams, KeyActionParams),
    responses(
        (status = 204, description = "revoked or deleted"),
        (status = 400, description = "`invalid id`, `invalid action: must be revoke or delete`"),
        (status = 403, description = "`settings require a browser session`, `missing permission: manage`, `only admins can manage admin keys`, `cross-site request rejected`"),
        (status = 404, description = "`API key <id> not found`"),
    ))]
pub async fn delete_api_key(
    state: Data<AppState>,
    Principal(principal): Principal,
    path: actix_web::web::Path<String>,
    query: QueryMap,
) -> Result<HttpResponse, ApiError> {
    let id = ApiKeyId::parse(&path).map_err(|_| ApiError::bad_request("invalid id"))?;
    let delete = match query.get("action").map(String::as_str) {
        None | Some("revoke") => false,
        Some("delete") => true,
        Some(_) => return Err(ApiError::bad_request("invalid action: must be revoke or delete")),
    };
    state.api_keys.remove(&principal, id, delete).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/settings/users`.
#[utoipa::path(get, path = "/api/settings/users", tag = "settings", params(SearchPageParams),
    responses(
        (status = 200, description = "users who signed in at least once, most recent sign-in first", body = PageDto<UserDto>),
        (status = 400, description = "`invalid limit: …`, `invalid offset: …`"),
    ))]
pub async fn list_users(state: Data<AppState>, query: QueryMap) -> Result<HttpResponse, ApiError> {
    let page = page_request(&query, 20, 100)?;
    let users = state.users.list(search_of(&query), page).await?;
    let body = PageDto { items: users.items.into_iter().map(UserDto::from).collect(), total: users.total };
    Ok(json_response(StatusCode::OK, &body))
}

fn email_of(path: &str) -> Result<Email, ApiError> {
    Email::parse(path).map_err(|_| ApiError::bad_request("invalid email"))
}

/// `PATCH /api/settings/users/{email}/role`.
#[utoipa::path(patch, path = "/api/settings/users/{email}/role", tag = "settings", params(EmailParams),
    request_body = RoleBody,
    responses(
        (status = 204, description = "the override is stored and the user's sessions are revoked"),
        (status = 400, description = "`invalid email`, `role is required`, `unknown role <role>`, invalid JSON"),
        (status = 403, description = "`settings require a browser session`, `missing permission: manage`, `admin role required`, `cross-site request rejected`"),
        (status = 409, description = "`you cannot change your own role`"),
    ))]
pub async fn set_user_role(
    state: Data<AppState>,
    Principal(principal): Principal,
    path: actix_web::web::Path<String>,
    body: Json<RoleBody>,
) -> Result<HttpResponse, ApiError> {
    let email = email_of(&path)?;
    let role = body.into_inner().role.ok_or_else(|| ApiError::bad_request("role is required"))?;
    state.users.set_role(&principal, &email, &role).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/settings/users/{email}/role`.
#[utoipa::path(delete, path = "/api/settings/users/{email}/role", tag = "settings", params(EmailParams),
    responses(
        (status = 204, description = "the override is removed (idempotent)"),
        (status = 400, description = "`invalid email`"),
        (status = 403, description = "`settings require a browser session`, `missing permission: manage`, `admin role required`, `cross-site request rejected`"),
        (status = 409, description = "`you cannot change your own role`"),
    ))]
pub async fn reset_user_role(
    state: Data<AppState>,
    Principal(principal): Principal,
    path: actix_web::web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.users.reset_role(&principal, &email_of(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

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
#[utoipa::path(get, path = "/api/settings/allure", tag = "settings",
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
#[utoipa::path(put, path = "/api/settings/allure", tag = "settings", request_body = AllureVersionBody,
    responses(
        (status = 200, description = "the version is installed and active", body = AllureActivatedDto),
        (status = 400, description = "`version is required`, `version must be MAJOR.MINOR.PATCH (for example 3.18.0)`, `only Allure 3 versions are supported`, `allure@<version> was not found in the registry`, invalid JSON"),
        (status = 403, description = "`settings require a browser session`, `missing permission: manage`, `admin role required`, `cross-site request rejected`"),
        (status = 409, description = "`an Allure CLI installation is already in progress`, `the Allure CLI is set by ALLURE_BIN and cannot be changed here`"),
        (status = 500, description = "`npm install allure@<version> failed`, with `detail`"),
    ))]
pub async fn put_allure(state: Data<AppState>, body: Json<AllureVersionBody>) -> Result<HttpResponse, ApiError> {
    let requested = body.into_inner().version.unwrap_or_default();
    let version = AllureVersion::parse(&requested).map_err(|e| ApiError::bad_request(e.to_string()))?;
    state.allure.activate(&version).await?;
    Ok(json_response(StatusCode::OK, &AllureActivatedDto { version: version.as_str().to_owned() }))
}
