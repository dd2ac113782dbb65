//! `/api/environments` (§3).

use actix_web::http::StatusCode;
use actix_web::web::{Data, Json};
use actix_web::{HttpResponse, Responder};
use hub_domain::ids::EnvId;
use hub_domain::model::environment::EnvironmentPatch;
use hub_domain::model::names::{DisplayName, Icon};
use hub_domain::services::NewEnvironment;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::dto::{EnvironmentDto, json_response};
use crate::error::ApiError;
use crate::extract::{EnvPath, nullable_field};
use crate::openapi::IN_ROUTE_TABLE;
use crate::openapi::formats;
use crate::state::AppState;

// Fields are optional here so that a missing one gets the contract's message rather than the parser's.
/// Body of `POST /api/environments`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateEnvironmentBody {
    /// Slug, immutable.
    #[serde(default)]
    #[schema(required = true, value_type = formats::Slug)]
    id: Option<String>,
    /// Display name, 1–80 characters after trimming.
    #[serde(default)]
    #[schema(required = true, nullable = false, min_length = 1, max_length = 80)]
    name: Option<String>,
    /// Material Symbols icon name; missing, `null` or `""` is `deployed_code`.
    #[serde(default)]
    #[schema(pattern = r"^[a-z0-9_]{0,64}$")]
    icon: Option<String>,
}

/// Body of `PATCH /api/environments/{envId}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateEnvironmentBody {
    /// New display name (`null` is invalid).
    #[serde(default, deserialize_with = "nullable_field")]
    #[schema(value_type = String, nullable = false, min_length = 1, max_length = 80)]
    name: Option<Option<String>>,
    /// New icon; `null` or `""` resets it to `deployed_code`.
    #[serde(default, deserialize_with = "nullable_field")]
    #[schema(value_type = Option<String>, pattern = r"^[a-z0-9_]{0,64}$")]
    icon: Option<Option<String>>,
}

fn parse_name(name: Option<&str>) -> Result<DisplayName, ApiError> {
    DisplayName::parse(name.unwrap_or_default()).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn parse_icon(icon: Option<&str>) -> Result<Icon, ApiError> {
    Icon::parse_or_default(icon).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// `GET /api/environments`.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "environments",
    responses((status = 200, description = "every environment, newest first", body = [EnvironmentDto])))]
pub async fn list_environments(state: Data<AppState>) -> Result<impl Responder, ApiError> {
    let envs = state.environments.list().await?;
    Ok(json_response(StatusCode::OK, &envs.into_iter().map(EnvironmentDto::from).collect::<Vec<_>>()))
}

/// `POST /api/environments`.
#[utoipa::path(post, path = IN_ROUTE_TABLE, tag = "environments", request_body = CreateEnvironmentBody,
    responses(
        (status = 201, description = "the new environment", body = EnvironmentDto),
        (status = 400, description = "`id is required`, `invalid id`, `name is required`, `name must be at most 80 characters`, `invalid icon`"),
        (status = 409, description = "`environment <id> already exists`"),
    ))]
pub async fn create_environment(
    state: Data<AppState>,
    body: Json<CreateEnvironmentBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let id = body.id.ok_or_else(|| ApiError::bad_request("id is required"))?;
    let id = EnvId::parse(&id).map_err(|_| ApiError::bad_request("invalid id"))?;
    let name = parse_name(body.name.as_deref())?;
    let icon = parse_icon(body.icon.as_deref())?;
    let created = state.environments.create(NewEnvironment { id, name, icon }).await?;
    Ok(json_response(StatusCode::CREATED, &EnvironmentDto::from(created)))
}

/// `PATCH /api/environments/{envId}`.
#[utoipa::path(patch, path = IN_ROUTE_TABLE, tag = "environments",
    request_body = UpdateEnvironmentBody,
    responses(
        (status = 200, description = "the updated environment", body = EnvironmentDto),
        (status = 400, description = "invalid `name` or `icon`"),
        (status = 404, description = "`environment <envId> not found`"),
    ))]
pub async fn update_environment(
    state: Data<AppState>,
    EnvPath(id): EnvPath,
    body: Json<UpdateEnvironmentBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let patch = EnvironmentPatch {
        // `null` is not a name: the contract answers it like a missing name on create.
        name: body.name.map(|n| parse_name(n.as_deref())).transpose()?,
        icon: body.icon.map(|i| parse_icon(i.as_deref())).transpose()?,
    };
    let updated = state.environments.update(&id, patch).await?;
    Ok(json_response(StatusCode::OK, &EnvironmentDto::from(updated)))
}

/// `DELETE /api/environments/{envId}`.
#[utoipa::path(delete, path = IN_ROUTE_TABLE, tag = "environments",
    responses(
        (status = 204, description = "deleted with its projects, builds, sessions and files"),
        (status = 404, description = "`environment <envId> not found`"),
        (status = 409, description = "`the default environment cannot be deleted`"),
    ))]
pub async fn delete_environment(state: Data<AppState>, EnvPath(id): EnvPath) -> Result<HttpResponse, ApiError> {
    state.environments.delete(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}
