//! What follows from upload sessions ending: the build notification of §10.7 and the upload metrics of §12.3.
//!
//! Every session change passes through the upload event bus, whoever made it (an upload, a generation job, the
//! stale-upload sweep, the start-up recovery), so a tap on that bus sees every ending exactly once without hooks in
//! each of those places. The tap hands endings to an unbounded queue rather than subscribing like an SSE client:
//! a broadcast subscriber that falls behind is cut off, which would lose notifications.

use std::collections::HashSet;
use std::sync::Arc;

use hub_domain::ids::UploadId;
use hub_domain::model::upload::{Phase, UploadKind, UploadSession};
use hub_domain::ports::{EventBus, EventStream, UploadEvent};
use hub_domain::services::NotificationService;
use hub_http::metrics::{UploadResult, record_upload, record_upload_bytes};
use tokio::sync::{Notify, mpsc, watch};

/// An [`EventBus`] that also queues each session entering `generating`, `done` or `failed` for [`follow`], and
/// wakes the job dispatcher when one enters `generating` (a job was queued).
pub struct OutcomeTap {
    inner: Arc<dyn EventBus>,
    queue: mpsc::UnboundedSender<UploadSession>,
    job_queued: Arc<Notify>,
}

impl std::fmt::Debug for OutcomeTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutcomeTap").finish_non_exhaustive()
    }
}

impl OutcomeTap {
    /// Wraps `inner`; the receiver goes to [`follow`], `job_queued` to the dispatcher.
    pub fn new(inner: Arc<dyn EventBus>, job_queued: Arc<Notify>) -> (Self, mpsc::UnboundedReceiver<UploadSession>) {
        let (queue, receiver) = mpsc::unbounded_channel();
        (Self { inner, queue, job_queued }, receiver)
    }
}

impl EventBus for OutcomeTap {
    fn publish(&self, event: UploadEvent) {
        if let UploadEvent::Updated(session) = &event
            && matches!(session.phase, Phase::Generating | Phase::Done | Phase::Failed)
        {
            if session.phase == Phase::Generating {
                self.job_queued.notify_one();
            }
            // Closed only when the follower stopped at shutdown.
            let _ = self.queue.send(session.clone());
        }
        self.inner.publish(event);
    }

    fn subscribe(&self) -> EventStream {
        self.inner.subscribe()
    }
}

/// Turns queued session changes into notifications and upload metrics, and asks for a disk check (`disk_check`)
/// after each accepted upload (§13.4). Ends when the tap is dropped or the server stops (`shutdown`), after the
/// changes already queued, so a stop loses no notification of work that had finished.
pub async fn follow(
    mut sessions: mpsc::UnboundedReceiver<UploadSession>,
    notifications: NotificationService,
    disk_check: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Uploads counted as accepted (they reached `generating`), so their later changes do not count again.
    let mut accepted: HashSet<UploadId> = HashSet::new();
    let mut stopping = false;
    loop {
        let next = if stopping {
            sessions.try_recv().ok()
        } else {
            tokio::select! {
                session = sessions.recv() => session,
                _ = shutdown.changed() => {
                    stopping = true;
                    sessions.try_recv().ok()
                }
            }
        };
        let Some(session) = next else {
            return;
        };
        if count_upload(&mut accepted, &session) {
            disk_check.notify_one();
        }
        if matches!(session.phase, Phase::Done | Phase::Failed)
            && let Err(e) = notifications.session_finished(&session).await
        {
            tracing::error!(upload = %session.id, build = %session.build_id, error = %e, "cannot store a notification");
        }
    }
}

/// §12.3 `uploads_total` and `upload_bytes_total`: an upload counts once, when it reaches `generating` (accepted)
/// or fails before it. Returns whether it was just accepted.
fn count_upload(accepted: &mut HashSet<UploadId>, session: &UploadSession) -> bool {
    let bytes = u64::try_from(session.total_size.unwrap_or(0)).unwrap_or(0);
    match session.phase {
        Phase::Generating => {
            let new = session.kind != UploadKind::Regenerate && accepted.insert(session.id);
            if new {
                record_upload(session.kind, UploadResult::Accepted);
                record_upload_bytes(session.kind, bytes);
            }
            return new;
        }
        Phase::Done | Phase::Failed => {
            let was_accepted = accepted.remove(&session.id);
            let failed_early = matches!(session.failed_at_phase, Some(Phase::Uploading | Phase::Assembling));
            if !was_accepted && session.phase == Phase::Failed && failed_early {
                record_upload(session.kind, UploadResult::Failed);
                record_upload_bytes(session.kind, bytes);
            }
        }
        _ => {}
    }
    false
}
