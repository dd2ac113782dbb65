//! Use cases of uploads (contract §5–7, §9, §17.1–17.2, §17.4): sessions from the first byte to a saved build
//! with its queued generation job, for one streaming request or for numbered chunks; listing, deleting, and the
//! recovery of sessions interrupted by a restart or abandoned by their client.
//!
//! Every phase change is stored before it is published on the [`EventBus`]. A failure after the session exists
//! marks it `failed` (with the message the client receives) and removes the files of this upload, so nothing is
//! half-written.

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::ids::{BuildId, EnvId, JobId, ProjectId, UploadId};
use crate::model::access::{Permission, Principal};
use crate::model::build::{Build, BuildStatus, report_url};
use crate::model::environment::Environment;
use crate::model::job::{GenerationJob, JobState};
use crate::model::names::{DisplayName, Icon};
use crate::model::project::Project;
use crate::model::report_config::ReportConfigPolicy;
use crate::model::syntax::format_duration;
use crate::model::upload::{Phase, UploadKind, UploadLimits, UploadSession};
use crate::ports::{
    ArchiveError, ArchiveSource, BodyError, BuildRepo, ByteStream, ChunkRecord, ChunkWrite, Clock, EnvironmentRepo,
    EventBus, Extracted, INTERNAL_MESSAGE, IdGenerator, ProjectRepo, ReceiveError, StorageError, StoreError,
    UNAVAILABLE_MESSAGE, UploadEvent, UploadFiles, UploadFilter, UploadSessionRepo,
};

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
    /// 500.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// 503 / 500.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UploadError {
    /// The message the client receives and the failed session keeps: the error itself, except for server faults,
    /// whose details (a full disk, a database message, a path) are for the log and never shown to viewers.
    pub fn client_message(&self) -> String {
        match self {
            Self::Storage(_) | Self::Archive(ArchiveError::Storage(_)) => INTERNAL_MESSAGE.to_owned(),
            Self::Store(StoreError::Unavailable(_)) => UNAVAILABLE_MESSAGE.to_owned(),
            Self::Store(_) => INTERNAL_MESSAGE.to_owned(),
            other => other.to_string(),
        }
    }
}

/// The 409 for a build another upload is busy with: a replacement waits for it, a plain upload finds it taken.
fn in_flight(build: &BuildId, replace: bool) -> UploadError {
    if replace { UploadError::UploadInProgress(build.clone()) } else { UploadError::BuildExists(build.clone()) }
}

fn missing_list(missing: &[i64]) -> String {
    let shown: Vec<String> = missing.iter().take(MISSING_IN_MESSAGE).map(i64::to_string).collect();
    let more = if missing.len() > MISSING_IN_MESSAGE { ", …" } else { "" };
    format!("{}{more}", shown.join(", "))
}

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

/// The upload use cases.
#[derive(Clone)]
pub struct UploadService {
    sessions: Arc<dyn UploadSessionRepo>,
    builds: Arc<dyn BuildRepo>,
    envs: Arc<dyn EnvironmentRepo>,
    projects: Arc<dyn ProjectRepo>,
    files: Arc<dyn UploadFiles>,
    events: Arc<dyn EventBus>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    limits: UploadLimits,
    timeouts: UploadTimeouts,
    /// Base report config and plugin allowlist (§8.2).
    report_config: Arc<ReportConfigPolicy>,
}

/// The ports the upload use cases work through.
#[allow(missing_debug_implementations)]
pub struct UploadPorts {
    /// Sessions and chunk records.
    pub sessions: Arc<dyn UploadSessionRepo>,
    /// Builds (duplicate checks).
    pub builds: Arc<dyn BuildRepo>,
    /// Environments (existence, auto-create).
    pub envs: Arc<dyn EnvironmentRepo>,
    /// Projects (existence, auto-create).
    pub projects: Arc<dyn ProjectRepo>,
    /// Upload files.
    pub files: Arc<dyn UploadFiles>,
    /// Live events.
    pub events: Arc<dyn EventBus>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for UploadService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadService").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl UploadService {
    /// Wires the use cases.
    pub fn new(
        ports: UploadPorts,
        limits: UploadLimits,
        timeouts: UploadTimeouts,
        report_config: Arc<ReportConfigPolicy>,
    ) -> Self {
        Self {
            report_config,
            sessions: ports.sessions,
            builds: ports.builds,
            envs: ports.envs,
            projects: ports.projects,
            files: ports.files,
            events: ports.events,
            clock: ports.clock,
            ids: ports.ids,
            limits,
            timeouts,
        }
    }

