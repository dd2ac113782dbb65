//! The page handler: resolves the viewer from the session cookie, sends anonymous visitors to sign in, and renders
//! the page the path names from the domain services.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use actix_web::web::{Data, Query};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::model::access::{Permission, Principal, PrincipalRef};
use hub_domain::model::build::{OutcomeFilter, TREND_BUILDS};
use hub_domain::model::overview::OverviewFilter;
use hub_domain::model::page::{Page, PageRequest};
use hub_domain::services::{EnvironmentError, OverviewError, ProjectError, ReportError};

use crate::chart::{Column, Frame, donut, pass_rate, pass_rate_line, stacked_bars};
use crate::html::{query_value, safe_next};
use crate::routes::Route;
use crate::state::WebState;
use crate::views::{
    BuildPage, BuildRow, Choice, EnvCard, EnvironmentPage, EnvironmentsPage, ErrorPage, FailingRow, GateRow, Layout,
    LoginPage, OverviewPage, ProfilePage, ProjectPage, ProjectRow, ProviderLink, Tile, duration_text, project_url,
    rate_text, time_text,
};
use crate::{assets, icons};

/// Name of the session cookie set by `POST /auth/login` and the OAuth callback.
pub const SESSION_COOKIE: &str = "allure_hub_session";

/// Builds per page of a project's build table.
pub const PAGE_SIZE: i64 = 20;

/// What pages send: strict same-origin rules (no inline script or style, no other host), no caching of
/// per-user markup, and no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Why a page could not be shown.
#[derive(Debug)]
enum PageError {
    /// The environment, project or build does not exist.
    NotFound,
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

/// An HTML response with the page headers.
fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header(("Content-Security-Policy", CSP))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "same-origin"))
        .body(body)
}

/// A `303 See Other` to `location`.
fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((LOCATION, location)).insert_header((CACHE_CONTROL, "no-store")).finish()
}

/// Where an anonymous visitor of `path_and_query` is sent: the sign-in page, which returns there afterwards.
pub fn login_location(path_and_query: &str) -> String {
    format!("/login?next={}", query_value(path_and_query))
}

/// The text shown for the signed-in principal.
fn display(principal: &Principal) -> String {
    match &principal.identity {
        PrincipalRef::User(email) => email.to_string(),
        PrincipalRef::ApiKey { name, .. } => format!("API key {name}"),
    }
}

async fn layout(state: &WebState, title: impl Into<String>, nav: &'static str, who: Option<&Principal>) -> Layout {
    Layout {
        title: title.into(),
        nav,
        user: who.map(display),
        csrf: who.and_then(|p| p.session.as_ref()).map(|s| s.csrf_token.clone()).unwrap_or_default(),
        css: &assets::CSS.url,
        js: &assets::JS.url,
        logo: icons::LOGO,
        user_icon: icons::USER,
        theme_icon: icons::THEME,
        version: state.version.clone(),
        // Every page shows it: a database that hangs must not hang the page too (2 s, as `/api/healthz`).
        healthy: matches!(
            actix_web::rt::time::timeout(std::time::Duration::from_secs(2), state.health.ping()).await,
            Ok(Ok(()))
        ),
    }
}

/// The 404, 403 or 500 page.
async fn error_page(state: &WebState, status: StatusCode, who: Option<&Principal>) -> HttpResponse {
    let (heading, message) = match status.as_u16() {
        404 => ("Page not found", "There is nothing at this address. It may have been deleted or mistyped."),
        403 => ("Not allowed", "Your role does not allow you to see this page."),
        _ => ("Something went wrong", "The server could not show this page. Try again in a moment."),
    };
    let page = ErrorPage { layout: layout(state, heading, "", who).await, status: status.as_u16(), heading, message };
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "error page failed to render");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// The query parameters of a request; a malformed query counts as none.
fn query_of(req: &HttpRequest) -> HashMap<String, String> {
    Query::<HashMap<String, String>>::from_query(req.query_string()).map(Query::into_inner).unwrap_or_default()
}

/// The principal of the session cookie, if it names a live session. API keys are not accepted by pages: a
/// browser navigation carries a cookie, and a key belongs to CI.
async fn viewer(req: &HttpRequest, state: &WebState) -> Result<Option<Principal>, PageError> {
    match req.cookie(SESSION_COOKIE) {
        Some(cookie) => {
            state.auth.authenticate_session(cookie.value()).await.map_err(|e| PageError::Internal(e.to_string()))
        }
        None => Ok(None),
    }
}

