//! `/api/environments/{envId}/projects` (§4).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{Data, Json};
use hub_domain::ids::ProjectId;
use hub_domain::model::names::DisplayName;
use hub_domain::services::NewProject;
use serde::Deserialize;

use crate::dto::{ProjectDto, json_response};
use crate::error::ApiError;
use crate::extract::{EnvPath, ProjectPath};
use crate::state::AppState;

/// Body of `POST …/projects`.
#[derive(Debug, Deserialize)]
pub struct CreateProjectBody {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// `GET /api/environments/{envId}/projects`.
pub async fn list_projects(state: Data<AppState>, EnvPath(env): EnvPath) -> Result<HttpResponse, ApiError> {
    let projects = state.projects.list(&env).await?;
    Ok(json_response(StatusCode::OK, &projects.into_iter().map(ProjectDto::from).collect::<Vec<_>>()))
}

/// `POST /api/environments/{envId}/projects`.
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
pub async fn delete_project(
    state: Data<AppState>,
    ProjectPath(env, id): ProjectPath,
) -> Result<HttpResponse, ApiError> {
    state.projects.delete(&env, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