    /// The configured limits.
    pub fn limits(&self) -> UploadLimits {
        self.limits
    }

    /// The live event bus, for the SSE stream and `wait=true`.
    pub fn events(&self) -> &Arc<dyn EventBus> {
        &self.events
    }

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

    /// §9.1.
    ///
    /// # Errors
    /// A database failure.
    pub async fn list(&self, filter: UploadFilter, limit: i64) -> Result<Vec<UploadSession>, UploadError> {
        Ok(self.sessions.list(filter, limit).await?)
    }

    /// One session by id, whatever its project (for `wait=true`).
    ///
    /// # Errors
    /// A database failure.
    pub async fn get(&self, id: UploadId) -> Result<Option<UploadSession>, UploadError> {
        Ok(self.sessions.get(id).await?)
    }

    /// §9.3: deletes a finished session, or abandons a chunked one still `uploading`, with its files.
    ///
    /// # Errors
    /// [`UploadError::NotFound`], [`UploadError::CannotDelete`], or a database failure.
    pub async fn delete(&self, id: UploadId) -> Result<(), UploadError> {
        let session = self.sessions.get(id).await?.ok_or(UploadError::NotFound(id))?;
        let deletable = match session.phase {
            Phase::Done | Phase::Failed => true,
            Phase::Uploading => session.kind == UploadKind::Chunked,
            Phase::Assembling | Phase::Generating => false,
        };
        if !deletable {
            return Err(UploadError::CannotDelete(id, session.phase));
        }
        if !self.sessions.delete(id).await? {
            return Err(UploadError::NotFound(id));
        }
        // The record is gone; chunk files a failed removal leaves behind are swept as orphans at start-up.
        let _ = self.files.discard(&session.env_id, &session.project_id, id).await;
        self.events.publish(UploadEvent::Deleted(session));
        Ok(())
    }

    /// §17.3 at start-up: streaming sessions caught mid-body or mid-extraction fail; chunked sessions caught
    /// assembling go back to `uploading` with their chunks. Returns how many sessions were changed.
    ///
    /// # Errors
    /// A database failure.
    pub async fn recover(&self) -> Result<usize, UploadError> {
        let mut changed = 0;
        for session in self.sessions.unfinished().await? {
            match (session.kind, session.phase) {
                (UploadKind::Chunked, Phase::Assembling) => {
                    let mut back = session;
                    back.phase = Phase::Uploading;
                    back.updated_at = self.clock.now();
                    self.sessions.update(&back).await?;
                    changed += 1;
                }
                (UploadKind::Chunked, _) => {}
                (_, phase) => {
                    self.fail(session, phase, UploadError::Invalid("interrupted by server restart".into())).await;
                    changed += 1;
                }
            }
        }
        Ok(changed)
    }

    /// §17.4: chunked sessions without a stored chunk for `STALE_UPLOAD_AFTER` fail and lose their chunks.
    /// Returns how many.
    ///
    /// # Errors
    /// A database failure.
    pub async fn sweep_stale(&self) -> Result<usize, UploadError> {
        let stale_after = chrono::Duration::from_std(self.timeouts.stale_after).unwrap_or(chrono::Duration::MAX);
        let cutoff = self.clock.now().checked_sub_signed(stale_after);
        let mut failed = 0;
        for session in self.sessions.unfinished().await? {
            let stale = cutoff.is_some_and(|cutoff| session.updated_at < cutoff);
            if session.kind == UploadKind::Chunked && session.phase == Phase::Uploading && stale {
                let message =
                    format!("upload abandoned: no progress for {}", format_duration(self.timeouts.stale_after));
                self.fail(session, Phase::Uploading, UploadError::Invalid(message)).await;
                failed += 1;
            }
        }
        Ok(failed)
    }

    // --- steps shared by both strategies ---

