//! Regenerating, reading and deleting builds and their reports (contract §8.1, §8.4–8.8), and resolving report
//! URLs (§8.9).

use std::sync::Arc;

use thiserror::Error;

use crate::ids::{BuildId, EnvId, JobId, ProjectId, UploadId};
use crate::model::access::Principal;
use crate::model::build::{Build, BuildNeighbours, OutcomeFilter, ProjectStats, report_url};
use crate::model::job::{GenerationJob, JobState};
use crate::model::page::{Page, PageRequest};
use crate::model::report_config::ReportConfigPolicy;
use crate::model::upload::{Phase, UploadKind, UploadSession};
use crate::ports::{
    BuildDeletion, BuildRepo, Clock, EnvironmentRepo, EventBus, GenerationFiles, IdGenerator, JobQueue, ProjectRepo,
    Regeneration, RegenerationRequest, ResultStore, StorageError, StoreError, UploadEvent,
};

/// Why a report operation failed. The messages are the contract's.
#[derive(Debug, Error)]
pub enum ReportError {
    /// The environment does not exist.
    #[error("environment {0} not found")]
    EnvironmentNotFound(EnvId),
    /// The project does not exist in the environment.
    #[error("project {project} not found in environment {env}")]
    ProjectNotFound {
        /// Environment searched.
        env: EnvId,
        /// Project not found.
        project: ProjectId,
    },
    /// The build does not exist in the project.
    #[error("build {0} not found")]
    BuildNotFound(BuildId),
    /// No build of the project is ready (the `latest` alias).
    #[error("no ready build in project {0}")]
    NoReadyBuild(ProjectId),
    /// A job of the build is queued or running.
    #[error("build {0} is being generated")]
    BeingGenerated(BuildId),
    /// An upload of the build is receiving or assembling.
    #[error("build {0} has an upload in progress")]
    UploadInProgress(BuildId),
    /// 400: a request field broke a rule (the `reportConfig` rules of §8.2); the message is the contract's.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The file storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The ports the report use cases need.
#[derive(Clone)]
pub struct ReportPorts {
    /// Environments (for the 404 of a missing one).
    pub envs: Arc<dyn EnvironmentRepo>,
    /// Projects (for the 404 of a missing one).
    pub projects: Arc<dyn ProjectRepo>,
    /// Builds.
    pub builds: Arc<dyn BuildRepo>,
    /// Result and report files.
    pub files: Arc<dyn ResultStore>,
    /// Project history files.
    pub history: Arc<dyn GenerationFiles>,
    /// Generation jobs (regeneration queues or reconfigures them).
    pub jobs: Arc<dyn JobQueue>,
    /// Live upload events: a regeneration's session is published like an upload's.
    pub events: Arc<dyn EventBus>,
    /// Time of new sessions and jobs.
    pub clock: Arc<dyn Clock>,
    /// Ids of new sessions and jobs.
    pub ids: Arc<dyn IdGenerator>,
    /// Base report config and plugin allowlist, for a regeneration's effective config (§8.2).
    pub report_config: Arc<ReportConfigPolicy>,
}

impl std::fmt::Debug for ReportPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportPorts").finish_non_exhaustive()
    }
}

/// The report use cases.
#[derive(Clone)]
pub struct ReportService {
    ports: ReportPorts,
}

impl std::fmt::Debug for ReportService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportService").finish_non_exhaustive()
    }
}

impl ReportService {
    /// Wires the use cases.
    pub fn new(ports: ReportPorts) -> Self {
        Self { ports }
    }

    /// The 404s of §8.4–8.8, environment first.
    async fn require_project(&self, env: &EnvId, project: &ProjectId) -> Result<(), ReportError> {
        if self.ports.projects.exists(env, project).await? {
            return Ok(());
        }
        if self.ports.envs.exists(env).await? {
            Err(ReportError::ProjectNotFound { env: env.clone(), project: project.clone() })
        } else {
            Err(ReportError::EnvironmentNotFound(env.clone()))
        }
    }

