#![allow(clippy::unwrap_used)]

use std::sync::Mutex;

use super::*;
use crate::Timestamp;
use chrono::TimeDelta;

use crate::ids::{BuildId, EnvId, ProjectId, UploadId};
use crate::model::build::report_url;
use crate::model::build::{Build, BuildStatus, QualityGateFailure, QualityGateResult};
use crate::model::environment::{Environment, EnvironmentView};
use crate::model::names::{DisplayName, Icon};
use crate::model::notification::NotificationView;
use crate::model::project::{Project, ProjectView};
use crate::model::retention::CleanupRun;
use crate::model::retention::{CleanupStatus, CleanupTrigger};
use crate::model::upload::UploadKind;
use crate::model::upload::{Phase, UploadSession};
use crate::ports::NotificationViewer;
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
        report_key: None,
        stored_bytes: None,
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
    let service = build_service(&sink, Some(build(true, Some(QualityGateResult { passed: true, failures: vec![] }))));
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
    assert_eq!((&n.payload["url"], &n.payload["failed"], &n.payload["broken"]), (&json!(URL), &json!(4), &json!(1)));

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
    settings.expect_get().withf(|key| key == ANNOUNCED_ALLURE_VERSIONS_KEY).returning(move |_| Ok(announced.clone()));
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
    assert_eq!((n.title.as_str(), n.body.as_str()), ("Allure 3.19.1 is available", "The server runs Allure 3.18.0."));
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
        .returning(|_, _, _| Ok(vec![NotificationView { notification: notification(Category::Upload), read: false }]));
    repo.expect_unread_count().returning(|_| Ok(3));
    repo.expect_mark_all_read().withf(|v, at_| !v.operational && *at_ == at()).times(1).returning(|_, _| Ok(()));
    let service = NotificationService::new(NotificationPorts { repo: Arc::new(repo), ..ports() });
    assert_eq!(service.list(&viewer(false), true, 0).await.unwrap().len(), 1);
    assert_eq!(service.unread_count(&viewer(false)).await.unwrap(), 3);
    service.mark_all_read(&viewer(false)).await.unwrap();
}