    /// Checks the target (creating it for auto-create keys) and duplicates, then stores and publishes a new session.
    #[allow(clippy::too_many_arguments)]
    async fn begin(
        &self,
        principal: &Principal,
        target: &Target,
        options: &UploadOptions,
        kind: UploadKind,
        total_size: Option<i64>,
        total_chunks: i64,
        sha256: Option<String>,
    ) -> Result<UploadSession, UploadError> {
        self.ensure_target(principal, &target.env, &target.project).await?;
        self.build_is_free(target, options.replace).await?;
        let now = self.clock.now();
        let session = UploadSession {
            id: UploadId::from(self.ids.ulid()),
            kind,
            env_id: target.env.clone(),
            project_id: target.project.clone(),
            build_id: target.build.clone(),
            file_name: Some(options.file_name.clone().unwrap_or_else(|| "results.zip".into())),
            total_size,
            total_chunks,
            received_chunks: 0,
            phase: Phase::Uploading,
            failed_at_phase: None,
            error: None,
            uploaded_by: principal.identity.display(),
            owner: principal.identity.owner_key(),
            sha256,
            report_config: options.report_config.clone(),
            replace: options.replace,
            started_at: now,
            updated_at: now,
            completed_at: None,
            report_url: None,
            stats: None,
        };
        match self.sessions.insert(&session).await {
            Ok(()) => {}
            // Another upload of the same build won the race between the check and the insert.
            Err(StoreError::Conflict) => return Err(in_flight(&target.build, options.replace)),
            Err(StoreError::MissingParent) => {
                return Err(UploadError::ProjectNotFound { env: target.env.clone(), project: target.project.clone() });
            }
            Err(e) => return Err(e.into()),
        }
        self.events.publish(UploadEvent::Updated(session.clone()));
        Ok(session)
    }

    /// §5.1 step 4: no upload of the build is in flight, and the build does not exist (or may be replaced).
    async fn build_is_free(&self, target: &Target, replace: bool) -> Result<(), UploadError> {
        if self.sessions.has_active(&target.env, &target.project, &target.build).await? {
            return Err(in_flight(&target.build, replace));
        }
        match self.builds.status(&target.env, &target.project, &target.build).await? {
            None => Ok(()),
            Some(_) if !replace => Err(UploadError::BuildExists(target.build.clone())),
            Some(BuildStatus::Pending | BuildStatus::Generating) => {
                Err(UploadError::BeingGenerated(target.build.clone()))
            }
            Some(BuildStatus::Ready | BuildStatus::Failed) => Ok(()),
        }
    }

    /// The checks of a streaming upload that need no body (§5.1 steps 3–4, without creating anything): answered
    /// before a client that asked to be invited (`Expect: 100-continue`) sends its archive, so a refused upload
    /// costs it nothing. The upload itself checks again.
    ///
    /// # Errors
    /// [`UploadError`]: 404 for a missing environment or project (unless the principal may create them), 409 for a
    /// build that exists or is in flight.
    pub async fn precheck_stream(
        &self,
        principal: &Principal,
        target: &Target,
        replace: bool,
    ) -> Result<(), UploadError> {
        if !principal.auto_create {
            if !self.envs.exists(&target.env).await? {
                return Err(UploadError::EnvironmentNotFound(target.env.clone()));
            }
            if !self.projects.exists(&target.env, &target.project).await? {
                return Err(UploadError::ProjectNotFound { env: target.env.clone(), project: target.project.clone() });
            }
        }
        self.build_is_free(target, replace).await
    }

    /// The checks of a chunk that need no body (§6.2): the session exists in this project, `principal` may feed
    /// it, and it still takes chunks. Used by [`UploadService::put_chunk`] and, before the body is invited, for
    /// `Expect: 100-continue`.
    ///
    /// # Errors
    /// [`UploadError`]: 404, 403 or 409.
    pub async fn precheck_chunk(
        &self,
        principal: &Principal,
        env: &EnvId,
        project: &ProjectId,
        id: UploadId,
    ) -> Result<UploadSession, UploadError> {
        let session = self.owned_chunked(principal, env, project, id).await?;
        if session.phase != Phase::Uploading {
            return Err(UploadError::NotAccepting(id, session.phase));
        }
        Ok(session)
    }

