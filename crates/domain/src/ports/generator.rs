//! The report generator (the Allure 3 CLI in production): turns a directory of results into a report directory.
//! Paths are plain filesystem paths because the CLI works on files; which paths is the storage adapter's business.

use std::path::PathBuf;

use async_trait::async_trait;
use thiserror::Error;

/// One run of the generator.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    /// The build's results (read only).
    pub results_dir: PathBuf,
    /// A fresh, empty directory for the report.
    pub output_dir: PathBuf,
    /// A fresh, empty working directory (the CLI reads git metadata and config files from its working directory).
    pub work_dir: PathBuf,
    /// The full run config, server-controlled keys included (`output`, `historyPath`, `historyLimit`).
    pub config: serde_json::Value,
}

/// A finished run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generated {
    /// Known harmless CLI messages, kept as build warnings.
    pub warnings: Vec<String>,
}

/// Why a run produced no usable report; the texts are the contract's (§8.3).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum GenerateError {
    /// The run exceeded `ALLURE_TIMEOUT`.
    #[error("allure generate timed out after {0}")]
    TimedOut(String),
    /// Non-zero exit with unexplained stderr.
    #[error("allure generate exited with status {status}: {stderr_tail}")]
    Exited {
        /// Exit status (or the terminating signal's number + 128).
        status: i32,
        /// The last stderr lines, `DATA_DIR` replaced by `$DATA_DIR`.
        stderr_tail: String,
    },
    /// Exit 0 without a report, or a plugin that crashed.
    #[error("allure generate produced no index.html")]
    NoIndex,
    /// No CLI can be run.
    #[error("Allure CLI is not available: {0}")]
    Unavailable(String),
    /// The run was stopped because the server is shutting down or the job was cancelled.
    #[error("allure generate was cancelled")]
    Cancelled,
}

/// Runs report generations.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ReportGenerator: Send + Sync + 'static {
    /// Runs one generation to its end.
    async fn generate(&self, request: GenerateRequest) -> Result<Generated, GenerateError>;
}
