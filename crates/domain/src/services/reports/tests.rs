#![allow(clippy::unwrap_used)]

use std::sync::Mutex;

use super::*;
use crate::model::access::PrincipalRef;
use crate::model::build::BuildStats;
use crate::ports::clock::{MockClock, MockIdGenerator};
use crate::ports::events::MockEventBus;
use crate::ports::files::MockResultStore;
use crate::ports::generator::MockGenerationFiles;
use crate::ports::repos::{MockBuildRepo, MockEnvironmentRepo, MockJobQueue, MockProjectRepo};

fn ids() -> (EnvId, ProjectId, BuildId) {
    (EnvId::parse("staging").unwrap(), ProjectId::parse("checkout").unwrap(), BuildId::parse("b1").unwrap())
}

/// Ports whose unused members panic when touched; the project exists.
fn ports() -> ReportPorts {
    let mut projects = MockProjectRepo::new();
    projects.expect_exists().returning(|_, _| Ok(true));
    ReportPorts {
        envs: Arc::new(MockEnvironmentRepo::new()),
        projects: Arc::new(projects),
        builds: Arc::new(MockBuildRepo::new()),
        files: Arc::new(MockResultStore::new()),
        history: Arc::new(MockGenerationFiles::new()),
        jobs: Arc::new(MockJobQueue::new()),
        events: Arc::new(MockEventBus::new()),
        clock: Arc::new(MockClock::new()),
        ids: Arc::new(MockIdGenerator::new()),
        report_config: Arc::default(),
    }
}

fn service(deletion: BuildDeletion, history: MockGenerationFiles, files: MockResultStore) -> ReportService {
    let mut builds = MockBuildRepo::new();
    builds.expect_delete().returning(move |_, _, _| Ok(deletion.clone()));
    ReportService::new(ReportPorts {
        builds: Arc::new(builds),
        files: Arc::new(files),
        history: Arc::new(history),
        ..ports()
    })
}

fn at() -> crate::Timestamp {
    chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn ci() -> Principal {
    let id = crate::ids::ApiKeyId::from(ulid::Ulid::from_parts(1, 1));
    Principal {
        identity: PrincipalRef::ApiKey { id, name: "ci".into() },
        role: None,
        permissions: vec![],
        session: None,
        auto_create: false,
    }
}

type Log<T> = Arc<Mutex<Vec<T>>>;

/// How the mock store answers the n-th regeneration request (from 0).
type Answer = fn(&RegenerationRequest, usize) -> Result<Regeneration, StoreError>;

/// A regeneration service over a base config naming the report "Base", whose store answers with `answer`.
/// Returns it with the requests the store received and the sessions published.
fn regenerating(answer: Answer) -> (ReportService, Log<RegenerationRequest>, Log<UploadSession>) {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let published = Arc::new(Mutex::new(Vec::new()));
    let mut jobs = MockJobQueue::new();
    let log = Arc::clone(&requests);
    jobs.expect_queue_regeneration().returning(move |request| {
        let mut log = log.lock().unwrap();
        log.push(request.clone());
        answer(request, log.len() - 1)
    });
    let mut events = MockEventBus::new();
    let log = Arc::clone(&published);
    events.expect_publish().returning(move |event| match event {
        UploadEvent::Updated(s) => log.lock().unwrap().push(s),
        UploadEvent::Deleted(_) => panic!("nothing is deleted"),
    });
    let mut clock = MockClock::new();
    clock.expect_now().returning(at);
    let mut ids = MockIdGenerator::new();
    ids.expect_ulid().returning(ulid::Ulid::new);
    let serde_json::Value::Object(base) = serde_json::json!({"name": "Base", "variables": {"a": "1"}}) else {
        unreachable!()
    };
    let service = ReportService::new(ReportPorts {
        jobs: Arc::new(jobs),
        events: Arc::new(events),
        clock: Arc::new(clock),
        ids: Arc::new(ids),
        report_config: Arc::new(ReportConfigPolicy::new(base, vec!["awesome".into()])),
        ..ports()
    });
    (service, requests, published)
}

/// The store's copy of the request's session, with the build's statistics.
fn started(request: &RegenerationRequest) -> Regeneration {
    let mut session = request.session.clone();
    session.stats = Some(BuildStats { total: 3, passed: 3, ..BuildStats::default() });
    Regeneration::Started(session)
}

#[tokio::test]
async fn a_regeneration_queues_a_published_regenerate_session_with_the_effective_config() {
    let (env, project, build) = ids();
    let (service, requests, published) = regenerating(|r, _| Ok(started(r)));
    let change = serde_json::json!({"name": "Nightly", "output": "/etc", "variables": {"a": null, "b": "2"}});
    let session = service.regenerate(&ci(), &env, &project, &build, Some(&change)).await.unwrap();

    let requests = requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.config, serde_json::json!({"name": "Nightly", "variables": {"b": "2"}}), "merged over base");
    assert_eq!(request.warnings, ["reportConfig.output is controlled by the server and was ignored"]);
    let new = &request.session;
    assert_eq!(
        (new.kind, new.phase, new.report_url.as_deref(), new.file_name.as_deref(), new.total_chunks),
        (UploadKind::Regenerate, Phase::Generating, Some("/reports/staging/checkout/b1/index.html"), None, 0)
    );
    assert_eq!((new.uploaded_by.as_str(), new.owner.as_str()), ("apikey:ci", ci().identity.owner_key().as_str()));
    assert_eq!((new.started_at, new.updated_at, new.completed_at), (at(), at(), None));
    let job = &request.job;
    assert_eq!(
        (job.upload_id, job.state, &job.config, job.created_at),
        (Some(new.id), JobState::Queued, &request.config, at())
    );
    assert_eq!((&job.env_id, &job.project_id, &job.build_id), (&env, &project, &build));

    assert_eq!(session.stats.map(|s| s.total), Some(3), "the session as the store keeps it");
    assert_eq!(*published.lock().unwrap(), vec![session], "published once, as stored");
}

