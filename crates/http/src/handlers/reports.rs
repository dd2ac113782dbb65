//! `/api/environments/{envId}/projects/{projectId}/reports` (§8.1, §8.4–8.8).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{Data, Json};
use hub_domain::model::build::OutcomeFilter;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::access::Principal;
use crate::dto::{BuildDto, PageDto, ProjectStatsDto, UploadAcceptedDto, json_response};
use crate::error::ApiError;
use crate::extract::{BuildPath, ProjectPath, QueryMap, page_request};
use crate::handlers::uploads::{body_build_id, body_report_config};
use crate::openapi::IN_ROUTE_TABLE;
use crate::openapi::formats;
use crate::openapi::params::{PageParams, ReportFilterParams};
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

// Fields stay raw JSON so a wrong type gets the contract's message rather than the parser's.
/// Body of `POST …/reports`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegenerateBody {
    /// The existing build to generate again.
    #[serde(default)]
    #[schema(value_type = formats::BuildId, required = true)]
    build_id: Option<serde_json::Value>,
    /// Report config for this generation (the structure of an Allure 3 `allurerc`), applied as a JSON merge patch
    /// over the server's base config. Allowed top-level keys: `name`, `plugins`, `qualityGate`, `variables`,
    /// `environments`, `environment`, `allowedEnvironments`, `defaultLabels`, `hideLabels`, `categories`; the
    /// server sets `output` and `historyPath` itself. Plugins must be allowed by the server, and their options may
    /// not refer to files.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    report_config: Option<serde_json::Value>,
}

/// `POST …/reports`: generates the report of an existing build again, optionally with another report config.
#[utoipa::path(post, path = IN_ROUTE_TABLE, tag = "reports",
    request_body = RegenerateBody,
    responses(
        (status = 202, description = "generation queued (ReportTriggered)", body = UploadAcceptedDto),
        (status = 400, description = "`buildId is required`, `invalid buildId`, `reportConfig must be an object`, a refused `reportConfig` (`reportConfig.<key> is not allowed`, `reportConfig.plugins.<key> is not an allowed plugin`, `reportConfig.plugins.<key>.options.<path> must not refer to files`, `reportConfig is nested too deeply`, …)"),
        (status = 404, description = "`environment <envId> not found`, `project <projectId> not found in environment <envId>`, `build <buildId> not found`"),
        (status = 409, description = "`build <buildId> has an upload in progress`"),
    ))]
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
    Ok(json_response(StatusCode::ACCEPTED, &UploadAcceptedDto::from(&session)))
}

/// `GET …/reports`.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "reports",
    params(PageParams, ReportFilterParams),
    responses(
        (status = 200, description = "builds, newest first (limit: default 50, max 500)", body = PageDto<BuildDto>),
        (status = 400, description = "`invalid limit: …`, `invalid offset: …`, `invalid status: must be all, passed or failed`"),
        (status = 404, description = "`environment <envId> not found`, `project <projectId> not found in environment <envId>`"),
    ))]
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
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "reports",
    responses(
        (status = 200, description = "aggregates over all builds of the project", body = ProjectStatsDto),
        (status = 404, description = "`environment <envId> not found`, `project <projectId> not found in environment <envId>`"),
    ))]
pub async fn report_stats(
    state: Data<AppState>,
    ProjectPath(env, project): ProjectPath,
) -> Result<HttpResponse, ApiError> {
    let stats = state.reports.stats(&env, &project).await?;
    Ok(json_response(StatusCode::OK, &ProjectStatsDto::from(stats)))
}

/// `GET …/reports/{buildId}`.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "reports",
    responses(
        (status = 200, description = "the build", body = BuildDto),
        (status = 404, description = "`environment <envId> not found`, `project <projectId> not found in environment <envId>`, `build <buildId> not found`"),
    ))]
pub async fn get_report(
    state: Data<AppState>,
    BuildPath(env, project, build): BuildPath,
) -> Result<HttpResponse, ApiError> {
    let found = state.reports.get(&env, &project, &build).await?;
    Ok(json_response(StatusCode::OK, &BuildDto::from(found)))
}

/// `DELETE …/reports/{buildId}`.
#[utoipa::path(delete, path = IN_ROUTE_TABLE, tag = "reports",
    responses(
        (status = 204, description = "the build, its results, report and trend point are deleted"),
        (status = 404, description = "`environment <envId> not found`, `project <projectId> not found in environment <envId>`, `build <buildId> not found`"),
        (status = 409, description = "`build <buildId> is being generated`, `build <buildId> has an upload in progress`"),
    ))]
pub async fn delete_report(
    state: Data<AppState>,
    BuildPath(env, project, build): BuildPath,
) -> Result<HttpResponse, ApiError> {
    state.reports.delete(&env, &project, &build).await?;
    Ok(HttpResponse::NoContent().finish())
}
