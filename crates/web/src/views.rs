//! The page templates and the rows they show. Rows hold display-ready text, computed in Rust where it can be
//! unit-tested, so templates stay free of logic.

use askama::Template;
use hub_domain::model::build::{Build, BuildSummary, report_url};

use crate::chart::pass_rate;

/// What every page's frame shows: title, navigation, the signed-in user, asset URLs and the footer facts.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Page title, before the product name.
    pub title: String,
    /// Which navigation entry is current (`overview`, `environments`, `profile` or empty).
    pub nav: &'static str,
    /// The signed-in user's display text; `None` hides the navigation.
    pub user: Option<String>,
    /// The session's CSRF token for scripted changes; empty without a session.
    pub csrf: String,
    /// URL of the hashed stylesheet.
    pub css: &'static str,
    /// URL of the hashed script.
    pub js: &'static str,
    /// Inline SVG of the logo.
    pub logo: &'static str,
    /// Inline SVG of the user icon.
    pub user_icon: &'static str,
    /// Inline SVG of the theme toggle.
    pub theme_icon: &'static str,
    /// Release version.
    pub version: String,
    /// Whether the database answered.
    pub healthy: bool,
}

/// A summary figure.
#[derive(Debug, Clone)]
pub struct Tile {
    /// The figure.
    pub value: String,
    /// What it counts.
    pub label: &'static str,
}

/// An entry of a filter `<select>`.
#[derive(Debug, Clone)]
pub struct Choice {
    /// The submitted value.
    pub id: String,
    /// The shown name.
    pub name: String,
    /// Whether it is the current filter.
    pub selected: bool,
}

/// One build as a table row.
#[derive(Debug, Clone)]
pub struct BuildRow {
    /// Environment id.
    pub env_id: String,
    /// Project id.
    pub project_id: String,
    /// Build id.
    pub build_id: String,
    /// Build status name (also a CSS class suffix).
    pub status: &'static str,
    /// Creation time for display.
    pub created: String,
    /// Creation time, RFC 3339, for `<time datetime>`.
    pub created_iso: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// Passed tests.
    pub passed: i64,
    /// Failed and broken tests.
    pub failed: i64,
    /// Skipped tests.
    pub skipped: i64,
    /// Pass rate text, `–` without counted tests.
    pub rate: String,
    /// Quality gate text.
    pub gate: &'static str,
    /// Number of warnings.
    pub warnings: usize,
    /// The report on the main origin (which redirects to the report origin), when there is one.
    pub report_url: Option<String>,
    /// The project page.
    pub project_url: String,
    /// The build page.
    pub build_url: String,
}

/// Display of an optional percentage.
pub fn rate_text(rate: Option<i64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |r| format!("{r}%"))
}

/// The display form of a time: minutes precision, UTC.
pub fn time_text(at: &hub_domain::Timestamp) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The page of a project.
pub fn project_url(env: &str, project: &str) -> String {
    format!("/environments/{env}/projects/{project}")
}

impl BuildRow {
    /// The row of a build.
    pub fn of(build: &Build) -> Self {
        let failed = build.stats.failed + build.stats.broken;
        Self {
            env_id: build.env_id.to_string(),
            project_id: build.project_id.to_string(),
            build_id: build.build_id.to_string(),
            status: build.status.as_str(),
            created: time_text(&build.created_at),
            created_iso: build.created_at.to_rfc3339(),
            uploaded_by: build.uploaded_by.clone(),
            passed: build.stats.passed,
            failed,
            skipped: build.stats.skipped,
            rate: rate_text(pass_rate(build.stats.passed, failed)),
            gate: match &build.quality_gate {
                None => "–",
                Some(gate) if gate.passed => "passed",
                Some(_) => "failed",
            },
            warnings: build.warnings.len(),
            report_url: build.has_report.then(|| report_url(&build.env_id, &build.project_id, &build.build_id)),
            project_url: project_url(build.env_id.as_str(), build.project_id.as_str()),
            build_url: format!(
                "{}/builds/{}",
                project_url(build.env_id.as_str(), build.project_id.as_str()),
                build.build_id
            ),
        }
    }
}

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

/// A sign-in button.
#[derive(Debug, Clone)]
pub struct ProviderLink {
    /// Provider id (the `/auth/{id}` path segment).
    pub id: String,
    /// Display name.
    pub name: String,
}

