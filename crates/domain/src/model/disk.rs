//! Disk usage of the data directory, and the bytes the storage holds for builds.

use crate::Timestamp;
use crate::ids::{EnvId, ProjectId};

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

/// The stored bytes kept for one project's builds, summed by the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectBytes {
    /// Environment.
    pub env: EnvId,
    /// Project.
    pub project: ProjectId,
    /// Sum of its builds' kept stored bytes (builds not measured yet count 0).
    pub bytes: i64,
}

/// What the disk settings report (contract §13.3): the local measurement of `DATA_DIR` beside the bytes the
/// storage holds for builds, as kept by the hub when their files were written (never by listing the storage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageUsage {
    /// Bytes of all files under the data directory.
    pub used_bytes: i64,
    /// Available bytes on the data directory's filesystem, 0 if unknown.
    pub free_bytes: i64,
    /// That filesystem's capacity, 0 if unknown.
    pub total_bytes: i64,
    /// The stored bytes kept for every build, summed (builds not measured yet count 0).
    pub stored_bytes: i64,
    /// Largest projects first (ties by path), at most 20: what each takes under the data directory when the
    /// storage is the filesystem, else the sum of its builds' kept stored bytes.
    pub breakdown: Vec<DiskUsageEntry>,
    /// Time of the measurement.
    pub computed_at: Timestamp,
}

/// Entries of a breakdown (contract §13.3).
pub const BREAKDOWN_ENTRIES: usize = 20;

/// The breakdown of the kept stored bytes: the projects holding any, largest first, ties by `<envId>/<projectId>`,
/// at most [`BREAKDOWN_ENTRIES`] (the order the data directory's walk gives the filesystem's).
pub fn stored_breakdown(projects: &[ProjectBytes]) -> Vec<DiskUsageEntry> {
    let mut entries: Vec<DiskUsageEntry> = projects
        .iter()
        .filter(|p| p.bytes > 0)
        .map(|p| DiskUsageEntry { path: format!("{}/{}", p.env, p.project), bytes: p.bytes })
        .collect();
    entries.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    entries.truncate(BREAKDOWN_ENTRIES);
    entries
}

/// `floor(100 × (total − free) / total)` (contract §13.4); `None` when the filesystem's size is unknown (0), so no
/// decision is taken on a failed measurement.
pub fn used_percent(free_bytes: i64, total_bytes: i64) -> Option<i64> {
    if total_bytes <= 0 {
        return None;
    }
    let used = i128::from(total_bytes) - i128::from(free_bytes.clamp(0, total_bytes));
    // Widened so that 100 × a petabyte-sized filesystem cannot overflow; the quotient is within 0..=100.
    i64::try_from(used * 100 / i128::from(total_bytes)).ok()
}

/// A size in binary units with one decimal (`12.4 GiB`), bytes below 1 KiB as a whole number (`512 B`), for the
/// texts of notifications.
pub fn format_binary_bytes(bytes: i64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let bytes = bytes.max(0);
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    // 1023.96 KiB would print as "1024.0 KiB": the rounded value decides the unit.
    if (value * 10.0).round() / 10.0 >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn used_percent_is_floored_and_unknown_without_a_size() {
        assert_eq!(used_percent(15, 100), Some(85));
        assert_eq!(used_percent(151, 1000), Some(84), "84.9 is floored");
        assert_eq!(used_percent(0, 100), Some(100));
        assert_eq!(used_percent(100, 100), Some(0));
        assert_eq!(used_percent(0, 0), None);
        let huge = i64::MAX / 2;
        assert_eq!(used_percent(huge / 4, huge), Some(75), "no overflow on large filesystems");
    }

    #[test]
    fn the_stored_breakdown_keeps_the_20_largest_projects_with_ties_by_path() {
        let project = |env: &str, project: &str, bytes| ProjectBytes {
            env: EnvId::parse(env).unwrap(),
            project: ProjectId::parse(project).unwrap(),
            bytes,
        };
        // `a-b/x` sorts before `a/x` as a path ('-' < '/') although `a` < `a-b` as an id: the path decides.
        let mut projects = vec![project("a", "x", 50), project("a-b", "x", 50), project("z", "empty", 0)];
        projects.extend((0..25).map(|i| project("e", &format!("p{i:02}"), 10 + i)));
        let breakdown = stored_breakdown(&projects);
        assert_eq!(breakdown.len(), 20);
        let first: Vec<(&str, i64)> = breakdown.iter().take(4).map(|e| (e.path.as_str(), e.bytes)).collect();
        assert_eq!(first, [("a-b/x", 50), ("a/x", 50), ("e/p24", 34), ("e/p23", 33)]);
        assert_eq!(breakdown[19].path, "e/p07", "the smallest are left out");
        assert!(stored_breakdown(&[project("z", "empty", 0)]).is_empty(), "projects holding nothing are not listed");
    }

    #[test]
    fn sizes_are_written_in_binary_units() {
        assert_eq!(format_binary_bytes(0), "0 B");
        assert_eq!(format_binary_bytes(1023), "1023 B");
        assert_eq!(format_binary_bytes(1024), "1.0 KiB");
        assert_eq!(format_binary_bytes(1536), "1.5 KiB");
        assert_eq!(format_binary_bytes(13_314_398_618), "12.4 GiB");
        assert_eq!(format_binary_bytes(48_318_382_080), "45.0 GiB");
        assert_eq!(format_binary_bytes(1_048_575), "1.0 MiB", "1023.999 KiB rounds up into the next unit");
        assert_eq!(format_binary_bytes(5 * (1 << 40)), "5.0 TiB");
        assert_eq!(format_binary_bytes(-5), "0 B");
    }
}
