//! The pages of the UI, one module per page: each holds its handler, the struct of its template and the rows that
//! template shows. [`dispatch`] resolves the viewer from the session cookie, sends anonymous visitors to sign in,
//! and hands the [`Route`] the path names to its page:
//!
//! | route | module | template |
//! |---|---|---|
//! | [`Route::Login`] | [`mod@login`] | `login.html` |
//! | [`Route::Overview`] | [`mod@overview`] | `overview.html` |
//! | [`Route::Environments`] | [`mod@environments`] | `environments.html` |
//! | [`Route::Environment`] | [`mod@environment`] | `environment.html` |
//! | [`Route::Project`] | [`mod@project`] | `project.html` |
//! | [`Route::Build`] | [`mod@build`] | `build.html` |
//! | [`Route::Profile`] | [`mod@profile`] | `profile.html` |
//! | [`Route::Uploads`] | [`mod@uploads`] | `uploads.html` |
//! | [`Route::Notifications`] | [`mod@notifications`] | `notifications.html` |
//! | [`Route::Settings`], [`Route::SettingsTab`] | [`mod@settings`] (a module per tab below it) | `settings.html` |
//! | [`Route::NotFound`] and every failure | [`mod@error`] | `error.html` |
//!
//! What several pages share: the frame around every page ([`mod@layout`]), text for people ([`mod@format`]),
//! the build row, figures and filter choices ([`mod@parts`]) and the headers of every answer ([`mod@response`]).

pub mod build;
pub mod environment;
pub mod environments;
pub mod error;
pub mod format;
pub mod layout;
pub mod login;
pub mod notifications;
pub mod overview;
pub mod parts;
pub mod profile;
pub mod project;
pub mod response;
pub mod settings;
pub mod uploads;

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::{Data, Query};
use actix_web::{HttpRequest, HttpResponse};
use hub_domain::model::access::{Permission, Principal};
use hub_domain::services::{EnvironmentError, OverviewError, ProjectError, ReportError};

use self::build::build;
use self::environment::environment;
use self::environments::environments;
use self::error::error_page;
use self::login::{login, login_location};
use self::notifications::notifications;
use self::overview::overview;
use self::profile::profile;
use self::project::project;
use self::response::redirect;
use self::settings::settings;
use self::uploads::uploads;
use crate::routes::{Route, SettingsTab};
use hub_domain::services::Services;

use crate::state::WebState;

pub use hub_domain::model::access::SESSION_COOKIE;

/// What a page handler reads from: the UI's state (through `Deref`), the services of the upload, notification
/// and settings pages, and the main origin the request was sent to.
pub(crate) struct Ctx<'a> {
    state: &'a WebState,
    services: &'a Services,
    origin: String,
}

impl std::ops::Deref for Ctx<'_> {
    type Target = WebState;

    fn deref(&self) -> &WebState {
        self.state
    }
}

/// Why a page could not be shown.
#[derive(Debug)]
enum PageError {
    /// The environment, project or build does not exist.
    NotFound,
    /// The role lacks the permission the page needs.
    Forbidden,
    /// Something failed; logged, never shown.
    Internal(String),
}

