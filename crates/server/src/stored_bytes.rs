//! The bytes the storage holds per build, kept with the build (issue 17), in the server process: the log of
//! measurements that fail (the domain carries on without the figure and does not log), and the start-up pass
//! that measures the builds kept before sizes were.

use std::sync::Arc;

use async_trait::async_trait;
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::ports::{ResultStore, StorageError};
use hub_domain::services::{Filled, StoredBytesService};
use tokio::sync::watch;

/// Builds listed per query of the start-up pass; each is measured on its own (one listing on object storage).
const BATCH: i64 = 100;

/// The storage's [`ResultStore`] as the services see it: a measurement that fails is logged here, once, with the
/// build it concerns, wherever it was asked for (an upload, a generation, retention, the start-up pass).
pub struct LoggedSizes(pub Arc<dyn ResultStore>);

impl std::fmt::Debug for LoggedSizes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoggedSizes").finish_non_exhaustive()
    }
}

#[async_trait]
impl ResultStore for LoggedSizes {
    async fn remove_environment(&self, env: &EnvId) -> Result<(), StorageError> {
        self.0.remove_environment(env).await
    }

    async fn remove_project(&self, env: &EnvId, project: &ProjectId) -> Result<(), StorageError> {
        self.0.remove_project(env, project).await
    }

    async fn remove_build(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> Result<(), StorageError> {
        self.0.remove_build(env, project, build).await
    }

    async fn build_bytes(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> Result<u64, StorageError> {
        let measured = self.0.build_bytes(env, project, build).await;
        if let Err(e) = &measured {
            tracing::warn!(%env, %project, %build, error = %e, "cannot measure a build's stored files; its size stays unknown");
        }
        measured
    }

    async fn remove_orphans(&self, known: &[(EnvId, Vec<ProjectId>)]) -> Result<usize, StorageError> {
        self.0.remove_orphans(known).await
    }
}

/// At start-up: measures, one at a time, every build without a kept size (those kept before sizes were, and those
/// whose measurement failed), logging its progress per batch. Stops at shutdown, at a database failure, or when the
/// storage cannot be reached; whatever is left is found again at the next start.
pub async fn fill_stored_bytes(service: StoredBytesService, mut shutdown: watch::Receiver<bool>) {
    let (mut kept, mut failed) = (0_u64, 0_u64);
    let mut after = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let batch = tokio::select! {
            batch = service.unmeasured(after.clone(), BATCH) => batch,
            _ = shutdown.changed() => return,
        };
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list builds without a stored size; the next start tries again");
                return;
            }
        };
        if batch.is_empty() {
            break;
        }
        let last = batch.len() < usize::try_from(BATCH).unwrap_or(usize::MAX);
        if after.is_none() {
            tracing::info!("measuring the stored size of builds that have none yet");
        }
        for build in batch {
            let filled = tokio::select! {
                filled = service.fill(&build) => filled,
                _ = shutdown.changed() => return,
            };
            match filled {
                Ok(Filled::Kept(_)) => kept += 1,
                Ok(Filled::Skipped) => {}
                Ok(Filled::Failed(e)) if e.is_unavailable() => {
                    tracing::warn!(kept, "storage unavailable; the remaining builds are measured at the next start");
                    return;
                }
                Ok(Filled::Failed(_)) => failed += 1,
                Err(e) => {
                    tracing::warn!(kept, error = %e, "cannot keep a build's stored size; the next start tries again");
                    return;
                }
            }
            after = Some(build);
        }
        if last {
            break;
        }
        tracing::info!(kept, failed, "measuring stored sizes: in progress");
    }
    if after.is_some() {
        tracing::info!(kept, failed, "stored sizes measured");
    }
}
