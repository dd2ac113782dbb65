//! Conversions between domain timestamps and the zone-less UTC columns of both backends.

use chrono::{NaiveDateTime, TimeZone, Utc};
use hub_domain::Timestamp;

/// Stores UTC as a zone-less timestamp.
pub(crate) fn to_db(t: Timestamp) -> NaiveDateTime {
    t.naive_utc()
}

/// Reads a zone-less column as UTC.
pub(crate) fn from_db(t: NaiveDateTime) -> Timestamp {
    Utc.from_utc_datetime(&t)
}
