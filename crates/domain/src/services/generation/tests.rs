#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Mutex;

use super::*;
use crate::ids::{BuildId, EnvId, JobId, ProjectId};
use crate::model::build::{Build, BuildStats, BuildStatus, QualityGateFailure};
use crate::model::job::JobState;
use crate::ports::clock::MockClock;
use crate::ports::events::MockEventBus;
use crate::ports::files::MockResultStore;
use crate::ports::generator::{MockGenerationFiles, MockReportGenerator};
use crate::ports::repos::{MockBuildRepo, MockJobQueue};
use crate::ports::stale_reports::MockStaleReports;
use crate::ports::{GenerateError, Generated, Workspace};

fn job() -> GenerationJob {
    GenerationJob {
        id: JobId::from(ulid::Ulid::nil()),
        env_id: EnvId::parse("staging").unwrap(),
        project_id: ProjectId::parse("checkout").unwrap(),
        build_id: BuildId::parse("b1").unwrap(),
        upload_id: None,
        state: JobState::Running,
        config: serde_json::json!({
            "name": "Nightly",
            "output": "/elsewhere",
            "qualityGate": {"rules": [{"maxFailures": 1}, {"id": "speed", "maxDuration": 500}]}
        }),
        attempts: 0,
        created_at: chrono::DateTime::UNIX_EPOCH,
        started_at: None,
        finished_at: None,
        error: None,
    }
}

fn workspace() -> Workspace {
    Workspace {
        results_dir: PathBuf::from("/d/results"),
        output_dir: PathBuf::from("/d/tmp/job/out"),
        work_dir: PathBuf::from("/d/tmp/job/work"),
        history_path: PathBuf::from("/d/tmp/job/history.jsonl"),
    }
}

type Log<T> = Arc<Mutex<Vec<T>>>;

/// A service whose generator answers `generated`; returns the outcomes it stores and what it asked to generate.
fn service(generated: Result<Generated, GenerateError>) -> (GenerationService, Log<JobOutcome>, Log<GenerateRequest>) {
    let (service, outcomes, requests, _) = service_replacing(generated, None, "r2");
    (service, outcomes, requests)
}

/// [`service`] for a build whose report is stored under `previous`, publishing under `key`; also returns the
/// key kept by each clean-up of the build's other reports.
fn service_replacing(
    generated: Result<Generated, GenerateError>,
    previous: Option<&'static str>,
    key: &'static str,
) -> (GenerationService, Log<JobOutcome>, Log<GenerateRequest>, Log<Option<String>>) {
    let (service, logs) = service_sized(generated, previous, key, Sizes::measured(4096));
    (service, logs.outcomes, logs.requests, logs.removed)
}

/// What the storage answers when the build is measured, and the database when the size is kept.
struct Sizes {
    measured: Result<u64, StorageError>,
    /// Why the database refuses the value, if it does.
    refused: Option<&'static str>,
}

impl Sizes {
    fn measured(bytes: u64) -> Self {
        Self { measured: Ok(bytes), refused: None }
    }
}

/// What a service of [`service_sized`] did.
struct Logs {
    outcomes: Log<JobOutcome>,
    requests: Log<GenerateRequest>,
    /// The key kept by each clean-up of the build's other reports.
    removed: Log<Option<String>>,
    /// Each size kept, with the number of clean-ups done by then.
    sizes: Log<(usize, Option<i64>)>,
    /// The key kept by each clean-up after which the build was forgotten by the record of stale reports.
    forgotten: Log<Option<String>>,
    /// How many times the build was recorded for the sweep.
    recorded: Log<BuildId>,
}

/// [`service_replacing`] whose storage and database answer `sizes` about the build's stored bytes.
fn service_sized(
    generated: Result<Generated, GenerateError>,
    previous: Option<&'static str>,
    key: &'static str,
    sizes: Sizes,
) -> (GenerationService, Logs) {
    service_cleaning(generated, previous, key, sizes, Cleaning::default())
}

/// How the storage and the record of stale reports answer the clean-ups of [`service_cleaning`].
#[derive(Default)]
struct Cleaning {
    /// Why the storage refuses to delete the build's other reports, if it does.
    refused: Option<StorageError>,
    /// Why the database refuses to record or forget the build, if it does.
    unrecorded: Option<&'static str>,
    /// The job's lease ran out while it ran: the queue refuses its outcome.
    lease_lost: bool,
}

