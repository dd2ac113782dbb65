//! Translation of driver errors into the domain's [`StoreError`].

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use hub_domain::ports::StoreError;

/// Maps a diesel error: constraint violations become domain conditions; lost connections and a database busy with
/// another writer become `Unavailable` (a passing condition the client may retry, not a server fault).
pub(crate) fn from_diesel(err: DieselError) -> StoreError {
    match err {
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) if is_sqlite_busy(info.message()) => {
            StoreError::Unavailable(info.message().to_owned())
        }
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, info) => {
            StoreError::Unavailable(info.message().to_owned())
        }
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => StoreError::Conflict,
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => StoreError::MissingParent,
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
            StoreError::Unavailable(info.message().to_owned())
        }
        other => StoreError::Internal(other.to_string()),
    }
}

/// SQLite's messages for `SQLITE_BUSY` and `SQLITE_LOCKED` (diesel reports both as an unknown kind): another
/// connection or process held the lock past the busy timeout.
fn is_sqlite_busy(message: &str) -> bool {
    ["database is locked", "database table is locked", "database schema is locked"]
        .iter()
        .any(|m| message.starts_with(m))
}

/// A pool that hands out no connection within its timeout means the database is unreachable.
pub(crate) fn from_pool(err: r2d2::Error) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

/// A stored value that does not parse back into its domain type (a corrupt row).
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt {what} in database: {detail}"))
}
