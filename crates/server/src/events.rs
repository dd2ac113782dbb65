//! The in-process event buses: `tokio` broadcast channels. Publishing never waits; each subscriber has its own
//! 256-event window (§1.10) and is told when it fell behind, so one slow client never delays the others.

use futures_core::Stream;
use hub_domain::model::notification::Notification;
use hub_domain::ports::{EventBus, EventStream, Lagged, NotificationBus, NotificationStream, UploadEvent};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

/// Events a subscriber may fall behind before it is disconnected.
pub const SUBSCRIBER_BUFFER: usize = 256;

/// Broadcast of one kind of event (upload changes, notifications) to this process's subscribers.
#[derive(Debug)]
pub struct BroadcastBus<T> {
    sender: broadcast::Sender<T>,
}

impl<T: Clone> Default for BroadcastBus<T> {
    fn default() -> Self {
        Self { sender: broadcast::channel(SUBSCRIBER_BUFFER).0 }
    }
}

impl<T: Clone + Send + 'static> BroadcastBus<T> {
    fn send(&self, event: T) {
        // No subscriber is not an error.
        let _ = self.sender.send(event);
    }

    fn stream(&self) -> impl Stream<Item = Result<T, Lagged>> + Send + 'static {
        futures_util::stream::unfold(Some(self.sender.subscribe()), |receiver| async move {
            let mut receiver = receiver?;
            match receiver.recv().await {
                Ok(event) => Some((Ok(event), Some(receiver))),
                // Reported once; the stream ends after it.
                Err(RecvError::Lagged(_)) => Some((Err(Lagged), None)),
                Err(RecvError::Closed) => None,
            }
        })
    }
}

impl EventBus for BroadcastBus<UploadEvent> {
    fn publish(&self, event: UploadEvent) {
        self.send(event);
    }

    fn subscribe(&self) -> EventStream {
        Box::pin(self.stream())
    }
}

impl NotificationBus for BroadcastBus<Notification> {
    fn publish(&self, notification: Notification) {
        self.send(notification);
    }

    fn subscribe(&self) -> NotificationStream {
        Box::pin(self.stream())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use futures_util::StreamExt;
    use hub_domain::ports::UploadEvent;

    use super::*;

    fn event(n: i64) -> UploadEvent {
        use hub_domain::ids::{BuildId, EnvId, ProjectId, UploadId};
        use hub_domain::model::upload::{Phase, UploadKind, UploadSession};
        let at = chrono::DateTime::UNIX_EPOCH;
        UploadEvent::Updated(UploadSession {
            id: UploadId::from(ulid::Ulid::nil()),
            kind: UploadKind::Chunked,
            env_id: EnvId::parse("staging").unwrap(),
            project_id: ProjectId::parse("checkout").unwrap(),
            build_id: BuildId::parse("b1").unwrap(),
            file_name: None,
            total_size: None,
            total_chunks: 1_000,
            received_chunks: n,
            phase: Phase::Uploading,
            failed_at_phase: None,
            error: None,
            uploaded_by: "apikey:ci".into(),
            owner: "apikey:x".into(),
            sha256: None,
            report_config: None,
            replace: false,
            started_at: at,
            updated_at: at,
            completed_at: None,
            report_url: None,
            stats: None,
        })
    }

    #[tokio::test]
    async fn a_stalled_subscriber_is_cut_off_without_holding_back_the_others() {
        let bus = BroadcastBus::<UploadEvent>::default();
        let mut stalled = bus.subscribe();
        let mut live = bus.subscribe();
        for n in 0..(SUBSCRIBER_BUFFER as i64 + 10) {
            bus.publish(event(n));
            // The live subscriber keeps up and sees every event in order.
            assert_eq!(live.next().await, Some(Ok(event(n))));
        }
        assert_eq!(stalled.next().await, Some(Err(Lagged)), "told once that it fell behind");
        assert_eq!(stalled.next().await, None, "then disconnected");
    }
}
