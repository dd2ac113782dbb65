//! Builds: one set of uploaded results for a build id, and the report generated from them.

use crate::Timestamp;
use crate::ids::{BuildId, EnvId, ProjectId};

crate::string_enum! {
    /// Where a build is in its life (derived from its generation jobs).
    BuildStatus {
        /// A job is queued, none running.
        Pending = "pending",
        /// A job is running.
        Generating = "generating",
        /// The last finished job succeeded.
        Ready = "ready",
        /// The last finished job failed.
        Failed = "failed",
    }
}

/// Test counts and duration computed from a build's result files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Sum of the five outcome counters.
    pub total: i64,
    /// Passed tests.
    pub passed: i64,
    /// Assertion failures.
    pub failed: i64,
    /// Tests broken by unexpected errors.
    pub broken: i64,
    /// Skipped tests.
    pub skipped: i64,
    /// Results with another or no status.
    pub unknown: i64,
    /// Latest stop minus earliest start, 0 without timing data.
    pub duration_ms: i64,
}

/// One rule of a quality gate that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityGateFailure {
    /// Rule name, prefixed by the ruleset id when it has one.
    pub rule: String,
    /// The configured threshold.
    pub expected: serde_json::Value,
    /// The measured value.
    pub actual: serde_json::Value,
    /// A sentence for people.
    pub message: String,
}

/// Outcome of the quality gate of the last successful generation.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityGateResult {
    /// `true` when no rule failed.
    pub passed: bool,
    /// The failed rules.
    pub failures: Vec<QualityGateFailure>,
}

/// A stored build.
#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    /// Owning environment.
    pub env_id: EnvId,
    /// Owning project.
    pub project_id: ProjectId,
    /// Client-chosen id.
    pub build_id: BuildId,
    /// Derived status.
    pub status: BuildStatus,
    /// When the current results were saved.
    pub created_at: Timestamp,
    /// When the last generation job finished.
    pub completed_at: Option<Timestamp>,
    /// `user email` or `apikey:<name>` of the upload that produced the current results.
    pub uploaded_by: String,
    /// Whether a generated report is published.
    pub has_report: bool,
    /// Statistics of the results.
    pub stats: BuildStats,
    /// Quality gate of the last successful generation.
    pub quality_gate: Option<QualityGateResult>,
    /// Non-fatal remarks of the last finished generation.
    pub warnings: Vec<String>,
    /// Failure reason when failed.
    pub error: Option<String>,
    /// Effective report config of the last queued or finished generation.
    pub config: serde_json::Value,
}

/// The newest build of a project, as shown in project lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSummary {
    /// Owning environment.
    pub env_id: EnvId,
    /// Owning project.
    pub project_id: ProjectId,
    /// Client-chosen id.
    pub build_id: BuildId,
    /// Derived status.
    pub status: BuildStatus,
    /// When the current results were saved.
    pub created_at: Timestamp,
    /// When the last generation job finished.
    pub completed_at: Option<Timestamp>,
    /// Statistics of the results.
    pub stats: BuildStats,
}

/// Which builds a report list returns, by test outcome (not by build status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeFilter {
    /// Every build.
    All,
    /// At least one test and no failed or broken test.
    Passed,
    /// At least one failed or broken test.
    Failed,
}

/// The path of a build's report on the main origin: `/reports/{envId}/{projectId}/{buildId}/index.html`.
pub fn report_url(env: &EnvId, project: &ProjectId, build: &BuildId) -> String {
    format!("/reports/{env}/{project}/{build}/index.html")
}
