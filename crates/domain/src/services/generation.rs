//! Report generation jobs (contract §8.3, §17.3): claim a queued job, prepare its files and history copy, run the
//! generator, publish or discard, and store the outcome with the build and session in one step; and, at start-up,
//! take back jobs a previous process left running.

use std::sync::Arc;

use crate::model::build::QualityGateResult;
use crate::model::job::GenerationJob;
use crate::model::quality_gate::{GateFacts, evaluate};
use crate::ports::{
    BuildRepo, Clock, EventBus, GenerateRequest, GenerationFiles, INTERNAL_MESSAGE, JobOutcome, JobQueue, PrepareError,
    PublishedReport, ReportGenerator, StorageError, StoreError, UploadEvent,
};

/// Interrupted runs after which a job fails instead of being queued again.
pub const MAX_ATTEMPTS: i64 = 3;

/// How a run ended, for the worker's metrics and log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// A report was generated.
    pub generated: bool,
    /// The internal cause of a server fault (storage, database), which the build and its session show only as
    /// `internal server error`: for the log, never for viewers.
    pub fault: Option<String>,
    /// Why a report no build names (the one this run replaced, or one a crashed run left) could not be deleted:
    /// harmless to viewers, for the log; the build's next run, or its deletion, removes it.
    pub leftover: Option<String>,
    /// The storage could not be reached (the cause, for the log): the run stored no outcome and the job is still
    /// running. An outage passes, so the job must not fail for good: the caller waits a moment (so that the job
    /// is not claimed again at once) and then hands it back with [`GenerationService::release`].
    pub deferred: Option<String>,
}

/// Why a run failed: a contract text (§8.3) that viewers see, a server fault whose detail stays in the log, or a
/// storage that could not be reached, which ends the run without an outcome.
enum Failure {
    Shown(String),
    Fault(String),
    Unavailable(String),
}

/// The ports [`GenerationService`] works through, named so that two of one type cannot be swapped.
#[derive(Clone)]
pub struct GenerationPorts {
    /// The durable job queue.
    pub queue: Arc<dyn JobQueue>,
    /// Builds, settled when their job ends.
    pub builds: Arc<dyn BuildRepo>,
    /// The job's local workspace and publishing its report.
    pub files: Arc<dyn GenerationFiles>,
    /// Runs the Allure CLI.
    pub generator: Arc<dyn ReportGenerator>,
    /// Live progress of the build's session.
    pub events: Arc<dyn EventBus>,
    /// Start and end times of runs.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for GenerationPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerationPorts").finish_non_exhaustive()
    }
}

/// The generation use cases.
#[derive(Clone)]
pub struct GenerationService {
    queue: Arc<dyn JobQueue>,
    builds: Arc<dyn BuildRepo>,
    files: Arc<dyn GenerationFiles>,
    generator: Arc<dyn ReportGenerator>,
    events: Arc<dyn EventBus>,
    clock: Arc<dyn Clock>,
    /// `HISTORY_LIMIT`.
    history_limit: usize,
}

impl std::fmt::Debug for GenerationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerationService").field("history_limit", &self.history_limit).finish_non_exhaustive()
    }
}

impl GenerationService {
    /// Wires the use cases.
    pub fn new(ports: GenerationPorts, history_limit: usize) -> Self {
        let GenerationPorts { queue, builds, files, generator, events, clock } = ports;
        Self { queue, builds, files, generator, events, clock, history_limit }
    }

    /// §17.3 at start-up: running jobs go back to the queue; those interrupted too often fail (and are published).
    ///
    /// # Errors
    /// A database failure.
    pub async fn recover(&self) -> Result<usize, StoreError> {
        let failed = self.queue.requeue_running(MAX_ATTEMPTS, self.clock.now()).await?;
        let count = failed.len();
        for session in failed {
            self.events.publish(UploadEvent::Updated(session));
        }
        Ok(count)
    }

    /// §17.4: a job stopped by a shutdown goes back to the queue without counting an attempt; so does one whose
    /// storage could not be reached ([`RunSummary::deferred`]).
    ///
    /// # Errors
    /// A database failure (the job then counts as interrupted at the next start).
    pub async fn release(&self, job: &GenerationJob) -> Result<(), StoreError> {
        self.queue.release(job).await
    }

    /// The next job to run, now marked running, unless `max_running` already run.
    ///
    /// # Errors
    /// A database failure.
    pub async fn claim(&self, max_running: i64) -> Result<Option<GenerationJob>, StoreError> {
        self.queue.claim_next(max_running, self.clock.now()).await
    }

    /// Runs a claimed job to its end and stores the outcome.
    ///
    /// # Errors
    /// A database failure while storing the outcome (the job then stays running until the next start-up).
    pub async fn run(&self, job: GenerationJob) -> Result<RunSummary, StoreError> {
        // What a crashed earlier run of this build may have published without the build ever naming it.
        let current = self.builds.get(&job.env_id, &job.project_id, &job.build_id).await?.and_then(|b| b.report_key);
        let mut leftover = self.clean_reports(&job, current).await;
        let (result, mut warnings) = self.generate(&job).await;
        let (result, fault) = match result {
            Ok(point) => (Ok(point), None),
            Err(Failure::Shown(text)) => (Err(text), None),
            Err(Failure::Fault(cause)) => (Err(INTERNAL_MESSAGE.to_owned()), Some(cause)),
            Err(Failure::Unavailable(cause)) => {
                return Ok(RunSummary { generated: false, fault: None, leftover, deferred: Some(cause) });
            }
        };
        let quality_gate = match result {
            Ok(_) => self.quality_gate(&job, &mut warnings).await?,
            Err(_) => None,
        };
        let outcome = JobOutcome { finished_at: self.clock.now(), result, warnings, quality_gate };
        if let Some(session) = self.queue.finish(&job, &outcome).await? {
            self.events.publish(UploadEvent::Updated(session));
        }
        // The report the new one replaced, now that the build names the new one.
        if let Ok(published) = &outcome.result {
            leftover = leftover.or(self.clean_reports(&job, Some(published.key.clone())).await);
        }
        Ok(RunSummary { generated: outcome.result.is_ok(), fault, leftover, deferred: None })
    }