impl From<EnvironmentError> for PageError {
    fn from(e: EnvironmentError) -> Self {
        match e {
            EnvironmentError::NotFound(_) => Self::NotFound,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<ProjectError> for PageError {
    fn from(e: ProjectError) -> Self {
        match e {
            ProjectError::NotFound { .. } | ProjectError::EnvironmentNotFound(_) => Self::NotFound,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<ReportError> for PageError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::EnvironmentNotFound(_) | ReportError::ProjectNotFound { .. } => Self::NotFound,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<OverviewError> for PageError {
    fn from(e: OverviewError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        Self::Internal(e.to_string())
    }
}

/// The query parameters of a request; a malformed query counts as none.
fn query_of(req: &HttpRequest) -> HashMap<String, String> {
    Query::<HashMap<String, String>>::from_query(req.query_string()).map(Query::into_inner).unwrap_or_default()
}

/// The principal of the session cookie, if it names a live session. API keys are not accepted by pages: a
/// browser navigation carries a cookie, and a key belongs to CI.
async fn viewer(req: &HttpRequest, state: &Ctx<'_>) -> Result<Option<Principal>, PageError> {
    match req.cookie(SESSION_COOKIE) {
        Some(cookie) => {
            state.auth.authenticate_session(cookie.value()).await.map_err(|e| PageError::Internal(e.to_string()))
        }
        None => Ok(None),
    }
}

/// Whether `response` is an error without the HTML of a page: one that actix made itself, such as the `500` of a
/// response builder given a header value it could not encode.
fn is_bare_error(response: &HttpResponse) -> bool {
    let status = response.status();
    let html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
    (status.is_client_error() || status.is_server_error()) && !html
}

/// `GET` of every page path (see [`Route`]). Every error it answers is the HTML error page.
pub async fn dispatch(req: HttpRequest, state: Data<WebState>) -> HttpResponse {
    let services = &state.services;
    let origin = {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    };
    let cx = Ctx { state: state.get_ref(), services, origin };
    let response = respond(&req, &cx).await;
    if !is_bare_error(&response) {
        return response;
    }
    match response.error() {
        Some(e) => tracing::error!(error = %e, path = req.path(), "page response could not be built"),
        None => tracing::error!(status = response.status().as_u16(), path = req.path(), "page answered a bare error"),
    }
    error_page(&cx, response.status(), None).await
}

/// The page, redirect or error page for `req`.
async fn respond(req: &HttpRequest, cx: &Ctx<'_>) -> HttpResponse {
    let route = Route::parse(req.path());
    let query = query_of(req);
    let who = match viewer(req, cx).await {
        Ok(who) => who,
        Err(e) => {
            tracing::error!(error = ?e, "session lookup failed");
            return error_page(cx, StatusCode::INTERNAL_SERVER_ERROR, None).await;
        }
    };
    let rendered = match (&route, &who) {
        (Route::Login, _) => login(cx, who.as_ref(), &query).await,
        (Route::NotFound, _) => return error_page(cx, StatusCode::NOT_FOUND, who.as_ref()).await,
        (_, None) => {
            let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
            return redirect(&login_location(target));
        }
        (_, Some(p)) if !p.can(Permission::View) => {
            return error_page(cx, StatusCode::FORBIDDEN, who.as_ref()).await;
        }
        (Route::Overview, Some(p)) => overview(cx, p, &query).await,
        (Route::Environments, Some(p)) => environments(cx, p).await,
        (Route::Environment(env), Some(p)) => environment(cx, p, env).await,
        (Route::Project(env, id), Some(p)) => project(cx, p, env, id, &query).await,
        (Route::Build(env, id, build_id), Some(p)) => build(cx, p, env, id, build_id).await,
        (Route::Profile, Some(p)) => profile(cx, p).await,
        (Route::Uploads, Some(p)) => uploads(cx, p, &query).await,
        (Route::Notifications, Some(p)) => notifications(cx, p, &query).await,
        // Settings are for `manage` only: others get the 403 page wherever they type the URL.
        (Route::Settings | Route::SettingsTab(_), Some(p)) if !p.can(Permission::Manage) => Err(PageError::Forbidden),
        (Route::Settings, Some(_)) => Ok(redirect(&format!("/settings/{}", SettingsTab::ApiKeys.slug()))),
        (Route::SettingsTab(tab), Some(p)) => settings(cx, p, *tab, &query).await,
    };
    match rendered {
        Ok(response) => response,
        Err(PageError::NotFound) => error_page(cx, StatusCode::NOT_FOUND, who.as_ref()).await,
        Err(PageError::Forbidden) => error_page(cx, StatusCode::FORBIDDEN, who.as_ref()).await,
        Err(PageError::Internal(e)) => {
            tracing::error!(error = %e, path = req.path(), "page failed");
            error_page(cx, StatusCode::INTERNAL_SERVER_ERROR, who.as_ref()).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::error::BARE_ERROR_PAGE;
    use super::response::html;
    use super::*;

    #[test]
    fn a_response_actix_could_not_build_is_a_bare_error_and_pages_are_not() {
        assert!(is_bare_error(&redirect("/\n")), "a Location that cannot be encoded");
        assert!(is_bare_error(&HttpResponse::InternalServerError().finish()));
        assert!(!is_bare_error(&redirect("/environments")));
        assert!(!is_bare_error(&html(StatusCode::NOT_FOUND, String::new())));
        assert!(!is_bare_error(&html(StatusCode::INTERNAL_SERVER_ERROR, BARE_ERROR_PAGE.to_owned())));
    }
}
