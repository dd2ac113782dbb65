//! `/environments/{envId}/projects/{projectId}/builds/{buildId}`: one build's figures, quality gate, warnings
//! and configuration, with its report framed from the report origin.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::model::access::Principal;
use hub_domain::services::ReportError;

use super::environment::env_name;
use super::format::{duration_text, project_url, rate_text, time_text};
use super::layout::{Layout, layout};
use super::parts::{BuildRow, Tile};
use super::project::project_name;
use super::response::{framing_csp, html, html_with};
use super::{Ctx, PageError};
use crate::chart::{donut, pass_rate};

/// A failed quality gate rule as a table row.
#[derive(Debug, Clone)]
pub struct GateRow {
    /// Rule name.
    pub rule: String,
    /// Configured threshold, as JSON.
    pub expected: String,
    /// Measured value, as JSON.
    pub actual: String,
    /// Explanation.
    pub message: String,
}

/// `/environments/{envId}/projects/{projectId}/builds/{buildId}`.
#[derive(Debug, Template)]
#[template(path = "build.html")]
pub struct BuildPage {
    /// Frame.
    pub layout: Layout,
    /// Whether the report is framed in the page (it has one, and there is a report origin).
    pub framed: bool,
    /// The newer build's page.
    pub newer_url: Option<String>,
    /// The older build's page.
    pub older_url: Option<String>,
    /// Environment name.
    pub env_name: String,
    /// Environment page.
    pub env_url: String,
    /// Project name.
    pub project_name: String,
    /// Project page.
    pub project_url: String,
    /// The build's row (ids, status, counts, times, report link).
    pub build: BuildRow,
    /// Count figures.
    pub tiles: Vec<Tile>,
    /// The outcomes as a donut.
    pub donut_svg: String,
    /// When generation finished, if it did.
    pub completed: String,
    /// Total duration of the tests.
    pub duration: String,
    /// `passed`, `failed` or empty when no gate ran.
    pub gate: &'static str,
    /// Failed gate rules.
    pub gate_failures: Vec<GateRow>,
    /// Generation warnings.
    pub warnings: Vec<String>,
    /// Generation error.
    pub error: Option<String>,
    /// The report configuration used, pretty JSON.
    pub config: String,
}

/// The page of build `id`.
pub(super) async fn build(
    state: &Ctx<'_>,
    who: &Principal,
    env: &EnvId,
    project: &ProjectId,
    id: &BuildId,
) -> Result<HttpResponse, PageError> {
    let found = match state.reports.get(env, project, id).await {
        Err(ReportError::BuildNotFound(_)) => return Err(PageError::NotFound),
        other => other?,
    };
    let env_name = env_name(state, env).await?;
    let project_name = project_name(state, env, project).await?;
    let s = &found.stats;
    let row = BuildRow::of(&found);
    // The report is framed from its own origin when there is one; the page's policy then allows that origin.
    let report_origin = state.report_origin.resolve(&state.origin);
    let frame = report_origin.filter(|_| row.report_url.is_some());
    let (newer_url, older_url) = neighbours(state, env, project, id).await?;
    let page = BuildPage {
        layout: layout(state, format!("Build {id}"), "environments", Some(who)).await,
        framed: frame.is_some(),
        newer_url,
        older_url,
        env_name,
        env_url: format!("/environments/{env}"),
        project_name,
        project_url: project_url(env.as_str(), project.as_str()),
        build: row,
        tiles: vec![
            Tile { value: s.total.to_string(), label: "Tests" },
            Tile { value: s.passed.to_string(), label: "Passed" },
            Tile { value: s.failed.to_string(), label: "Failed" },
            Tile { value: s.broken.to_string(), label: "Broken" },
            Tile { value: s.skipped.to_string(), label: "Skipped" },
            Tile { value: s.unknown.to_string(), label: "Unknown" },
            Tile { value: rate_text(pass_rate(s.passed, s.failed + s.broken)), label: "Pass rate" },
        ],
        donut_svg: donut(
            &format!("Outcomes of build {id}"),
            &[
                ("c-pass", "Passed", s.passed),
                ("c-fail", "Failed", s.failed),
                ("c-broken", "Broken", s.broken),
                ("c-skip", "Skipped", s.skipped),
            ],
        ),
        completed: found.completed_at.as_ref().map_or_else(|| "not yet".to_owned(), time_text),
        duration: duration_text(s.duration_ms),
        gate: match &found.quality_gate {
            None => "",
            Some(g) if g.passed => "passed",
            Some(_) => "failed",
        },
        gate_failures: found
            .quality_gate
            .iter()
            .flat_map(|g| &g.failures)
            .map(|f| GateRow {
                rule: f.rule.clone(),
                expected: f.expected.to_string(),
                actual: f.actual.to_string(),
                message: f.message.clone(),
            })
            .collect(),
        warnings: found.warnings.clone(),
        error: found.error.clone(),
        config: format!("{:#}", found.config),
    };
    Ok(match frame {
        Some(origin) => html_with(StatusCode::OK, page.render()?, &framing_csp(&origin)),
        None => html(StatusCode::OK, page.render()?),
    })
}

/// The pages of the newer and the older build next to `id` in the project's build list.
async fn neighbours(
    state: &Ctx<'_>,
    env: &EnvId,
    project: &ProjectId,
    id: &BuildId,
) -> Result<(Option<String>, Option<String>), PageError> {
    let beside = state.reports.neighbours(env, project, id).await?;
    let base = project_url(env.as_str(), project.as_str());
    let url = |b: BuildId| format!("{base}/builds/{b}");
    Ok((beside.newer.map(url), beside.older.map(url)))
}