    /// Deletes the build's reports but `keep`; says why it could not (harmless: nothing names them).
    async fn clean_reports(&self, job: &GenerationJob, keep: Option<String>) -> Option<String> {
        let removed = self.files.remove_other_reports(&job.env_id, &job.project_id, &job.build_id, keep).await;
        removed.err().map(|e| e.to_string())
    }

    /// §8.3: the server evaluates the effective config's gate itself on the build's statistics (the CLI's
    /// `generate` never does); problems in the rules, which can only come from the trusted base config, are
    /// warnings.
    async fn quality_gate(
        &self,
        job: &GenerationJob,
        warnings: &mut Vec<String>,
    ) -> Result<Option<QualityGateResult>, StoreError> {
        let Some(build) = self.builds.get(&job.env_id, &job.project_id, &job.build_id).await? else {
            return Ok(None);
        };
        let (gate, problems) =
            evaluate(&job.config, &GateFacts { stats: build.stats, longest_test_ms: build.longest_test_ms });
        warnings.extend(problems);
        Ok(gate)
    }

    /// Steps 2–7 of §8.3 for one job: the new history point, or the failure text; and the warnings.
    async fn generate(&self, job: &GenerationJob) -> (Result<PublishedReport, Failure>, Vec<String>) {
        let leave_out = match self.queue.history_entry(job).await {
            Ok(entry) => entry,
            Err(e) => return (Err(Failure::Fault(e.to_string())), Vec::new()),
        };
        let workspace = match self.files.prepare(job, leave_out, self.history_limit).await {
            Ok(workspace) => workspace,
            Err(e @ PrepareError::ResultsMissing(_)) => return (Err(Failure::Shown(e.to_string())), Vec::new()),
            Err(PrepareError::Storage(e)) => return (Err(storage_failure(&e, e.message().to_owned())), Vec::new()),
        };
        let mut config = match &job.config {
            serde_json::Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        // Server-controlled keys, always set here (§8.2); the limit keeps history and reports from growing forever.
        config.insert("output".into(), path_value(&workspace.output_dir));
        config.insert("historyPath".into(), path_value(&workspace.history_path));
        config.insert("historyLimit".into(), serde_json::json!(self.history_limit + 1));
        let request = GenerateRequest {
            results_dir: workspace.results_dir.clone(),
            output_dir: workspace.output_dir.clone(),
            work_dir: workspace.work_dir.clone(),
            config: serde_json::Value::Object(config),
        };
        let outcome = match self.generator.generate(request).await {
            Ok(generated) => match self.files.publish(job, &workspace).await {
                Ok(published) => (Ok(published), generated.warnings),
                Err(e) => (Err(storage_failure(&e, e.to_string())), generated.warnings),
            },
            Err(e) => (Err(Failure::Shown(e.to_string())), Vec::new()),
        };
        self.files.discard(&workspace).await;
        outcome
    }
}

/// A storage failure of a run, with its cause for the log: passing when the storage could not be reached, else a
/// fault.
fn storage_failure(e: &StorageError, cause: String) -> Failure {
    if e.is_unavailable() { Failure::Unavailable(cause) } else { Failure::Fault(cause) }
}

fn path_value(path: &std::path::Path) -> serde_json::Value {
    serde_json::Value::String(path.display().to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::PathBuf;
    use std::sync::Mutex;

    use super::*;
    use crate::ids::{BuildId, EnvId, JobId, ProjectId};
    use crate::model::build::{Build, BuildStats, BuildStatus, QualityGateFailure};
    use crate::model::job::JobState;
    use crate::ports::clock::MockClock;
    use crate::ports::events::MockEventBus;
    use crate::ports::generator::{MockGenerationFiles, MockReportGenerator};
    use crate::ports::repos::{MockBuildRepo, MockJobQueue};
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
    fn service(
        generated: Result<Generated, GenerateError>,
    ) -> (GenerationService, Log<JobOutcome>, Log<GenerateRequest>) {
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
        let removed = Arc::new(Mutex::new(Vec::new()));
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let mut queue = MockJobQueue::new();
        queue.expect_history_entry().returning(|_| Ok(Some("old-point".into())));
        let log = Arc::clone(&outcomes);
        queue.expect_finish().returning(move |_, outcome| {
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
        files.expect_remove_other_reports().returning(move |_, _, _, keep| {
            log.lock().unwrap().push(keep);
            Ok(())
        });
        files.expect_discard().times(1).return_const(());
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
        let ports = GenerationPorts {
            queue: Arc::new(queue),
            builds: Arc::new(builds),
            files: Arc::new(files),
            generator: Arc::new(generator),
            events: Arc::new(MockEventBus::new()),
            clock: Arc::new(clock),
        };
        let service = GenerationService::new(ports, 20);
        (service, outcomes, requests, removed)
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
        queue.expect_finish().returning(move |_, outcome| {
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
            generator: Arc::new(generator),
            events: Arc::new(MockEventBus::new()),
            clock: Arc::new(clock),
        };
        (GenerationService::new(ports, 20), outcomes)
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
}
