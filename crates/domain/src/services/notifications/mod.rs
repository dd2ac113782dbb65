//! Notifications (contract §10): creating exactly one per event of §10.7, storing it before publishing it to the
//! live streams, and each principal's view of them (audience, read state, deletion).
//!
//! By concern: [`builds`] (the notification of each finished upload or generation), [`operations`] (disk, cleanup
//! and Allure release notices for operators), [`inbox`] (each principal's list, read state and live stream).

mod builds;
mod inbox;
mod operations;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use serde_json::{Value, json};
use thiserror::Error;

use crate::ids::NotificationId;
use crate::model::build::BuildStats;
use crate::model::notification::{Category, Notification, Severity};
use crate::model::upload::UploadSession;
use crate::ports::{
    BuildRepo, Clock, EnvironmentRepo, IdGenerator, Lagged, NotificationBus, NotificationRepo, NotificationStream,
    ProjectRepo, SettingsRepo, StoreError,
};

/// Settings key of the Allure versions already announced (a JSON array of strings), so each is announced once,
/// across restarts too.
pub const ANNOUNCED_ALLURE_VERSIONS_KEY: &str = "notifications.allure_announced_versions";

/// Announced versions remembered; older ones are forgotten (they are long superseded by then).
const ANNOUNCED_VERSIONS_KEPT: usize = 50;

/// Why a notification operation failed.
#[derive(Debug, Error)]
pub enum NotificationError {
    /// 404: unknown, deleted by this principal, or outside its audience.
    #[error("notification {0} not found")]
    NotFound(NotificationId),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The ports notifications need.
#[derive(Clone)]
pub struct NotificationPorts {
    /// Stored notifications and per-principal state.
    pub repo: Arc<dyn NotificationRepo>,
    /// Live delivery to SSE streams.
    pub bus: Arc<dyn NotificationBus>,
    /// The finished build's quality gate, statistics and report.
    pub builds: Arc<dyn BuildRepo>,
    /// Environment names for bodies.
    pub envs: Arc<dyn EnvironmentRepo>,
    /// Project names for bodies.
    pub projects: Arc<dyn ProjectRepo>,
    /// The Allure versions already announced.
    pub settings: Arc<dyn SettingsRepo>,
    /// Creation times and the pruning cutoff.
    pub clock: Arc<dyn Clock>,
    /// Notification ids.
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for NotificationPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationPorts").finish_non_exhaustive()
    }
}

/// The notification use cases.
#[derive(Clone)]
pub struct NotificationService {
    ports: NotificationPorts,
}

impl std::fmt::Debug for NotificationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationService").finish_non_exhaustive()
    }
}

/// The texts and payload of a notification about to be created.
struct Draft {
    category: Category,
    severity: Severity,
    title: String,
    body: String,
    payload: Value,
}

impl NotificationService {
    /// Wires the use cases.
    pub fn new(ports: NotificationPorts) -> Self {
        Self { ports }
    }

    /// Stores a notification, then publishes it, so a stream never shows one the list does not have.
    async fn create(&self, draft: Draft) -> Result<Notification, NotificationError> {
        let notification = Notification {
            id: NotificationId::from(self.ports.ids.ulid()),
            title: draft.title,
            body: draft.body,
            category: draft.category,
            severity: draft.severity,
            payload: draft.payload,
            created_at: self.ports.clock.now(),
        };
        self.ports.repo.insert(&notification).await?;
        self.ports.bus.publish(notification.clone());
        Ok(notification)
    }
}

/// The keys every build notification's payload carries (§10.7).
fn build_payload(session: &UploadSession, url: &Value) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert("url".into(), url.clone());
    map.insert("env_id".into(), json!(session.env_id.as_str()));
    map.insert("project_id".into(), json!(session.project_id.as_str()));
    map.insert("build_id".into(), json!(session.build_id.as_str()));
    map.insert("upload_id".into(), json!(session.id.to_string()));
    map.insert("report_url".into(), url.clone());
    map
}

/// The statistics keys of the report notifications (`failed` as counted, without `broken`).
fn stats_payload(stats: &BuildStats) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    for (key, value) in [
        ("total", stats.total),
        ("passed", stats.passed),
        ("failed", stats.failed),
        ("broken", stats.broken),
        ("skipped", stats.skipped),
    ] {
        map.insert(key.into(), json!(value));
    }
    map
}

/// A subscription with the notifications outside a viewer's audience left out.
struct AudienceStream {
    inner: NotificationStream,
    operational: bool,
}

impl Stream for AudienceStream {
    type Item = Result<Notification, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match self.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(n))) if n.category.is_operational() && !self.operational => continue,
                other => return other,
            }
        }
    }
}

/// Stateful fakes shared by the tests of the services that create notifications or keep settings.
#[cfg(test)]
pub(crate) mod fakes {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::Timestamp;
    use crate::ports::clock::{MockClock, MockIdGenerator};
    use crate::ports::events::MockNotificationBus;
    use crate::ports::repos::{
        MockBuildRepo, MockEnvironmentRepo, MockNotificationRepo, MockProjectRepo, MockSettingsRepo,
    };

    /// Settings kept in memory, shared by the services of one test (like the database across a restart).
    #[derive(Debug, Default)]
    pub(crate) struct MemorySettings(pub(crate) Mutex<HashMap<String, Value>>);

    #[async_trait]
    impl SettingsRepo for MemorySettings {
        async fn get(&self, key: &str) -> Result<Option<Value>, StoreError> {
            Ok(self.0.lock().unwrap().get(key).cloned())
        }
        async fn put(&self, key: &str, value: &Value, _: Timestamp) -> Result<(), StoreError> {
            self.0.lock().unwrap().insert(key.to_owned(), value.clone());
            Ok(())
        }
    }

    /// A clock the test moves.
    pub(crate) fn clock(now: &Arc<Mutex<Timestamp>>) -> Arc<MockClock> {
        let now = Arc::clone(now);
        let mut clock = MockClock::new();
        clock.expect_now().returning(move || *now.lock().unwrap());
        Arc::new(clock)
    }

    /// A notification service for operational notifications that records what it creates in `created`.
    pub(crate) fn recording(created: &Arc<Mutex<Vec<Notification>>>) -> Arc<NotificationService> {
        let mut repo = MockNotificationRepo::new();
        let log = Arc::clone(created);
        repo.expect_insert().returning(move |n| {
            log.lock().unwrap().push(n.clone());
            Ok(())
        });
        let mut bus = MockNotificationBus::new();
        bus.expect_publish().return_const(());
        let mut ids = MockIdGenerator::new();
        ids.expect_ulid().returning(ulid::Ulid::new);
        let mut clock = MockClock::new();
        clock.expect_now().returning(chrono::Utc::now);
        Arc::new(NotificationService::new(NotificationPorts {
            repo: Arc::new(repo),
            bus: Arc::new(bus),
            builds: Arc::new(MockBuildRepo::new()),
            envs: Arc::new(MockEnvironmentRepo::new()),
            projects: Arc::new(MockProjectRepo::new()),
            settings: Arc::new(MockSettingsRepo::new()),
            clock: Arc::new(clock),
            ids: Arc::new(ids),
        }))
    }
}

#[cfg(test)]
mod tests;
