//! A hand-set clock.

use std::sync::Mutex;

use chrono::{TimeZone, Utc};
use hub_domain::Timestamp;
use hub_domain::ports::Clock;

/// A [`Clock`] that returns the time it was last set to.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn new(at: Timestamp) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves the clock.
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A UTC time from its parts, with milliseconds; panics on an impossible date (test input).
pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> Timestamp {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .map(|t| t + chrono::TimeDelta::milliseconds(i64::from(ms)))
        .unwrap_or_else(|| panic!("impossible test date {y}-{mo}-{d} {h}:{mi}:{s}"))
}
