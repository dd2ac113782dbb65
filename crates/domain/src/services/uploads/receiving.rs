//! The two ways results arrive (§5, §6): one streaming request, or numbered chunks completed at the end.

use super::{ChunkUpload, ChunkedInit, SessionStatus, Target, UploadError, UploadOptions, UploadService};
use crate::ids::{EnvId, ProjectId, UploadId};
use crate::model::access::Principal;
use crate::model::upload::{Phase, UploadKind, UploadSession};
use crate::ports::{ArchiveSource, ByteStream, ChunkRecord, ChunkWrite, UploadEvent};

impl UploadService {
    /// Strategy A (§5.1 steps 3–9): creates the session, stores the body, extracts it and saves the build with its
    /// queued job. Returns the session in `generating`.
    ///
    /// # Errors
    /// [`UploadError`]; from the body on, the session is `failed` with the same message.
    pub async fn upload_stream(
        &self,
        principal: &Principal,
        target: Target,
        options: UploadOptions,
        declared_size: Option<u64>,
        body: ByteStream,
    ) -> Result<UploadSession, UploadError> {
        let size = declared_size.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let session = self.begin(principal, &target, &options, UploadKind::Stream, size, 1, None).await?;
        let received = match self.files.receive(session.id, body, self.limits.max_upload_bytes).await {
            Ok(n) => n,
            Err(e) => {
                let error = self.receive_error(e, false, 0);
                return Err(self.fail(session, Phase::Uploading, error).await);
            }
        };
        let mut session = session;
        session.phase = Phase::Assembling;
        session.received_chunks = 1;
        session.total_size = Some(i64::try_from(received).unwrap_or(i64::MAX));
        let session = self.store(session).await?;
        self.finish(session, ArchiveSource::Received).await
    }

    /// Strategy B, §6.1: declares a chunked upload.
    ///
    /// # Errors
    /// [`UploadError`] for limits, the target and duplicates.
    pub async fn init_chunked(
        &self,
        principal: &Principal,
        target: Target,
        options: UploadOptions,
        init: ChunkedInit,
    ) -> Result<UploadSession, UploadError> {
        if init.total_size < 1 {
            return Err(UploadError::Invalid("totalSize must be a positive integer".into()));
        }
        if !(1..=self.limits.max_chunks).contains(&init.total_chunks) {
            return Err(UploadError::Invalid(format!("totalChunks must be between 1 and {}", self.limits.max_chunks)));
        }
        if u64::try_from(init.total_size).unwrap_or(u64::MAX) > self.limits.max_upload_bytes {
            return Err(UploadError::TotalSizeTooLarge(self.limits.max_upload_bytes));
        }
        // Refused now, before any byte is sent, rather than at completion (§6.1).
        self.report_config.effective(options.report_config.as_ref()).map_err(UploadError::Invalid)?;
        let most = i128::from(init.total_chunks) * i128::from(self.limits.max_chunk_bytes);
        if init.total_chunks > init.total_size || i128::from(init.total_size) > most {
            return Err(UploadError::Invalid(format!(
                "totalChunks is inconsistent with totalSize and the maximum chunk size of {} bytes",
                self.limits.max_chunk_bytes
            )));
        }
        self.begin(
            principal,
            &target,
            &options,
            UploadKind::Chunked,
            Some(init.total_size),
            init.total_chunks,
            init.sha256,
        )
        .await
    }

    /// §6.2: stores one chunk; returns the session with its new `receivedChunks`.
    ///
    /// # Errors
    /// [`UploadError`]; a refused chunk leaves an earlier copy of its index unchanged and the session open.
    pub async fn put_chunk(
        &self,
        principal: &Principal,
        env: &EnvId,
        project: &ProjectId,
        id: UploadId,
        chunk: ChunkUpload,
    ) -> Result<UploadSession, UploadError> {
        let session = self.precheck_chunk(principal, env, project, id).await?;
        if !(0..session.total_chunks).contains(&chunk.index) {
            return Err(UploadError::Invalid(format!(
                "X-Chunk-Index must be an integer between 0 and {}",
                session.total_chunks - 1
            )));
        }
        if chunk.total_chunks != session.total_chunks {
            return Err(UploadError::Invalid(format!("X-Total-Chunks must equal {}", session.total_chunks)));
        }
        let total = session.total_size.unwrap_or(0);
        let others = self.sessions.stored_bytes(id, chunk.index).await?;
        let room = u64::try_from(total - others).unwrap_or(0);
        let max = room.min(self.limits.max_chunk_bytes);
        let write = ChunkWrite { index: chunk.index, max_bytes: max, sha256: chunk.sha256 };
        let size = match self.files.store_chunk(env, project, id, chunk.body, write).await {
            Ok(size) => size,
            Err(e) => return Err(self.receive_error(e, true, total)),
        };
        let record = ChunkRecord { index: chunk.index, size: i64::try_from(size).unwrap_or(i64::MAX) };
        let updated = self.sessions.put_chunk(id, record, self.clock.now()).await?.ok_or(UploadError::NotFound(id))?;
        self.events.publish(UploadEvent::Updated(updated.clone()));
        Ok(updated)
    }

    /// §6.3: a session of this project with its missing chunks.
    ///
    /// # Errors
    /// [`UploadError::NotFound`] (also for another environment or project), or a database failure.
    pub async fn status(&self, env: &EnvId, project: &ProjectId, id: UploadId) -> Result<SessionStatus, UploadError> {
        let session = self.in_project(env, project, id).await?;
        let missing_chunks = if session.kind == UploadKind::Chunked && session.phase == Phase::Uploading {
            self.missing(&session).await?
        } else {
            Vec::new()
        };
        Ok(SessionStatus { session, missing_chunks })
    }

    /// §6.4: assembles, extracts and saves a chunked upload. An already completed session is returned as it is,
    /// so a client may retry a complete whose answer it lost.
    ///
    /// # Errors
    /// [`UploadError`]; missing chunks leave the session open, later failures fail it.
    pub async fn complete(
        &self,
        principal: &Principal,
        env: &EnvId,
        project: &ProjectId,
        id: UploadId,
    ) -> Result<UploadSession, UploadError> {
        let session = self.owned_chunked(principal, env, project, id).await?;
        match session.phase {
            Phase::Uploading => {}
            Phase::Assembling => return Err(UploadError::BeingAssembled(id)),
            Phase::Generating | Phase::Done => return Ok(session),
            Phase::Failed => return Err(UploadError::HasFailed(id)),
        }
        let missing = self.missing(&session).await?;
        if !missing.is_empty() {
            return Err(UploadError::MissingChunks { id, missing });
        }
        let source = ArchiveSource::Chunks {
            count: session.total_chunks,
            total_size: u64::try_from(session.total_size.unwrap_or(0)).unwrap_or(0),
            sha256: session.sha256.clone(),
        };
        let mut assembling = session;
        assembling.phase = Phase::Assembling;
        let assembling = self.store(assembling).await?;
        self.finish(assembling, source).await
    }
}
