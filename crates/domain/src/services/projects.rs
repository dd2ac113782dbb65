//! Listing, creating and deleting projects.

use std::sync::Arc;

use thiserror::Error;

use crate::ids::{EnvId, ProjectId};
use crate::model::names::DisplayName;
use crate::model::project::{Project, ProjectView};
use crate::ports::{Clock, EnvironmentRepo, ProjectRepo, ResultStore, StorageError, StoreError};

/// Why a project operation failed. The messages are the contract's.
#[derive(Debug, Error)]
pub enum ProjectError {
    /// The environment does not exist.
    #[error("environment {0} not found")]
    EnvironmentNotFound(EnvId),
    /// The project does not exist in the environment.
    #[error("project {project} not found in environment {env}")]
    NotFound {
        /// Environment searched.
        env: EnvId,
        /// Project not found.
        project: ProjectId,
    },
    /// The id is taken in the environment.
    #[error("project {project} already exists in environment {env}")]
    AlreadyExists {
        /// Environment.
        env: EnvId,
        /// Taken id.
        project: ProjectId,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The file storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A validated request to create a project.
#[derive(Debug, Clone)]
pub struct NewProject {
    /// Identifier.
    pub id: ProjectId,
    /// Display name.
    pub name: DisplayName,
}

/// The ports [`ProjectService`] works through, named so that two of one type cannot be swapped.
#[derive(Clone)]
pub struct ProjectPorts {
    /// Environments, for the 404 of a missing one.
    pub envs: Arc<dyn EnvironmentRepo>,
    /// Project records.
    pub projects: Arc<dyn ProjectRepo>,
    /// The project's files, removed with it.
    pub files: Arc<dyn ResultStore>,
    /// Creation times.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ProjectPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectPorts").finish_non_exhaustive()
    }
}

/// The project use cases.
#[derive(Clone)]
pub struct ProjectService {
    envs: Arc<dyn EnvironmentRepo>,
    projects: Arc<dyn ProjectRepo>,
    files: Arc<dyn ResultStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ProjectService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectService").finish_non_exhaustive()
    }
}

impl ProjectService {
    /// Wires the service to its ports.
    pub fn new(ports: ProjectPorts) -> Self {
        let ProjectPorts { envs, projects, files, clock } = ports;
        Self { envs, projects, files, clock }
    }

    async fn require_env(&self, env: &EnvId) -> Result<(), ProjectError> {
        if self.envs.exists(env).await? { Ok(()) } else { Err(ProjectError::EnvironmentNotFound(env.clone())) }
    }

    /// The environment's projects, newest first.
    ///
    /// # Errors
    /// [`ProjectError::EnvironmentNotFound`], or a database failure.
    pub async fn list(&self, env: &EnvId) -> Result<Vec<ProjectView>, ProjectError> {
        self.require_env(env).await?;
        Ok(self.projects.list(env).await?)
    }

    /// One project (a single-row read, for pages that need its name).
    ///
    /// # Errors
    /// [`ProjectError::NotFound`], or a database failure.
    pub async fn get(&self, env: &EnvId, id: &ProjectId) -> Result<ProjectView, ProjectError> {
        self.projects
            .get(env, id)
            .await?
            .ok_or_else(|| ProjectError::NotFound { env: env.clone(), project: id.clone() })
    }

