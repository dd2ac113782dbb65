//! `/api/settings/apikeys`, `/api/settings/users` and `/api/settings/allure` (§13.1–13.2, §13.5).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{Data, Json};
use hub_domain::ids::{ApiKeyId, Email};
use hub_domain::model::access::RoleName;
use hub_domain::model::allure_version::AllureVersion;
use hub_domain::services::NewApiKey;
use hub_domain::services::api_keys::KEY_ROLES;
use serde::{Deserialize, Serialize};

use crate::access::Principal;
use crate::dto::{ApiKeyDto, PageDto, UserDto, json_response};
use crate::error::ApiError;
use crate::extract::{QueryMap, page_request};
use crate::state::AppState;

/// Longest API key name, in characters after trimming.
const MAX_KEY_NAME_CHARS: usize = 64;

/// Body of `POST /api/settings/apikeys`. `autoCreate` is read loosely so that a wrong type gets the contract's
/// own message rather than the JSON parser's.
#[derive(Debug, Deserialize)]
pub struct CreateKeyBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default, rename = "autoCreate")]
    auto_create: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct CreatedKeyDto {
    id: String,
    name: String,
    role: String,
    key: String,
    prefix: String,
}

/// Body of `PATCH /api/settings/users/{email}/role`.
#[derive(Debug, Deserialize)]
pub struct RoleBody {
    #[serde(default)]
    role: Option<String>,
}

fn search_of(query: &QueryMap) -> Option<String> {
    query.get("search").map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// `GET /api/settings/apikeys`.
pub async fn list_api_keys(state: Data<AppState>, query: QueryMap) -> Result<HttpResponse, ApiError> {
    let page = page_request(&query, 20, 100)?;
    let keys = state.api_keys.list(search_of(&query), page).await?;
    let body = PageDto { items: keys.items.into_iter().map(ApiKeyDto::from).collect(), total: keys.total };
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST /api/settings/apikeys`: the only response that ever contains the secret.
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
    let role = body.role.ok_or_else(|| ApiError::bad_request("role is required"))?;
    let role = RoleName::parse(&role)
        .ok()
        .filter(|r| KEY_ROLES.contains(&r.as_str()))
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
pub async fn reset_user_role(
    state: Data<AppState>,
    Principal(principal): Principal,
    path: actix_web::web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.users.reset_role(&principal, &email_of(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Body of `PUT /api/settings/allure`.
#[derive(Debug, Deserialize)]
pub struct AllureVersionBody {
    #[serde(default)]
    version: Option<String>,
}

/// §13.5: the active and latest Allure CLI versions.
#[derive(Serialize)]
struct AllureStatusDto {
    version: String,
    latest: String,
    managed: bool,
    installing: Option<String>,
}

/// `GET /api/settings/allure`.
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
pub async fn put_allure(state: Data<AppState>, body: Json<AllureVersionBody>) -> Result<HttpResponse, ApiError> {
    let requested = body.into_inner().version.unwrap_or_default();
    let version = AllureVersion::parse(&requested).map_err(|e| ApiError::bad_request(e.to_string()))?;
    state.allure.activate(&version).await?;
    Ok(json_response(StatusCode::OK, &serde_json::json!({ "version": version.as_str() })))
}
