//! Environments group projects (for example `staging`, `production`).

use crate::Timestamp;
use crate::ids::EnvId;
use crate::model::names::{DisplayName, Icon};

/// A stored environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// Immutable identifier.
    pub id: EnvId,
    /// Display name.
    pub name: DisplayName,
    /// Material Symbols icon name.
    pub icon: Icon,
    /// Creation time.
    pub created_at: Timestamp,
}

/// An environment as listed: with its number of projects, computed when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentView {
    /// The environment.
    pub environment: Environment,
    /// Number of projects it holds.
    pub project_count: i64,
}

/// A partial update; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvironmentPatch {
    /// New display name.
    pub name: Option<DisplayName>,
    /// New icon.
    pub icon: Option<Icon>,
}
