//! Errors that ports report, translated by adapters from their drivers' errors.

use thiserror::Error;

/// What a client (and anyone reading a stored record of the failure) is told of a server fault; the cause goes to
/// the log only (contract §1.7: 5xx bodies are generic).
pub const INTERNAL_MESSAGE: &str = "internal server error";
/// What a client is told when the database is unreachable or busy: a passing condition, worth a retry.
pub const UNAVAILABLE_MESSAGE: &str = "service unavailable";

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
