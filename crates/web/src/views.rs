//! The page templates and the rows they show. Rows hold display-ready text, computed in Rust where it can be
//! unit-tested, so templates stay free of logic.
//!
//! Kept whole for now (about 600 lines without its tests): the templates and their rows; it splits with pages.rs,
//! one module per page.

use askama::Template;
use hub_domain::model::build::BuildSummary;

use crate::chart::pass_rate;
use crate::pages::format::{bytes_text, project_url, rate_text, time_text};
use crate::pages::layout::Layout;
use crate::pages::parts::{BuildRow, Choice, Tile};

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
    /// Where to go after sign-in, already checked as a path of this origin
    /// ([`hub_domain::model::return_path::ReturnPath`]); the page's script checks it again before following it.
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
    /// Environment id.
    pub env_id: String,
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

/// A link of the settings tab bar.
#[derive(Debug, Clone)]
pub struct TabLink {
    /// The tab's page.
    pub url: String,
    /// Its label.
    pub label: &'static str,
    /// Whether it is the page shown.
    pub current: bool,
}

/// One upload session as a table row.
#[derive(Debug, Clone)]
pub struct UploadRow {
    /// Session id.
    pub id: String,
    /// `stream`, `chunked` or `regenerate`.
    pub kind: &'static str,
    /// Environment id.
    pub env_id: String,
    /// Project id.
    pub project_id: String,
    /// Build id.
    pub build_id: String,
    /// The project page.
    pub project_url: String,
    /// The build page.
    pub build_url: String,
    /// Archive name, `–` for regenerations.
    pub file: String,
    /// Current phase (also a CSS class suffix).
    pub phase: &'static str,
    /// Chunks stored of chunks declared, with the size.
    pub progress: String,
    /// Why it failed, with the phase it failed in.
    pub error: Option<String>,
    /// Who started it.
    pub uploaded_by: String,
    /// Start time for display.
    pub started: String,
    /// Start time, RFC 3339.
    pub started_iso: String,
    /// Whether the API would delete it now (`done`, `failed`, or a chunked upload still `uploading`).
    pub deletable: bool,
    /// Whether "Retry" applies: the report generation failed, so generating it again may succeed.
    pub retryable: bool,
}

impl UploadRow {
    /// The row of a session.
    pub fn of(s: &hub_domain::model::upload::UploadSession) -> Self {
        use hub_domain::model::upload::{Phase, UploadKind};
        let size = s.total_size.map(bytes_text);
        let progress = match (s.kind, size) {
            (UploadKind::Regenerate, _) => "–".to_owned(),
            (_, Some(size)) => format!("{}/{} chunks · {size}", s.received_chunks, s.total_chunks),
            (_, None) => format!("{}/{} chunks", s.received_chunks, s.total_chunks),
        };
        let url = project_url(s.env_id.as_str(), s.project_id.as_str());
        Self {
            id: s.id.to_string(),
            kind: s.kind.as_str(),
            env_id: s.env_id.to_string(),
            project_id: s.project_id.to_string(),
            build_id: s.build_id.to_string(),
            build_url: format!("{url}/builds/{}", s.build_id),
            project_url: url,
            file: s.file_name.clone().unwrap_or_else(|| "–".to_owned()),
            phase: s.phase.as_str(),
            progress,
            error: s.error.as_ref().map(|e| match s.failed_at_phase {
                Some(at) => format!("{e} (while {at})"),
                None => e.clone(),
            }),
            uploaded_by: s.uploaded_by.clone(),
            started: time_text(&s.started_at),
            started_iso: s.started_at.to_rfc3339(),
            deletable: matches!(s.phase, Phase::Done | Phase::Failed)
                || (s.kind == UploadKind::Chunked && s.phase == Phase::Uploading),
            retryable: s.phase == Phase::Failed && s.failed_at_phase == Some(Phase::Generating),
        }
    }
}

/// `/uploads`.
#[derive(Debug, Template)]
#[template(path = "uploads.html")]
pub struct UploadsPage {
    /// Frame.
    pub layout: Layout,
    /// Environment filter choices.
    pub env_options: Vec<Choice>,
    /// The project filter as typed.
    pub project_filter: String,
    /// Whether any filter is set.
    pub filtered: bool,
    /// The stream URL with the same filters, for live updates.
    pub stream_url: String,
    /// The sessions, newest first.
    pub uploads: Vec<UploadRow>,
}

