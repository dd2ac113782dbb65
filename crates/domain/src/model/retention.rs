//! Data retention settings and the record of cleanup sweeps.

use crate::Timestamp;
use crate::ids::CleanupRunId;

/// Retention settings persisted in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Builds older than this many days are deleted (1–36500).
    pub retention_days: i64,
    /// Hours between scheduled sweeps (1–8760).
    pub interval_hours: i64,
    /// Report what would be deleted without deleting.
    pub dry_run: bool,
}

crate::string_enum! {
    /// What started a sweep.
    CleanupTrigger {
        /// The schedule.
        Schedule = "schedule",
        /// A person, through the API.
        Manual = "manual",
    }
}

crate::string_enum! {
    /// Outcome of a sweep.
    CleanupStatus {
        /// The sweep ran to the end.
        Success = "success",
        /// The sweep could not proceed.
        Failed = "failed",
    }
}

/// A finished cleanup sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupRun {
    /// Run id.
    pub id: CleanupRunId,
    /// Start time.
    pub started_at: Timestamp,
    /// End time.
    pub finished_at: Timestamp,
    /// Outcome.
    pub status: CleanupStatus,
    /// What started it.
    pub trigger: CleanupTrigger,
    /// Builds deleted (or that would have been).
    pub deleted_count: i64,
    /// Builds that could not be deleted.
    pub skipped_count: i64,
    /// Bytes freed (or that would have been).
    pub freed_bytes: i64,
    /// Whether nothing was deleted on purpose.
    pub dry_run: bool,
    /// Why a failed sweep could not proceed.
    pub error_message: Option<String>,
}