    /// §5.1 step 3: the environment and project must exist, unless the principal may create them.
    async fn ensure_target(&self, principal: &Principal, env: &EnvId, project: &ProjectId) -> Result<(), UploadError> {
        if !self.envs.exists(env).await? {
            if !principal.auto_create {
                return Err(UploadError::EnvironmentNotFound(env.clone()));
            }
            let environment = Environment {
                id: env.clone(),
                name: display_name(env.as_str()),
                icon: Icon::default(),
                created_at: self.clock.now(),
            };
            match self.envs.insert(&environment).await {
                // A concurrent upload created it first: just as good.
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !self.projects.exists(env, project).await? {
            if !principal.auto_create {
                return Err(UploadError::ProjectNotFound { env: env.clone(), project: project.clone() });
            }
            let new = Project {
                env_id: env.clone(),
                id: project.clone(),
                name: display_name(project.as_str()),
                created_at: self.clock.now(),
            };
            match self.projects.insert(&new).await {
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(StoreError::MissingParent) => return Err(UploadError::EnvironmentNotFound(env.clone())),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// §5.1 steps 8–9 and §6.4 steps 3–5: extract, publish the results, save build + job + session together.
    async fn finish(&self, session: UploadSession, source: ArchiveSource) -> Result<UploadSession, UploadError> {
        let (env, project, id) = (session.env_id.clone(), session.project_id.clone(), session.id);
        let extracted = match self.files.extract(&env, &project, id, source, self.limits).await {
            Ok(extracted) => extracted,
            Err(e) => return Err(self.fail(session, Phase::Assembling, e.into()).await),
        };
        if let Err(e) = self.files.publish(&env, &project, &session.build_id, id).await {
            return Err(self.fail(session, Phase::Assembling, e.into()).await);
        }
        let (build, job, generating) = self.saved(session.clone(), extracted);
        if let Err(e) = self.sessions.save_results(&generating, &build, &job).await {
            return Err(self.fail(session, Phase::Assembling, e.into()).await);
        }
        // Only the chunk files are left to remove; a failure leaves orphans swept at start-up.
        let _ = self.files.discard(&env, &project, id).await;
        self.events.publish(UploadEvent::Updated(generating.clone()));
        Ok(generating)
    }

    /// The build, its queued job and the session in `generating`, as stored by one transaction.
    fn saved(&self, mut session: UploadSession, extracted: Extracted) -> (Build, GenerationJob, UploadSession) {
        let now = self.clock.now();
        let url = report_url(&session.env_id, &session.project_id, &session.build_id);
        // Checked when the upload started; checked again here for the cleaned value and its warnings.
        let (config, config_warnings) =
            self.report_config.effective(session.report_config.as_ref()).unwrap_or_default();
        let mut extracted = extracted;
        extracted.warnings.extend(config_warnings);
        let build = Build {
            env_id: session.env_id.clone(),
            project_id: session.project_id.clone(),
            build_id: session.build_id.clone(),
            status: BuildStatus::Pending,
            created_at: now,
            completed_at: None,
            uploaded_by: session.uploaded_by.clone(),
            has_report: false,
            stats: extracted.stats,
            longest_test_ms: extracted.longest_test_ms,
            quality_gate: None,
            warnings: extracted.warnings,
            error: None,
            config: config.clone(),
        };
        let job = GenerationJob {
            id: JobId::from(self.ids.ulid()),
            env_id: session.env_id.clone(),
            project_id: session.project_id.clone(),
            build_id: session.build_id.clone(),
            upload_id: Some(session.id),
            state: JobState::Queued,
            config,
            attempts: 0,
            created_at: now,
            started_at: None,
            finished_at: None,
            error: None,
        };
        session.phase = Phase::Generating;
        session.updated_at = now;
        session.report_url = Some(url);
        session.stats = Some(extracted.stats);
        (build, job, session)
    }

    /// Stores a changed session (stamping `updatedAt`) and publishes it.
    async fn store(&self, mut session: UploadSession) -> Result<UploadSession, UploadError> {
        session.updated_at = self.clock.now();
        if !self.sessions.update(&session).await? {
            return Err(UploadError::NotFound(session.id));
        }
        self.events.publish(UploadEvent::Updated(session.clone()));
        Ok(session)
    }

    /// Marks the session failed with the error's message, removes its files, and returns the error for the client.
    async fn fail(&self, mut session: UploadSession, at: Phase, error: UploadError) -> UploadError {
        let now = self.clock.now();
        session.phase = Phase::Failed;
        session.failed_at_phase = Some(at);
        session.error = Some(error.client_message());
        session.updated_at = now;
        session.completed_at = Some(now);
        // Best effort: whatever a failed removal leaves is swept at start-up (tmp/) or as an orphan.
        let _ = self.files.discard(&session.env_id, &session.project_id, session.id).await;
        match self.sessions.update(&session).await {
            Ok(true) => self.events.publish(UploadEvent::Updated(session)),
            // Deleted meanwhile (abandoned by DELETE): nothing to publish.
            Ok(false) => {}
            Err(e) => return UploadError::Store(e),
        }
        error
    }

    fn receive_error(&self, e: ReceiveError, chunk: bool, total_size: i64) -> UploadError {
        match e {
            ReceiveError::TooLarge(limit) if chunk && limit < self.limits.max_chunk_bytes => {
                UploadError::ChunksExceedTotal(total_size)
            }
            ReceiveError::TooLarge(_) if chunk => UploadError::ChunkTooLarge(self.limits.max_chunk_bytes),
            ReceiveError::TooLarge(_) => UploadError::TooLarge(self.limits.max_upload_bytes),
            ReceiveError::Empty => UploadError::EmptyBody,
            ReceiveError::ChecksumMismatch => UploadError::ChunkChecksum,
            ReceiveError::Body(BodyError::Stalled) => UploadError::Stalled(format_duration(self.timeouts.idle)),
            ReceiveError::Body(BodyError::Interrupted) => UploadError::Interrupted,
            ReceiveError::Storage(e) => UploadError::Storage(e),
        }
    }

    async fn in_project(&self, env: &EnvId, project: &ProjectId, id: UploadId) -> Result<UploadSession, UploadError> {
        match self.sessions.get(id).await? {
            Some(s) if &s.env_id == env && &s.project_id == project => Ok(s),
            _ => Err(UploadError::NotFound(id)),
        }
    }

    /// A chunked session of this project that `principal` may feed (its creator, or anyone with `manage`).
    async fn owned_chunked(
        &self,
        principal: &Principal,
        env: &EnvId,
        project: &ProjectId,
        id: UploadId,
    ) -> Result<UploadSession, UploadError> {
        let session = self.in_project(env, project, id).await?;
        if session.owner != principal.identity.owner_key() && !principal.can(Permission::Manage) {
            return Err(UploadError::NotOwner(id));
        }
        if session.kind != UploadKind::Chunked {
            return Err(UploadError::NotChunked(id));
        }
        Ok(session)
    }

    async fn missing(&self, session: &UploadSession) -> Result<Vec<i64>, UploadError> {
        let stored: std::collections::BTreeSet<i64> =
            self.sessions.chunks(session.id).await?.into_iter().map(|c| c.index).collect();
        Ok((0..session.total_chunks).filter(|i| !stored.contains(i)).collect())
    }
}

/// An id is a valid display name (slugs are shorter than 80 characters); the fallback is never used in practice.
fn display_name(id: &str) -> DisplayName {
    DisplayName::parse(id).unwrap_or_else(|_| DisplayName::parse("unnamed").unwrap_or_else(|_| unreachable!()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use super::*;
    use crate::ports::clock::{MockClock, MockIdGenerator};
    use crate::ports::events::MockEventBus;
    use crate::ports::repos::{MockBuildRepo, MockEnvironmentRepo, MockProjectRepo, MockUploadSessionRepo};
    use crate::ports::uploads::MockUploadFiles;

    fn at(hours_ago: i64) -> crate::Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 - hours_ago * 3_600, 0).unwrap()
    }

    fn session(kind: UploadKind, phase: Phase, updated_hours_ago: i64) -> UploadSession {
        UploadSession {
            id: UploadId::from(ulid::Ulid::new()),
            kind,
            env_id: EnvId::parse("staging").unwrap(),
            project_id: ProjectId::parse("checkout").unwrap(),
            build_id: BuildId::parse("b1").unwrap(),
            file_name: Some("results.zip".into()),
            total_size: Some(10),
            total_chunks: 2,
            received_chunks: 1,
            phase,
            failed_at_phase: None,
            error: None,
            uploaded_by: "apikey:ci".into(),
            owner: "apikey:x".into(),
            sha256: None,
            report_config: None,
            replace: false,
            started_at: at(30),
            updated_at: at(updated_hours_ago),
            completed_at: None,
            report_url: None,
            stats: None,
        }
    }

    type Log<T> = Arc<Mutex<Vec<T>>>;

    /// A service over `found` unfinished sessions; returns it with the sessions it stores and the uploads whose
    /// files it discards.
    fn service(found: Vec<UploadSession>) -> (UploadService, Log<UploadSession>, Log<UploadId>) {
        let stored = Arc::new(Mutex::new(Vec::new()));
        let discarded = Arc::new(Mutex::new(Vec::new()));
        let mut sessions = MockUploadSessionRepo::new();
        sessions.expect_unfinished().returning(move || Ok(found.clone()));
        let log = Arc::clone(&stored);
        sessions.expect_update().returning(move |s| {
            log.lock().unwrap().push(s.clone());
            Ok(true)
        });
        let mut files = MockUploadFiles::new();
        let log = Arc::clone(&discarded);
        files.expect_discard().returning(move |_, _, id| {
            log.lock().unwrap().push(id);
            Ok(())
        });
        let mut events = MockEventBus::new();
        events.expect_publish().return_const(());
        let mut clock = MockClock::new();
        clock.expect_now().returning(|| at(0));
        let ports = UploadPorts {
            sessions: Arc::new(sessions),
            builds: Arc::new(MockBuildRepo::new()),
            envs: Arc::new(MockEnvironmentRepo::new()),
            projects: Arc::new(MockProjectRepo::new()),
            files: Arc::new(files),
            events: Arc::new(events),
            clock: Arc::new(clock),
            ids: Arc::new(MockIdGenerator::new()),
        };
        let timeouts = UploadTimeouts { idle: Duration::from_secs(300), stale_after: Duration::from_secs(86_400) };
        (UploadService::new(ports, UploadLimits::default(), timeouts, Arc::default()), stored, discarded)
    }

    #[tokio::test]
    async fn a_restart_fails_interrupted_streams_and_reopens_chunked_assembly() {
        let stream_up = session(UploadKind::Stream, Phase::Uploading, 0);
        let stream_asm = session(UploadKind::Stream, Phase::Assembling, 0);
        let chunked_up = session(UploadKind::Chunked, Phase::Uploading, 0);
        let chunked_asm = session(UploadKind::Chunked, Phase::Assembling, 0);
        let (uploads, stored, discarded) =
            service(vec![stream_up.clone(), stream_asm.clone(), chunked_up.clone(), chunked_asm.clone()]);
        assert_eq!(uploads.recover().await.unwrap(), 3);
        let stored = stored.lock().unwrap().clone();
        let find = |id: UploadId| stored.iter().find(|s| s.id == id).cloned();
        for (original, phase) in [(&stream_up, Phase::Uploading), (&stream_asm, Phase::Assembling)] {
            let failed = find(original.id).unwrap();
            assert_eq!(
                (failed.phase, failed.failed_at_phase, failed.error.as_deref(), failed.completed_at),
                (Phase::Failed, Some(phase), Some("interrupted by server restart"), Some(at(0)))
            );
        }
        assert_eq!(find(chunked_asm.id).unwrap().phase, Phase::Uploading, "chunks intact, complete may be retried");
        assert_eq!(find(chunked_up.id), None, "a chunked upload in progress stays resumable");
        let discarded = discarded.lock().unwrap().clone();
        assert!(discarded.contains(&stream_up.id) && discarded.contains(&stream_asm.id));
        assert!(!discarded.contains(&chunked_asm.id) && !discarded.contains(&chunked_up.id));
    }

    #[tokio::test]
    async fn only_chunked_uploads_without_progress_for_the_limit_go_stale() {
        let stale = session(UploadKind::Chunked, Phase::Uploading, 25);
        let fresh = session(UploadKind::Chunked, Phase::Uploading, 23);
        let assembling = session(UploadKind::Chunked, Phase::Assembling, 48);
        let (uploads, stored, discarded) = service(vec![stale.clone(), fresh, assembling]);
        assert_eq!(uploads.sweep_stale().await.unwrap(), 1);
        let stored = stored.lock().unwrap().clone();
        assert_eq!(stored.len(), 1);
        assert_eq!(
            (stored[0].id, stored[0].phase, stored[0].error.as_deref()),
            (stale.id, Phase::Failed, Some("upload abandoned: no progress for 24h"))
        );
        assert_eq!(*discarded.lock().unwrap(), vec![stale.id], "its chunks are deleted");
    }

    #[test]
    fn missing_chunk_messages_list_at_most_twenty() {
        let e = UploadError::MissingChunks { id: UploadId::from(ulid::Ulid::nil()), missing: (0..25).collect() };
        let text = e.to_string();
        assert!(text.ends_with("17, 18, 19, …"), "{text}");
        let e = UploadError::MissingChunks { id: UploadId::from(ulid::Ulid::nil()), missing: vec![1] };
        assert!(e.to_string().ends_with("is missing chunks: 1"));
    }
}
