//! Copying what one storage holds into another (`allure-hub storage copy`, the way an installation moves from
//! `DATA_DIR` to a bucket and back). Each storage lays its files out its own way (a report is a directory on the
//! filesystem, an archive and its index in a bucket), so items travel through the one form both can read and write:
//! local files, like a generation's workspace.

use std::path::Path;

use async_trait::async_trait;

use crate::ids::{BuildId, EnvId, ProjectId};
use crate::ports::{ReportLocation, StorageError};

/// One stored item, named the same way on every storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredItem {
    /// A project's trend history, as the file `history.jsonl`.
    History {
        /// Environment.
        env: EnvId,
        /// Project.
        project: ProjectId,
    },
    /// A build's results, as the result files.
    Results {
        /// Environment.
        env: EnvId,
        /// Project.
        project: ProjectId,
        /// Build.
        build: BuildId,
    },
    /// A build's published report, under the key its record names, as the report's files.
    Report(ReportLocation),
}

impl std::fmt::Display for StoredItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::History { env, project } => write!(f, "history {env}/{project}"),
            Self::Results { env, project, build } => write!(f, "results {env}/{project}/{build}"),
            Self::Report(at) => write!(f, "report {}/{}/{}", at.env, at.project, at.build),
        }
    }
}

/// Reads and writes whole items as local files.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait StorageTransfer: Send + Sync + 'static {
    /// Writes `item` as files into `dir`, a directory that does not exist yet (a history as `dir/history.jsonl`).
    /// Returns `false`, creating nothing, when this storage does not hold the item.
    ///
    /// # Errors
    /// When the storage or the local files fail.
    async fn export(&self, item: &StoredItem, dir: &Path) -> Result<bool, StorageError>;

    /// Stores the files in `dir` (as [`StorageTransfer::export`] writes them) as `item`, in place of what this
    /// storage held for it, all at once: readers see the old item or the new one.
    ///
    /// # Errors
    /// When the storage or the local files fail; the item is then as it was, or absent when it was.
    async fn import(&self, item: &StoredItem, dir: &Path) -> Result<(), StorageError>;
}
