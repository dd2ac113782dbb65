//! The file storage of results, reports, chunks and history under the data directory.

use async_trait::async_trait;

use crate::ids::{BuildId, EnvId, ProjectId};
use crate::ports::errors::StorageError;

/// Where the files of environments and projects live.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ResultStore: Send + Sync + 'static {
    /// Makes every file of an environment unreachable at once; actual removal may finish in the background.
    /// An environment without files is not an error.
    ///
    /// # Errors
    /// [`StorageError`] when the directory exists but cannot be moved away.
    async fn remove_environment(&self, env: &EnvId) -> Result<(), StorageError>;

    /// Like [`ResultStore::remove_environment`], for one project.
    ///
    /// # Errors
    /// [`StorageError`] when the directory exists but cannot be moved away.
    async fn remove_project(&self, env: &EnvId, project: &ProjectId) -> Result<(), StorageError>;

    /// Like [`ResultStore::remove_environment`], for one build's results and report.
    ///
    /// # Errors
    /// [`StorageError`] when the directory exists but cannot be moved away.
    async fn remove_build(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> Result<(), StorageError>;

    /// Bytes of a build's results and report in the storage (0 when it has none). Measured once when a build's
    /// files change and kept with the build ([`crate::model::build::Build::stored_bytes`]), since on object
    /// storage each call is a listing.
    ///
    /// # Errors
    /// [`StorageError`] when a directory exists but cannot be read.
    async fn build_bytes(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> Result<u64, StorageError>;

    /// Removes the directories of environments and projects that are not in `known` (left behind when a
    /// deletion's file step failed or the process died after the records were deleted).
    /// Returns how many directories were removed.
    ///
    /// # Errors
    /// [`StorageError`] when the data directory cannot be read.
    async fn remove_orphans(&self, known: &[(EnvId, Vec<ProjectId>)]) -> Result<usize, StorageError>;
}

/// Whether the storage can be used right now; backs the readiness check beside the database's.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait StorageHealth: Send + Sync + 'static {
    /// Reaches the storage the way serving and uploads do (for object storage: writes, reads and deletes a small
    /// object).
    ///
    /// # Errors
    /// [`StorageError`] saying what failed.
    async fn check(&self) -> Result<(), StorageError>;

    /// What kind of storage this is (`filesystem`, `s3`), for the settings and the log.
    fn kind(&self) -> &'static str;
}
