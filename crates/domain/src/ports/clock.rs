//! Time and identifier sources, as ports so that services are deterministic under test.

use crate::Timestamp;

/// The current time. Implementations return UTC truncated to milliseconds.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// Source of new ULIDs for server-chosen identifiers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync + 'static {
    /// A new, unique ULID.
    fn ulid(&self) -> ulid::Ulid;
}
