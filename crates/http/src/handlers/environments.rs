//! `/api/environments` (§3).

use actix_web::http::StatusCode;
use actix_web::web::{Data, Json};
use actix_web::{HttpResponse, Responder};
use hub_domain::ids::EnvId;
use hub_domain::model::environment::EnvironmentPatch;
use hub_domain::model::names::{DisplayName, Icon};
use hub_domain::services::NewEnvironment;
use serde::Deserialize;

use crate::dto::{EnvironmentDto, json_response};
use crate::error::ApiError;
use crate::extract::{EnvPath, nullable_field};
use crate::state::AppState;

/// Body of `POST /api/environments`; fields are optional here so that a missing one gets the contract's message.
#[derive(Debug, Deserialize)]
pub struct CreateEnvironmentBody {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    icon: Option<String>,
}

/// Body of `PATCH /api/environments/{envId}`.
#[derive(Debug, Deserialize)]
pub struct UpdateEnvironmentBody {
    #[serde(default, deserialize_with = "nullable_field")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable_field")]
    icon: Option<Option<String>>,
}

fn parse_name(name: Option<&str>) -> Result<DisplayName, ApiError> {
    DisplayName::parse(name.unwrap_or_default()).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn parse_icon(icon: Option<&str>) -> Result<Icon, ApiError> {
    Icon::parse_or_default(icon).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// `GET /api/environments`.
pub async fn list_environments(state: Data<AppState>) -> Result<impl Responder, ApiError> {
    let envs = state.environments.list().await?;
    Ok(json_response(StatusCode::OK, &envs.into_iter().map(EnvironmentDto::from).collect::<Vec<_>>()))
}

/// `POST /api/environments`.
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
pub async fn delete_environment(state: Data<AppState>, EnvPath(id): EnvPath) -> Result<HttpResponse, ApiError> {
    state.environments.delete(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}
