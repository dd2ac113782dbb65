//! `/api/environments/{envId}/projects/{projectId}/reports` (§8.1, §8.4–8.8).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{Data, Json};
use hub_domain::model::build::OutcomeFilter;
use serde::Deserialize;

use crate::access::Principal;
use crate::dto::{BuildDto, PageDto, ProjectStatsDto, json_response};
use crate::error::ApiError;
use crate::extract::{BuildPath, ProjectPath, QueryMap, page_request};
use crate::handlers::uploads::{accepted_body, body_build_id, body_report_config};
use crate::state::AppState;

/// Largest `limit` of the report list.
const MAX_LIMIT: i64 = 500;
/// `limit` when absent.
const DEFAULT_LIMIT: i64 = 50;

fn outcome_filter(query: &QueryMap) -> Result<OutcomeFilter, ApiError> {
    // `filter` is the contract's alias of `status`.
    match query.get("status").or_else(|| query.get("filter")).map(String::as_str) {
        None | Some("all") => Ok(OutcomeFilter::All),
        Some("passed") => Ok(OutcomeFilter::Passed),
        Some("failed") => Ok(OutcomeFilter::Failed),
        Some(_) => Err(ApiError::bad_request("invalid status: must be all, passed or failed")),
    }
}

/// Body of `POST …/reports` (§8.1). Fields stay raw JSON so a wrong type gets the contract's message rather than
/// the parser's.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegenerateBody {
    #[serde(default)]
    build_id: Option<serde_json::Value>,
    #[serde(default)]
    report_config: Option<serde_json::Value>,
}

/// `POST …/reports` (§8.1).
pub async fn regenerate_report(
    state: Data<AppState>,
    ProjectPath(env, project): ProjectPath,
    principal: Principal,
    body: Json<RegenerateBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let build = body_build_id(body.build_id.as_ref())?;
    let config = body_report_config(body.report_config)?;
    let session = state.reports.regenerate(&principal.0, &env, &project, &build, config.as_ref()).await?;
    Ok(json_response(StatusCode::ACCEPTED, &accepted_body(&session)))
}

/// `GET …/reports`.
pub async fn list_reports(
    state: Data<AppState>,
    ProjectPath(env, project): ProjectPath,
    query: QueryMap,
) -> Result<HttpResponse, ApiError> {
    let page = page_request(&query, DEFAULT_LIMIT, MAX_LIMIT)?;
    let filter = outcome_filter(&query)?;
    let found = state.reports.list(&env, &project, filter, page).await?;
    let items: Vec<BuildDto> = found.items.into_iter().map(BuildDto::from).collect();
    Ok(json_response(StatusCode::OK, &PageDto { items, total: found.total }))
}

/// `GET …/reports/stats`.
pub async fn report_stats(
    state: Data<AppState>,
    ProjectPath(env, project): ProjectPath,
) -> Result<HttpResponse, ApiError> {
    let stats = state.reports.stats(&env, &project).await?;
    Ok(json_response(StatusCode::OK, &ProjectStatsDto::from(stats)))
}

/// `GET …/reports/{buildId}`.
pub async fn get_report(
    state: Data<AppState>,
    BuildPath(env, project, build): BuildPath,
) -> Result<HttpResponse, ApiError> {
    let found = state.reports.get(&env, &project, &build).await?;
    Ok(json_response(StatusCode::OK, &BuildDto::from(found)))
}

/// `DELETE …/reports/{buildId}`.
pub async fn delete_report(
    state: Data<AppState>,
    BuildPath(env, project, build): BuildPath,
) -> Result<HttpResponse, ApiError> {
    state.reports.delete(&env, &project, &build).await?;
    Ok(HttpResponse::NoContent().finish())
}
