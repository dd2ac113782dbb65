//! The overview dashboard (contract §11.1): its filters, in both spellings, and the figures as §16.11 shapes.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::Data;
use hub_domain::ids::{EnvId, ProjectId};
use hub_domain::model::overview::{
    BuildTrendPoint, DailyTrend, FailingProject, Overview, OverviewFilter, OverviewSummary,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::dto::{BuildDto, format_time, json_response};
use crate::error::ApiError;
use crate::extract::QueryMap;
use crate::openapi::IN_ROUTE_TABLE;
use crate::state::AppState;

/// Totals over the filtered scope; "failed" counts failed and broken tests.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OverviewSummary)]
pub struct SummaryDto {
    total_environments: i64,
    total_projects: i64,
    total_builds: i64,
    total_passed: i64,
    total_failed: i64,
    overall_pass_rate: i64,
}

/// Test results of the builds created on one day (UTC).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DailyTrend)]
pub struct DailyTrendDto {
    /// `YYYY-MM-DD` (UTC).
    date: String,
    passed: i64,
    failed: i64,
    skipped: i64,
    build_count: i64,
}

/// A project with failed tests, and how its builds went.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FailingProject)]
pub struct FailingProjectDto {
    env_id: String,
    project_id: String,
    project_name: String,
    env_name: String,
    total_failed: i64,
    total_builds: i64,
    pass_rate: i64,
}

/// One build of the trend: its test results by status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BuildTrendPoint)]
pub struct BuildTrendPointDto {
    build_id: String,
    env_id: String,
    project_id: String,
    created_at: String,
    passed: i64,
    failed: i64,
    skipped: i64,
}

/// Dashboard figures over every build of every status in the filtered scope.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Overview)]
pub struct OverviewDto {
    summary: SummaryDto,
    /// Exactly 30 days, ascending.
    daily_trends: Vec<DailyTrendDto>,
    /// At most 5.
    top_failing_projects: Vec<FailingProjectDto>,
    /// At most 10, newest first.
    recent_builds: Vec<BuildDto>,
    /// At most 30, oldest first.
    project_build_trend: Vec<BuildTrendPointDto>,
}

impl From<OverviewSummary> for SummaryDto {
    fn from(s: OverviewSummary) -> Self {
        Self {
            total_environments: s.total_environments,
            total_projects: s.total_projects,
            total_builds: s.total_builds,
            total_passed: s.total_passed,
            total_failed: s.total_failed,
            overall_pass_rate: s.overall_pass_rate,
        }
    }
}

impl From<DailyTrend> for DailyTrendDto {
    fn from(d: DailyTrend) -> Self {
        Self {
            date: d.date.format("%Y-%m-%d").to_string(),
            passed: d.passed,
            failed: d.failed,
            skipped: d.skipped,
            build_count: d.build_count,
        }
    }
}

impl From<FailingProject> for FailingProjectDto {
    fn from(p: FailingProject) -> Self {
        Self {
            env_id: p.env_id.to_string(),
            project_id: p.project_id.to_string(),
            project_name: p.project_name,
            env_name: p.env_name,
            total_failed: p.total_failed,
            total_builds: p.total_builds,
            pass_rate: p.pass_rate,
        }
    }
}

impl From<BuildTrendPoint> for BuildTrendPointDto {
    fn from(p: BuildTrendPoint) -> Self {
        Self {
            build_id: p.build_id.to_string(),
            env_id: p.env_id.to_string(),
            project_id: p.project_id.to_string(),
            created_at: format_time(p.created_at),
            passed: p.passed,
            failed: p.failed,
            skipped: p.skipped,
        }
    }
}

impl From<Overview> for OverviewDto {
    fn from(o: Overview) -> Self {
        Self {
            summary: o.summary.into(),
            daily_trends: o.daily_trends.into_iter().map(Into::into).collect(),
            top_failing_projects: o.top_failing_projects.into_iter().map(Into::into).collect(),
            recent_builds: o.recent_builds.into_iter().map(Into::into).collect(),
            project_build_trend: o.project_build_trend.into_iter().map(Into::into).collect(),
        }
    }
}

/// One filter given as `camel` or `snake` (§11.1): both with different values is a 400.
fn filter_value<'q>(query: &'q QueryMap, camel: &str, snake: &str) -> Result<Option<&'q String>, ApiError> {
    match (query.get(camel), query.get(snake)) {
        (Some(a), Some(b)) if a != b => Err(ApiError::bad_request(format!("conflicting {camel} and {snake}"))),
        (a, b) => Ok(a.or(b)),
    }
}

fn overview_filter(query: &QueryMap) -> Result<OverviewFilter, ApiError> {
    let env_id = filter_value(query, "envId", "env_id")?
        .map(|v| EnvId::parse(v).map_err(|_| ApiError::bad_request("invalid envId")))
        .transpose()?;
    let project_id = filter_value(query, "projectId", "project_id")?
        .map(|v| ProjectId::parse(v).map_err(|_| ApiError::bad_request("invalid projectId")))
        .transpose()?;
    Ok(OverviewFilter { env_id, project_id })
}

/// `GET /api/overview`: dashboard figures; filters that match nothing give zeros and empty lists.
#[utoipa::path(
    get,
    path = IN_ROUTE_TABLE,
    tag = "overview",
    params(
        ("envId" = Option<String>, Query, description = "only this environment (also `env_id`)"),
        ("projectId" = Option<String>, Query, description = "only this project id, in every environment unless `envId` is given (also `project_id`)"),
        ("env_id" = Option<String>, Query, description = "alias of `envId`"),
        ("project_id" = Option<String>, Query, description = "alias of `projectId`"),
    ),
    responses(
        (status = 200, description = "dashboard figures", body = OverviewDto),
        (status = 400, description = "`invalid envId`, `invalid projectId`, `conflicting envId and env_id`, `conflicting projectId and project_id`"),
    )
)]
pub async fn get_overview(state: Data<AppState>, query: QueryMap) -> Result<HttpResponse, ApiError> {
    let filter = overview_filter(&query)?;
    let overview = state.overview.overview(&filter).await?;
    Ok(json_response(StatusCode::OK, &OverviewDto::from(overview)))
}
