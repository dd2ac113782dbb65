//! The builds that may hold reports besides the one they name (issue 17): a storage without atomic rename
//! publishes each report under a new key, so the report it replaced is still there until it is deleted after the
//! switch. The database remembers those builds from the switch on, so that a process killed before the deletion,
//! or a store that failed it, leaves a note rather than an orphan nobody looks for; a sweep deletes their other
//! reports and forgets them. The storage is never listed to find them.

use async_trait::async_trait;

use crate::ports::errors::StoreError;
use crate::ports::repos::BuildRef;

/// The record of builds whose reports other than the current one are to be deleted. The switch itself records
/// the build, in the transaction that makes the new report the build's ([`crate::ports::JobQueue::finish`]); so
/// does the recovery of a job interrupted too often, whose partial report no run will clean up
/// ([`crate::ports::JobQueue::requeue_running`]). A build's deletion forgets it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait StaleReports: Send + Sync + 'static {
    /// Records the build (a deletion of its other reports failed); nothing when it is recorded already or no
    /// longer exists.
    async fn record(&self, build: &BuildRef) -> Result<(), StoreError>;

    /// Recorded builds after `after`, by environment, project and build id, at most `limit`.
    async fn stale(&self, after: Option<BuildRef>, limit: i64) -> Result<Vec<BuildRef>, StoreError>;

    /// Forgets the build once its reports other than `kept` are deleted, unless it names another report by now: a
    /// newer run switched it (and recorded it again) meanwhile. Whether it was forgotten.
    async fn forget(&self, build: &BuildRef, kept: Option<String>) -> Result<bool, StoreError>;
}
