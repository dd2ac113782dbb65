//! Sessions as a whole (§9, §17): listing, deleting, recovering after a restart, failing abandoned uploads.

use super::{UploadError, UploadService};
use crate::ids::UploadId;
use crate::model::syntax::format_duration;
use crate::model::upload::{Phase, UploadKind, UploadSession};
use crate::ports::{UploadEvent, UploadFilter};

impl UploadService {
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
}