/// One notification as a list entry.
#[derive(Debug, Clone)]
pub struct NotificationRow {
    /// Id.
    pub id: String,
    /// Headline.
    pub title: String,
    /// Text.
    pub body: String,
    /// `upload`, `disk`, `retention` or `allure`.
    pub category: &'static str,
    /// `info`, `success`, `warning` or `error`.
    pub severity: &'static str,
    /// Whether the viewer read it.
    pub read: bool,
    /// Creation time for display.
    pub created: String,
    /// Creation time, RFC 3339.
    pub created_iso: String,
    /// The build page it is about, if any.
    pub url: Option<String>,
}

impl NotificationRow {
    /// The entry of a notification as the viewer sees it.
    pub fn of(view: &hub_domain::model::notification::NotificationView) -> Self {
        let n = &view.notification;
        let text = |key: &str| n.payload.get(key).and_then(|v| v.as_str()).filter(|v| !v.is_empty());
        let url = match (text("env_id"), text("project_id"), text("build_id")) {
            (Some(env), Some(project), Some(build)) => Some(format!("{}/builds/{build}", project_url(env, project))),
            _ => None,
        };
        Self {
            id: n.id.to_string(),
            title: n.title.clone(),
            body: n.body.clone(),
            category: n.category.as_str(),
            severity: n.severity.as_str(),
            read: view.read,
            created: time_text(&n.created_at),
            created_iso: n.created_at.to_rfc3339(),
            url,
        }
    }
}

/// `/notifications`.
#[derive(Debug, Template)]
#[template(path = "notifications.html")]
pub struct NotificationsPage {
    /// Frame.
    pub layout: Layout,
    /// Whether only unread ones are shown.
    pub unread_only: bool,
    /// The notifications, newest first.
    pub items: Vec<NotificationRow>,
}

/// An API key as a table row.
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role name.
    pub role: String,
    /// First 11 characters of the key.
    pub prefix: String,
    /// Creator's email.
    pub created_by: String,
    /// Creation time.
    pub created: String,
    /// Last use, or `never`.
    pub last_used: String,
    /// Revocation time, when revoked.
    pub revoked: Option<String>,
    /// Whether uploads with it create missing environments and projects.
    pub auto_create: bool,
    /// Whether the viewer may revoke or delete it (only admins act on admin keys).
    pub actionable: bool,
}

/// A user as a table row.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Email.
    pub email: String,
    /// Email, encoded for a URL path segment.
    pub email_path: String,
    /// Display name.
    pub name: String,
    /// Latest sign-in method.
    pub provider: String,
    /// Role now, or `none`.
    pub role: String,
    /// `override`, `policy`, `default` or `none`.
    pub source: String,
    /// Latest sign-in.
    pub last_login: String,
    /// Whether it is the viewer (whose own role cannot be changed).
    pub is_self: bool,
}

/// A part of the disk usage.
#[derive(Debug, Clone)]
pub struct DiskRow {
    /// `<envId>/<projectId>`.
    pub path: String,
    /// Size text.
    pub size: String,
    /// Share of the used bytes, 0–100.
    pub percent: i64,
}

/// A cleanup run as a table row.
#[derive(Debug, Clone)]
pub struct RunRow {
    /// Start time.
    pub started: String,
    /// `success` or `failed`.
    pub status: &'static str,
    /// `schedule` or `manual`.
    pub trigger: &'static str,
    /// Builds deleted (or that would have been).
    pub deleted: i64,
    /// Builds skipped.
    pub skipped: i64,
    /// Bytes freed, as text.
    pub freed: String,
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// Why it failed.
    pub error: Option<String>,
}

