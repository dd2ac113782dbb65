//! `/environments/{envId}/projects/{projectId}`: a project's totals, its trend charts and its build table, paged
//! and filtered by outcome or searched by build id.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::model::access::Principal;
use hub_domain::model::build::{OutcomeFilter, TREND_BUILDS};
use hub_domain::model::page::{Page, PageRequest};
use hub_domain::services::ReportError;

use super::environment::env_name;
use super::format::{project_url, rate_text};
use super::layout::{Layout, layout};
use super::parts::{BuildRow, Choice, Tile};
use super::response::html;
use super::{Ctx, PageError};
use crate::chart::{Column, Frame, pass_rate, pass_rate_line, stacked_bars};

/// Builds per page of a project's build table.
pub const PAGE_SIZE: i64 = 20;

/// `/environments/{envId}/projects/{projectId}`.
#[derive(Debug, Template)]
#[template(path = "project.html")]
pub struct ProjectPage {
    /// Frame.
    pub layout: Layout,
    /// Environment name.
    pub env_name: String,
    /// Environment page.
    pub env_url: String,
    /// Environment id.
    pub env_id: String,
    /// Project id.
    pub project_id: String,
    /// Project name.
    pub project_name: String,
    /// Totals.
    pub tiles: Vec<Tile>,
    /// The newest ready report, when there is one.
    pub latest_url: Option<String>,
    /// Counts per recent build.
    pub counts_svg: String,
    /// Pass rate per recent build.
    pub rate_svg: String,
    /// Outcome filter choices.
    pub status_options: Vec<Choice>,
    /// The build id searched for, empty when browsing pages.
    pub search: String,
    /// This page of builds.
    pub builds: Vec<BuildRow>,
    /// 1-based page number.
    pub page: i64,
    /// Number of pages (at least 1).
    pub pages: i64,
    /// Builds matching the filter.
    pub total: i64,
    /// The newer page.
    pub prev_url: Option<String>,
    /// The older page.
    pub next_url: Option<String>,
}

/// The outcome filter of the build table: its query value, label and domain filter.
const OUTCOMES: [(&str, &str, OutcomeFilter); 3] = [
    ("all", "All builds", OutcomeFilter::All),
    ("passed", "Without failures", OutcomeFilter::Passed),
    ("failed", "With failures", OutcomeFilter::Failed),
];

/// The build table URL for an outcome and a 1-based page.
pub fn builds_url(base: &str, status: &str, page: i64) -> String {
    match (status, page) {
        ("all", 1) => base.to_owned(),
        ("all", _) => format!("{base}?page={page}"),
        (_, 1) => format!("{base}?status={status}"),
        _ => format!("{base}?status={status}&page={page}"),
    }
}

/// The number of pages for `total` items (at least one, so an empty table still has page 1).
pub fn page_count(total: i64) -> i64 {
    ((total.max(0) + PAGE_SIZE - 1) / PAGE_SIZE).max(1)
}