/// [`service_sized`] whose clean-ups answer `cleaning`.
fn service_cleaning(
    generated: Result<Generated, GenerateError>,
    previous: Option<&'static str>,
    key: &'static str,
    sizes: Sizes,
    cleaning: Cleaning,
) -> (GenerationService, Logs) {
    let removed = Arc::new(Mutex::new(Vec::new()));
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let kept_sizes = Arc::new(Mutex::new(Vec::new()));
    let mut queue = MockJobQueue::new();
    queue.expect_history_entry().returning(|_| Ok(Some("old-point".into())));
    let log = Arc::clone(&outcomes);
    let lease_lost = cleaning.lease_lost;
    queue.expect_finish().returning(move |_, node, outcome| {
        assert_eq!(node.as_str(), "node-a", "finished as this node");
        if lease_lost {
            return Err(StoreError::Conflict);
        }
        log.lock().unwrap().push(outcome.clone());
        Ok(None)
    });
    let mut files = MockGenerationFiles::new();
    files
        .expect_prepare()
        .withf(|_, leave_out, limit| leave_out.as_deref() == Some("old-point") && *limit == 20)
        .returning(|_, _, _| Ok(workspace()));
    files
        .expect_publish()
        .returning(move |_, _| Ok(PublishedReport { key: key.to_owned(), point: Some("new-point".into()) }));
    let log = Arc::clone(&removed);
    let refused = cleaning.refused.clone();
    files.expect_remove_other_reports().returning(move |_, _, _, keep| {
        log.lock().unwrap().push(keep);
        refused.clone().map_or(Ok(()), Err)
    });
    files.expect_discard().times(1).return_const(());
    let (forgotten, recorded) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
    let mut stale = MockStaleReports::new();
    let (log, unrecorded) = (Arc::clone(&forgotten), cleaning.unrecorded);
    stale.expect_forget().returning(move |_, kept| {
        log.lock().unwrap().push(kept);
        unrecorded.map_or(Ok(true), |why| Err(StoreError::Unavailable(why.into())))
    });
    let log = Arc::clone(&recorded);
    stale.expect_record().returning(move |build| {
        log.lock().unwrap().push(build.build.clone());
        unrecorded.map_or(Ok(()), |why| Err(StoreError::Unavailable(why.into())))
    });
    let mut generator = MockReportGenerator::new();
    let log = Arc::clone(&requests);
    generator.expect_generate().returning(move |request| {
        log.lock().unwrap().push(request);
        generated.clone()
    });
    let mut clock = MockClock::new();
    clock.expect_now().returning(|| chrono::DateTime::UNIX_EPOCH);
    let mut builds = MockBuildRepo::new();
    builds.expect_get().returning(move |env, project, build| {
        Ok(Some(Build {
            env_id: env.clone(),
            project_id: project.clone(),
            build_id: build.clone(),
            status: BuildStatus::Generating,
            created_at: chrono::DateTime::UNIX_EPOCH,
            completed_at: None,
            uploaded_by: "apikey:ci".into(),
            has_report: previous.is_some(),
            report_key: previous.map(str::to_owned),
            stored_bytes: None,
            stats: BuildStats { total: 3, passed: 1, failed: 1, broken: 1, ..BuildStats::default() },
            longest_test_ms: 400,
            quality_gate: None,
            warnings: vec![],
            error: None,
            config: serde_json::json!({}),
        }))
    });
    let (log, cleanups) = (Arc::clone(&kept_sizes), Arc::clone(&removed));
    builds.expect_set_stored_bytes().returning(move |_, _, _, bytes| {
        log.lock().unwrap().push((cleanups.lock().unwrap().len(), bytes));
        sizes.refused.map_or(Ok(true), |why| Err(StoreError::Unavailable(why.into())))
    });
    let mut results = MockResultStore::new();
    results.expect_build_bytes().returning(move |_, _, _| sizes.measured.clone());
    let ports = GenerationPorts {
        queue: Arc::new(queue),
        builds: Arc::new(builds),
        files: Arc::new(files),
        results: Arc::new(results),
        stale: Arc::new(stale),
        generator: Arc::new(generator),
        events: Arc::new(MockEventBus::new()),
        clock: Arc::new(clock),
    };
    let service = GenerationService::new(ports, 20, holder());
    (service, Logs { outcomes, requests, removed, sizes: kept_sizes, forgotten, recorded })
}

