//! The page handler: resolves the viewer from the session cookie, sends anonymous visitors to sign in, and renders
//! the page the path names from the domain services.
//!
//! Kept whole for now (about 900 lines): one handler that resolves the viewer and dispatches on the route, with one
//! function per page; the planned split is one module per page holding its handler, template and rows.

pub mod error;
pub mod format;
pub mod layout;
pub mod parts;
pub mod response;

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::{Data, Query};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::model::access::{Permission, Principal, PrincipalRef};
use hub_domain::model::allure_version::{is_newer_release, version_in};
use hub_domain::model::build::{OutcomeFilter, TREND_BUILDS};
use hub_domain::model::overview::OverviewFilter;
use hub_domain::model::page::{Page, PageRequest};
use hub_domain::model::policy::BUILTIN_ROLES;
use hub_domain::model::return_path::ReturnPath;
use hub_domain::ports::UploadFilter;
use hub_domain::services::{EnvironmentError, OverviewError, ProjectError, ReportError};

use self::error::error_page;
use self::format::{bytes_text, duration_text, project_url, rate_text, time_text};
use self::layout::{display, layout, notification_viewer};
use self::parts::{BuildRow, Choice, Tile};
use self::response::{framing_csp, html, html_with, redirect};
use crate::chart::{Column, Frame, donut, pass_rate, pass_rate_line, stacked_bars};
use crate::html::query_value;
use crate::routes::{Route, SettingsTab};
use crate::state::{Services, WebState};
use crate::views::{
    BuildPage, DiskRow, EnvCard, EnvironmentPage, EnvironmentsPage, FailingRow, GateRow, KeyRow, LoginPage,
    NotificationRow, NotificationsPage, OverviewPage, ProfilePage, ProjectPage, ProjectRow, ProviderLink, RunRow,
    SettingsBody, SettingsPage, TabLink, UploadRow, UploadsPage, UserRow,
};

pub use hub_domain::model::access::SESSION_COOKIE;

