//! `/`: the overview dashboard, with totals, the daily trend, the most failing projects and the recent builds,
//! filtered by environment and project.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use hub_domain::ids::{EnvId, ProjectId};
use hub_domain::model::access::Principal;
use hub_domain::model::overview::OverviewFilter;

use super::format::{project_url, rate_text};
use super::layout::{Layout, layout};
use super::parts::{BuildRow, Choice, Tile};
use super::response::html;
use super::{Ctx, PageError};
use crate::chart::{Column, Frame, pass_rate, stacked_bars};

/// A project ranked by failures.
#[derive(Debug, Clone)]
pub struct FailingRow {
    /// Project name.
    pub project: String,
    /// Environment name.
    pub env: String,
    /// Failed tests.
    pub failed: i64,
    /// Pass rate text.
    pub rate: String,
    /// The project page.
    pub url: String,
}

/// `/`.
#[derive(Debug, Template)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    /// Frame.
    pub layout: Layout,
    /// Environment filter choices.
    pub env_options: Vec<Choice>,
    /// Project filter choices (when an environment is chosen).
    pub project_options: Vec<Choice>,
    /// The project filter as typed (without an environment).
    pub project_filter: String,
    /// Whether any filter is set.
    pub filtered: bool,
    /// Summary figures.
    pub tiles: Vec<Tile>,
    /// The 30-day chart.
    pub trend_svg: String,
    /// Top failing projects.
    pub failing: Vec<FailingRow>,
    /// Recent builds.
    pub recent: Vec<BuildRow>,
}

/// Summary figures of the overview.
fn overview_tiles(s: &hub_domain::model::overview::OverviewSummary) -> Vec<Tile> {
    let rate = pass_rate(s.total_passed, s.total_failed).map(|_| s.overall_pass_rate);
    vec![
        Tile { value: s.total_environments.to_string(), label: "Environments" },
        Tile { value: s.total_projects.to_string(), label: "Projects" },
        Tile { value: s.total_builds.to_string(), label: "Builds" },
        Tile { value: s.total_passed.to_string(), label: "Passed tests" },
        Tile { value: s.total_failed.to_string(), label: "Failed tests" },
        Tile { value: rate_text(rate), label: "Pass rate" },
    ]
}

/// The overview, filtered by the `envId` and `projectId` of the query.
pub(super) async fn overview(
    state: &Ctx<'_>,
    who: &Principal,
    query: &HashMap<String, String>,
) -> Result<HttpResponse, PageError> {
    let param = |name: &str| query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let env = param("envId").and_then(|v| EnvId::parse(v).ok());
    let project = param("projectId").and_then(|v| ProjectId::parse(v).ok());
    let filter = OverviewFilter { env_id: env.clone(), project_id: project.clone() };
    let data = state.overview.overview(&filter).await?;
    let envs = state.environments.list().await?;
    let env_options = envs
        .iter()
        .map(|e| Choice {
            id: e.environment.id.to_string(),
            name: e.environment.name.as_str().to_owned(),
            selected: env.as_ref() == Some(&e.environment.id),
        })
        .collect();
    let project_options = match &env {
        // An environment id that matches nothing shows zeros and no project choices.
        Some(env) => state.projects.list(env).await.unwrap_or_default(),
        None => Vec::new(),
    }
    .iter()
    .map(|p| Choice {
        id: p.project.id.to_string(),
        name: p.project.name.as_str().to_owned(),
        selected: project.as_ref() == Some(&p.project.id),
    })
    .collect();
    let columns: Vec<Column> = data
        .daily_trends
        .iter()
        .map(|d| Column {
            label: d.date.format("%b %-d").to_string(),
            passed: d.passed,
            failed: d.failed,
            skipped: d.skipped,
        })
        .collect();
    let page = OverviewPage {
        layout: layout(state, "Overview", "overview", Some(who)).await,
        env_options,
        project_options,
        project_filter: project.as_ref().map(ToString::to_string).unwrap_or_default(),
        filtered: env.is_some() || project.is_some(),
        tiles: overview_tiles(&data.summary),
        trend_svg: stacked_bars("Passed, failed and skipped tests per day, last 30 days", &columns, Frame::STANDARD),
        failing: data
            .top_failing_projects
            .iter()
            .map(|f| FailingRow {
                project: f.project_name.clone(),
                env: f.env_name.clone(),
                failed: f.total_failed,
                rate: format!("{}%", f.pass_rate),
                url: project_url(f.env_id.as_str(), f.project_id.as_str()),
            })
            .collect(),
        recent: data.recent_builds.iter().map(BuildRow::of).collect(),
    };
    Ok(html(StatusCode::OK, page.render()?))
}
