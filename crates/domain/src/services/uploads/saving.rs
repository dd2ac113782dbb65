//! From a complete archive to a saved build: extraction, the build with its stored bytes and its queued job, and
//! failures that end a session with the message its client got.

use super::{UploadError, UploadService};
use crate::ids::JobId;
use crate::model::build::{Build, BuildStatus, report_url};
use crate::model::job::{GenerationJob, JobState};
use crate::model::syntax::format_duration;
use crate::model::upload::{Phase, UploadSession};
use crate::ports::{ArchiveSource, BodyError, Extracted, ReceiveError, UploadEvent};
use crate::services::stored_bytes::measure;

impl UploadService {
    /// §5.1 steps 8–9 and §6.4 steps 3–5: extract, publish the results, measure what the storage now holds for
    /// the build, save build + job + session together.
    pub(super) async fn finish(
        &self,
        session: UploadSession,
        source: ArchiveSource,
    ) -> Result<UploadSession, UploadError> {
        let (env, project, id) = (session.env_id.clone(), session.project_id.clone(), session.id);
        let extracted = match self.files.extract(&env, &project, id, source, self.limits).await {
            Ok(extracted) => extracted,
            Err(e) => return Err(self.fail(session, Phase::Assembling, e.into()).await),
        };
        if let Err(e) = self.files.publish(&env, &project, &session.build_id, id).await {
            return Err(self.fail(session, Phase::Assembling, e.into()).await);
        }
        let (mut build, job, generating) = self.saved(session.clone(), extracted);
        // Measured now, before the job that will change the files again is queued, and saved with the build: a
        // measurement that fails leaves the size unknown, never the upload failed.
        build.stored_bytes = measure(self.results.as_ref(), &env, &project, &session.build_id).await.ok();
        if let Err(e) = self.sessions.save_results(&generating, &build, &job).await {
            return Err(self.fail(session, Phase::Assembling, e.into()).await);
        }
        // Only the chunk files are left to remove; a failure leaves orphans swept at start-up.
        let _ = self.files.discard(&env, &project, id).await;
        self.events.publish(UploadEvent::Updated(generating.clone()));
        Ok(generating)
    }

    /// The build (its stored bytes not measured yet), its queued job and the session in `generating`, as stored
    /// by one transaction.
    pub(super) fn saved(
        &self,
        mut session: UploadSession,
        extracted: Extracted,
    ) -> (Build, GenerationJob, UploadSession) {
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
            report_key: None,
            stored_bytes: None,
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
    pub(super) async fn store(&self, mut session: UploadSession) -> Result<UploadSession, UploadError> {
        session.updated_at = self.clock.now();
        if !self.sessions.update(&session).await? {
            return Err(UploadError::NotFound(session.id));
        }
        self.events.publish(UploadEvent::Updated(session.clone()));
        Ok(session)
    }

    /// Marks the session failed with the error's message, removes its files, and returns the error for the client.
    pub(super) async fn fail(&self, mut session: UploadSession, at: Phase, error: UploadError) -> UploadError {
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

    pub(super) fn receive_error(&self, e: ReceiveError, chunk: bool, total_size: i64) -> UploadError {
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
}
