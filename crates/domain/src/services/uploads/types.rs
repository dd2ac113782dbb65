//! The requests of the upload use cases and what they answer besides sessions.

use std::time::Duration;

use crate::ids::{BuildId, EnvId, ProjectId};
use crate::model::upload::UploadSession;
use crate::ports::ByteStream;

/// Where an upload goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Environment.
    pub env: EnvId,
    /// Project.
    pub project: ProjectId,
    /// Build id (never `latest`).
    pub build: BuildId,
}

/// Options shared by both strategies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UploadOptions {
    /// Display name of the archive.
    pub file_name: Option<String>,
    /// Replace a finished build of the same id.
    pub replace: bool,
    /// Report config override for the generation (`reportName` becomes its `name`).
    pub report_config: Option<serde_json::Value>,
}

/// A chunked upload's declaration (§6.1), validated by the HTTP layer for form and here against the limits.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkedInit {
    /// Declared archive size.
    pub total_size: i64,
    /// Declared number of chunks.
    pub total_chunks: i64,
    /// Declared SHA-256 of the whole archive, lower-case.
    pub sha256: Option<String>,
}

/// One chunk as received (§6.2).
#[allow(missing_debug_implementations)]
pub struct ChunkUpload {
    /// `X-Chunk-Index`.
    pub index: i64,
    /// `X-Total-Chunks`.
    pub total_chunks: i64,
    /// `X-Chunk-Sha256`, lower-case.
    pub sha256: Option<String>,
    /// The body.
    pub body: ByteStream,
}

/// An upload session with the chunk indices it still lacks (§6.3).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionStatus {
    /// The session.
    pub session: UploadSession,
    /// Missing indices, ascending; empty unless a chunked session is `uploading`.
    pub missing_chunks: Vec<i64>,
}

/// Timeouts that appear in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadTimeouts {
    /// `UPLOAD_IDLE_TIMEOUT`, as configured (for the 408 message).
    pub idle: Duration,
    /// `STALE_UPLOAD_AFTER`.
    pub stale_after: Duration,
}
