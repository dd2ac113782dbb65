//! Notifications (contract §10): creating exactly one per event of §10.7, storing it before publishing it to the
//! live streams, and each principal's view of them (audience, read state, deletion).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use chrono::TimeDelta;
use futures_core::Stream;
use serde_json::{Value, json};
use thiserror::Error;

use crate::ids::{EnvId, NotificationId, ProjectId};
use crate::model::allure_version::is_newer_release;
use crate::model::build::{BuildStats, report_url};
use crate::model::disk::format_binary_bytes;
use crate::model::notification::{Category, Notification, NotificationView, Severity};
use crate::model::retention::CleanupRun;
use crate::model::upload::{Phase, UploadSession};
use crate::ports::{
    BuildRepo, Clock, EnvironmentRepo, IdGenerator, Lagged, NotificationBus, NotificationRepo, NotificationStream,
    NotificationViewer, ProjectRepo, SettingsRepo, StoreError,
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

    /// §10.7 build notifications: called once for each upload session that reached `done` or `failed`; creates
    /// its one notification (report ready, quality gate failed, report failed or upload failed). Sessions still
    /// active get none (`None`).
    ///
    /// # Errors
    /// A database failure.
    pub async fn session_finished(&self, session: &UploadSession) -> Result<Option<Notification>, NotificationError> {
        let draft = match session.phase {
            Phase::Done => self.report_ready(session).await?,
            Phase::Failed => self.session_failed(session).await?,
            Phase::Uploading | Phase::Assembling | Phase::Generating => return Ok(None),
        };
        self.create(draft).await.map(Some)
    }

    /// A successful generation: "Report ready", or "Quality gate failed" when the stored gate failed.
    async fn report_ready(&self, session: &UploadSession) -> Result<Draft, StoreError> {
        let (env, project, build_id) = (&session.env_id, &session.project_id, &session.build_id);
        let build = self.ports.builds.get(env, project, build_id).await?;
        // The build's figures are the ones its report shows; the session's copy serves if it was deleted since.
        let stats = build.as_ref().map(|b| b.stats).or(session.stats).unwrap_or_default();
        let url = Value::String(report_url(env, project, build_id));
        let mut payload = build_payload(session, &url);
        payload.extend(stats_payload(&stats));
        let failures: Vec<String> = build
            .and_then(|b| b.quality_gate)
            .filter(|gate| !gate.passed)
            .map(|gate| gate.failures.into_iter().map(|f| f.message).collect())
            .unwrap_or_default();
        if let Some(first) = failures.first() {
            let body = match failures.len() - 1 {
                0 => first.clone(),
                more => format!("{first} (and {more} more)"),
            };
            payload.insert("quality_gate_failures".into(), json!(failures));
            return Ok(Draft {
                category: Category::Upload,
                severity: Severity::Warning,
                title: format!("Quality gate failed: {build_id}"),
                body,
                payload: Value::Object(payload),
            });
        }
        let (env_name, project_name) = self.names(env, project).await?;
        Ok(Draft {
            category: Category::Upload,
            severity: Severity::Success,
            title: format!("Report ready: {build_id}"),
            body: format!(
                "{project_name} in {env_name}: {} passed, {} failed, {} skipped.",
                stats.passed,
                stats.failed + stats.broken,
                stats.skipped
            ),
            payload: Value::Object(payload),
        })
    }

    /// A failed session: "Report failed" when generation failed, else "Upload failed".
    async fn session_failed(&self, session: &UploadSession) -> Result<Draft, StoreError> {
        let (env, project, build_id) = (&session.env_id, &session.project_id, &session.build_id);
        // A build can keep the report of an earlier generation (a failed replacement keeps it): the links are
        // null only when no report exists.
        let has_report = self.ports.builds.get(env, project, build_id).await?.is_some_and(|b| b.has_report);
        let url = if has_report { Value::String(report_url(env, project, build_id)) } else { Value::Null };
        let mut payload = build_payload(session, &url);
        payload.insert("phase".into(), json!(session.phase.as_str()));
        payload.insert("failed_at_phase".into(), json!(session.failed_at_phase.map(Phase::as_str)));
        payload.insert("error".into(), json!(session.error));
        let title = if session.failed_at_phase == Some(Phase::Generating) {
            format!("Report failed: {build_id}")
        } else {
            format!("Upload failed: {build_id}")
        };
        Ok(Draft {
            category: Category::Upload,
            severity: Severity::Error,
            title,
            body: session.error.clone().unwrap_or_default(),
            payload: Value::Object(payload),
        })
    }

    /// Display names of the environment and project; their ids when they were deleted meanwhile.
    async fn names(&self, env: &EnvId, project: &ProjectId) -> Result<(String, String), StoreError> {
        let env_name =
            self.ports.envs.get(env).await?.map_or_else(|| env.to_string(), |v| v.environment.name.to_string());
        let project_name = self
            .ports
            .projects
            .get(env, project)
            .await?
            .map_or_else(|| project.to_string(), |v| v.project.name.to_string());
        Ok((env_name, project_name))
    }

    /// §10.7: the data volume reached the disk threshold. The caller (the disk check) decides when a crossing
    /// happened.
    ///
    /// # Errors
    /// A database failure.
    pub async fn disk_warning(
        &self,
        used_percent: i64,
        threshold_percent: i64,
        free_bytes: i64,
        total_bytes: i64,
    ) -> Result<Notification, NotificationError> {
        self.create(Draft {
            category: Category::Disk,
            severity: Severity::Warning,
            title: format!("Disk usage at {used_percent}%"),
            body: format!(
                "The data volume is {used_percent}% full (threshold {threshold_percent}%), {} free.",
                format_binary_bytes(free_bytes)
            ),
            payload: json!({
                "used_percent": used_percent,
                "threshold_percent": threshold_percent,
                "free_bytes": free_bytes,
                "total_bytes": total_bytes,
            }),
        })
        .await
    }

    /// §10.7: a cleanup run ended `failed`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn cleanup_failed(&self, run: &CleanupRun) -> Result<Notification, NotificationError> {
        let message = run.error_message.clone().unwrap_or_default();
        self.create(Draft {
            category: Category::Retention,
            severity: Severity::Error,
            title: "Cleanup run failed".into(),
            body: message.clone(),
            payload: json!({ "run_id": run.id.to_string(), "error_message": message }),
        })
        .await
    }

    /// §10.7, §13.5: announces `latest` when it is newer than `installed` and was never announced before (also
    /// not before a restart). Returns the notification, or `None` when there is nothing to announce (no CLI, no
    /// registry answer, not newer, or already announced).
    ///
    /// # Errors
    /// A database failure.
    pub async fn allure_available(
        &self,
        installed: &str,
        latest: &str,
    ) -> Result<Option<Notification>, NotificationError> {
        // No version installed (or none readable): nothing to compare, nothing to announce.
        if is_newer_release(latest, installed) != Some(true) {
            return Ok(None);
        }
        let mut announced: Vec<String> = match self.ports.settings.get(ANNOUNCED_ALLURE_VERSIONS_KEY).await? {
            Some(Value::Array(items)) => items.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        };
        if announced.iter().any(|v| v == latest) {
            return Ok(None);
        }
        let notification = self
            .create(Draft {
                category: Category::Allure,
                severity: Severity::Info,
                title: format!("Allure {latest} is available"),
                body: format!("The server runs Allure {installed}."),
                payload: json!({ "installed_version": installed, "latest_version": latest }),
            })
            .await?;
        announced.push(latest.to_owned());
        let excess = announced.len().saturating_sub(ANNOUNCED_VERSIONS_KEPT);
        announced.drain(..excess);
        self.ports.settings.put(ANNOUNCED_ALLURE_VERSIONS_KEY, &json!(announced), self.ports.clock.now()).await?;
        Ok(Some(notification))
    }

    /// §10.1: the viewer's notifications, newest first; `limit` 0 means no cap.
    ///
    /// # Errors
    /// A database failure.
    pub async fn list(
        &self,
        viewer: &NotificationViewer,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<NotificationView>, NotificationError> {
        Ok(self.ports.repo.list(viewer, unread_only, limit.max(0)).await?)
    }

    /// §10.2: how many the viewer has not read.
    ///
    /// # Errors
    /// A database failure.
    pub async fn unread_count(&self, viewer: &NotificationViewer) -> Result<i64, NotificationError> {
        Ok(self.ports.repo.unread_count(viewer).await?)
    }

    /// §10.3: marks one read for the viewer (idempotent).
    ///
    /// # Errors
    /// [`NotificationError::NotFound`] when it does not exist for the viewer, or a database failure.
    pub async fn mark_read(&self, viewer: &NotificationViewer, id: NotificationId) -> Result<(), NotificationError> {
        if self.ports.repo.mark_read(viewer, id, self.ports.clock.now()).await? {
            Ok(())
        } else {
            Err(NotificationError::NotFound(id))
        }
    }

    /// §10.4: marks everything the viewer sees as read.
    ///
    /// # Errors
    /// A database failure.
    pub async fn mark_all_read(&self, viewer: &NotificationViewer) -> Result<(), NotificationError> {
        Ok(self.ports.repo.mark_all_read(viewer, self.ports.clock.now()).await?)
    }

    /// §10.5: deletes one for the viewer only.
    ///
    /// # Errors
    /// [`NotificationError::NotFound`] when it does not exist for the viewer, or a database failure.
    pub async fn hide(&self, viewer: &NotificationViewer, id: NotificationId) -> Result<(), NotificationError> {
        if self.ports.repo.hide(viewer, id, self.ports.clock.now()).await? {
            Ok(())
        } else {
            Err(NotificationError::NotFound(id))
        }
    }

    /// §10.6: new notifications within the viewer's audience, from now on (a new notification is unread and not
    /// yet deleted by anyone, so only the audience filters it).
    pub fn subscribe(&self, viewer: &NotificationViewer) -> NotificationStream {
        Box::pin(AudienceStream { inner: self.ports.bus.subscribe(), operational: viewer.operational })
    }

    /// `NOTIFY_RETENTION_DAYS`: deletes notifications older than `retention_days` days; 0 keeps them forever.
    /// Returns how many were deleted.
    ///
    /// # Errors
    /// A database failure.
    pub async fn prune(&self, retention_days: i64) -> Result<u64, NotificationError> {
        if retention_days <= 0 {
            return Ok(0);
        }
        let age = TimeDelta::try_days(retention_days).unwrap_or(TimeDelta::MAX);
        let Some(cutoff) = self.ports.clock.now().checked_sub_signed(age) else {
            return Ok(0);
        };
        Ok(self.ports.repo.prune(cutoff).await?)
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
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use super::*;
    use crate::Timestamp;
    use crate::ids::{BuildId, UploadId};
    use crate::model::build::{Build, BuildStatus, QualityGateFailure, QualityGateResult};
    use crate::model::environment::{Environment, EnvironmentView};
    use crate::model::names::{DisplayName, Icon};
    use crate::model::project::{Project, ProjectView};
    use crate::model::retention::{CleanupStatus, CleanupTrigger};
    use crate::model::upload::UploadKind;
    use crate::ports::clock::{MockClock, MockIdGenerator};
    use crate::ports::events::MockNotificationBus;
    use crate::ports::repos::{
        MockBuildRepo, MockEnvironmentRepo, MockNotificationRepo, MockProjectRepo, MockSettingsRepo,
    };

    type Log<T> = Arc<Mutex<Vec<T>>>;

    fn at() -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn ids() -> (EnvId, ProjectId, BuildId) {
        (EnvId::parse("staging").unwrap(), ProjectId::parse("checkout").unwrap(), BuildId::parse("b1").unwrap())
    }

    fn upload_id() -> UploadId {
        UploadId::parse("01JR8X7Q2M5N9P3V4W6Y8Z0ABC").unwrap()
    }

    fn stats() -> BuildStats {
        BuildStats { total: 120, passed: 110, failed: 4, broken: 1, skipped: 5, unknown: 0, duration_ms: 9 }
    }

    fn session(phase: Phase, failed_at: Option<Phase>, error: Option<&str>) -> UploadSession {
        let (env, project, build) = ids();
        UploadSession {
            id: upload_id(),
            kind: UploadKind::Stream,
            env_id: env.clone(),
            project_id: project.clone(),
            build_id: build.clone(),
            file_name: Some("results.zip".into()),
            total_size: Some(10),
            total_chunks: 1,
            received_chunks: 1,
            phase,
            failed_at_phase: failed_at,
            error: error.map(str::to_owned),
            uploaded_by: "apikey:ci".into(),
            owner: "apikey:x".into(),
            sha256: None,
            report_config: None,
            replace: false,
            started_at: at(),
            updated_at: at(),
            completed_at: Some(at()),
            report_url: Some(report_url(&env, &project, &build)),
            stats: Some(BuildStats { total: 1, passed: 1, ..BuildStats::default() }),
        }
    }

    fn build(has_report: bool, gate: Option<QualityGateResult>) -> Build {
        let (env, project, build) = ids();
        Build {
            env_id: env,
            project_id: project,
            build_id: build,
            status: BuildStatus::Ready,
            created_at: at(),
            completed_at: Some(at()),
            uploaded_by: "apikey:ci".into(),
            has_report,
            stats: stats(),
            longest_test_ms: 0,
            quality_gate: gate,
            warnings: vec![],
            error: None,
            config: json!({}),
        }
    }

    fn failed_gate(messages: &[&str]) -> QualityGateResult {
        QualityGateResult {
            passed: false,
            failures: messages
                .iter()
                .map(|m| QualityGateFailure {
                    rule: "maxFailures".into(),
                    expected: json!(0),
                    actual: json!(5),
                    message: (*m).into(),
                })
                .collect(),
        }
    }

    /// Ports whose unused members panic when touched, with a fixed clock and ids.
    fn ports() -> NotificationPorts {
        let mut clock = MockClock::new();
        clock.expect_now().returning(at);
        let mut ids = MockIdGenerator::new();
        ids.expect_ulid().returning(|| ulid::Ulid::from_parts(9, 9));
        NotificationPorts {
            repo: Arc::new(MockNotificationRepo::new()),
            bus: Arc::new(MockNotificationBus::new()),
            builds: Arc::new(MockBuildRepo::new()),
            envs: Arc::new(MockEnvironmentRepo::new()),
            projects: Arc::new(MockProjectRepo::new()),
            settings: Arc::new(MockSettingsRepo::new()),
            clock: Arc::new(clock),
            ids: Arc::new(ids),
        }
    }

    /// What the repository stored and the bus published, in order (`"insert"` / `"publish"`).
    #[derive(Clone, Default)]
    struct Sink {
        steps: Log<&'static str>,
        stored: Log<Notification>,
        published: Log<Notification>,
    }

    impl Sink {
        /// Ports that store and publish into this sink.
        fn ports(&self, base: NotificationPorts) -> NotificationPorts {
            let mut repo = MockNotificationRepo::new();
            let (steps, stored) = (Arc::clone(&self.steps), Arc::clone(&self.stored));
            repo.expect_insert().returning(move |n| {
                steps.lock().unwrap().push("insert");
                stored.lock().unwrap().push(n.clone());
                Ok(())
            });
            let mut bus = MockNotificationBus::new();
            let (steps, published) = (Arc::clone(&self.steps), Arc::clone(&self.published));
            bus.expect_publish().returning(move |n| {
                steps.lock().unwrap().push("publish");
                published.lock().unwrap().push(n);
            });
            NotificationPorts { repo: Arc::new(repo), bus: Arc::new(bus), ..base }
        }

        /// The one notification created, checked to have been stored before it was published.
        fn only(&self) -> Notification {
            assert_eq!(*self.steps.lock().unwrap(), ["insert", "publish"]);
            let stored = self.stored.lock().unwrap().clone();
            assert_eq!(stored, *self.published.lock().unwrap());
            assert_eq!(stored.len(), 1);
            stored[0].clone()
        }
    }

    /// A service for build notifications: `found` is the stored build; the environment and project have names.
    fn build_service(sink: &Sink, found: Option<Build>) -> NotificationService {
        let mut builds = MockBuildRepo::new();
        builds.expect_get().returning(move |_, _, _| Ok(found.clone()));
        let mut envs = MockEnvironmentRepo::new();
        envs.expect_get().returning(|id| {
            let environment = Environment {
                id: id.clone(),
                name: DisplayName::parse("Staging").unwrap(),
                icon: Icon::default(),
                created_at: at(),
            };
            Ok(Some(EnvironmentView { environment, project_count: 1 }))
        });
        let mut projects = MockProjectRepo::new();
        projects.expect_get().returning(|env, id| {
            let project = Project {
                env_id: env.clone(),
                id: id.clone(),
                name: DisplayName::parse("Checkout Service").unwrap(),
                created_at: at(),
            };
            Ok(Some(ProjectView { project, build_count: 1, latest_build: None }))
        });
        NotificationService::new(sink.ports(NotificationPorts {
            builds: Arc::new(builds),
            envs: Arc::new(envs),
            projects: Arc::new(projects),
            ..ports()
        }))
    }

    const URL: &str = "/reports/staging/checkout/b1/index.html";

    #[tokio::test]
    async fn a_finished_report_is_announced_with_names_and_the_builds_counts() {
        let sink = Sink::default();
        let service =
            build_service(&sink, Some(build(true, Some(QualityGateResult { passed: true, failures: vec![] }))));
        let created = service.session_finished(&session(Phase::Done, None, None)).await.unwrap().unwrap();
        let n = sink.only();
        assert_eq!(created, n);
        assert_eq!((n.category, n.severity), (Category::Upload, Severity::Success));
        assert_eq!(n.title, "Report ready: b1");
        assert_eq!(n.body, "Checkout Service in Staging: 110 passed, 5 failed, 5 skipped.");
        assert_eq!(
            n.payload,
            json!({
                "url": URL, "env_id": "staging", "project_id": "checkout", "build_id": "b1",
                "upload_id": "01JR8X7Q2M5N9P3V4W6Y8Z0ABC", "report_url": URL,
                "total": 120, "passed": 110, "failed": 4, "broken": 1, "skipped": 5
            })
        );
        assert_eq!((n.id, n.created_at), (NotificationId::from(ulid::Ulid::from_parts(9, 9)), at()));
    }

    #[tokio::test]
    async fn a_failed_quality_gate_replaces_the_ready_notification() {
        let sink = Sink::default();
        let gate = failed_gate(&["too many failures", "too slow", "too few tests"]);
        let service = build_service(&sink, Some(build(true, Some(gate))));
        service.session_finished(&session(Phase::Done, None, None)).await.unwrap();
        let n = sink.only();
        assert_eq!((n.category, n.severity), (Category::Upload, Severity::Warning));
        assert_eq!(n.title, "Quality gate failed: b1");
        assert_eq!(n.body, "too many failures (and 2 more)");
        assert_eq!(n.payload["quality_gate_failures"], json!(["too many failures", "too slow", "too few tests"]));
        assert_eq!(
            (&n.payload["url"], &n.payload["failed"], &n.payload["broken"]),
            (&json!(URL), &json!(4), &json!(1))
        );

        let sink = Sink::default();
        let service = build_service(&sink, Some(build(true, Some(failed_gate(&["only one"])))));
        service.session_finished(&session(Phase::Done, None, None)).await.unwrap();
        assert_eq!(sink.only().body, "only one", "no suffix for a single failure");
    }

    #[tokio::test]
    async fn a_failed_generation_is_a_report_failure_linking_only_an_existing_report() {
        for (has_report, url) in [(false, Value::Null), (true, json!(URL))] {
            let sink = Sink::default();
            let service = build_service(&sink, Some(build(has_report, None)));
            let failed = session(Phase::Failed, Some(Phase::Generating), Some("allure exited with code 1"));
            service.session_finished(&failed).await.unwrap();
            let n = sink.only();
            assert_eq!((n.category, n.severity), (Category::Upload, Severity::Error));
            assert_eq!((n.title.as_str(), n.body.as_str()), ("Report failed: b1", "allure exited with code 1"));
            assert_eq!(
                n.payload,
                json!({
                    "url": url, "env_id": "staging", "project_id": "checkout", "build_id": "b1",
                    "upload_id": "01JR8X7Q2M5N9P3V4W6Y8Z0ABC", "report_url": url,
                    "phase": "failed", "failed_at_phase": "generating", "error": "allure exited with code 1"
                })
            );
        }
    }

    #[tokio::test]
    async fn a_failed_upload_is_an_upload_failure_whatever_phase_it_stopped_in() {
        for phase in [Phase::Uploading, Phase::Assembling] {
            let sink = Sink::default();
            let service = build_service(&sink, None);
            service.session_finished(&session(Phase::Failed, Some(phase), Some("stale upload"))).await.unwrap();
            let n = sink.only();
            assert_eq!((n.title.as_str(), n.body.as_str()), ("Upload failed: b1", "stale upload"));
            assert_eq!((&n.payload["url"], &n.payload["report_url"]), (&Value::Null, &Value::Null));
            assert_eq!(n.payload["failed_at_phase"], json!(phase.as_str()));
        }
    }

    #[tokio::test]
    async fn active_sessions_create_nothing() {
        // No expectations: storing, publishing or reading anything would panic.
        let service = NotificationService::new(ports());
        for phase in [Phase::Uploading, Phase::Assembling, Phase::Generating] {
            assert_eq!(service.session_finished(&session(phase, None, None)).await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn ids_stand_in_for_the_names_of_a_deleted_environment_and_project() {
        let sink = Sink::default();
        let mut builds = MockBuildRepo::new();
        builds.expect_get().returning(|_, _, _| Ok(None));
        let mut envs = MockEnvironmentRepo::new();
        envs.expect_get().returning(|_| Ok(None));
        let mut projects = MockProjectRepo::new();
        projects.expect_get().returning(|_, _| Ok(None));
        let service = NotificationService::new(sink.ports(NotificationPorts {
            builds: Arc::new(builds),
            envs: Arc::new(envs),
            projects: Arc::new(projects),
            ..ports()
        }));
        service.session_finished(&session(Phase::Done, None, None)).await.unwrap();
        let n = sink.only();
        assert_eq!(n.body, "checkout in staging: 1 passed, 0 failed, 0 skipped.", "the session's counts");
        assert_eq!(n.payload["total"], json!(1));
    }

    #[tokio::test]
    async fn operational_notifications_have_the_contracts_texts_and_no_url() {
        let sink = Sink::default();
        let service = NotificationService::new(sink.ports(ports()));
        let n = service.disk_warning(91, 85, 13_314_398_618, 107_374_182_400).await.unwrap();
        assert_eq!((n.category, n.severity), (Category::Disk, Severity::Warning));
        assert_eq!(n.title, "Disk usage at 91%");
        assert_eq!(n.body, "The data volume is 91% full (threshold 85%), 12.4 GiB free.");
        assert_eq!(
            n.payload,
            json!({"used_percent": 91, "threshold_percent": 85, "free_bytes": 13_314_398_618_i64,
                   "total_bytes": 107_374_182_400_i64})
        );

        let run = CleanupRun {
            id: crate::ids::CleanupRunId::parse("01JQZ5RAW3D7E2F4G6H8J0K2M4").unwrap(),
            started_at: at(),
            finished_at: at(),
            status: CleanupStatus::Failed,
            trigger: CleanupTrigger::Schedule,
            deleted_count: 0,
            skipped_count: 0,
            freed_bytes: 0,
            dry_run: false,
            error_message: Some("listing expired builds failed: database is locked".into()),
        };
        let n = service.cleanup_failed(&run).await.unwrap();
        assert_eq!(
            (n.category, n.severity, n.title.as_str()),
            (Category::Retention, Severity::Error, "Cleanup run failed")
        );
        assert_eq!(n.body, "listing expired builds failed: database is locked");
        assert_eq!(
            n.payload,
            json!({"run_id": "01JQZ5RAW3D7E2F4G6H8J0K2M4",
                   "error_message": "listing expired builds failed: database is locked"})
        );
        assert_eq!(sink.stored.lock().unwrap().len(), 2);
    }

    /// A service whose settings start with `announced` and record every value put.
    fn allure_service(sink: &Sink, announced: Option<Value>) -> (NotificationService, Log<Value>) {
        let puts = Arc::new(Mutex::new(Vec::new()));
        let mut settings = MockSettingsRepo::new();
        settings
            .expect_get()
            .withf(|key| key == ANNOUNCED_ALLURE_VERSIONS_KEY)
            .returning(move |_| Ok(announced.clone()));
        let log = Arc::clone(&puts);
        settings.expect_put().returning(move |key, value, _| {
            assert_eq!(key, ANNOUNCED_ALLURE_VERSIONS_KEY);
            log.lock().unwrap().push(value.clone());
            Ok(())
        });
        (NotificationService::new(sink.ports(NotificationPorts { settings: Arc::new(settings), ..ports() })), puts)
    }

    #[tokio::test]
    async fn a_newer_allure_version_is_announced_once() {
        let sink = Sink::default();
        let (service, puts) = allure_service(&sink, Some(json!(["3.18.1"])));
        let n = service.allure_available("3.18.0", "3.19.1").await.unwrap().unwrap();
        assert_eq!((n.category, n.severity), (Category::Allure, Severity::Info));
        assert_eq!(
            (n.title.as_str(), n.body.as_str()),
            ("Allure 3.19.1 is available", "The server runs Allure 3.18.0.")
        );
        assert_eq!(n.payload, json!({"installed_version": "3.18.0", "latest_version": "3.19.1"}));
        assert_eq!(*puts.lock().unwrap(), [json!(["3.18.1", "3.19.1"])], "remembered with the earlier ones");

        let (service, puts) = allure_service(&sink, Some(json!(["3.19.1"])));
        assert_eq!(service.allure_available("3.18.0", "3.19.1").await.unwrap(), None, "already announced");
        assert!(puts.lock().unwrap().is_empty());
        assert_eq!(sink.stored.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn nothing_is_announced_without_a_newer_version() {
        // No settings expectations: only a newer version is looked up.
        let service = NotificationService::new(ports());
        for (installed, latest) in
            [("3.19.1", "3.19.1"), ("3.19.1", "3.18.0"), ("3.18.0", ""), ("", "3.19.1"), ("3.18.0", "3.19.0-beta.1")]
        {
            assert_eq!(service.allure_available(installed, latest).await.unwrap(), None, "{installed} {latest}");
        }
    }

    fn viewer(operational: bool) -> NotificationViewer {
        NotificationViewer { principal: "user:a@example.com".into(), operational }
    }

    #[tokio::test]
    async fn marking_or_hiding_what_the_viewer_cannot_see_is_not_found() {
        let id = NotificationId::parse("01JR90ABCDEFGHJKMNPQRSTVWX").unwrap();
        let mut repo = MockNotificationRepo::new();
        repo.expect_mark_read().returning(|v, _, at_| Ok(v.operational && at_ == at()));
        repo.expect_hide().returning(|v, _, _| Ok(v.operational));
        let service = NotificationService::new(NotificationPorts { repo: Arc::new(repo), ..ports() });
        service.mark_read(&viewer(true), id).await.unwrap();
        service.hide(&viewer(true), id).await.unwrap();
        let err = service.mark_read(&viewer(false), id).await.unwrap_err();
        assert_eq!(err.to_string(), "notification 01JR90ABCDEFGHJKMNPQRSTVWX not found");
        assert!(matches!(service.hide(&viewer(false), id).await, Err(NotificationError::NotFound(i)) if i == id));
    }

    /// A stream over fixed items.
    struct Items(std::vec::IntoIter<Result<Notification, Lagged>>);

    impl Stream for Items {
        type Item = Result<Notification, Lagged>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.0.next())
        }
    }

    fn notification(category: Category) -> Notification {
        Notification {
            id: NotificationId::from(ulid::Ulid::new()),
            title: category.to_string(),
            body: String::new(),
            category,
            severity: Severity::Info,
            payload: json!({}),
            created_at: at(),
        }
    }

    async fn drain(mut stream: NotificationStream) -> Vec<Result<Category, Lagged>> {
        let mut seen = Vec::new();
        while let Some(item) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
            seen.push(item.map(|n| n.category));
        }
        seen
    }

    #[tokio::test]
    async fn streams_leave_out_operational_notifications_for_viewers_without_manage() {
        let mut bus = MockNotificationBus::new();
        bus.expect_subscribe().returning(|| {
            let items = [Category::Upload, Category::Disk, Category::Retention, Category::Allure, Category::Upload]
                .into_iter()
                .map(|c| Ok(notification(c)))
                .chain([Err(Lagged)]);
            Box::pin(Items(items.collect::<Vec<_>>().into_iter()))
        });
        let service = NotificationService::new(NotificationPorts { bus: Arc::new(bus), ..ports() });
        assert_eq!(
            drain(service.subscribe(&viewer(false))).await,
            [Ok(Category::Upload), Ok(Category::Upload), Err(Lagged)]
        );
        assert_eq!(drain(service.subscribe(&viewer(true))).await.len(), 6, "managers see everything");
    }

    #[tokio::test]
    async fn pruning_deletes_what_is_older_than_the_retention_and_zero_keeps_everything() {
        let mut repo = MockNotificationRepo::new();
        repo.expect_prune().withf(|before| *before == at() - TimeDelta::days(30)).times(1).returning(|_| Ok(4));
        let service = NotificationService::new(NotificationPorts { repo: Arc::new(repo), ..ports() });
        assert_eq!(service.prune(30).await.unwrap(), 4);
        assert_eq!(service.prune(0).await.unwrap(), 0, "not even asked");
    }

    #[tokio::test]
    async fn lists_pass_the_viewer_and_limit_through() {
        let mut repo = MockNotificationRepo::new();
        repo.expect_list()
            .withf(|v, unread, limit| v.principal == "user:a@example.com" && *unread && *limit == 0)
            .returning(|_, _, _| {
                Ok(vec![NotificationView { notification: notification(Category::Upload), read: false }])
            });
        repo.expect_unread_count().returning(|_| Ok(3));
        repo.expect_mark_all_read().withf(|v, at_| !v.operational && *at_ == at()).times(1).returning(|_, _| Ok(()));
        let service = NotificationService::new(NotificationPorts { repo: Arc::new(repo), ..ports() });
        assert_eq!(service.list(&viewer(false), true, 0).await.unwrap().len(), 1);
        assert_eq!(service.unread_count(&viewer(false)).await.unwrap(), 3);
        service.mark_all_read(&viewer(false)).await.unwrap();
    }
}
