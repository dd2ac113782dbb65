//! The use cases as one value: built once at start-up and handed to every driving adapter (the JSON API and the
//! web UI), so both read through the same instances and no adapter copies them field by field.

use std::sync::Arc;

use crate::ports::{AllureCliManager, IdentityProvider, ReportFiles, StorageHealth, StoreHealth};
use crate::services::{
    ApiKeyService, AuthService, DiskService, EnvironmentService, NodeService, NotificationService, OverviewService,
    ProjectService, ReportService, RetentionService, UploadService, UserService,
};

/// Every use case a driving adapter may call, and the few ports they read directly.
#[derive(Clone)]
pub struct Services {
    /// Sessions, API keys and local sign-in.
    pub auth: Arc<AuthService>,
    /// Users and their role overrides.
    pub users: UserService,
    /// API keys.
    pub api_keys: ApiKeyService,
    /// Environments.
    pub environments: EnvironmentService,
    /// Projects.
    pub projects: ProjectService,
    /// Upload sessions, streamed and chunked.
    pub uploads: UploadService,
    /// Builds, their reports and statistics.
    pub reports: ReportService,
    /// Each principal's notifications and their live stream.
    pub notifications: NotificationService,
    /// The dashboard.
    pub overview: OverviewService,
    /// Disk usage and its warning threshold.
    pub disk: DiskService,
    /// Retention settings and cleanup runs.
    pub retention: RetentionService,
    /// This node among those sharing the database, and the live ones.
    pub nodes: NodeService,
    /// The Allure CLI's installed and latest versions.
    pub allure: Arc<dyn AllureCliManager>,
    /// The enabled OAuth/OIDC providers.
    pub identity: Arc<dyn IdentityProvider>,
    /// Database readiness.
    pub health: Arc<dyn StoreHealth>,
    /// The files of published reports, served on the report origin.
    pub report_files: Arc<dyn ReportFiles>,
    /// Storage readiness.
    pub storage: Arc<dyn StorageHealth>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}
