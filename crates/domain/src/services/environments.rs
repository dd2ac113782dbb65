//! Listing, creating, renaming and deleting environments.

use std::sync::Arc;

use thiserror::Error;

use crate::ids::EnvId;
use crate::model::environment::{Environment, EnvironmentPatch, EnvironmentView};
use crate::model::names::{DisplayName, Icon};
use crate::ports::{Clock, EnvironmentRepo, ResultStore, StorageError, StoreError};

/// Why an environment operation failed. The messages are the contract's.
#[derive(Debug, Error)]
pub enum EnvironmentError {
    /// No environment has this id.
    #[error("environment {0} not found")]
    NotFound(EnvId),
    /// The id is taken.
    #[error("environment {0} already exists")]
    AlreadyExists(EnvId),
    /// `default` is protected.
    #[error("the default environment cannot be deleted")]
    DefaultProtected,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The file storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A validated request to create an environment.
#[derive(Debug, Clone)]
pub struct NewEnvironment {
    /// Identifier.
    pub id: EnvId,
    /// Display name.
    pub name: DisplayName,
    /// Icon.
    pub icon: Icon,
}

/// The ports [`EnvironmentService`] works through, named so that two of one type cannot be swapped.
#[derive(Clone)]
pub struct EnvironmentPorts {
    /// Environment records.
    pub envs: Arc<dyn EnvironmentRepo>,
    /// The environment's files, removed with it.
    pub files: Arc<dyn ResultStore>,
    /// Creation times.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for EnvironmentPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvironmentPorts").finish_non_exhaustive()
    }
}

/// The environment use cases.
#[derive(Clone)]
pub struct EnvironmentService {
    envs: Arc<dyn EnvironmentRepo>,
    files: Arc<dyn ResultStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for EnvironmentService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvironmentService").finish_non_exhaustive()
    }
}

impl EnvironmentService {
    /// Wires the service to its ports.
    pub fn new(ports: EnvironmentPorts) -> Self {
        let EnvironmentPorts { envs, files, clock } = ports;
        Self { envs, files, clock }
    }

    /// Every environment, newest first.
    ///
    /// # Errors
    /// [`EnvironmentError::Store`] when the database fails.
    pub async fn list(&self) -> Result<Vec<EnvironmentView>, EnvironmentError> {
        Ok(self.envs.list().await?)
    }

    /// One environment (a single-row read, for pages that need its name).
    ///
    /// # Errors
    /// [`EnvironmentError::NotFound`], or a database failure.
    pub async fn get(&self, id: &EnvId) -> Result<EnvironmentView, EnvironmentError> {
        self.envs.get(id).await?.ok_or_else(|| EnvironmentError::NotFound(id.clone()))
    }

    /// Creates an environment stamped with the current time.
    ///
    /// # Errors
    /// [`EnvironmentError::AlreadyExists`], or a database failure.
    pub async fn create(&self, new: NewEnvironment) -> Result<EnvironmentView, EnvironmentError> {
        let environment = Environment { id: new.id, name: new.name, icon: new.icon, created_at: self.clock.now() };
        match self.envs.insert(&environment).await {
            Ok(()) => Ok(EnvironmentView { environment, project_count: 0 }),
            Err(StoreError::Conflict) => Err(EnvironmentError::AlreadyExists(environment.id)),
            Err(e) => Err(e.into()),
        }
    }

    /// Changes the name and/or icon.
    ///
    /// # Errors
    /// [`EnvironmentError::NotFound`], or a database failure.
    pub async fn update(&self, id: &EnvId, patch: EnvironmentPatch) -> Result<EnvironmentView, EnvironmentError> {
        self.envs.update(id, &patch).await?.ok_or_else(|| EnvironmentError::NotFound(id.clone()))
    }

