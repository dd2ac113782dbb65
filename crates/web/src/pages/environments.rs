//! `/environments`: a card per environment.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use hub_domain::model::access::Principal;

use super::layout::{Layout, layout};
use super::response::html;
use super::{Ctx, PageError};

/// An environment card.
#[derive(Debug, Clone)]
pub struct EnvCard {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Projects it holds.
    pub project_count: i64,
    /// Its page.
    pub url: String,
}

/// `/environments`.
#[derive(Debug, Template)]
#[template(path = "environments.html")]
pub struct EnvironmentsPage {
    /// Frame.
    pub layout: Layout,
    /// Cards.
    pub envs: Vec<EnvCard>,
}

/// The list of environments.
pub(super) async fn environments(state: &Ctx<'_>, who: &Principal) -> Result<HttpResponse, PageError> {
    let envs = state.environments.list().await?;
    let page = EnvironmentsPage {
        layout: layout(state, "Environments", "environments", Some(who)).await,
        envs: envs
            .iter()
            .map(|e| EnvCard {
                id: e.environment.id.to_string(),
                name: e.environment.name.as_str().to_owned(),
                project_count: e.project_count,
                url: format!("/environments/{}", e.environment.id),
            })
            .collect(),
    };
    Ok(html(StatusCode::OK, page.render()?))
}