/// `GET` of every page path (see [`Route`]).
pub async fn dispatch(req: HttpRequest, state: Data<WebState>) -> HttpResponse {
    let route = Route::parse(req.path());
    let query = query_of(&req);
    let who = match viewer(&req, &state).await {
        Ok(who) => who,
        Err(e) => {
            tracing::error!(error = ?e, "session lookup failed");
            return error_page(&state, StatusCode::INTERNAL_SERVER_ERROR, None).await;
        }
    };
    let rendered = match (&route, &who) {
        (Route::Login, _) => login(&state, who.as_ref(), &query).await,
        (Route::NotFound, _) => return error_page(&state, StatusCode::NOT_FOUND, who.as_ref()).await,
        (_, None) => {
            let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
            return redirect(&login_location(target));
        }
        (_, Some(p)) if !p.can(Permission::View) => {
            return error_page(&state, StatusCode::FORBIDDEN, who.as_ref()).await;
        }
        (Route::Overview, Some(p)) => overview(&state, p, &query).await,
        (Route::Environments, Some(p)) => environments(&state, p).await,
        (Route::Environment(env), Some(p)) => environment(&state, p, env).await,
        (Route::Project(env, id), Some(p)) => project(&state, p, env, id, &query).await,
        (Route::Build(env, id, build_id), Some(p)) => build(&state, p, env, id, build_id).await,
        (Route::Profile, Some(p)) => profile(&state, p).await,
    };
    match rendered {
        Ok(response) => response,
        Err(PageError::NotFound) => error_page(&state, StatusCode::NOT_FOUND, who.as_ref()).await,
        Err(PageError::Internal(e)) => {
            tracing::error!(error = %e, path = req.path(), "page failed");
            error_page(&state, StatusCode::INTERNAL_SERVER_ERROR, who.as_ref()).await
        }
    }
}

/// The message for an `error` code of the OAuth callback (§14.3).
fn sign_in_error(code: &str) -> Option<String> {
    let text = match code {
        "invalid_state" => "The sign-in expired or was started in another window. Please try again.",
        "access_denied" => "The sign-in was cancelled at the provider.",
        "provider_error" => "The identity provider reported an error. Please try again.",
        "email_missing" => "The provider did not share an email address.",
        "email_unverified" => "The email address is not verified at the provider.",
        _ => return None,
    };
    Some(text.to_owned())
}

async fn login(
    state: &WebState,
    who: Option<&Principal>,
    query: &HashMap<String, String>,
) -> Result<HttpResponse, PageError> {
    let next = safe_next(query.get("next").map(String::as_str)).unwrap_or("/");
    if who.is_some() {
        return Ok(redirect(next));
    }
    let page = LoginPage {
        layout: layout(state, "Sign in", "", None).await,
        providers: state
            .identity
            .enabled()
            .into_iter()
            .map(|(provider, name)| ProviderLink { id: provider.as_str().to_owned(), name })
            .collect(),
        local: state.auth.local_login_enabled(),
        next: next.to_owned(),
        next_query: query_value(next),
        error: query.get("error").and_then(|code| sign_in_error(code)),
    };
    Ok(html(StatusCode::OK, page.render()?))
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

async fn overview(
    state: &WebState,
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

async fn environments(state: &WebState, who: &Principal) -> Result<HttpResponse, PageError> {
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

/// The display name of an environment.
async fn env_name(state: &WebState, env: &EnvId) -> Result<String, PageError> {
    Ok(state.environments.get(env).await?.environment.name.as_str().to_owned())
}

async fn environment(state: &WebState, who: &Principal, env: &EnvId) -> Result<HttpResponse, PageError> {
    let name = env_name(state, env).await?;
    let projects = state.projects.list(env).await?;
    let page = EnvironmentPage {
        layout: layout(state, name.clone(), "environments", Some(who)).await,
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

async fn project(
    state: &WebState,
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
async fn project_name(state: &WebState, env: &EnvId, project: &ProjectId) -> Result<String, PageError> {
    Ok(state.projects.get(env, project).await?.project.name.as_str().to_owned())
}

async fn build(
    state: &WebState,
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
    let page = BuildPage {
        layout: layout(state, format!("Build {id}"), "environments", Some(who)).await,
        env_name,
        env_url: format!("/environments/{env}"),
        project_name,
        project_url: project_url(env.as_str(), project.as_str()),
        build: BuildRow::of(&found),
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
    Ok(html(StatusCode::OK, page.render()?))
}

async fn profile(state: &WebState, who: &Principal) -> Result<HttpResponse, PageError> {
    let user = match &who.identity {
        PrincipalRef::User(email) => state.auth.user(email).await.map_err(|e| PageError::Internal(e.to_string()))?,
        PrincipalRef::ApiKey { .. } => None,
    };
    let page = ProfilePage {
        layout: layout(state, "Profile", "profile", Some(who)).await,
        name: user.as_ref().map_or_else(|| display(who), |u| u.name.clone()),
        email: display(who),
        role: who.role.as_ref().map_or_else(|| "none".to_owned(), |r| r.as_str().to_owned()),
        permissions: if who.permissions.is_empty() {
            "none".to_owned()
        } else {
            who.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
        },
        provider: who.session.as_ref().map_or_else(|| "API key".to_owned(), |s| s.provider.as_str().to_owned()),
        expires: who.session.as_ref().map_or_else(|| "–".to_owned(), |s| time_text(&s.expires_at)),
    };
    Ok(html(StatusCode::OK, page.render()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_visitors_are_sent_to_sign_in_with_their_page() {
        assert_eq!(login_location("/"), "/login?next=/");
        assert_eq!(
            login_location("/environments/staging/projects/web?status=failed&page=2"),
            "/login?next=/environments/staging/projects/web%3Fstatus%3Dfailed%26page%3D2"
        );
    }

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

    #[test]
    fn only_known_oauth_errors_get_a_message() {
        assert!(sign_in_error("access_denied").is_some());
        assert!(sign_in_error("<script>").is_none());
    }
}
