//! Upload sessions: the life of one upload (or regeneration) from the first byte to the report.

use crate::Timestamp;
use crate::ids::{BuildId, EnvId, ProjectId, UploadId};
use crate::model::build::BuildStats;

crate::string_enum! {
    /// How the session was started.
    UploadKind {
        /// One streaming request.
        Stream = "stream",
        /// Numbered chunks, resumable.
        Chunked = "chunked",
        /// A regeneration of an existing build.
        Regenerate = "regenerate",
    }
}

crate::string_enum! {
    /// Phase of an upload session; `Done` and `Failed` are terminal.
    Phase {
        /// Bytes are arriving.
        Uploading = "uploading",
        /// The archive is being joined, verified and extracted.
        Assembling = "assembling",
        /// The build and its generation job exist.
        Generating = "generating",
        /// The report was generated.
        Done = "done",
        /// The upload or the generation failed.
        Failed = "failed",
    }
}

impl Phase {
    /// Whether the session can still change.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Uploading | Self::Assembling | Self::Generating)
    }
}

/// A stored upload session.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadSession {
    /// Session id (also reported as `uploadId`).
    pub id: UploadId,
    /// How it was started.
    pub kind: UploadKind,
    /// Target environment.
    pub env_id: EnvId,
    /// Target project.
    pub project_id: ProjectId,
    /// Target build.
    pub build_id: BuildId,
    /// Display name of the archive; `None` for regenerations.
    pub file_name: Option<String>,
    /// Declared or received size.
    pub total_size: Option<i64>,
    /// Declared number of chunks (1 for a stream, 0 for a regeneration).
    pub total_chunks: i64,
    /// Distinct chunk indices stored.
    pub received_chunks: i64,
    /// Current phase.
    pub phase: Phase,
    /// Phase in which it failed.
    pub failed_at_phase: Option<Phase>,
    /// Failure reason.
    pub error: Option<String>,
    /// `user email` or `apikey:<name>` of the creator.
    pub uploaded_by: String,
    /// Who may feed and complete the session (see [`crate::model::access::PrincipalRef`]).
    pub owner: String,
    /// Declared SHA-256 of the whole archive (chunked).
    pub sha256: Option<String>,
    /// Report config override for the generation queued at completion.
    pub report_config: Option<serde_json::Value>,
    /// Whether the upload replaces an existing build.
    pub replace: bool,
    /// Creation time.
    pub started_at: Timestamp,
    /// Last change of any field.
    pub updated_at: Timestamp,
    /// When it entered `done` or `failed`.
    pub completed_at: Option<Timestamp>,
    /// Report URL, set on entering `generating`.
    pub report_url: Option<String>,
    /// Statistics, set on entering `generating`.
    pub stats: Option<BuildStats>,
}

/// The configured limits of uploads and archives (contract §1.9, Appendix A.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest archive, streaming or chunked (`MAX_UPLOAD_BYTES`).
    pub max_upload_bytes: u64,
    /// Largest single chunk (`MAX_CHUNK_BYTES`).
    pub max_chunk_bytes: u64,
    /// Largest `totalChunks` (`MAX_CHUNKS`).
    pub max_chunks: i64,
    /// Largest total extracted size (`MAX_DECOMPRESSED_BYTES`).
    pub max_decompressed_bytes: u64,
    /// Most entries in one archive, directories included (`MAX_ZIP_ENTRIES`).
    pub max_zip_entries: u64,
    /// Highest uncompressed/compressed ratio of an entry of at least 1 MiB; 0 disables (`MAX_COMPRESSION_RATIO`).
    pub max_compression_ratio: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            max_upload_bytes: 1_073_741_824,
            max_chunk_bytes: 52_428_800,
            max_chunks: 10_000,
            max_decompressed_bytes: 1_610_612_736,
            max_zip_entries: 10_000,
            max_compression_ratio: 1_000,
        }
    }
}

/// Whether `name` may be an upload's display name: 1–255 characters, no control characters, no `/` or `\`.
pub fn valid_file_name(name: &str) -> bool {
    let count = name.chars().count();
    (1..=255).contains(&count) && !name.chars().any(|c| c.is_control() || c == '/' || c == '\\')
}