#[tokio::test]
async fn without_an_override_the_base_config_applies() {
    let (env, project, build) = ids();
    let (service, requests, _) = regenerating(|r, _| Ok(started(r)));
    service.regenerate(&ci(), &env, &project, &build, None).await.unwrap();
    let request = requests.lock().unwrap()[0].clone();
    assert_eq!(request.config, serde_json::json!({"name": "Base", "variables": {"a": "1"}}));
    assert_eq!(request.session.report_config, None);
}

#[tokio::test]
async fn a_reconfigured_queued_job_keeps_its_session_and_publishes_nothing() {
    let (env, project, build) = ids();
    let (service, _, published) = regenerating(|r, n| {
        // The first try lost a race to a concurrent request that queued the job.
        if n == 0 {
            return Err(StoreError::Conflict);
        }
        let mut upload = r.session.clone();
        upload.id = UploadId::from(ulid::Ulid::from_parts(7, 7));
        upload.kind = UploadKind::Stream;
        Ok(Regeneration::Reconfigured(upload))
    });
    let session = service.regenerate(&ci(), &env, &project, &build, None).await.unwrap();
    assert_eq!((session.id, session.kind), (UploadId::from(ulid::Ulid::from_parts(7, 7)), UploadKind::Stream));
    assert!(published.lock().unwrap().is_empty(), "the queued job's session did not change");
}

#[tokio::test]
async fn refused_regenerations_get_the_contracts_messages() {
    let (env, project, build) = ids();
    let (service, requests, _) = regenerating(|_, _| Ok(Regeneration::UploadInProgress));
    let bad = serde_json::json!({"historyLimit": 3});
    let err = service.regenerate(&ci(), &env, &project, &build, Some(&bad)).await.unwrap_err();
    assert!(matches!(&err, ReportError::Invalid(m) if m == "reportConfig.historyLimit is not allowed"), "{err}");
    assert!(requests.lock().unwrap().is_empty(), "a refused config reaches no store");
    let err = service.regenerate(&ci(), &env, &project, &build, None).await.unwrap_err();
    assert_eq!(err.to_string(), "build b1 has an upload in progress");

    for answer in [
        |_: &RegenerationRequest, _| Ok(Regeneration::BuildNotFound),
        |_: &RegenerationRequest, _| Err(StoreError::MissingParent),
    ] {
        let (service, _, published) = regenerating(answer);
        let err = service.regenerate(&ci(), &env, &project, &build, None).await.unwrap_err();
        assert_eq!(err.to_string(), "build b1 not found");
        assert!(published.lock().unwrap().is_empty());
    }
}

#[tokio::test]
async fn deleting_a_build_removes_exactly_its_history_point_and_its_files() {
    let (env, project, build) = ids();
    let mut history = MockGenerationFiles::new();
    history.expect_remove_history_point().withf(|_, _, point| point == "p-1").times(1).returning(|_, _, _| Ok(()));
    let mut files = MockResultStore::new();
    files.expect_remove_build().times(1).returning(|_, _, _| Ok(()));
    let deleted = BuildDeletion::Deleted { history_entry: Some("p-1".into()) };
    service(deleted, history, files).delete(&env, &project, &build).await.unwrap();
}

#[tokio::test]
async fn a_build_in_flight_is_not_deleted_and_its_files_stay() {
    let (env, project, build) = ids();
    for (found, text) in [
        (BuildDeletion::Generating, "build b1 is being generated"),
        (BuildDeletion::UploadInProgress, "build b1 has an upload in progress"),
        (BuildDeletion::NotFound, "build b1 not found"),
    ] {
        // No expectations on the file ports: touching them would panic.
        let err = service(found, MockGenerationFiles::new(), MockResultStore::new())
            .delete(&env, &project, &build)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), text);
    }
}