    /// Creates a project stamped with the current time.
    ///
    /// # Errors
    /// [`ProjectError::EnvironmentNotFound`], [`ProjectError::AlreadyExists`], or a database failure.
    pub async fn create(&self, env: &EnvId, new: NewProject) -> Result<ProjectView, ProjectError> {
        self.require_env(env).await?;
        let project = Project { env_id: env.clone(), id: new.id, name: new.name, created_at: self.clock.now() };
        match self.projects.insert(&project).await {
            Ok(()) => Ok(ProjectView { project, build_count: 0, latest_build: None }),
            Err(StoreError::Conflict) => Err(ProjectError::AlreadyExists { env: env.clone(), project: project.id }),
            // The environment was deleted between the check and the insert.
            Err(StoreError::MissingParent) => Err(ProjectError::EnvironmentNotFound(env.clone())),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a project with everything under it, records first, then files (see
    /// [`crate::services::EnvironmentService::delete`] for why that order).
    ///
    /// # Errors
    /// [`ProjectError::EnvironmentNotFound`], [`ProjectError::NotFound`], or a database or storage failure.
    pub async fn delete(&self, env: &EnvId, id: &ProjectId) -> Result<(), ProjectError> {
        self.require_env(env).await?;
        if !self.projects.delete(env, id).await? {
            return Err(ProjectError::NotFound { env: env.clone(), project: id.clone() });
        }
        self.files.remove_project(env, id).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::ports::clock::MockClock;
    use crate::ports::files::MockResultStore;
    use crate::ports::repos::{MockEnvironmentRepo, MockProjectRepo};

    fn env_id() -> EnvId {
        EnvId::parse("staging").unwrap()
    }

    fn envs(exists: bool) -> MockEnvironmentRepo {
        let mut repo = MockEnvironmentRepo::new();
        repo.expect_exists().returning(move |_| Ok(exists));
        repo
    }

    fn service(envs: MockEnvironmentRepo, projects: MockProjectRepo, files: MockResultStore) -> ProjectService {
        let mut clock = MockClock::new();
        clock.expect_now().returning(|| Utc.with_ymd_and_hms(2026, 4, 7, 10, 0, 0).single().unwrap_or_default());
        ProjectService::new(ProjectPorts {
            envs: Arc::new(envs),
            projects: Arc::new(projects),
            files: Arc::new(files),
            clock: Arc::new(clock),
        })
    }

    fn checkout() -> NewProject {
        NewProject { id: ProjectId::parse("checkout").unwrap(), name: DisplayName::parse("Checkout").unwrap() }
    }

    #[tokio::test]
    async fn listing_projects_of_a_missing_environment_is_environment_not_found() {
        let err =
            service(envs(false), MockProjectRepo::new(), MockResultStore::new()).list(&env_id()).await.unwrap_err();
        assert_eq!(err.to_string(), "environment staging not found");
    }

    #[tokio::test]
    async fn a_new_project_has_no_builds() {
        let mut projects = MockProjectRepo::new();
        projects.expect_insert().times(1).returning(|_| Ok(()));
        let view = service(envs(true), projects, MockResultStore::new()).create(&env_id(), checkout()).await.unwrap();
        assert_eq!((view.build_count, view.latest_build), (0, None));
        assert_eq!(view.project.env_id, env_id());
    }

    #[tokio::test]
    async fn a_duplicate_project_id_names_both_ids() {
        let mut projects = MockProjectRepo::new();
        projects.expect_insert().returning(|_| Err(StoreError::Conflict));
        let err =
            service(envs(true), projects, MockResultStore::new()).create(&env_id(), checkout()).await.unwrap_err();
        assert_eq!(err.to_string(), "project checkout already exists in environment staging");
    }

    #[tokio::test]
    async fn an_environment_deleted_during_create_is_reported_as_not_found() {
        let mut projects = MockProjectRepo::new();
        projects.expect_insert().returning(|_| Err(StoreError::MissingParent));
        let err =
            service(envs(true), projects, MockResultStore::new()).create(&env_id(), checkout()).await.unwrap_err();
        assert!(matches!(err, ProjectError::EnvironmentNotFound(_)));
    }

    #[tokio::test]
    async fn deleting_a_missing_project_names_it_and_touches_no_files() {
        let mut projects = MockProjectRepo::new();
        projects.expect_delete().returning(|_, _| Ok(false));
        let err = service(envs(true), projects, MockResultStore::new())
            .delete(&env_id(), &ProjectId::parse("ghost").unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "project ghost not found in environment staging");
    }

    #[tokio::test]
    async fn deleting_a_project_removes_its_files_after_its_records() {
        let mut seq = mockall::Sequence::new();
        let mut projects = MockProjectRepo::new();
        projects.expect_delete().times(1).in_sequence(&mut seq).returning(|_, _| Ok(true));
        let mut files = MockResultStore::new();
        files.expect_remove_project().times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        service(envs(true), projects, files).delete(&env_id(), &checkout().id).await.unwrap();
    }
}
