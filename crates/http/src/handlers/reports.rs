//! `/api/environments/{envId}/projects/{projectId}/reports` (§8.4–8.8).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::Data;
use hub_domain::model::build::OutcomeFilter;

use crate::dto::{BuildDto, PageDto, ProjectStatsDto, json_response};
use crate::error::ApiError;
use crate::extract::{BuildPath, ProjectPath, QueryMap, page_request};
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