#[tokio::test]
async fn a_run_uses_server_controlled_paths_and_records_the_new_point() {
    let (service, outcomes, requests) = service(Ok(Generated { warnings: vec!["harmless".into()] }));
    service.run(job()).await.unwrap();
    let config = requests.lock().unwrap()[0].config.clone();
    assert_eq!(
        config,
        serde_json::json!({
            "name": "Nightly",
            "qualityGate": {"rules": [{"maxFailures": 1}, {"id": "speed", "maxDuration": 500}]},
            "output": "/d/tmp/job/out",
            "historyPath": "/d/tmp/job/history.jsonl",
            "historyLimit": 21
        })
    );
    let outcome = outcomes.lock().unwrap()[0].clone();
    let published = PublishedReport { key: "r2".into(), point: Some("new-point".into()) };
    assert_eq!((outcome.result, outcome.warnings), (Ok(published), vec!["harmless".to_owned()]));
    let gate = outcome.quality_gate.unwrap();
    assert!(!gate.passed, "failed + broken = 2 > 1");
    assert_eq!(
        gate.failures,
        vec![QualityGateFailure {
            rule: "maxFailures".into(),
            expected: serde_json::json!(1),
            actual: serde_json::json!(2),
            message: "The number of failed tests 2 exceeds the allowed threshold value 1".into(),
        }],
        "the second ruleset (longest test 400 ms ≤ 500) passes"
    );
}

#[tokio::test]
async fn a_failed_run_stores_the_contract_text_and_publishes_nothing() {
    let (service, outcomes, _) = service(Err(GenerateError::TimedOut("10m".into())));
    service.run(job()).await.unwrap();
    let outcome = outcomes.lock().unwrap()[0].clone();
    assert_eq!(outcome.result, Err("allure generate timed out after 10m".into()));
    assert_eq!(outcome.quality_gate, None, "a failure keeps the last successful generation's gate");
}

#[tokio::test]
async fn a_run_keeps_only_the_report_the_build_names_before_and_after_it() {
    let generated = || Ok(Generated { warnings: vec![] });
    let (service, outcomes, _, kept) = service_replacing(generated(), Some("r1"), "r2");
    service.run(job()).await.unwrap();
    assert_eq!(outcomes.lock().unwrap().len(), 1);
    // Before: what a crashed run left beside the current report; after, with the new key stored: the old one.
    assert_eq!(*kept.lock().unwrap(), [Some("r1".to_owned()), Some("r2".to_owned())]);

    // A build without a report yet has no report to keep; a failed run keeps the build's report.
    let (service, _, _, kept) = service_replacing(Err(GenerateError::NoIndex), None, "r2");
    service.run(job()).await.unwrap();
    assert_eq!(*kept.lock().unwrap(), [None]);
    let (service, _, _, kept) = service_replacing(Err(GenerateError::NoIndex), Some("r1"), "r2");
    service.run(job()).await.unwrap();
    assert_eq!(*kept.lock().unwrap(), [Some("r1".to_owned())]);
}

/// A service whose storage fails with `error` while preparing (or, `at_publish`, while publishing); returns it
/// with the outcomes it stores.
fn failing_storage(error: StorageError, at_publish: bool) -> (GenerationService, Log<JobOutcome>) {
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let mut queue = MockJobQueue::new();
    queue.expect_history_entry().returning(|_| Ok(None));
    let log = Arc::clone(&outcomes);
    queue.expect_finish().returning(move |_, _, outcome| {
        log.lock().unwrap().push(outcome.clone());
        Ok(None)
    });
    let mut files = MockGenerationFiles::new();
    files.expect_remove_other_reports().returning(|_, _, _, _| Ok(()));
    if at_publish {
        files.expect_prepare().returning(|_, _, _| Ok(workspace()));
        files.expect_publish().returning(move |_, _| Err(error.clone()));
        files.expect_discard().times(1).return_const(());
    } else {
        files.expect_prepare().returning(move |_, _, _| Err(PrepareError::Storage(error.clone())));
    }
    let mut generator = MockReportGenerator::new();
    generator.expect_generate().returning(|_| Ok(Generated { warnings: vec![] }));
    let mut builds = MockBuildRepo::new();
    builds.expect_get().returning(|_, _, _| Ok(None));
    let mut clock = MockClock::new();
    clock.expect_now().returning(|| chrono::DateTime::UNIX_EPOCH);
    let ports = GenerationPorts {
        queue: Arc::new(queue),
        builds: Arc::new(builds),
        files: Arc::new(files),
        results: Arc::new(MockResultStore::new()),
        stale: Arc::new(MockStaleReports::new()),
        generator: Arc::new(generator),
        events: Arc::new(MockEventBus::new()),
        clock: Arc::new(clock),
    };
    (GenerationService::new(ports, 20, holder()), outcomes)
}

