//! The Allure CLI as an administrator manages it (contract §13.5): which version is active, which is the newest in
//! the registry, and switching to another version while the server runs. The generator port runs the CLI; this one
//! installs and chooses it.

use async_trait::async_trait;
use thiserror::Error;

use crate::model::allure_version::AllureVersion;

/// What the settings page shows about the CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliStatus {
    /// The version the active CLI prints; empty when no working CLI is available.
    pub version: String,
    /// The registry's newest release; empty when the registry cannot be reached or is disabled.
    pub latest: String,
    /// `false` when the CLI is fixed by `ALLURE_BIN` and cannot be switched.
    pub managed: bool,
    /// The version being installed right now.
    pub installing: Option<String>,
}

/// Why a version could not be activated; the texts are the contract's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CliInstallError {
    /// Another installation (at start-up or through the API) is running.
    #[error("an Allure CLI installation is already in progress")]
    InProgress,
    /// `ALLURE_BIN` fixes the CLI.
    #[error("the Allure CLI is set by ALLURE_BIN and cannot be changed here")]
    NotManaged,
    /// The registry answered that the version does not exist.
    #[error("allure@{0} was not found in the registry")]
    NotInRegistry(String),
    /// npm or the installed CLI failed; `detail` is safe to show (paths under `DATA_DIR` are written `$DATA_DIR`).
    #[error("npm install allure@{version} failed")]
    Failed {
        /// The version requested.
        version: String,
        /// The end of npm's stderr, or what else went wrong.
        detail: String,
    },
    /// The new choice could not be recorded for the next start, so nothing was switched.
    #[error("cannot record the active Allure CLI: {0}")]
    Storage(String),
}

/// Installs and switches the Allure CLI.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AllureCliManager: Send + Sync + 'static {
    /// The active and latest versions and any installation running.
    async fn status(&self) -> CliStatus;

    /// The version the active CLI prints (`status().version` without asking the registry, so a node can say it
    /// with every heartbeat); `None` when no working CLI is available.
    async fn active_version(&self) -> Option<String>;

    /// Installs `version` when needed and makes it the CLI of jobs that start afterwards, also after a restart.
    /// Returns at once when it is already active.
    async fn activate(&self, version: &AllureVersion) -> Result<(), CliInstallError>;
}
