//! Figures of the overview dashboard.

use chrono::NaiveDate;

use crate::Timestamp;
use crate::ids::{BuildId, EnvId, ProjectId};
use crate::model::build::Build;

/// Totals over the filtered builds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OverviewSummary {
    /// Environments in scope.
    pub total_environments: i64,
    /// Projects in scope.
    pub total_projects: i64,
    /// Builds in scope.
    pub total_builds: i64,
    /// Σ passed.
    pub total_passed: i64,
    /// Σ failed + broken.
    pub total_failed: i64,
    /// Percentage of passed among passed + failed.
    pub overall_pass_rate: i64,
}

/// Outcome counts of one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyTrend {
    /// The day.
    pub date: NaiveDate,
    /// Σ passed.
    pub passed: i64,
    /// Σ failed + broken.
    pub failed: i64,
    /// Σ skipped.
    pub skipped: i64,
    /// Builds created that day.
    pub build_count: i64,
}

/// A project ranked by failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingProject {
    /// Environment.
    pub env_id: EnvId,
    /// Project.
    pub project_id: ProjectId,
    /// Project display name.
    pub project_name: String,
    /// Environment display name.
    pub env_name: String,
    /// Σ failed + broken.
    pub total_failed: i64,
    /// Builds counted.
    pub total_builds: i64,
    /// Percentage of passed among passed + failed.
    pub pass_rate: i64,
}

/// One point of the per-build trend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildTrendPoint {
    /// Build.
    pub build_id: BuildId,
    /// Environment.
    pub env_id: EnvId,
    /// Project.
    pub project_id: ProjectId,
    /// When its results were saved.
    pub created_at: Timestamp,
    /// Passed tests.
    pub passed: i64,
    /// Failed + broken tests.
    pub failed: i64,
    /// Skipped tests.
    pub skipped: i64,
}

/// The whole dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    /// Totals.
    pub summary: OverviewSummary,
    /// Last 30 UTC days, empty days included.
    pub daily_trends: Vec<DailyTrend>,
    /// At most 5.
    pub top_failing_projects: Vec<FailingProject>,
    /// At most 10.
    pub recent_builds: Vec<Build>,
    /// At most 30.
    pub project_build_trend: Vec<BuildTrendPoint>,
}

/// Which part of the data the dashboard covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverviewFilter {
    /// Only this environment.
    pub env_id: Option<EnvId>,
    /// Only this project id: in `env_id` when set, else in every environment (contract §11.1).
    pub project_id: Option<ProjectId>,
}
