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

/// The files of one generation job: where the CLI reads, writes and keeps history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The build's results.
    pub results_dir: PathBuf,
    /// A fresh directory for the new report.
    pub output_dir: PathBuf,
    /// A fresh, empty working directory.
    pub work_dir: PathBuf,
    /// The job's private, validated copy of the project's history.
    pub history_path: PathBuf,
}

/// A generation's output, published as the build's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedReport {
    /// Where the storage keeps this report: stored on the build with the job's outcome (in the same transaction
    /// that makes it the build's report), handed back to [`crate::ports::ReportFiles::open`], and to
    /// [`GenerationFiles::remove_other_reports`] once a newer report has replaced it. A storage without atomic rename
    /// (object storage) publishes each report under a new key, so the switch is this one database write.
    pub key: String,
    /// The history point the run added (its id, when the CLI wrote one).
    pub point: Option<String>,
}

/// Why a job's files could not be prepared.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum PrepareError {
    /// The build's results are gone.
    #[error("results of build {0} are missing")]
    ResultsMissing(String),
    /// The storage failed, or could not be reached ([`StorageError::is_unavailable`]: the job is tried again).
    #[error("{}", .0.message())]
    Storage(crate::ports::StorageError),
}

/// Files around a generation: materialising its local workspace, and publishing what the generator wrote.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait GenerationFiles: Send + Sync + 'static {
    /// Materialises the job's local workspace: the build's results, an empty output and working directory, and
    /// the history copy (the project's valid history lines, without the point `leave_out`, this build's previous
    /// one, at most the last `history_limit`). The one storage step that hands out local paths, because the
    /// generator works on files; an adapter whose files are elsewhere copies them here.
    async fn prepare(
        &self,
        job: &crate::model::job::GenerationJob,
        leave_out: Option<String>,
        history_limit: usize,
    ) -> Result<Workspace, PrepareError>;

    /// Publishes the workspace's output as a report of the build, makes the history copy the project's history,
    /// and says where the report is and which point the run added. Viewers see the new report once its key is the
    /// build's (a storage that replaces the previous report in place returns the same key every time).
    async fn publish(
        &self,
        job: &crate::model::job::GenerationJob,
        workspace: &Workspace,
    ) -> Result<PublishedReport, crate::ports::StorageError>;

    /// Deletes every report of the build except the one under `keep`, the build's current key (`None`: it has
    /// none yet, so every report is unreferenced): the one a newer report replaced, and any a crashed run
    /// published without the build ever naming it. Nothing to delete is not an error.
    async fn remove_other_reports(
        &self,
        env: &crate::ids::EnvId,
        project: &crate::ids::ProjectId,
        build: &crate::ids::BuildId,
        keep: Option<String>,
    ) -> Result<(), crate::ports::StorageError>;

    /// Removes one point from a project's history (a deleted build's), serialised with [`GenerationFiles::publish`]
    /// so a job finishing meanwhile cannot bring it back.
    async fn remove_history_point(
        &self,
        env: &crate::ids::EnvId,
        project: &crate::ids::ProjectId,
        point: &str,
    ) -> Result<(), crate::ports::StorageError>;

    /// Deletes the job's directories (after a failure, or after publishing).
    async fn discard(&self, workspace: &Workspace);
}