/// `/login`.
#[derive(Debug, Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    /// Frame.
    pub layout: Layout,
    /// OAuth providers.
    pub providers: Vec<ProviderLink>,
    /// Whether the local form is shown.
    pub local: bool,
    /// Where to go after sign-in.
    pub next: String,
    /// `next`, encoded for a query.
    pub next_query: String,
    /// A sign-in failure reported by the OAuth callback.
    pub error: Option<String>,
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

/// `/environments`.
#[derive(Debug, Template)]
#[template(path = "environments.html")]
pub struct EnvironmentsPage {
    /// Frame.
    pub layout: Layout,
    /// Cards.
    pub envs: Vec<EnvCard>,
}

/// `/environments/{envId}`.
#[derive(Debug, Template)]
#[template(path = "environment.html")]
pub struct EnvironmentPage {
    /// Frame.
    pub layout: Layout,
    /// Environment name.
    pub env_name: String,
    /// Its projects.
    pub projects: Vec<ProjectRow>,
}

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

/// `/profile`.
#[derive(Debug, Template)]
#[template(path = "profile.html")]
pub struct ProfilePage {
    /// Frame.
    pub layout: Layout,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Role name.
    pub role: String,
    /// Permissions, comma separated.
    pub permissions: String,
    /// Sign-in method.
    pub provider: String,
    /// Session expiry.
    pub expires: String,
}

/// The 404, 403 and 500 pages.
#[derive(Debug, Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// Frame.
    pub layout: Layout,
    /// HTTP status.
    pub status: u16,
    /// Headline.
    pub heading: &'static str,
    /// Explanation.
    pub message: &'static str,
}

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

/// A duration in milliseconds for people: `850 ms`, `12.3 s`, `4 min 05 s`.
pub fn duration_text(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn layout(user: Option<&str>) -> Layout {
        Layout {
            title: "T".into(),
            nav: "overview",
            user: user.map(str::to_owned),
            csrf: user.map(|_| "tok\"en".to_owned()).unwrap_or_default(),
            css: "/assets/app.1.css",
            js: "/assets/app.1.js",
            logo: "",
            user_icon: "",
            theme_icon: "",
            version: "1.2.3".into(),
            healthy: false,
        }
    }

    #[test]
    fn the_sign_in_page_links_each_provider_with_the_next_page() {
        let page = LoginPage {
            layout: layout(None),
            providers: vec![ProviderLink { id: "github".into(), name: "GitHub".into() }],
            local: false,
            next: "/a?b=1&c".into(),
            next_query: crate::html::query_value("/a?b=1&c"),
            error: Some("The sign-in was cancelled <at> the provider.".into()),
        };
        let html = page.render().unwrap();
        assert!(html.contains(r#"href="/auth/github?next=/a%3Fb%3D1%26c""#), "{html}");
        assert!(html.contains("Sign in with GitHub"));
        assert!(!html.contains("id=\"password\""), "no local form when local sign-in is off");
        assert!(!html.contains("<at>"), "messages are escaped");
        // Anonymous: no navigation, no CSRF token; the footer says the database is down.
        assert!(!html.contains("aria-label=\"Main\"") && !html.contains("csrf-token"));
        assert!(html.contains("Database unavailable") && html.contains("Allure Hub 1.2.3"));
    }

    #[test]
    fn the_frame_marks_the_current_page_and_carries_the_csrf_token() {
        let page = ErrorPage { layout: layout(Some("a@b.c")), status: 404, heading: "Page not found", message: "m" };
        let html = page.render().unwrap();
        assert!(html.contains(r#"<a href="/" aria-current="page">Overview</a>"#), "{html}");
        assert!(!html.contains(r#"href="/environments" aria-current"#));
        assert!(html.contains(r#"name="csrf-token" content="tok&#34;en""#) || html.contains("tok&quot;en"), "{html}");
        assert!(html.contains(r#"<link rel="stylesheet" href="/assets/app.1.css">"#));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(850), "850 ms");
        assert_eq!(duration_text(12_340), "12.3 s");
        assert_eq!(duration_text(245_000), "4 min 05 s");
        assert_eq!(duration_text(-5), "0 ms");
    }
}
