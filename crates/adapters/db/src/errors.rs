//! Translation of driver errors into the domain's [`StoreError`].

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use hub_domain::ports::StoreError;

/// Maps a diesel error: constraint violations become domain conditions, lost connections `Unavailable`.
pub(crate) fn from_diesel(err: DieselError) -> StoreError {
    match err {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => StoreError::Conflict,
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => StoreError::MissingParent,
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
            StoreError::Unavailable(info.message().to_owned())
        }
        other => StoreError::Internal(other.to_string()),
    }
}

/// A pool that hands out no connection within its timeout means the database is unreachable.
pub(crate) fn from_pool(err: r2d2::Error) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

/// A stored value that does not parse back into its domain type (a corrupt row).
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt {what} in database: {detail}"))
}