    /// Deletes an environment with everything under it: first the records, in one transaction, then the files,
    /// which become unreachable at once. If the file step fails the records are already gone; the leftover
    /// directory is an orphan that [`ResultStore::remove_orphans`] clears at the next start-up.
    ///
    /// # Errors
    /// [`EnvironmentError::DefaultProtected`], [`EnvironmentError::NotFound`], or a database or storage failure.
    pub async fn delete(&self, id: &EnvId) -> Result<(), EnvironmentError> {
        if id.is_default() {
            return Err(EnvironmentError::DefaultProtected);
        }
        if !self.envs.delete(id).await? {
            return Err(EnvironmentError::NotFound(id.clone()));
        }
        self.files.remove_environment(id).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use mockall::predicate::eq;

    use super::*;
    use crate::Timestamp;
    use crate::ports::clock::MockClock;
    use crate::ports::files::MockResultStore;
    use crate::ports::repos::MockEnvironmentRepo;

    fn at() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 4, 7, 10, 0, 0).single().unwrap_or_default()
    }

    fn clock() -> Arc<MockClock> {
        let mut clock = MockClock::new();
        clock.expect_now().returning(at);
        Arc::new(clock)
    }

    fn staging() -> NewEnvironment {
        NewEnvironment {
            id: EnvId::parse("staging").unwrap(),
            name: DisplayName::parse("Staging").unwrap(),
            icon: Icon::default(),
        }
    }

    fn service(repo: MockEnvironmentRepo, files: MockResultStore) -> EnvironmentService {
        EnvironmentService::new(EnvironmentPorts { envs: Arc::new(repo), files: Arc::new(files), clock: clock() })
    }

    #[tokio::test]
    async fn create_stamps_the_clock_time_and_starts_with_no_projects() {
        let mut repo = MockEnvironmentRepo::new();
        repo.expect_insert()
            .withf(|env| env.id.as_str() == "staging" && env.created_at == at())
            .times(1)
            .returning(|_| Ok(()));
        let created = service(repo, MockResultStore::new()).create(staging()).await.unwrap();
        assert_eq!(created.environment.created_at, at());
        assert_eq!(created.project_count, 0);
    }

    #[tokio::test]
    async fn create_reports_a_taken_id_as_already_exists() {
        let mut repo = MockEnvironmentRepo::new();
        repo.expect_insert().returning(|_| Err(StoreError::Conflict));
        let err = service(repo, MockResultStore::new()).create(staging()).await.unwrap_err();
        assert_eq!(err.to_string(), "environment staging already exists");
    }

    #[tokio::test]
    async fn update_of_a_missing_environment_is_not_found() {
        let mut repo = MockEnvironmentRepo::new();
        repo.expect_update().returning(|_, _| Ok(None));
        let id = EnvId::parse("ghost").unwrap();
        let err = service(repo, MockResultStore::new()).update(&id, EnvironmentPatch::default()).await.unwrap_err();
        assert_eq!(err.to_string(), "environment ghost not found");
    }

    #[tokio::test]
    async fn the_default_environment_cannot_be_deleted_and_nothing_is_touched() {
        // No expectations: any call to the repository or the storage fails the test.
        let err = service(MockEnvironmentRepo::new(), MockResultStore::new())
            .delete(&EnvId::default_env())
            .await
            .unwrap_err();
        assert!(matches!(err, EnvironmentError::DefaultProtected));
    }

    #[tokio::test]
    async fn delete_removes_records_before_files() {
        let id = EnvId::parse("staging").unwrap();
        let mut seq = mockall::Sequence::new();
        let mut repo = MockEnvironmentRepo::new();
        repo.expect_delete().with(eq(id.clone())).times(1).in_sequence(&mut seq).returning(|_| Ok(true));
        let mut files = MockResultStore::new();
        files.expect_remove_environment().with(eq(id.clone())).times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        service(repo, files).delete(&id).await.unwrap();
    }

    #[tokio::test]
    async fn delete_of_a_missing_environment_leaves_files_alone() {
        let mut repo = MockEnvironmentRepo::new();
        repo.expect_delete().returning(|_| Ok(false));
        let err = service(repo, MockResultStore::new()).delete(&EnvId::parse("ghost").unwrap()).await.unwrap_err();
        assert!(matches!(err, EnvironmentError::NotFound(_)));
    }

    #[tokio::test]
    async fn a_database_outage_is_passed_on_unchanged() {
        let mut repo = MockEnvironmentRepo::new();
        repo.expect_list().returning(|| Err(StoreError::Unavailable("down".into())));
        let err = service(repo, MockResultStore::new()).list().await.unwrap_err();
        assert!(matches!(err, EnvironmentError::Store(StoreError::Unavailable(_))));
    }
}
