//! Generation jobs: durable units of work that run the Allure CLI for one build.

use crate::Timestamp;
use crate::ids::{BuildId, EnvId, JobId, NodeId, ProjectId, UploadId};

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

/// Who holds a running job and until when. Several nodes share one queue: a node renews the leases of the jobs it
/// runs while their CLI runs, and a job whose lease ran out (its node died) goes back to the queue for another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The node running the job.
    pub node: NodeId,
    /// When the lease runs out unless renewed.
    pub until: Timestamp,
}
