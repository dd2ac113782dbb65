//! Report generation in the server process: the Allure CLI in use (chosen, installed and switched by
//! [`CliManager`], contract §13.5) and the dispatcher that runs queued jobs (§8.3 scheduling).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hub_allure_cli::{AllureCli, CliManager, CliSettings, ManagerSettings};
use hub_domain::model::job::GenerationJob;
use hub_domain::model::report_config::ReportConfigPolicy;
use hub_domain::services::{GenerationService, RunSummary};
use hub_http::metrics::{self, GenerationResult};

use crate::config::AllureConfig;

/// How often the dispatcher looks for queued jobs when it was not woken: the safety net for jobs queued by another
/// node or while its event subscription was lost.
const POLL: Duration = Duration::from_millis(500);
/// How long a job whose storage could not be reached keeps its place before it goes back to the queue: the
/// dispatcher would otherwise claim it again at once and spin while the storage is down. The `Retry-After` that
/// clients get for the same condition.
const STORAGE_RETRY_PAUSE: Duration = Duration::from_secs(5);

/// The CLI runner, whether an installation is running (jobs wait meanwhile), and the manager behind both.
#[derive(Debug, Clone)]
pub struct Cli {
    /// The runner (its executable changes when an installation finishes or a version is activated).
    pub runner: AllureCli,
    /// `true` while the CLI is being installed.
    pub installing: Arc<AtomicBool>,
    /// Installs and switches the CLI, for the settings API.
    pub manager: CliManager,
}

/// Chooses the CLI: `ALLURE_BIN`, else the version last activated through the API, else the installed
/// `ALLURE_VERSION` under `DATA_DIR/allure`, else installs it in the background (jobs stay queued until it is
/// ready).
pub fn start_cli(config: &AllureConfig, data_dir: &Path) -> Cli {
    let settings =
        CliSettings { timeout: config.timeout, node_heap_mb: config.node_heap_mb, data_dir: data_dir.to_path_buf() };
    let manager = CliManager::start(
        ManagerSettings {
            data_dir: data_dir.to_path_buf(),
            bin: config.bin.clone(),
            default_version: config.version.clone(),
            npm: config.npm_bin.clone(),
            registry: config.npm_registry.clone(),
            search_path: std::env::var_os("PATH"),
        },
        settings,
    );
    Cli { runner: manager.runner(), installing: manager.installing(), manager }
}

/// §8.2: the base report config from `ALLURE_CONFIG` (YAML) with the plugin allowlist. A missing file is an empty
/// base; a file that cannot be read or parsed, or is not a mapping, stops start-up.
///
/// # Errors
/// The file exists but is unusable.
pub fn report_config_policy(config: &AllureConfig) -> anyhow::Result<ReportConfigPolicy> {
    let path = &config.config_file;
    let base = match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => serde_json::Map::new(),
        Ok(text) => match serde_saphyr::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) => anyhow::bail!("ALLURE_CONFIG {}: expected a mapping of config keys", path.display()),
            Err(e) => anyhow::bail!("ALLURE_CONFIG {} cannot be parsed: {e}", path.display()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::info!(path = %path.display(), "no base report config file; using an empty one");
            serde_json::Map::new()
        }
        Err(e) => anyhow::bail!("ALLURE_CONFIG {} cannot be read: {e}", path.display()),
    };
    Ok(ReportConfigPolicy::new(base, config.plugins_allowed.clone()))
}

/// How many jobs this node runs at once, and how long its hold on each lasts unless renewed.
#[derive(Debug, Clone, Copy)]
pub struct JobLimits {
    /// `ALLURE_MAX_CONCURRENCY`.
    pub max_running: i64,
    /// `JOB_LEASE`.
    pub lease: Duration,
}

