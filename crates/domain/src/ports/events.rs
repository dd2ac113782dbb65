//! Live events for the SSE streams. Publishing never waits for subscribers; a subscriber that falls too far
//! behind learns so and is disconnected rather than silently missing events (contract §1.10).

use std::pin::Pin;

use futures_core::Stream;

use crate::model::upload::UploadSession;

/// A change of an upload session.
#[derive(Debug, Clone, PartialEq)]
pub enum UploadEvent {
    /// Created or changed (`event: update`).
    Updated(UploadSession),
    /// Deleted, as it was just before (`event: deleted`).
    Deleted(UploadSession),
}

impl UploadEvent {
    /// The session the event is about.
    pub fn session(&self) -> &UploadSession {
        match self {
            Self::Updated(s) | Self::Deleted(s) => s,
        }
    }
}

/// What a subscriber receives: events in publication order, or `Err(Lagged)` once it fell behind (then nothing).
pub type EventStream = Pin<Box<dyn Stream<Item = Result<UploadEvent, Lagged>> + Send>>;

/// The subscriber fell more than its buffer behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged;

/// Fan-out of live events to every subscriber of this process (one node; several nodes share a database-backed
/// bus).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait EventBus: Send + Sync + 'static {
    /// Publishes to every current subscriber without waiting.
    fn publish(&self, event: UploadEvent);

    /// A new subscription, receiving events published from now on.
    fn subscribe(&self) -> EventStream;
}

/// What a notification subscriber receives: notifications in creation order, or `Err(Lagged)` once it fell behind.
pub type NotificationStream =
    Pin<Box<dyn Stream<Item = Result<crate::model::notification::Notification, Lagged>> + Send>>;

/// Fan-out of new notifications to the SSE streams of this process (§10.6); audience filtering is the reader's.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait NotificationBus: Send + Sync + 'static {
    /// Publishes to every current subscriber without waiting.
    fn publish(&self, notification: crate::model::notification::Notification);

    /// A new subscription, receiving notifications published from now on.
    fn subscribe(&self) -> NotificationStream;
}
