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
