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

/// A failure of the file storage: a message for logs, and whether the storage could not be reached at all.
///
/// An unreachable storage (an object store that refuses connections, times out, throttles or answers 5xx after
/// the client's retries) is a passing condition like [`StoreError::Unavailable`]: clients are told to retry, and
/// work that needs the storage is tried again later instead of failing for good. Every other failure (a full disk,
/// a refused credential, a corrupt object) is a fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("storage error: {message}")]
pub struct StorageError {
    message: String,
    unavailable: bool,
}

impl StorageError {
    /// A fault of the storage; the message is for logs only.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), unavailable: false }
    }

    /// The storage cannot be reached (or is overloaded) right now; the message is for logs only.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self { message: message.into(), unavailable: true }
    }

    /// Whether the storage could not be reached, so that the same request may succeed later.
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }

    /// What failed, without the `storage error:` of [`Display`](std::fmt::Display): for errors that wrap it.
    pub fn message(&self) -> &str {
        &self.message
    }
}
