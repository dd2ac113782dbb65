//! The real clock and identifier source behind the domain's `Clock` and `IdGenerator` ports.

use chrono::Utc;
use hub_domain::Timestamp;
use hub_domain::model::time::truncate_to_millis;
use hub_domain::ports::{Clock, IdGenerator};

/// Wall-clock time, truncated to milliseconds.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        truncate_to_millis(Utc::now())
    }
}

/// ULIDs from the operating system's random source (through the `ulid` crate).
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn ulid(&self) -> ulid::Ulid {
        ulid::Ulid::new()
    }
}

/// 32 random bytes from the operating system, as 64 lower-case hex digits.
///
/// # Errors
/// When the operating system has no random source.
pub fn random_hex_32() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