/// Builds per page of a project's build table.
pub const PAGE_SIZE: i64 = 20;

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
pub async fn dispatch(req: HttpRequest, state: Data<WebState>, services: Data<Services>) -> HttpResponse {
    let services = services.get_ref();
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

/// Where an anonymous visitor of `path_and_query` is sent: the sign-in page, which returns there afterwards.
pub fn login_location(path_and_query: &str) -> String {
    format!("/login?next={}", query_value(path_and_query))
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
    state: &Ctx<'_>,
    who: Option<&Principal>,
    query: &HashMap<String, String>,
) -> Result<HttpResponse, PageError> {
    // One check for every use below: the redirect, the form's target and the provider links (§14.2).
    let next = match query.get("next").map(|n| ReturnPath::parse(n)) {
        Some(Ok(next)) => next,
        Some(Err(why)) => {
            tracing::info!(reason = %why, "sign-in page: next refused");
            ReturnPath::root()
        }
        None => ReturnPath::root(),
    };
    if who.is_some() {
        return Ok(redirect(next.as_str()));
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
        next: next.as_str().to_owned(),
        next_query: query_value(next.as_str()),
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

async fn environments(state: &Ctx<'_>, who: &Principal) -> Result<HttpResponse, PageError> {
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
async fn env_name(state: &Ctx<'_>, env: &EnvId) -> Result<String, PageError> {
    Ok(state.environments.get(env).await?.environment.name.as_str().to_owned())
}

async fn environment(state: &Ctx<'_>, who: &Principal, env: &EnvId) -> Result<HttpResponse, PageError> {
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
async fn project_name(state: &Ctx<'_>, env: &EnvId, project: &ProjectId) -> Result<String, PageError> {
    Ok(state.projects.get(env, project).await?.project.name.as_str().to_owned())
}

async fn build(
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
    let report_origin = state.services.report_origin.resolve(&state.origin);
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

async fn profile(state: &Ctx<'_>, who: &Principal) -> Result<HttpResponse, PageError> {
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

/// Environment filter choices, `selected` marking `env`.
async fn env_choices(state: &Ctx<'_>, env: Option<&EnvId>) -> Result<Vec<Choice>, PageError> {
    Ok(state
        .environments
        .list()
        .await?
        .iter()
        .map(|e| Choice {
            id: e.environment.id.to_string(),
            name: e.environment.name.as_str().to_owned(),
            selected: env == Some(&e.environment.id),
        })
        .collect())
}

/// Upload sessions listed on `/uploads`.
pub const UPLOADS_SHOWN: i64 = 100;

async fn uploads(state: &Ctx<'_>, who: &Principal, query: &HashMap<String, String>) -> Result<HttpResponse, PageError> {
    let services = state.services;
    let param = |name: &str| query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let env = param("envId").and_then(|v| EnvId::parse(v).ok());
    let project = param("projectId").and_then(|v| ProjectId::parse(v).ok());
    let sessions = services
        .uploads
        .list(UploadFilter { env: env.clone(), project: project.clone() }, UPLOADS_SHOWN)
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let mut stream_query = Vec::new();
    if let Some(env) = &env {
        stream_query.push(format!("envId={env}"));
    }
    if let Some(project) = &project {
        stream_query.push(format!("projectId={project}"));
    }
    let stream_url = match stream_query.is_empty() {
        true => "/api/uploads/stream".to_owned(),
        false => format!("/api/uploads/stream?{}", stream_query.join("&")),
    };
    let page = UploadsPage {
        layout: layout(state, "Uploads", "uploads", Some(who)).await,
        env_options: env_choices(state, env.as_ref()).await?,
        project_filter: project.as_ref().map(ToString::to_string).unwrap_or_default(),
        filtered: env.is_some() || project.is_some(),
        stream_url,
        uploads: sessions.iter().map(UploadRow::of).collect(),
    };
    Ok(html(StatusCode::OK, page.render()?))
}

/// Notifications listed on `/notifications`.
pub const NOTIFICATIONS_SHOWN: i64 = 100;

async fn notifications(
    state: &Ctx<'_>,
    who: &Principal,
    query: &HashMap<String, String>,
) -> Result<HttpResponse, PageError> {
    let services = state.services;
    let unread_only = query.get("unread").is_some_and(|v| v == "true");
    let items = services
        .notifications
        .list(&notification_viewer(who), unread_only, NOTIFICATIONS_SHOWN)
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let page = NotificationsPage {
        layout: layout(state, "Notifications", "notifications", Some(who)).await,
        unread_only,
        items: items.iter().map(NotificationRow::of).collect(),
    };
    Ok(html(StatusCode::OK, page.render()?))
}

/// Rows listed on a settings tab with a search (the API's maximum page).
const SETTINGS_ROWS: i64 = 100;

/// Whether the Allure tab offers `latest`: a release newer than the installed version, or any release when no
/// working CLI is installed (`installed` empty).
pub fn is_newer(latest: &str, installed: &str) -> bool {
    match is_newer_release(latest, installed) {
        Some(newer) => newer,
        None => installed.trim().is_empty() && version_in(latest).is_some_and(|v| v.pre.is_empty()),
    }
}

async fn settings(
    state: &Ctx<'_>,
    who: &Principal,
    tab: SettingsTab,
    query: &HashMap<String, String>,
) -> Result<HttpResponse, PageError> {
    let services = state.services;
    let internal = |e: &dyn std::fmt::Display| PageError::Internal(e.to_string());
    let search = query.get("search").map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let rows = PageRequest { limit: SETTINGS_ROWS, offset: 0 };
    let body = match tab {
        SettingsTab::ApiKeys => {
            let keys = services.api_keys.list(search.clone(), rows).await.map_err(|e| internal(&e))?;
            SettingsBody::ApiKeys {
                search: search.unwrap_or_default(),
                total: keys.total,
                keys: keys
                    .items
                    .iter()
                    .map(|k| KeyRow {
                        id: k.id.to_string(),
                        name: k.name.clone(),
                        role: k.role.as_str().to_owned(),
                        prefix: k.prefix.clone(),
                        created_by: k.created_by.to_string(),
                        created: time_text(&k.created_at),
                        last_used: k.last_used_at.as_ref().map_or_else(|| "never".to_owned(), time_text),
                        revoked: k.revoked_at.as_ref().map(time_text),
                        auto_create: k.auto_create,
                        actionable: who.is_admin() || !k.role.is_admin(),
                    })
                    .collect(),
            }
        }
        SettingsTab::Users => {
            let users = services.users.list(search.clone(), rows).await.map_err(|e| internal(&e))?;
            let me = match &who.identity {
                PrincipalRef::User(email) => Some(email.to_string()),
                PrincipalRef::ApiKey { .. } => None,
            };
            let mut roles: Vec<String> = BUILTIN_ROLES.map(str::to_owned).to_vec();
            for role in users.items.iter().filter_map(|u| u.role.as_ref()) {
                if !roles.iter().any(|r| r == role.as_str()) {
                    roles.push(role.as_str().to_owned());
                }
            }
            SettingsBody::Users {
                search: search.unwrap_or_default(),
                total: users.total,
                roles,
                users: users
                    .items
                    .iter()
                    .map(|u| UserRow {
                        email: u.user.email.to_string(),
                        email_path: query_value(&u.user.email.to_string()),
                        name: u.user.name.clone(),
                        provider: u.user.provider.as_str().to_owned(),
                        role: u.role.as_ref().map_or_else(|| "none".to_owned(), |r| r.as_str().to_owned()),
                        source: u.role_source.as_str().to_owned(),
                        last_login: time_text(&u.user.last_login_at),
                        is_self: me.as_deref() == Some(u.user.email.as_str()),
                    })
                    .collect(),
            }
        }
        SettingsTab::Disk => {
            let usage = services.disk.usage().await;
            let threshold = services.disk.threshold().await.map_err(|e| internal(&e))?;
            let used = usage.used_bytes.max(1);
            SettingsBody::Disk {
                used: bytes_text(usage.used_bytes),
                free: bytes_text(usage.free_bytes),
                total: bytes_text(usage.total_bytes),
                percent: (usage.total_bytes > 0)
                    .then(|| 100 * (usage.total_bytes - usage.free_bytes).max(0) / usage.total_bytes),
                breakdown: usage
                    .breakdown
                    .iter()
                    .map(|d| DiskRow { path: d.path.clone(), size: bytes_text(d.bytes), percent: 100 * d.bytes / used })
                    .collect(),
                computed: time_text(&usage.computed_at),
                threshold,
            }
        }
        SettingsTab::Allure => {
            let status = services.allure.status().await;
            SettingsBody::Allure {
                update: is_newer(&status.latest, &status.version),
                version: status.version,
                latest: status.latest,
                managed: status.managed,
                installing: status.installing,
            }
        }
        SettingsTab::Retention => {
            let (settings, next) = services.retention.settings_and_next_run().await.map_err(|e| internal(&e))?;
            let runs = services.retention.runs(5).await.map_err(|e| internal(&e))?;
            SettingsBody::Retention {
                days: settings.retention_days,
                hours: settings.interval_hours,
                dry_run: settings.dry_run,
                next_run: next.as_ref().map_or_else(|| "not scheduled".to_owned(), time_text),
                runs: runs
                    .iter()
                    .map(|r| RunRow {
                        started: time_text(&r.started_at),
                        status: r.status.as_str(),
                        trigger: r.trigger.as_str(),
                        deleted: r.deleted_count,
                        skipped: r.skipped_count,
                        freed: bytes_text(r.freed_bytes),
                        dry_run: r.dry_run,
                        error: r.error_message.clone(),
                    })
                    .collect(),
            }
        }
    };
    let page = SettingsPage {
        layout: layout(state, format!("Settings: {}", tab.label()), "settings", Some(who)).await,
        tabs: SettingsTab::ALL
            .into_iter()
            .map(|t| TabLink { url: format!("/settings/{}", t.slug()), label: t.label(), current: t == tab })
            .collect(),
        body,
    };
    Ok(html(StatusCode::OK, page.render()?))
}

#[cfg(test)]
mod tests {
    use super::error::BARE_ERROR_PAGE;
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
    fn newer_allure_versions_are_recognised() {
        assert!(is_newer("3.19.1", "3.18.0"));
        assert!(is_newer("3.10.0", "3.9.9"), "numeric, not text, order");
        assert!(!is_newer("3.18.0", "3.18.0"));
        assert!(!is_newer("3.17.0", "3.18.0"));
        assert!(!is_newer("", "3.18.0"), "an unknown latest is never an update");
        assert!(is_newer("3.18.0", ""), "any version beats no working CLI");
        assert!(!is_newer("3.18.0-beta.1", "3.0.0"), "a pre-release is never offered");
        assert!(!is_newer("3.18.0-beta.1", ""), "not even without a CLI");
        assert!(is_newer("3.19.0", "3.19.0-beta.1"), "a release is newer than its pre-release");
    }

    #[test]
    fn a_response_actix_could_not_build_is_a_bare_error_and_pages_are_not() {
        assert!(is_bare_error(&redirect("/\n")), "a Location that cannot be encoded");
        assert!(is_bare_error(&HttpResponse::InternalServerError().finish()));
        assert!(!is_bare_error(&redirect("/environments")));
        assert!(!is_bare_error(&html(StatusCode::NOT_FOUND, String::new())));
        assert!(!is_bare_error(&html(StatusCode::INTERNAL_SERVER_ERROR, BARE_ERROR_PAGE.to_owned())));
    }

    #[test]
    fn only_known_oauth_errors_get_a_message() {
        assert!(sign_in_error("access_denied").is_some());
        assert!(sign_in_error("<script>").is_none());
    }
}
