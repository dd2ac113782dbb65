//! `/environments/{envId}`: the projects of one environment, each with its newest build.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use hub_domain::ids::EnvId;
use hub_domain::model::access::Principal;
use hub_domain::model::build::BuildSummary;

use super::format::{project_url, rate_text, time_text};
use super::layout::{Layout, layout};
use super::response::html;
use super::{Ctx, PageError};
use crate::chart::pass_rate;

/// A project of an environment with its newest build.
#[derive(Debug, Clone)]
pub struct ProjectRow {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Builds it holds.
    pub build_count: i64,
    /// Newest build id and time, or `no builds`.
    pub latest: String,
    /// Newest build status name, empty without builds.
    pub status: &'static str,
    /// Pass rate of the newest build.
    pub rate: String,
    /// Its page.
    pub url: String,
}

impl ProjectRow {
    /// The row of a project and its newest build.
    pub fn of(env: &str, id: &str, name: &str, build_count: i64, latest: Option<&BuildSummary>) -> Self {
        let (latest_text, status, rate) = match latest {
            None => ("no builds".to_owned(), "", "–".to_owned()),
            Some(b) => {
                let failed = b.stats.failed + b.stats.broken;
                (
                    format!("{} · {}", b.build_id, time_text(&b.created_at)),
                    b.status.as_str(),
                    rate_text(pass_rate(b.stats.passed, failed)),
                )
            }
        };
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            build_count,
            latest: latest_text,
            status,
            rate,
            url: project_url(env, id),
        }
    }
}

/// `/environments/{envId}`.
#[derive(Debug, Template)]
#[template(path = "environment.html")]
pub struct EnvironmentPage {
    /// Frame.
    pub layout: Layout,
    /// Environment id.
    pub env_id: String,
    /// Environment name.
    pub env_name: String,
    /// Its projects.
    pub projects: Vec<ProjectRow>,
}

/// The display name of an environment.
pub(super) async fn env_name(state: &Ctx<'_>, env: &EnvId) -> Result<String, PageError> {
    Ok(state.environments.get(env).await?.environment.name.as_str().to_owned())
}

/// The page of the environment `env`.
pub(super) async fn environment(state: &Ctx<'_>, who: &Principal, env: &EnvId) -> Result<HttpResponse, PageError> {
    let name = env_name(state, env).await?;
    let projects = state.projects.list(env).await?;
    let page = EnvironmentPage {
        layout: layout(state, name.clone(), "environments", Some(who)).await,
        env_id: env.to_string(),
        env_name: name,
        projects: projects
            .iter()
            .map(|p| {
                ProjectRow::of(
                    env.as_str(),
                    p.project.id.as_str(),
                    p.project.name.as_str(),
                    p.build_count,
                    p.latest_build.as_ref(),
                )
            })
            .collect(),
    };
    Ok(html(StatusCode::OK, page.render()?))
}
