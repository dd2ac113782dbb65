//! Generation jobs: durable units of work that run the Allure CLI for one build.

use crate::Timestamp;
use crate::ids::{BuildId, EnvId, JobId, ProjectId, UploadId};

crate::string_enum! {
    /// State of a generation job.
    JobState {
        /// Waiting for a slot.
        Queued = "queued",
        /// The CLI is running.
        Running = "running",
        /// The report was published.
        Succeeded = "succeeded",
        /// The generation failed.
        Failed = "failed",
    }
}

/// A stored generation job.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationJob {
    /// Job id.
    pub id: JobId,
    /// Build's environment.
    pub env_id: EnvId,
    /// Build's project.
    pub project_id: ProjectId,
    /// The build to generate.
    pub build_id: BuildId,
    /// Session that reports this job's progress.
    pub upload_id: Option<UploadId>,
    /// Current state.
    pub state: JobState,
    /// Effective report config (without server-controlled keys).
    pub config: serde_json::Value,
    /// Runs interrupted by restarts so far.
    pub attempts: i64,
    /// When it was queued.
    pub created_at: Timestamp,
    /// When it last started running.
    pub started_at: Option<Timestamp>,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
    /// Failure reason.
    pub error: Option<String>,
}
