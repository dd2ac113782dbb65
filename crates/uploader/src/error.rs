//! Why an upload did not succeed, and the exit status each reason maps to.

/// A failed upload: either the server refused it (a 4xx with its `error` message) or something else went wrong
/// (network, local files, a 5xx after all retries).
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The server answered 4xx; `message` is its `error` member.
    #[error("the server refused the upload ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's `error` message (or the start of a non-JSON body).
        message: String,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl UploadError {
    /// An [`UploadError::Other`] from any message.
    pub fn other(message: impl Into<String>) -> Self {
        Self::Other(message.into())
    }
}