    /// §8.1: generates the build's report again with `report_config` merged over the base config. A job of the
    /// build still queued gets the new config instead of a second run; otherwise a job is queued with a new
    /// `regenerate` session, which is published. Returns the session that reports the generation.
    ///
    /// # Errors
    /// [`ReportError::Invalid`] for a refused `reportConfig`, [`ReportError::UploadInProgress`], the project's
    /// 404s, [`ReportError::BuildNotFound`], or a database failure.
    pub async fn regenerate(
        &self,
        principal: &Principal,
        env: &EnvId,
        project: &ProjectId,
        build: &BuildId,
        report_config: Option<&serde_json::Value>,
    ) -> Result<UploadSession, ReportError> {
        let request = self.regeneration(principal, env, project, build, report_config)?;
        let outcome = match self.ports.jobs.queue_regeneration(&request).await {
            // A concurrent request queued the build's job between this one's check and insert: on a second try
            // that job is found and reconfigured.
            Err(StoreError::Conflict) => self.ports.jobs.queue_regeneration(&request).await,
            other => other,
        };
        match outcome {
            Ok(Regeneration::Reconfigured(session)) => Ok(session),
            Ok(Regeneration::Started(session)) => {
                self.ports.events.publish(UploadEvent::Updated(session.clone()));
                Ok(session)
            }
            Ok(Regeneration::UploadInProgress) => Err(ReportError::UploadInProgress(build.clone())),
            // A missing parent: the build (or its project) was deleted while the job was being queued.
            Ok(Regeneration::BuildNotFound) | Err(StoreError::MissingParent) => {
                self.require_project(env, project).await?;
                Err(ReportError::BuildNotFound(build.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The effective config, and the session and job a regeneration stores when the build needs them (§17.2
    /// transition 7).
    fn regeneration(
        &self,
        principal: &Principal,
        env: &EnvId,
        project: &ProjectId,
        build: &BuildId,
        report_config: Option<&serde_json::Value>,
    ) -> Result<RegenerationRequest, ReportError> {
        let (config, warnings) = self.ports.report_config.effective(report_config).map_err(ReportError::Invalid)?;
        let now = self.ports.clock.now();
        let session = UploadSession {
            id: UploadId::from(self.ports.ids.ulid()),
            kind: UploadKind::Regenerate,
            env_id: env.clone(),
            project_id: project.clone(),
            build_id: build.clone(),
            file_name: None,
            total_size: None,
            total_chunks: 0,
            received_chunks: 0,
            phase: Phase::Generating,
            failed_at_phase: None,
            error: None,
            uploaded_by: principal.identity.display(),
            owner: principal.identity.owner_key(),
            sha256: None,
            report_config: report_config.cloned(),
            replace: false,
            started_at: now,
            updated_at: now,
            completed_at: None,
            report_url: Some(report_url(env, project, build)),
            // The build's, set by the store in the same transaction.
            stats: None,
        };
        let job = GenerationJob {
            id: JobId::from(self.ports.ids.ulid()),
            env_id: env.clone(),
            project_id: project.clone(),
            build_id: build.clone(),
            upload_id: Some(session.id),
            state: JobState::Queued,
            config: config.clone(),
            attempts: 0,
            created_at: now,
            started_at: None,
            finished_at: None,
            error: None,
        };
        Ok(RegenerationRequest { config, warnings, session, job })
    }

    /// A page of the project's builds, newest first.
    ///
    /// # Errors
    /// The project's 404s, or a database failure.
    pub async fn list(
        &self,
        env: &EnvId,
        project: &ProjectId,
        filter: OutcomeFilter,
        page: PageRequest,
    ) -> Result<Page<Build>, ReportError> {
        self.require_project(env, project).await?;
        Ok(self.ports.builds.list(env, project, filter, page).await?)
    }

    /// Aggregates over the project's builds.
    ///
    /// # Errors
    /// The project's 404s, or a database failure.
    pub async fn stats(&self, env: &EnvId, project: &ProjectId) -> Result<ProjectStats, ReportError> {
        self.require_project(env, project).await?;
        Ok(self.ports.builds.stats(env, project).await?)
    }

    /// One build.
    ///
    /// # Errors
    /// The project's 404s, [`ReportError::BuildNotFound`], or a database failure.
    pub async fn get(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> Result<Build, ReportError> {
        if let Some(found) = self.ports.builds.get(env, project, build).await? {
            return Ok(found);
        }
        self.require_project(env, project).await?;
        Err(ReportError::BuildNotFound(build.clone()))
    }

    /// The builds beside `build` in the project's list, for the build page's newer/older links.
    ///
    /// # Errors
    /// The project's 404s, or a database failure.
    pub async fn neighbours(
        &self,
        env: &EnvId,
        project: &ProjectId,
        build: &BuildId,
    ) -> Result<BuildNeighbours, ReportError> {
        self.require_project(env, project).await?;
        Ok(self.ports.builds.neighbours(env, project, build).await?)
    }

    /// The build a `latest` report URL stands for: the project's newest ready one.
    ///
    /// # Errors
    /// [`ReportError::NoReadyBuild`] (also for a missing project), or a database failure.
    pub async fn latest_ready(&self, env: &EnvId, project: &ProjectId) -> Result<BuildId, ReportError> {
        self.ports.builds.latest_ready(env, project).await?.ok_or_else(|| ReportError::NoReadyBuild(project.clone()))
    }

    /// Deletes a build: its record and jobs first (so its URLs stop resolving at once), then its files and its
    /// point in the project's trend history.
    ///
    /// # Errors
    /// The project's 404s, [`ReportError::BuildNotFound`], [`ReportError::BeingGenerated`],
    /// [`ReportError::UploadInProgress`], or a database or storage failure.
    pub async fn delete(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> Result<(), ReportError> {
        match self.ports.builds.delete(env, project, build).await? {
            BuildDeletion::Deleted { history_entry } => {
                if let Some(point) = history_entry {
                    self.ports.history.remove_history_point(env, project, &point).await?;
                }
                self.ports.files.remove_build(env, project, build).await?;
                Ok(())
            }
            BuildDeletion::NotFound => {
                self.require_project(env, project).await?;
                Err(ReportError::BuildNotFound(build.clone()))
            }
            BuildDeletion::Generating => Err(ReportError::BeingGenerated(build.clone())),
            BuildDeletion::UploadInProgress => Err(ReportError::UploadInProgress(build.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
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
}
