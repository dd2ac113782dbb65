//! Reading and deleting builds and their reports (contract §8.4–8.8), and resolving report URLs (§8.9).

use std::sync::Arc;

use thiserror::Error;

use crate::ids::{BuildId, EnvId, ProjectId};
use crate::model::build::{Build, OutcomeFilter, ProjectStats};
use crate::model::page::{Page, PageRequest};
use crate::ports::{
    BuildDeletion, BuildRepo, EnvironmentRepo, GenerationFiles, ProjectRepo, ResultStore, StorageError, StoreError,
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

    use super::*;
    use crate::ports::files::MockResultStore;
    use crate::ports::generator::MockGenerationFiles;
    use crate::ports::repos::{MockBuildRepo, MockEnvironmentRepo, MockProjectRepo};

    fn ids() -> (EnvId, ProjectId, BuildId) {
        (EnvId::parse("staging").unwrap(), ProjectId::parse("checkout").unwrap(), BuildId::parse("b1").unwrap())
    }

    fn service(deletion: BuildDeletion, history: MockGenerationFiles, files: MockResultStore) -> ReportService {
        let mut builds = MockBuildRepo::new();
        builds.expect_delete().returning(move |_, _, _| Ok(deletion.clone()));
        let mut projects = MockProjectRepo::new();
        projects.expect_exists().returning(|_, _| Ok(true));
        ReportService::new(ReportPorts {
            envs: Arc::new(MockEnvironmentRepo::new()),
            projects: Arc::new(projects),
            builds: Arc::new(builds),
            files: Arc::new(files),
            history: Arc::new(history),
        })
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
