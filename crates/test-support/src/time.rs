//! Fixed times for tests.

use chrono::{TimeZone, Utc};
use hub_domain::Timestamp;

/// A UTC time from its parts, with milliseconds; panics on an impossible date (test input).
pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> Timestamp {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .map(|t| t + chrono::TimeDelta::milliseconds(i64::from(ms)))
        .unwrap_or_else(|| panic!("impossible test date {y}-{mo}-{d} {h}:{mi}:{s}"))
}
