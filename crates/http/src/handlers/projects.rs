//! `/api/environments/{envId}/projects` (§4).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{Data, Json};
use hub_domain::ids::ProjectId;
use hub_domain::model::names::DisplayName;
use hub_domain::services::NewProject;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::dto::{ProjectDto, json_response};
use crate::error::ApiError;
use crate::extract::{EnvPath, ProjectPath};
use crate::openapi::IN_ROUTE_TABLE;
use crate::openapi::formats;
use crate::state::AppState;

/// Body of `POST …/projects`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateProjectBody {
    /// Slug, unique within the environment.
    #[serde(default)]
    #[schema(required = true, value_type = formats::Slug)]
    id: Option<String>,
    /// Display name, 1–80 characters after trimming.
    #[serde(default)]
    #[schema(required = true, nullable = false, min_length = 1, max_length = 80)]
    name: Option<String>,
}

/// `GET /api/environments/{envId}/projects`.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "projects",
    responses(
        (status = 200, description = "the environment's projects, newest first", body = [ProjectDto]),
        (status = 404, description = "`environment <envId> not found`"),
    ))]
pub async fn list_projects(state: Data<AppState>, EnvPath(env): EnvPath) -> Result<HttpResponse, ApiError> {
    let projects = state.projects.list(&env).await?;
    Ok(json_response(StatusCode::OK, &projects.into_iter().map(ProjectDto::from).collect::<Vec<_>>()))
}

/// `POST /api/environments/{envId}/projects`.
#[utoipa::path(post, path = IN_ROUTE_TABLE, tag = "projects",
    request_body = CreateProjectBody,
    responses(
        (status = 201, description = "the new project", body = ProjectDto),
        (status = 400, description = "`id is required`, `invalid id`, `name is required`, `name must be at most 80 characters`"),
        (status = 404, description = "`environment <envId> not found`"),
        (status = 409, description = "`project <id> already exists in environment <envId>`"),
    ))]
pub async fn create_project(
    state: Data<AppState>,
    EnvPath(env): EnvPath,
    body: Json<CreateProjectBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let id = body.id.ok_or_else(|| ApiError::bad_request("id is required"))?;
    let id = ProjectId::parse(&id).map_err(|_| ApiError::bad_request("invalid id"))?;
    let name = DisplayName::parse(body.name.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let created = state.projects.create(&env, NewProject { id, name }).await?;
    Ok(json_response(StatusCode::CREATED, &ProjectDto::from(created)))
}

/// `DELETE /api/environments/{envId}/projects/{projectId}`.
#[utoipa::path(delete, path = IN_ROUTE_TABLE, tag = "projects",
    responses(
        (status = 204, description = "deleted with its builds, sessions, history and files"),
        (status = 404, description = "`environment <envId> not found`, `project <projectId> not found in environment <envId>`"),
    ))]
pub async fn delete_project(
    state: Data<AppState>,
    ProjectPath(env, id): ProjectPath,
) -> Result<HttpResponse, ApiError> {
    state.projects.delete(&env, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
