//! Projects belong to one environment and hold builds.

use crate::Timestamp;
use crate::ids::{EnvId, ProjectId};
use crate::model::build::BuildSummary;
use crate::model::names::DisplayName;

/// A stored project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// Owning environment.
    pub env_id: EnvId,
    /// Identifier, unique within the environment.
    pub id: ProjectId,
    /// Display name.
    pub name: DisplayName,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A project as listed: with its build count and newest build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectView {
    /// The project.
    pub project: Project,
    /// Number of builds.
    pub build_count: i64,
    /// Newest build by creation time, whatever its status.
    pub latest_build: Option<BuildSummary>,
}
