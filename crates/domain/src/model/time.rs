//! Time conventions: every stored and returned timestamp is UTC with millisecond precision.

use chrono::{DurationRound, TimeDelta};

use crate::Timestamp;

/// Truncates to whole milliseconds, the precision both databases and the JSON format keep, so a value read back
/// equals the value written.
pub fn truncate_to_millis(t: Timestamp) -> Timestamp {
    t.duration_trunc(TimeDelta::milliseconds(1)).unwrap_or(t)
}
