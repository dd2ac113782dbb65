//! Why an upload request was refused or failed, and what its client and viewers are told.

use thiserror::Error;

use crate::ids::{BuildId, EnvId, ProjectId, UploadId};
use crate::model::upload::Phase;
use crate::ports::{ArchiveError, INTERNAL_MESSAGE, StorageError, StoreError, UNAVAILABLE_MESSAGE};

/// Most missing indices named in the message of an incomplete chunked upload (all are listed in the field).
const MISSING_IN_MESSAGE: usize = 20;

/// Why an upload request was refused or failed.
#[derive(Debug, Error)]
pub enum UploadError {
    /// 404.
    #[error("environment {0} not found")]
    EnvironmentNotFound(EnvId),
    /// 404.
    #[error("project {project} not found in environment {env}")]
    ProjectNotFound {
        /// Environment.
        env: EnvId,
        /// Project.
        project: ProjectId,
    },
    /// 409: the build exists or an upload for it is in flight (no `replace`).
    #[error("build {0} already exists")]
    BuildExists(BuildId),
    /// 409: `replace` while an upload of the build is in flight.
    #[error("build {0} has an upload in progress")]
    UploadInProgress(BuildId),
    /// 409: `replace` while the build is pending or generating.
    #[error("build {0} is being generated")]
    BeingGenerated(BuildId),
    /// 404.
    #[error("upload {0} not found")]
    NotFound(UploadId),
    /// 403.
    #[error("upload {0} belongs to another principal")]
    NotOwner(UploadId),
    /// 409.
    #[error("upload {0} is not a chunked upload")]
    NotChunked(UploadId),
    /// 409: a chunk for a session that left `uploading`.
    #[error("upload {0} is not accepting chunks (phase {1})")]
    NotAccepting(UploadId, Phase),
    /// 409.
    #[error("upload {0} is being assembled")]
    BeingAssembled(UploadId),
    /// 409.
    #[error("upload {0} has failed")]
    HasFailed(UploadId),
    /// 409.
    #[error("upload {0} cannot be deleted while {1}")]
    CannotDelete(UploadId, Phase),
    /// 400, with every missing index.
    #[error("upload {id} is missing chunks: {}", missing_list(.missing))]
    MissingChunks {
        /// Session.
        id: UploadId,
        /// Missing indices, ascending.
        missing: Vec<i64>,
    },
    /// 400: a request field broke a rule; the message is the contract's.
    #[error("{0}")]
    Invalid(String),
    /// 413: the streamed body or the declared size is too large.
    #[error("upload exceeds the maximum size of {0} bytes")]
    TooLarge(u64),
    /// 413: a chunked upload declares more than `MAX_UPLOAD_BYTES`.
    #[error("totalSize exceeds the maximum upload size of {0} bytes")]
    TotalSizeTooLarge(u64),
    /// 413: one chunk is larger than `MAX_CHUNK_BYTES`.
    #[error("chunk exceeds the maximum size of {0} bytes")]
    ChunkTooLarge(u64),
    /// 413: the chunks together exceed the declared size.
    #[error("chunks exceed the declared totalSize of {0} bytes")]
    ChunksExceedTotal(i64),
    /// 400.
    #[error("request body is empty")]
    EmptyBody,
    /// 400.
    #[error("chunk checksum mismatch")]
    ChunkChecksum,
    /// 408.
    #[error("upload stalled: no data received for {0}")]
    Stalled(String),
    /// The client went away mid-body (no response can be sent).
    #[error("upload interrupted: connection closed")]
    Interrupted,
    /// 400 or 413 (§7).
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// 500, or 503 when the storage could not be reached.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// 503 / 500.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UploadError {
    /// The message the client receives and the failed session keeps: the error itself, except for server faults,
    /// whose details (a full disk, a database message, a path) are for the log and never shown to viewers, and an
    /// unreachable database or storage, which the client may retry.
    pub fn client_message(&self) -> String {
        match self {
            _ if self.is_unavailable() => UNAVAILABLE_MESSAGE.to_owned(),
            Self::Storage(_) | Self::Archive(ArchiveError::Storage(_)) | Self::Store(_) => INTERNAL_MESSAGE.to_owned(),
            other => other.to_string(),
        }
    }

    /// Whether the database or the storage could not be reached: a passing condition (503), worth a retry.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Store(StoreError::Unavailable(_)) => true,
            Self::Storage(e) | Self::Archive(ArchiveError::Storage(e)) => e.is_unavailable(),
            _ => false,
        }
    }
}

/// The 409 for a build another upload is busy with: a replacement waits for it, a plain upload finds it taken.
pub(super) fn in_flight(build: &BuildId, replace: bool) -> UploadError {
    if replace { UploadError::UploadInProgress(build.clone()) } else { UploadError::BuildExists(build.clone()) }
}

fn missing_list(missing: &[i64]) -> String {
    let shown: Vec<String> = missing.iter().take(MISSING_IN_MESSAGE).map(i64::to_string).collect();
    let more = if missing.len() > MISSING_IN_MESSAGE { ", …" } else { "" };
    format!("{}{more}", shown.join(", "))
}
