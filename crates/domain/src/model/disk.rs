//! Disk usage of the data directory.

use crate::Timestamp;

/// Bytes used by one project's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskUsageEntry {
    /// `<envId>/<projectId>`.
    pub path: String,
    /// Bytes used.
    pub bytes: i64,
}

/// A measurement of the data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskUsage {
    /// Bytes of all files under the data directory.
    pub used_bytes: i64,
    /// Available bytes on the filesystem, 0 if unknown.
    pub free_bytes: i64,
    /// Filesystem capacity, 0 if unknown.
    pub total_bytes: i64,
    /// Largest projects first, at most 20.
    pub breakdown: Vec<DiskUsageEntry>,
    /// Time of the measurement.
    pub computed_at: Timestamp,
}
