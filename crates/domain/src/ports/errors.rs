//! Errors that ports report, translated by adapters from their drivers' errors.

use thiserror::Error;

/// A failure of a repository (the database).
#[derive(Debug, Error)]
pub enum StoreError {
    /// A unique constraint was violated: the record already exists.
    #[error("record already exists")]
    Conflict,
    /// The record a new row refers to (its parent) does not exist.
    #[error("referenced record does not exist")]
    MissingParent,
    /// The database cannot be reached or has no free connection.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else; the message is for logs only.
    #[error("database error: {0}")]
    Internal(String),
}

/// A failure of the file storage.
#[derive(Debug, Error)]
#[error("storage error: {0}")]
pub struct StorageError(pub String);
