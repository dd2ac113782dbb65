//! Start-up, step three: work interrupted by the last stop is resumed or failed visibly, then every background
//! worker starts. Each one watches the same shutdown signal and ends on it, and the server awaits them all before
//! it lets go of `DATA_DIR`: stopped jobs are back in the queue, and no worker still writes when the next process
//! starts on the same data.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hub_domain::model::node::HEARTBEAT_INTERVAL;
use hub_domain::services::NodeService;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::adapters::Adapters;
use super::services::Wired;
use crate::config::Config;
use crate::{background, generation, outcomes, stale_reports, stored_bytes as sizes};

/// How often the policy file is re-read.
const POLICY_RELOAD_INTERVAL: Duration = Duration::from_secs(30);

/// The running workers and the signal that stops them.
pub(super) struct Workers {
    /// Turning it `true` stops every worker (and ends event streams).
    pub shutdown: watch::Sender<bool>,
    /// Every worker, the job dispatcher first, awaited at shutdown.
    pub tasks: Vec<JoinHandle<()>>,
}

/// Resumes interrupted uploads and jobs, then spawns every worker.
///
/// # Errors
/// When the sessions or jobs left by the last process cannot be read.
pub(super) async fn spawn(config: &Config, a: &Adapters, wired: Wired) -> anyhow::Result<Workers> {
    let Wired { services, generation, endings, job_queued, disk_check_now, stored_bytes, stale_reports, report_left } =
        wired;
    let recovered = services.uploads.recover().await.context("cannot recover upload sessions")?;
    if recovered > 0 {
        tracing::info!(sessions = recovered, "upload sessions recovered after a restart");
    }
    let failed = generation.recover().await.context("cannot recover generation jobs")?;
    if failed > 0 {
        tracing::warn!(sessions = failed, "generations interrupted by restarts too often have failed");
    }

    // Listed among the live nodes before this one serves anything.
    services.nodes.beat().await.context("cannot write this node's heartbeat")?;

    let (shutdown, stop) = watch::channel(false);
    let bg = &config.background;
    let warm_up = {
        // One attempt to reach each provider's discovery document, so the first sign-in does not wait for it.
        let (identity, mut stop) = (Arc::clone(&a.identity), stop.clone());
        async move {
            tokio::select! {
                () = identity.warm_up() => {}
                _ = stop.changed() => {}
            }
        }
    };
    let tasks = vec![
        tokio::spawn(generation::run_jobs(
            generation,
            generation::JobLimits { max_running: config.allure.max_concurrency, lease: config.allure.job_lease },
            a.cli.installing.clone(),
            job_queued,
            Arc::clone(&report_left),
            stop.clone(),
        )),
        tokio::spawn(outcomes::follow(
            endings,
            services.notifications.clone(),
            Arc::clone(&disk_check_now),
            stop.clone(),
        )),
        tokio::spawn(Arc::clone(&a.policy).watch(POLICY_RELOAD_INTERVAL, stop.clone())),
        tokio::spawn(warm_up),
        // Sequential and resumable: builds kept before sizes were (an upgraded installation) get theirs.
        tokio::spawn(sizes::fill_stored_bytes(stored_bytes, stop.clone())),
        // Only the builds recorded by a switch whose old report was not deleted: a killed process, a store down.
        tokio::spawn(stale_reports::sweep_stale_reports(stale_reports, report_left, stop.clone())),
        tokio::spawn(background::sweep_stale_uploads(
            services.uploads.clone(),
            config.uploads.stale_after,
            stop.clone(),
        )),
        tokio::spawn(background::schedule_cleanup(services.retention.clone(), a.clock.clone(), stop.clone())),
        tokio::spawn(background::check_disk(
            services.disk.clone(),
            bg.disk_check_interval,
            disk_check_now,
            stop.clone(),
        )),
        tokio::spawn(background::prune_notifications(
            services.notifications.clone(),
            bg.notify_retention_days,
            stop.clone(),
        )),
        tokio::spawn(background::check_allure_updates(
            services.allure.clone(),
            services.notifications.clone(),
            config.allure.update_check_interval,
            stop.clone(),
        )),
        tokio::spawn(heartbeat(services.nodes.clone(), stop.clone())),
        tokio::spawn(background::gauge_jobs(a.store.clone(), stop)),
    ];
    Ok(Workers { shutdown, tasks })
}

/// Writes this node's heartbeat every [`HEARTBEAT_INTERVAL`] (start-up wrote the first) until the server stops,
/// then deletes the node's row so that the other nodes stop listing it at once. A beat the database refuses is
/// logged once per outage; the next one tries again, and the node drops out of the list only after three missed.
async fn heartbeat(nodes: NodeService, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
    // After a slow beat, the next one waits a whole interval rather than following at once.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    while !*stop.borrow() {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => break,
        }
        match nodes.beat().await {
            Ok(()) if failing => {
                tracing::info!("this node's heartbeat is written again");
                failing = false;
            }
            Ok(()) => {}
            Err(e) if !failing => {
                tracing::warn!(error = %e, "cannot write this node's heartbeat; will retry");
                failing = true;
            }
            Err(_) => {}
        }
    }
    if let Err(e) = nodes.forget().await {
        tracing::warn!(error = %e, "cannot remove this node from the list; it drops out when its heartbeat ages");
    }
}
