//! Embedded migrations, one folder per backend with the same migration names.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use thiserror::Error;

use crate::connection::AnyConnection;

const SQLITE: EmbeddedMigrations = embed_migrations!("../../../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../../migrations/postgres");

/// Migrations could not be applied.
#[derive(Debug, Error)]
#[error("database migration failed: {0}")]
pub struct MigrationError(pub String);

/// Applies every pending migration of the connection's backend; returns the names applied.
pub(crate) fn run_pending(conn: &mut AnyConnection) -> Result<Vec<String>, MigrationError> {
    let applied = match conn {
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE),
        AnyConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES),
    }
    .map_err(|e| MigrationError(e.to_string()))?;
    Ok(applied.iter().map(ToString::to_string).collect())
}

/// Applies only the first `n` migrations of the connection's backend, to test what a later one does to existing
/// data.
#[cfg(test)]
pub(crate) fn run_first(conn: &mut AnyConnection, n: usize) -> Result<(), MigrationError> {
    for _ in 0..n {
        match conn {
            AnyConnection::Sqlite(c) => c.run_next_migration(SQLITE).map(drop),
            AnyConnection::Postgresql(c) => c.run_next_migration(POSTGRES).map(drop),
        }
        .map_err(|e| MigrationError(e.to_string()))?;
    }
    Ok(())
}