/// Runs queued jobs until `shutdown` turns true: at most `max_running` at once (and one per project, which the
/// queue enforces), none while the CLI is being installed. At shutdown the running CLIs are stopped (their process
/// groups killed) and their jobs go back to the queue without counting an attempt (§17.4).
///
/// `job_queued` (notified when a session enters `generating`: an upload saved, a regeneration queued) wakes the
/// dispatcher at once, so a job does not wait for the next poll.
///
/// A job whose storage could not be reached goes back to the queue after a pause of 5 s, without counting
/// an attempt, so that an outage of the object store delays reports instead of failing them.
///
/// `report_left` is notified when a run could not delete a report the build no longer names (the build is recorded
/// for the sweep of [`crate::stale_reports`], which then tries again).
pub async fn run_jobs(
    service: GenerationService,
    limits: JobLimits,
    installing: Arc<AtomicBool>,
    job_queued: Arc<tokio::sync::Notify>,
    report_left: Arc<tokio::sync::Notify>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let JobLimits { max_running, lease } = limits;
    let mut running = tokio::task::JoinSet::new();
    let mut jobs: HashMap<tokio::task::Id, GenerationJob> = HashMap::new();
    let (mut next_renewal, mut next_take_back) = (Instant::now(), Instant::now());
    while !*shutdown.borrow() {
        // Leases of this node's jobs are renewed three times per lease, so one slow renewal loses nothing.
        if !jobs.is_empty() && Instant::now() >= next_renewal {
            next_renewal = Instant::now() + lease / 3;
            if let Err(e) = service.renew_leases().await {
                tracing::warn!(error = %e, "cannot renew the leases of running jobs; will retry");
            }
        }
        // Jobs of nodes that died go back to the queue once their lease ran out, for this node or another.
        if Instant::now() >= next_take_back {
            next_take_back = Instant::now() + POLL;
            match service.take_back_abandoned().await {
                Ok(0) => {}
                Ok(failed) => tracing::warn!(failed, "jobs abandoned by a node failed after too many interruptions"),
                Err(e) => tracing::warn!(error = %e, "cannot take back jobs of nodes that stopped; will retry"),
            }
        }
        while !installing.load(Ordering::Acquire) {
            match service.claim(max_running).await {
                Ok(Some(job)) => {
                    let (service, claimed, report_left) = (service.clone(), job.clone(), Arc::clone(&report_left));
                    let task = running.spawn(async move {
                        let (build, id) = (job.build_id.clone(), job.id);
                        let started = Instant::now();
                        match service.run(job.clone()).await {
                            Ok(RunSummary { deferred: Some(cause), .. }) => {
                                tracing::warn!(%build, job = %id, error = %cause, "storage unavailable; the job will be tried again");
                                // Still running meanwhile: a shutdown during the pause releases it like any other.
                                tokio::time::sleep(STORAGE_RETRY_PAUSE).await;
                                if let Err(e) = service.release(&job).await {
                                    tracing::warn!(%build, job = %id, error = %e, "cannot return a job to the queue");
                                }
                            }
                            Ok(summary) => {
                                if let Some(cause) = &summary.fault {
                                    tracing::error!(%build, job = %id, error = %cause, "generation failed on a server fault");
                                }
                                if let Some(cause) = &summary.leftover {
                                    tracing::warn!(%build, job = %id, error = %cause, "a report the build no longer names is left to the sweep of replaced reports (when the store is back, or at the next start)");
                                    report_left.notify_one();
                                }
                                if let Some(cause) = &summary.unmeasured {
                                    tracing::warn!(%build, job = %id, error = %cause, "the build's stored size stays unknown");
                                }
                                metrics::record_generation(
                                    GenerationResult::from(summary.generated),
                                    started.elapsed().as_secs_f64(),
                                );
                            }
                            Err(e) => {
                                tracing::error!(%build, job = %id, error = %e, "cannot store a generation outcome");
                            }
                        }
                    });
                    jobs.insert(task.id(), claimed);
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim a generation job; will retry");
                    break;
                }
            }
        }
        tokio::select! {
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                jobs.remove(&done.map_or_else(|e| e.id(), |(id, ())| id));
            }
            () = job_queued.notified() => {}
            () = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => {}
        }
    }
    // Dropping a run kills its CLI's process group; a job that finished meanwhile keeps its outcome.
    running.abort_all();
    while let Some(done) = running.join_next_with_id().await {
        if let Err(e) = done
            && e.is_cancelled()
            && let Some(job) = jobs.remove(&e.id())
            && let Err(err) = service.release(&job).await
        {
            tracing::warn!(job = %job.id, error = %err, "cannot return a stopped job to the queue");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::PathBuf;

    use super::*;

    fn allure_config(file: PathBuf) -> AllureConfig {
        AllureConfig {
            bin: None,
            version: "3.18.0".into(),
            max_concurrency: 1,
            timeout: None,
            history_limit: 20,
            node_heap_mb: 2048,
            npm_bin: PathBuf::from("npm"),
            npm_registry: None,
            config_file: file,
            plugins_allowed: vec!["awesome".into()],
            update_check_interval: Duration::ZERO,
            job_lease: Duration::from_secs(30),
        }
    }

    #[test]
    fn the_base_config_file_is_yaml_and_optional() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("allurerc.yml");
        let policy = report_config_policy(&allure_config(file.clone())).unwrap();
        assert!(policy.base().is_empty(), "a missing file is an empty base");

        std::fs::write(&file, "name: Team reports\nplugins:\n  team-theme:\n    options: {dark: true}\n").unwrap();
        let policy = report_config_policy(&allure_config(file.clone())).unwrap();
        let (config, _) =
            policy.effective(Some(&serde_json::json!({"plugins": {"team-theme": {"enabled": false}}}))).unwrap();
        assert_eq!(
            config,
            serde_json::json!({"name": "Team reports", "plugins": {"team-theme": {"options": {"dark": true}, "enabled": false}}}),
            "plugins of the base config may be overridden even when not in the allowlist"
        );

        for bad in ["name: [unclosed", "- just\n- a list\n"] {
            std::fs::write(&file, bad).unwrap();
            let err = report_config_policy(&allure_config(file.clone())).unwrap_err().to_string();
            assert!(err.starts_with("ALLURE_CONFIG "), "{err}");
        }
    }
}
