//! Measuring the data directory (contract §13.3).

use async_trait::async_trait;

use crate::Timestamp;
use crate::model::disk::DiskUsage;

/// Walks `DATA_DIR` and asks its filesystem for free and total space.
///
/// A measurement reads every file's metadata, so it is slow on big trees: callers cache it and keep it off the
/// request path.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DiskProbe: Send + Sync + 'static {
    /// Measures now; `at` becomes the measurement's `computed_at`. Files that vanish during the walk are skipped;
    /// free and total are 0 when the filesystem cannot be queried.
    async fn measure(&self, at: Timestamp) -> DiskUsage;
}
