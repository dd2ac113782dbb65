//! hub-db: the diesel store of allure-hub, one code path over embedded SQLite and PostgreSQL.
//!
//! The backend is chosen from the `DATABASE_URL` scheme. Every repository port of `hub-domain` is implemented on
//! [`Store`]; each port call runs its queries (and its transaction) in one `spawn_blocking` closure so diesel's
//! blocking I/O never stalls the async workers.

mod connection;
mod errors;
mod migrations;
mod repos;
mod schema;
mod store;

pub use connection::{AnyConnection, Backend, DatabaseUrl, DbConfig, InvalidDatabaseUrl};
pub use migrations::MigrationError;
pub use store::{OpenError, Store};

#[cfg(test)]
mod contract_tests;
#[cfg(test)]
mod perf_tests;
