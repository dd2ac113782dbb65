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
    /// Where the storage keeps the published report ([`crate::ports::PublishedReport::key`]); `None` for reports
    /// published before keys were recorded, which the storage finds at its first place.
    pub report_key: Option<String>,
    /// Bytes the storage holds for the build (its results and report) as measured when its files last changed;
    /// `None` until measured (builds kept before sizes were, or a measurement that failed).
    pub stored_bytes: Option<i64>,
    /// Statistics of the results.
    pub stats: BuildStats,
    /// The longest single test in milliseconds (what a `maxDuration` quality gate rule measures).
    pub longest_test_ms: i64,
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

/// The builds beside one build in its project's list order (newest `createdAt` first, ties by build id
/// descending), for a build page's links to the newer and the older build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildNeighbours {
    /// The next newer build, if any.
    pub newer: Option<BuildId>,
    /// The next older build, if any.
    pub older: Option<BuildId>,
}

/// The path of a build's report on the main origin: `/reports/{envId}/{projectId}/{buildId}/index.html`.
pub fn report_url(env: &EnvId, project: &ProjectId, build: &BuildId) -> String {
    format!("/reports/{env}/{project}/{build}/index.html")
}

/// One point of a project's build trend: the counts of one build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendPoint {
    /// The build.
    pub build_id: BuildId,
    /// When its results were saved.
    pub created_at: Timestamp,
    /// Passed tests.
    pub passed: i64,
    /// Failed plus broken tests.
    pub failed: i64,
    /// Skipped tests.
    pub skipped: i64,
}

/// Aggregates over every build of a project (contract §8.5), whatever their status.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectStats {
    /// Number of builds.
    pub total_builds: i64,
    /// Σ passed.
    pub total_passed: i64,
    /// Σ (failed + broken).
    pub total_failed: i64,
    /// Σ skipped.
    pub total_skipped: i64,
    /// The newest build by `createdAt`.
    pub latest: Option<Build>,
    /// The newest builds (at most [`TREND_BUILDS`]), oldest first.
    pub trend: Vec<TrendPoint>,
}

/// Builds in a project's trend.
pub const TREND_BUILDS: i64 = 30;

/// The one pass-rate formula of the contract (§8.6): an integer percentage of passed among passed and failed,
/// halves rounded up, 0 without any.
pub fn pass_rate(passed: i64, failed: i64) -> i64 {
    let counted = passed + failed;
    if counted <= 0 {
        return 0;
    }
    // round(100 p / n) with halves up, in integers: floor((200 p + n) / 2n).
    (200 * passed + counted) / (2 * counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_rates_round_halves_up_and_are_zero_without_tests() {
        assert_eq!(pass_rate(0, 0), 0);
        assert_eq!(pass_rate(1, 1), 50);
        assert_eq!(pass_rate(1, 7), 13); // 12.5 → 13
        assert_eq!(pass_rate(2, 1), 67); // 66.67
        assert_eq!(pass_rate(1, 2), 33); // 33.33
        assert_eq!(pass_rate(7, 1), 88); // 87.5 → 88
        assert_eq!(pass_rate(5, 0), 100);
    }
}
