//! Periodic work of the server process (Appendix A.7): the sweep of abandoned chunked uploads, scheduled cleanup
//! sweeps, the disk check behind the disk warning, notification pruning, the Allure update check, and the
//! queue-depth gauge. Each loop ends with the
//! server (the shutdown watch) and logs failures instead of stopping: the next round tries again.

use std::sync::Arc;
use std::time::Duration;

use hub_domain::model::retention::CleanupTrigger;
use hub_domain::ports::{AllureCliManager, Clock, JobQueue};
use hub_domain::services::{DiskService, NotificationService, RetentionService, UploadService};
use hub_http::metrics;
use tokio::sync::{Notify, watch};

/// Longest sleep of the cleanup scheduler between looks at the settings: a changed `intervalHours` moves
/// `nextRunAt` at once, and the sweep follows within this delay.
const SCHEDULE_RECHECK: Duration = Duration::from_secs(5);

/// Shortest time between a disk check and one asked for by an accepted upload.
const UPLOAD_CHECK_GAP: Duration = Duration::from_secs(60);

/// How often expired notifications are deleted (A.7 `NOTIFY_RETENTION_DAYS`: "checked hourly").
const NOTIFY_PRUNE_INTERVAL: Duration = Duration::from_secs(3_600);

/// Delay of the first Allure update check after start-up.
const FIRST_UPDATE_CHECK: Duration = Duration::from_secs(60);

/// How often the generation-jobs gauge is refreshed.
const JOB_GAUGE_INTERVAL: Duration = Duration::from_secs(5);

/// Sleeps `period`, or returns `false` at once when the server is stopping.
async fn pause(shutdown: &mut watch::Receiver<bool>, period: Duration) -> bool {
    if *shutdown.borrow() {
        return false;
    }
    tokio::select! {
        () = tokio::time::sleep(period) => !*shutdown.borrow(),
        _ = shutdown.changed() => false,
    }
}

/// §17.4: fails chunked uploads without progress for `stale_after`, at start-up and then every
/// `min(15 min, stale_after / 2)`.
pub async fn sweep_stale_uploads(uploads: UploadService, stale_after: Duration, mut shutdown: watch::Receiver<bool>) {
    let period = (stale_after / 2).clamp(Duration::from_secs(1), Duration::from_secs(15 * 60));
    loop {
        match uploads.sweep_stale().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "abandoned chunked uploads failed"),
            Err(e) => tracing::warn!(error = %e, "stale upload sweep failed; will retry"),
        }
        if !pause(&mut shutdown, period).await {
            return;
        }
    }
}

/// §13.6 Schedule: sweeps when `nextRunAt` is due, re-reading the settings every few seconds so a new interval
/// applies without a restart.
pub async fn schedule_cleanup(retention: RetentionService, clock: Arc<dyn Clock>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let wait = match retention.next_run().await {
            Ok(None) => return,
            Ok(Some(at)) => (at - clock.now()).to_std().unwrap_or(Duration::ZERO),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the retention settings; will retry");
                SCHEDULE_RECHECK
            }
        };
        if wait > Duration::ZERO {
            if !pause(&mut shutdown, wait.min(SCHEDULE_RECHECK)).await {
                return;
            }
            continue;
        }
        sweep(&retention, CleanupTrigger::Schedule).await;
    }
}

/// One sweep with its log lines and metric; a sweep already running (a manual one) is left to finish.
async fn sweep(retention: &RetentionService, trigger: CleanupTrigger) {
    match retention.sweep(trigger, None).await {
        Ok(report) => metrics::observe_sweep(&report),
        Err(hub_domain::services::RetentionError::InProgress) => {
            // The manual sweep covers this round; wait for it before looking at the schedule again.
            tokio::time::sleep(SCHEDULE_RECHECK).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "cleanup run could not be recorded");
            tokio::time::sleep(SCHEDULE_RECHECK).await;
        }
    }
}

/// §13.4 evaluation: every `interval`, and when `now` is notified (an upload was accepted). A check walks all of
/// `DATA_DIR`, so checks asked for by uploads come at most once a minute (the age the disk usage API also accepts):
/// a burst of uploads costs one walk, not one each.
pub async fn check_disk(disk: DiskService, interval: Duration, now: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
    loop {
        match disk.check().await {
            Ok(usage) => metrics::set_disk(usage.used_bytes, usage.free_bytes, usage.total_bytes),
            Err(e) => tracing::warn!(error = %e, "disk check failed; will retry"),
        }
        let last = tokio::time::Instant::now();
        let next_timed = last + interval;
        let asked = tokio::select! {
            () = tokio::time::sleep_until(next_timed) => false,
            () = now.notified() => true,
            _ = shutdown.changed() => return,
        };
        if asked {
            let earliest = (last + UPLOAD_CHECK_GAP).min(next_timed);
            tokio::select! {
                () = tokio::time::sleep_until(earliest) => {}
                _ = shutdown.changed() => return,
            }
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// `NOTIFY_RETENTION_DAYS`: deletes old notifications hourly (0 keeps them).
pub async fn prune_notifications(
    notifications: NotificationService,
    retention_days: i64,
    mut shutdown: watch::Receiver<bool>,
) {
    if retention_days == 0 {
        return;
    }
    loop {
        match notifications.prune(retention_days).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "old notifications deleted"),
            Err(e) => tracing::warn!(error = %e, "cannot delete old notifications; will retry"),
        }
        if !pause(&mut shutdown, NOTIFY_PRUNE_INTERVAL).await {
            return;
        }
    }
}

/// §13.5: every `ALLURE_UPDATE_CHECK_INTERVAL`, announces a newer Allure release once.
pub async fn check_allure_updates(
    cli: Arc<dyn AllureCliManager>,
    notifications: NotificationService,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    // The first look waits a minute: start-up (and every test server) should not begin with a Node process and a
    // registry request.
    if interval.is_zero() || !pause(&mut shutdown, FIRST_UPDATE_CHECK).await {
        return;
    }
    loop {
        let status = cli.status().await;
        if !status.version.is_empty()
            && !status.latest.is_empty()
            && let Err(e) = notifications.allure_available(&status.version, &status.latest).await
        {
            tracing::warn!(error = %e, "cannot store the Allure update notification; will retry");
        }
        if !pause(&mut shutdown, interval).await {
            return;
        }
    }
}

/// `allure_hub_generation_jobs{state}`, refreshed every few seconds (one grouped count).
pub async fn gauge_jobs(queue: Arc<dyn JobQueue>, mut shutdown: watch::Receiver<bool>) {
    loop {
        match queue.counts().await {
            Ok(counts) => metrics::set_generation_jobs(counts.queued, counts.running),
            Err(e) => tracing::debug!(error = %e, "cannot count generation jobs"),
        }
        if !pause(&mut shutdown, JOB_GAUGE_INTERVAL).await {
            return;
        }
    }
}
