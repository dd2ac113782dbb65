//! Report generation in the server process: the Allure CLI in use (installed with npm at start-up when none is
//! found, contract §13.5) and the dispatcher that runs queued jobs (§8.3 scheduling).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hub_allure_cli::{AllureCli, CliSettings, Installer};
use hub_domain::model::report_config::ReportConfigPolicy;
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
