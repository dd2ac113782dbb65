//! The real clock and identifier source behind the domain's `Clock` and `IdGenerator` ports.

use chrono::Utc;
use hub_domain::Timestamp;
use hub_domain::model::time::truncate_to_millis;
use hub_domain::ports::{Clock, IdGenerator, SecretSource};

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

/// Secrets from the operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsSecrets;

impl SecretSource for OsSecrets {
    fn hex(&self, n: usize) -> String {
        let mut bytes = vec![0u8; n];
        // Linux's getrandom(2) does not fail once the pool is initialised; a failure here means the machine
        // cannot produce secrets at all, and continuing with predictable ones would be worse than stopping.
        if let Err(e) = getrandom::fill(&mut bytes) {
            panic!("the operating system's random source failed: {e}");
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
