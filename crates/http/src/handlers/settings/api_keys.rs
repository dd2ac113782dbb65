//! `/api/settings/apikeys`: the API keys that scripts and CI use instead of a browser session.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{Data, Json};
use hub_domain::ids::ApiKeyId;
use hub_domain::services::NewApiKey;
use hub_domain::services::api_keys::{DEFAULT_KEY_ROLE, key_role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::search_of;
use crate::access::Principal;
use crate::dto::{ApiKeyDto, PageDto, json_response};
use crate::error::ApiError;
use crate::extract::{QueryMap, page_request};
use crate::openapi::IN_ROUTE_TABLE;
use crate::openapi::params::{KeyActionParams, SearchPageParams};
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

/// `GET /api/settings/apikeys`.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "settings", params(SearchPageParams),
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
#[utoipa::path(post, path = IN_ROUTE_TABLE, tag = "settings", request_body = CreateKeyBody,
    responses(
        (status = 201, description = "the new key with its secret", body = CreatedKeyDto),
        (status = 400, description = "`name is required`, `name must be at most 64 characters`, `role must be one of admin, developer, viewer`, `autoCreate must be a boolean`"),
        (status = 403, description = "`only admins can create admin keys`"),
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
#[utoipa::path(delete, path = IN_ROUTE_TABLE, tag = "settings", params(KeyActionParams),
    responses(
        (status = 204, description = "revoked or deleted"),
        (status = 400, description = "`invalid action: must be revoke or delete`"),
        (status = 403, description = "`only admins can manage admin keys`"),
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