/// The page of `project`, with the `status`, `page` and `build` of the query.
pub(super) async fn project(
    state: &Ctx<'_>,
    who: &Principal,
    env: &EnvId,
    project: &ProjectId,
    query: &HashMap<String, String>,
) -> Result<HttpResponse, PageError> {
    let env_name = env_name(state, env).await?;
    let project_name = project_name(state, env, project).await?;
    let (status, _, filter) =
        OUTCOMES.iter().find(|(id, _, _)| query.get("status").is_some_and(|s| s == id)).copied().unwrap_or(OUTCOMES[0]);
    let requested = query.get("page").and_then(|p| p.parse::<i64>().ok()).unwrap_or(1).max(1);
    let search = query.get("build").map(|b| b.trim()).filter(|b| !b.is_empty()).unwrap_or_default();
    let stats = state.reports.stats(env, project).await?;
    let (builds, page_no, pages) = if search.is_empty() {
        let first = state.reports.list(env, project, filter, PageRequest { limit: PAGE_SIZE, offset: 0 }).await?;
        let pages = page_count(first.total);
        let page_no = requested.min(pages);
        let builds = if page_no == 1 {
            first
        } else {
            let offset = (page_no - 1) * PAGE_SIZE;
            state.reports.list(env, project, filter, PageRequest { limit: PAGE_SIZE, offset }).await?
        };
        (builds, page_no, pages)
    } else {
        // A search names one build exactly; a malformed id matches nothing.
        let items = match BuildId::parse(search) {
            Ok(id) => match state.reports.get(env, project, &id).await {
                Ok(found) => vec![found],
                Err(ReportError::BuildNotFound(_)) => Vec::new(),
                Err(e) => return Err(e.into()),
            },
            Err(_) => Vec::new(),
        };
        let total = i64::try_from(items.len()).unwrap_or_default();
        (Page { items, total }, 1, 1)
    };
    let latest_url = match state.reports.latest_ready(env, project).await {
        Ok(_) => Some(format!("/reports/{env}/{project}/latest/index.html")),
        Err(ReportError::NoReadyBuild(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let columns: Vec<Column> = stats
        .trend
        .iter()
        .map(|t| Column { label: t.build_id.to_string(), passed: t.passed, failed: t.failed, skipped: t.skipped })
        .collect();
    let base = project_url(env.as_str(), project.as_str());
    let page = ProjectPage {
        layout: layout(state, project_name.clone(), "environments", Some(who)).await,
        env_name,
        env_url: format!("/environments/{env}"),
        env_id: env.to_string(),
        project_id: project.to_string(),
        project_name,
        tiles: vec![
            Tile { value: stats.total_builds.to_string(), label: "Builds" },
            Tile { value: stats.total_passed.to_string(), label: "Passed tests" },
            Tile { value: stats.total_failed.to_string(), label: "Failed tests" },
            Tile { value: stats.total_skipped.to_string(), label: "Skipped tests" },
            Tile { value: rate_text(pass_rate(stats.total_passed, stats.total_failed)), label: "Pass rate" },
        ],
        latest_url,
        counts_svg: stacked_bars(
            &format!("Passed, failed and skipped tests of the last {TREND_BUILDS} builds"),
            &columns,
            Frame::STANDARD,
        ),
        rate_svg: pass_rate_line(&format!("Pass rate of the last {TREND_BUILDS} builds"), &columns, Frame::STANDARD),
        status_options: OUTCOMES
            .iter()
            .map(|(id, name, _)| Choice { id: (*id).to_owned(), name: (*name).to_owned(), selected: *id == status })
            .collect(),
        search: search.to_owned(),
        builds: builds.items.iter().map(BuildRow::of).collect(),
        page: page_no,
        pages,
        total: builds.total,
        prev_url: (page_no > 1).then(|| builds_url(&base, status, page_no - 1)),
        next_url: (page_no < pages).then(|| builds_url(&base, status, page_no + 1)),
    };
    Ok(html(StatusCode::OK, page.render()?))
}

/// The display name of a project.
pub(super) async fn project_name(state: &Ctx<'_>, env: &EnvId, project: &ProjectId) -> Result<String, PageError> {
    Ok(state.projects.get(env, project).await?.project.name.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_table_urls_keep_the_filter_and_omit_defaults() {
        let base = "/environments/e/projects/p";
        assert_eq!(builds_url(base, "all", 1), base);
        assert_eq!(builds_url(base, "all", 3), format!("{base}?page=3"));
        assert_eq!(builds_url(base, "failed", 1), format!("{base}?status=failed"));
        assert_eq!(builds_url(base, "passed", 2), format!("{base}?status=passed&page=2"));
    }

    #[test]
    fn page_counts_round_up_and_never_reach_zero() {
        assert_eq!(page_count(0), 1);
        assert_eq!(page_count(PAGE_SIZE), 1);
        assert_eq!(page_count(PAGE_SIZE + 1), 2);
    }
}
