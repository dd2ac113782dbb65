//! What the pages need: the domain services they read from, shared with the API (the server builds both from the
//! same instances), and the facts shown in the footer.

use std::sync::Arc;

use hub_domain::ports::StoreHealth;
use hub_domain::ports::identity::IdentityProvider;
use hub_domain::services::{AuthService, EnvironmentService, OverviewService, ProjectService, ReportService};

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