#[tokio::test]
async fn an_unreachable_storage_stores_no_outcome_and_leaves_the_job_to_be_tried_again() {
    for at_publish in [false, true] {
        let (service, outcomes) = failing_storage(StorageError::unavailable("connection refused"), at_publish);
        let summary = service.run(job()).await.unwrap();
        assert!(outcomes.lock().unwrap().is_empty(), "the build does not fail (at publish: {at_publish})");
        assert_eq!((summary.generated, summary.fault), (false, None));
        assert!(summary.deferred.unwrap().contains("connection refused"));

        // Any other storage failure is a fault that fails the build, as before.
        let (service, outcomes) = failing_storage(StorageError::new("disk full"), at_publish);
        let summary = service.run(job()).await.unwrap();
        assert_eq!(outcomes.lock().unwrap()[0].result, Err(INTERNAL_MESSAGE.to_owned()));
        assert!(summary.fault.unwrap().contains("disk full"));
        assert_eq!(summary.deferred, None);
    }
}

#[tokio::test]
async fn a_published_report_keeps_what_the_build_holds_once_the_replaced_one_is_gone() {
    let generated = || Ok(Generated { warnings: vec![] });
    let (service, logs) = service_sized(generated(), Some("r1"), "r2", Sizes::measured(4096));
    let summary = service.run(job()).await.unwrap();
    assert_eq!(*logs.sizes.lock().unwrap(), [(2, Some(4096))], "measured once, after both clean-ups");
    assert_eq!((summary.generated, summary.unmeasured), (true, None));

    // A failed run changed no report: nothing is measured.
    let (service, logs) = service_sized(Err(GenerateError::NoIndex), Some("r1"), "r2", Sizes::measured(4096));
    service.run(job()).await.unwrap();
    assert!(logs.sizes.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_size_that_cannot_be_measured_or_kept_never_fails_the_run() {
    let generated = || Ok(Generated { warnings: vec![] });
    // The storage cannot say: the size is unknown, rather than the replaced report's.
    let sizes = Sizes { measured: Err(StorageError::new("listing failed")), refused: None };
    let (service, logs) = service_sized(generated(), Some("r1"), "r2", sizes);
    let summary = service.run(job()).await.unwrap();
    assert_eq!(*logs.sizes.lock().unwrap(), [(2, None)]);
    assert_eq!((summary.generated, summary.fault, summary.unmeasured), (true, None, None));
    assert!(logs.outcomes.lock().unwrap()[0].result.is_ok(), "the build is ready");

    // The database refuses the value: said for the log, and the run still succeeded.
    let sizes = Sizes { measured: Ok(10), refused: Some("database is locked") };
    let (service, _) = service_sized(generated(), None, "r2", sizes);
    let summary = service.run(job()).await.unwrap();
    assert!(summary.generated);
    assert!(summary.unmeasured.unwrap().contains("database is locked"));
}

#[tokio::test]
async fn a_replaced_report_once_deleted_is_forgotten_by_the_record_its_switch_wrote() {
    let generated = || Ok(Generated { warnings: vec![] });
    let (service, logs) = service_sized(generated(), Some("r1"), "r2", Sizes::measured(4096));
    let summary = service.run(job()).await.unwrap();
    assert_eq!(summary.leftover, None);
    assert_eq!(*logs.forgotten.lock().unwrap(), [Some("r2".to_owned())], "forgotten while it names r2");
    assert!(logs.recorded.lock().unwrap().is_empty(), "the switch records it, not the run");

    // Published in place, or the build's first report: the switch recorded nothing, and nothing is forgotten.
    for previous in [Some("r2"), None] {
        let (service, logs) = service_sized(generated(), previous, "r2", Sizes::measured(4096));
        service.run(job()).await.unwrap();
        assert!(logs.forgotten.lock().unwrap().is_empty(), "previous {previous:?}");
    }
}

#[tokio::test]
async fn a_report_that_cannot_be_deleted_leaves_the_build_recorded_for_the_sweep() {
    let generated = || Ok(Generated { warnings: vec![] });
    let refused = || Some(StorageError::unavailable("connection refused"));
    let cleaning = Cleaning { refused: refused(), ..Cleaning::default() };
    let (service, logs) = service_cleaning(generated(), Some("r1"), "r2", Sizes::measured(1), cleaning);
    let summary = service.run(job()).await.unwrap();
    assert!(summary.generated, "the build is ready with its new report all the same");
    assert_eq!(summary.leftover.as_deref(), Some("storage error: connection refused"));
    assert_eq!(logs.recorded.lock().unwrap().len(), 2, "recorded after each failed clean-up, before and after");
    assert!(logs.forgotten.lock().unwrap().is_empty(), "the replaced report is still there");

    // The database cannot record it either: the cause says so.
    let cleaning = Cleaning { refused: refused(), unrecorded: Some("database is locked"), ..Cleaning::default() };
    let (service, _) = service_cleaning(generated(), Some("r1"), "r2", Sizes::measured(1), cleaning);
    let leftover = service.run(job()).await.unwrap().leftover.unwrap();
    assert!(leftover.contains("connection refused") && leftover.contains("database is locked"), "{leftover}");

    // Deleted, but not forgotten: the sweep finds nothing left and forgets it later.
    let cleaning = Cleaning { unrecorded: Some("database is locked"), ..Cleaning::default() };
    let (service, _) = service_cleaning(generated(), Some("r1"), "r2", Sizes::measured(1), cleaning);
    let leftover = service.run(job()).await.unwrap().leftover.unwrap();
    assert!(leftover.contains("stays recorded"), "{leftover}");
}

/// This node, with a lease long enough for any test.
fn holder() -> JobHolder {
    JobHolder { node: NodeId::parse("node-a").unwrap(), lease: std::time::Duration::from_secs(30) }
}

#[tokio::test]
async fn a_run_that_lost_its_lease_drops_its_outcome_and_leaves_its_report_to_the_sweep() {
    let cleaning = Cleaning { lease_lost: true, ..Cleaning::default() };
    let generated = Ok(Generated { warnings: vec![] });
    let (service, logs) = service_cleaning(generated, Some("r1"), "r2", Sizes::measured(1), cleaning);
    let summary = service.run(job()).await.unwrap();
    assert!(!summary.generated);
    assert!(summary.fault.as_deref().is_some_and(|f| f.contains("node-a lost the job's lease")), "{summary:?}");
    assert!(logs.outcomes.lock().unwrap().is_empty(), "no outcome stored");
    assert_eq!(*logs.recorded.lock().unwrap(), [BuildId::parse("b1").unwrap()], "its report is left to the sweep");
    assert_eq!(*logs.removed.lock().unwrap(), [Some("r1".to_owned())], "only the clean-up before the run");
    assert!(logs.sizes.lock().unwrap().is_empty(), "the build is not measured for a dropped run");
}

#[tokio::test]
async fn claims_renewals_and_releases_name_this_node_and_its_lease() {
    let mut queue = MockJobQueue::new();
    let lease_end = chrono::DateTime::UNIX_EPOCH + chrono::TimeDelta::seconds(30);
    queue
        .expect_claim_next()
        .withf(move |max, _, lease| *max == 2 && lease.node.as_str() == "node-a" && lease.until == lease_end)
        .returning(|_, _, _| Ok(None));
    queue
        .expect_renew()
        .withf(move |node, until| node.as_str() == "node-a" && *until == lease_end)
        .returning(|_, _| Ok(1));
    queue.expect_release().withf(|_, node| node.as_str() == "node-a").returning(|_, _| Ok(()));
    queue
        .expect_requeue_abandoned()
        .withf(|max, _, restarted| *max == MAX_ATTEMPTS && restarted.as_ref().map(NodeId::as_str) == Some("node-a"))
        .times(1)
        .returning(|_, _, _| Ok(vec![]));
    queue
        .expect_requeue_abandoned()
        .withf(|_, _, restarted| restarted.is_none())
        .times(1)
        .returning(|_, _, _| Ok(vec![]));
    let mut clock = MockClock::new();
    clock.expect_now().returning(|| chrono::DateTime::UNIX_EPOCH);
    let ports = GenerationPorts {
        queue: Arc::new(queue),
        builds: Arc::new(MockBuildRepo::new()),
        files: Arc::new(MockGenerationFiles::new()),
        results: Arc::new(MockResultStore::new()),
        stale: Arc::new(MockStaleReports::new()),
        generator: Arc::new(MockReportGenerator::new()),
        events: Arc::new(MockEventBus::new()),
        clock: Arc::new(clock),
    };
    let service = GenerationService::new(ports, 20, holder());
    assert_eq!(service.claim(2).await.unwrap(), None);
    assert_eq!(service.renew_leases().await.unwrap(), 1);
    service.release(&job()).await.unwrap();
    assert_eq!(service.recover().await.unwrap(), 0, "at start-up: this node's previous process's jobs too");
    assert_eq!(service.take_back_abandoned().await.unwrap(), 0, "while running: expired leases only");
}
