//! Report generation in the server process: the Allure CLI in use (installed with npm at start-up when none is
//! found, contract §13.5) and the dispatcher that runs queued jobs (§8.3 scheduling).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hub_allure_cli::{AllureCli, CliSettings, Installer};
use hub_domain::services::GenerationService;

use crate::config::AllureConfig;

/// How often the dispatcher looks for queued jobs when nothing finished meanwhile.
const POLL: Duration = Duration::from_millis(500);

/// The CLI runner, and whether an installation is still running (jobs wait meanwhile).
#[derive(Debug, Clone)]
pub struct Cli {
    /// The runner (its executable may change when an installation finishes).
    pub runner: AllureCli,
    /// `true` while the CLI is being installed.
    pub installing: Arc<AtomicBool>,
}

/// Chooses the CLI: `ALLURE_BIN`, else the installed `ALLURE_VERSION` under `DATA_DIR/allure`, else installs it
/// in the background (jobs stay queued until it is ready).
pub fn start_cli(config: &AllureConfig, data_dir: &Path) -> Cli {
    let settings =
        CliSettings { timeout: config.timeout, node_heap_mb: config.node_heap_mb, data_dir: data_dir.to_path_buf() };
    let installing = Arc::new(AtomicBool::new(false));
    if let Some(bin) = &config.bin {
        return Cli { runner: AllureCli::new(settings, Ok(bin.clone())), installing };
    }
    let registry = config.npm_registry.clone();
    let installer =
        Installer::new(data_dir.join("allure"), config.npm_bin.clone(), registry.clone().filter(|r| !r.is_empty()));
    if let Some(bin) = installer.installed(&config.version) {
        return Cli { runner: AllureCli::new(settings, Ok(bin)), installing };
    }
    if registry.as_deref() == Some("") {
        let reason = format!("Allure {} is not installed and NPM_REGISTRY_URL is empty", config.version);
        tracing::error!(%reason, "report generation is unavailable");
        return Cli { runner: AllureCli::new(settings, Err(reason)), installing };
    }
    let runner = AllureCli::new(settings, Err(format!("Allure {} is being installed", config.version)));
    installing.store(true, Ordering::Release);
    let cli = Cli { runner: runner.clone(), installing: Arc::clone(&installing) };
    let version = config.version.clone();
    tokio::spawn(async move {
        let result = installer.ensure(&version).await;
        if let Err(reason) = &result {
            tracing::error!(%version, %reason, "the Allure CLI could not be installed; reports cannot be generated");
        }
        runner.set_binary(result);
        installing.store(false, Ordering::Release);
    });
    cli
}

/// Runs queued jobs for as long as the process lives: at most `max_running` at once (and one per project, which
/// the queue enforces), none while the CLI is being installed.
pub async fn run_jobs(service: GenerationService, max_running: i64, installing: Arc<AtomicBool>) {
    let mut running = tokio::task::JoinSet::new();
    loop {
        while !installing.load(Ordering::Acquire) {
            match service.claim(max_running).await {
                Ok(Some(job)) => {
                    let service = service.clone();
                    running.spawn(async move {
                        let (build, id) = (job.build_id.clone(), job.id);
                        if let Err(e) = service.run(job).await {
                            tracing::error!(%build, job = %id, error = %e, "cannot store a generation outcome");
                        }
                    });
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim a generation job; will retry");
                    break;
                }
            }
        }
        tokio::select! {
            Some(_) = running.join_next(), if !running.is_empty() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}
