//! What the pages need: the domain services they read from, shared with the API (the server builds both from the
//! same instances), and the facts shown in the footer.

use std::sync::Arc;

use hub_domain::model::origin::Origin;
use hub_domain::ports::StoreHealth;
use hub_domain::ports::allure_cli::AllureCliManager;
use hub_domain::ports::identity::IdentityProvider;
use hub_domain::services::{
    ApiKeyService, AuthService, DiskService, EnvironmentService, NotificationService, OverviewService, ProjectService,
    ReportService, RetentionService, UploadService, UserService,
};

/// Shared by every worker of the main origin.
pub struct WebState {
    /// Resolves the session cookie to a principal, and says whether local sign-in is enabled.
    pub auth: Arc<AuthService>,
    /// The enabled OAuth providers, for the sign-in buttons.
    pub identity: Arc<dyn IdentityProvider>,
    /// The dashboard figures.
    pub overview: OverviewService,
    /// Environments and their project counts.
    pub environments: EnvironmentService,
    /// Projects of an environment with their latest build.
    pub projects: ProjectService,
    /// Build lists and project statistics.
    pub reports: ReportService,
    /// Database readiness, shown in the footer.
    pub health: Arc<dyn StoreHealth>,
    /// Release version, shown in the footer.
    pub version: String,
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState").field("version", &self.version).finish_non_exhaustive()
    }
}

/// The services behind the upload, notification and settings pages, the bell and the framed report, shared with
/// the API like those of [`WebState`].
pub struct Services {
    /// Upload sessions.
    pub uploads: UploadService,
    /// Notifications and their read state.
    pub notifications: NotificationService,
    /// API keys.
    pub api_keys: ApiKeyService,
    /// Users and role overrides.
    pub users: UserService,
    /// Disk usage and its notification threshold.
    pub disk: DiskService,
    /// Retention settings and cleanup runs.
    pub retention: RetentionService,
    /// The Allure CLI's installed and latest versions.
    pub allure: Arc<dyn AllureCliManager>,
    /// Where reports are served, for the build page's frame and its `frame-src`.
    pub report_origin: ReportOrigin,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").field("report_origin", &self.report_origin).finish_non_exhaustive()
    }
}

/// How the report origin is known (the API's `REPORTS_BASE_URL` rule, contract §8.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOrigin {
    /// `REPORTS_BASE_URL`, fixed.
    Fixed(String),
    /// The main origin of the request (from `BASE_URL`, else the `Host` header) with this port: the report
    /// listener's own port.
    Port {
        /// `BASE_URL`, when set.
        base_url: Option<String>,
        /// The report listener's port.
        port: u16,
    },
    /// No separate report origin: reports are not framed.
    None,
}

impl ReportOrigin {
    /// The report origin for a request whose main origin is `request_origin` (`scheme://host[:port]`), without a
    /// trailing slash.
    pub fn resolve(&self, request_origin: &str) -> Option<String> {
        match self {
            Self::Fixed(url) => Origin::parse(url).map(|origin| origin.to_url()),
            Self::Port { base_url, port } => {
                let main = Origin::parse(base_url.as_deref().unwrap_or(request_origin))?;
                Some(main.with_port(*port).to_url())
            }
            Self::None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_origin_is_the_fixed_url_or_the_main_host_with_the_report_port() {
        let fixed = ReportOrigin::Fixed("https://reports.example.com/".into());
        assert_eq!(fixed.resolve("http://ignored").as_deref(), Some("https://reports.example.com"));
        let port = ReportOrigin::Port { base_url: None, port: 9001 };
        assert_eq!(port.resolve("http://127.0.0.1:8080").as_deref(), Some("http://127.0.0.1:9001"));
        assert_eq!(port.resolve("http://[::1]:8080").as_deref(), Some("http://[::1]:9001"));
        let based = ReportOrigin::Port { base_url: Some("https://hub.example.com/x".into()), port: 8443 };
        assert_eq!(based.resolve("http://internal:1").as_deref(), Some("https://hub.example.com:8443"));
        assert_eq!(ReportOrigin::None.resolve("http://a"), None);
    }
}