/// What a settings tab shows.
#[derive(Debug, Clone)]
pub enum SettingsBody {
    /// API keys, with the search.
    ApiKeys {
        /// The search text.
        search: String,
        /// Matching keys (newest first, at most 100).
        keys: Vec<KeyRow>,
        /// Keys matching in all.
        total: i64,
    },
    /// Users, with the search.
    Users {
        /// The search text.
        search: String,
        /// Matching users.
        users: Vec<UserRow>,
        /// Users matching in all.
        total: i64,
        /// Role names of the policy (for overrides).
        roles: Vec<String>,
    },
    /// Disk usage and the threshold.
    Disk {
        /// Used bytes.
        used: String,
        /// Free bytes.
        free: String,
        /// Capacity.
        total: String,
        /// Filesystem fill, 0–100, when the capacity is known.
        percent: Option<i64>,
        /// The largest projects.
        breakdown: Vec<DiskRow>,
        /// When it was measured.
        computed: String,
        /// The warning threshold (0 = off).
        threshold: i64,
    },
    /// The Allure CLI.
    Allure {
        /// Installed version, empty when none works.
        version: String,
        /// Newest published version, empty when unknown.
        latest: String,
        /// Whether the server may install versions.
        managed: bool,
        /// A version being installed.
        installing: Option<String>,
        /// Whether `latest` is newer than `version`.
        update: bool,
    },
    /// Retention settings and the recent runs.
    Retention {
        /// Days builds are kept.
        days: i64,
        /// Hours between sweeps.
        hours: i64,
        /// Whether sweeps only count.
        dry_run: bool,
        /// The next scheduled sweep.
        next_run: String,
        /// The newest runs.
        runs: Vec<RunRow>,
    },
}

/// `/settings/{tab}`.
#[derive(Debug, Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    /// Frame.
    pub layout: Layout,
    /// The tab bar.
    pub tabs: Vec<TabLink>,
    /// The tab's content.
    pub body: SettingsBody,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::pages::layout::fixture;

    #[test]
    fn the_sign_in_page_links_each_provider_with_the_next_page() {
        let page = LoginPage {
            layout: fixture(None),
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

    fn settings(layout: Layout, body: SettingsBody) -> String {
        SettingsPage { layout, tabs: Vec::new(), body }.render().unwrap()
    }

    #[test]
    fn management_controls_follow_the_role() {
        let mut manager = fixture(Some("v@x.io"));
        manager.manage = true;
        manager.unread = Some(3);

        // A manager who is not an admin: no admin role for new keys, no role changes, no Allure install, and no
        // actions on an admin's key.
        let key = |role: &str, actionable| KeyRow {
            id: format!("id-{role}"),
            name: format!("{role}-key"),
            role: role.into(),
            prefix: "ah_12345678".into(),
            created_by: "a@x.io".into(),
            created: "t".into(),
            last_used: "never".into(),
            revoked: None,
            auto_create: false,
            actionable,
        };
        let keys = SettingsBody::ApiKeys {
            search: String::new(),
            keys: vec![key("admin", false), key("developer", true)],
            total: 2,
        };
        let html = settings(manager.clone(), keys.clone());
        assert!(!html.contains(r#"<option value="admin">"#), "{html}");
        assert!(!html.contains("/api/settings/apikeys/id-admin"), "{html}");
        assert!(html.contains("/api/settings/apikeys/id-developer?action=revoke"), "{html}");
        let mut admin = manager.clone();
        admin.admin = true;
        assert!(settings(admin.clone(), keys).contains(r#"<option value="admin">"#));

        let allure = SettingsBody::Allure {
            version: "3.18.0".into(),
            latest: "3.19.1".into(),
            managed: true,
            installing: None,
            update: true,
        };
        let html = settings(manager.clone(), allure.clone());
        assert!(html.contains("Allure 3.19.1 is available") && !html.contains("/api/settings/allure"), "{html}");
        assert!(settings(admin.clone(), allure).contains(r#"data-url="/api/settings/allure""#));

        let users = SettingsBody::Users {
            search: String::new(),
            users: vec![UserRow {
                email: "d@x.io".into(),
                email_path: "d%40x.io".into(),
                name: "D".into(),
                provider: "local".into(),
                role: "developer".into(),
                source: "override".into(),
                last_login: "t".into(),
                is_self: false,
            }],
            total: 1,
            roles: vec!["admin".into()],
        };
        assert!(!settings(manager, users.clone()).contains("/role"));
        let html = settings(admin, users);
        assert!(html.contains(r#"data-url="/api/settings/users/d%40x.io/role""#), "{html}");
        assert!(html.contains(">Reset</button>"), "an override can be reset: {html}");
    }
}
