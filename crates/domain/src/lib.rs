//! The core of allure-hub: entities, identifier newtypes, the ports through which the core talks to the
//! outside world, and the use-case services built on those ports.
//!
//! This crate does no I/O and knows no framework: no HTTP, SQL, files or processes. Adapters implement the
//! traits in [`ports`]; the HTTP layer and the binary call the services in [`services`].

pub mod ids;
pub mod model;
pub mod ports;
pub mod services;

/// A point in time, always UTC with millisecond precision (see [`model::time`]).
pub type Timestamp = chrono::DateTime<chrono::Utc>;
