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
mod tests;
