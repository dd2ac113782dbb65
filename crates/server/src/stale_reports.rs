//! The sweep of reports that builds no longer name (issue 17), in the server process: at start-up (for what a
//! killed process left), and again when a generation of this process could not delete the report it replaced
//! (most often because the store is down), the recorded builds are swept one at a time ([`StaleReportService`]).
//! Only recorded builds are visited: no listing of the bucket, no request per build of the installation.

use std::sync::Arc;
use std::time::Duration;

use hub_domain::services::{StaleReportService, Swept};
use tokio::sync::{Notify, watch};

/// Builds listed per query of a pass; each is swept on its own.
const BATCH: i64 = 100;

/// How long the sweep waits before trying again after the store (or the database) could not be reached, and after
/// a generation left a report behind (most likely for the same reason): an outage is not over at once, and each
/// try costs a request.
pub const RETRY: Duration = Duration::from_secs(30);

/// How one pass ended.
enum Pass {
    /// Every recorded build was visited (those that failed for another reason than an outage stay recorded).
    Done,
    /// Stopped by an outage of the store or the database: try again later.
    Interrupted,
    /// The server is stopping.
    Shutdown,
}

/// Sweeps the recorded builds at start-up; then, while the server runs, [`RETRY`] after a pass that an outage cut
/// short (until one completes, so the sweep follows the store's return without a restart) and [`RETRY`] after
/// `left` is notified (a generation left a report behind). Stops at shutdown; whatever is left stays recorded for
/// the next pass or the next start.
pub async fn sweep_stale_reports(service: StaleReportService, left: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
    loop {
        match pass(&service, &mut shutdown).await {
            Pass::Shutdown => return,
            Pass::Interrupted => {}
            Pass::Done => {
                tokio::select! {
                    () = left.notified() => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(RETRY) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One pass over the recorded builds, with its log lines (none when there is nothing to sweep).
async fn pass(service: &StaleReportService, shutdown: &mut watch::Receiver<bool>) -> Pass {
    let (mut removed, mut skipped, mut failed) = (0_u64, 0_u64, 0_u64);
    let mut after = None;
    loop {
        if *shutdown.borrow() {
            return Pass::Shutdown;
        }
        let batch = tokio::select! {
            batch = service.stale(after.clone(), BATCH) => batch,
            _ = shutdown.changed() => return Pass::Shutdown,
        };
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list builds with replaced reports; will retry");
                return Pass::Interrupted;
            }
        };
        if batch.is_empty() {
            break;
        }
        let last = batch.len() < usize::try_from(BATCH).unwrap_or(usize::MAX);
        if after.is_none() {
            tracing::info!("deleting the replaced reports of builds recorded by generations that could not");
        }
        for build in batch {
            let swept = tokio::select! {
                swept = service.sweep(&build) => swept,
                _ = shutdown.changed() => return Pass::Shutdown,
            };
            match swept {
                Ok(Swept::Removed) => removed += 1,
                Ok(Swept::Skipped) => skipped += 1,
                Ok(Swept::Failed(e)) if e.is_unavailable() => {
                    tracing::warn!(removed, error = %e, "storage unavailable; the replaced reports left are deleted once it is back");
                    return Pass::Interrupted;
                }
                Ok(Swept::Failed(e)) => {
                    let (env, project, id) = (&build.env, &build.project, &build.build);
                    tracing::warn!(%env, %project, build = %id, error = %e, "cannot delete a build's replaced reports; it stays recorded for the next sweep");
                    failed += 1;
                }
                Err(e) => {
                    tracing::warn!(removed, error = %e, "cannot read or forget a build with replaced reports; will retry");
                    return Pass::Interrupted;
                }
            }
            after = Some(build);
        }
        if last {
            break;
        }
        tracing::info!(removed, skipped, failed, "deleting replaced reports: in progress");
    }
    if after.is_some() {
        tracing::info!(removed, skipped, failed, "replaced reports deleted");
    }
    Pass::Done
}
