//! The server processes sharing one database (nodes): what each says about itself, and when it counts as live.
//!
//! A node writes its row at start-up and then every [`HEARTBEAT_INTERVAL`]; it is live while its last heartbeat
//! is younger than [`LIVE_WITHIN`], three intervals, so one late or lost beat (a slow database, a pause of the
//! process) does not drop it from the list. A node that stops deletes its row; one that was killed stays in the
//! table, no longer live, until [`FORGOTTEN_AFTER`].

use std::time::Duration;

use chrono::TimeDelta;

use crate::Timestamp;
use crate::ids::NodeId;

/// How often a node writes its heartbeat.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);

/// How old a heartbeat may be for its node to count as live: three intervals.
pub const LIVE_WITHIN: Duration = Duration::from_secs(3 * HEARTBEAT_INTERVAL.as_secs());

/// How long the row of a node that vanished without deleting it is kept: long enough to tell what ran where
/// after an incident, short enough that pods named afresh at every start do not pile up.
pub const FORGOTTEN_AFTER: Duration = Duration::from_secs(24 * 3_600);

/// What a node tells the others about itself with each heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its `NODE_ID`.
    pub id: NodeId,
    /// The server version it runs.
    pub version: String,
    /// The version its active Allure CLI prints; `None` while it has none that works (installing, or none yet).
    pub allure_version: Option<String>,
    /// When the process started.
    pub started_at: Timestamp,
}

/// A node as the list of live nodes shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its `NODE_ID`.
    pub id: NodeId,
    /// The server version it runs.
    pub version: String,
    /// The version its active Allure CLI prints, as of its last heartbeat.
    pub allure_version: Option<String>,
    /// When the process started.
    pub started_at: Timestamp,
    /// Its last heartbeat.
    pub heartbeat_at: Timestamp,
    /// Generation jobs it is running now.
    pub running_jobs: i64,
}

/// The oldest heartbeat of a live node at `now`.
pub fn live_since(now: Timestamp) -> Timestamp {
    now - delta(LIVE_WITHIN)
}

/// Heartbeats older than this at `now` belong to rows that are deleted.
pub fn forgotten_before(now: Timestamp) -> Timestamp {
    now - delta(FORGOTTEN_AFTER)
}

/// A constant duration as a time difference (both constants are far inside its range).
fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn a_node_is_live_for_three_heartbeat_intervals_and_kept_for_a_day() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
        assert_eq!(live_since(now), Utc.with_ymd_and_hms(2026, 12, 7, 11, 59, 45).unwrap());
        assert_eq!(forgotten_before(now), Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap());
    }
}
