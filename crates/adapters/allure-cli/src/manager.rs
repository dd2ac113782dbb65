//! Which Allure CLI runs reports, and switching it while the server runs (contract §13.5, §8.3 "CLI
//! availability"). At start-up: `ALLURE_BIN`, else the version last activated through the API, else the installed
//! `ALLURE_VERSION`, else `ALLURE_VERSION` installed in the background. One installation runs at a time, and while
//! it does, generation jobs wait (the dispatcher watches [`CliManager::installing`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use hub_domain::model::allure_version::AllureVersion;
use hub_domain::ports::{AllureCliManager, CliInstallError, CliStatus};

use crate::install::{Installer, check_version, version_of};
use crate::redact::scrubbed_tail;
use crate::registry::Registry;
use crate::runner::{AllureCli, CliSettings};

/// Most bytes of an installation failure shown to clients.
const DETAIL_BYTES: usize = 4096;

/// Where the CLI comes from (Appendix A.4).
#[derive(Debug, Clone)]
pub struct ManagerSettings {
    /// `DATA_DIR`: installs live in `DATA_DIR/allure`, and the path is written `$DATA_DIR` in error details.
    pub data_dir: PathBuf,
    /// `ALLURE_BIN`: a CLI used as is, never installed or switched.
    pub bin: Option<PathBuf>,
    /// `ALLURE_VERSION`: installed at start-up when nothing else is there.
    pub default_version: String,
    /// `NPM_BIN`.
    pub npm: PathBuf,
    /// `NPM_REGISTRY_URL`: `None` for npm's own registry, `Some("")` for no registry access at all.
    pub registry: Option<String>,
    /// The server's `PATH`, searched for an `allure` executable before installing one.
    pub search_path: Option<std::ffi::OsString>,
}

/// The first executable regular file named `allure` in a `PATH` value.
fn allure_on_path(search_path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(search_path?).map(|dir| dir.join("allure")).find(|candidate| {
        std::fs::metadata(candidate).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The CLI runner together with what installs and switches its executable; cheap to clone.
#[derive(Debug, Clone)]
pub struct CliManager {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    runner: AllureCli,
    installer: Installer,
    registry: Registry,
    managed: bool,
    data_dir: PathBuf,
    /// `true` while an installation runs; read by the job dispatcher.
    busy: Arc<AtomicBool>,
    state: Mutex<State>,
    /// The last `--version` answer, by executable and its modification time: asking starts a Node process.
    known_version: Mutex<Option<(PathBuf, SystemTime, String)>>,
}

#[derive(Debug, Default)]
struct State {
    /// The version being installed.
    installing: Option<String>,
    /// The managed version in use; `None` with `ALLURE_BIN` or before any install succeeded.
    active: Option<String>,
}

/// The right to install, taken by one installation at a time and given back when dropped, however it ends.
struct Claim(Arc<Inner>);

impl Drop for Claim {
    fn drop(&mut self) {
        self.0.lock().installing = None;
        self.0.busy.store(false, Ordering::Release);
    }
}

impl CliManager {
    /// Chooses the CLI as the contract orders it, starting the install of `ALLURE_VERSION` in the background when
    /// nothing usable is there. Must be called inside the Tokio runtime.
    pub fn start(settings: ManagerSettings, cli: CliSettings) -> Self {
        let ManagerSettings { data_dir, bin, default_version, npm, registry, search_path } = settings;
        let installer =
            Installer::new(data_dir.join("allure"), npm.clone(), registry.clone().filter(|r| !r.is_empty()));
        let disabled = registry.as_deref() == Some("");
        let chosen = match &bin {
            Some(bin) => Some((Ok(bin.clone()), None)),
            None => installer
                .active()
                .into_iter()
                .chain([default_version.clone()])
                .find_map(|v| installer.installed(&v).map(|binary| (Ok(binary), Some(v))))
                // An `allure` the operator installed: used as found, still switchable through the API.
                .or_else(|| allure_on_path(search_path.as_deref()).map(|binary| (Ok(binary), None))),
        };
        let install_default = chosen.is_none() && !disabled;
        let (binary, active) = chosen.unwrap_or_else(|| {
            let reason = if disabled {
                tracing::error!(version = %default_version, "Allure is not installed and NPM_REGISTRY_URL is empty");
                format!("Allure {default_version} is not installed and NPM_REGISTRY_URL is empty")
            } else {
                format!("Allure {default_version} is being installed")
            };
            (Err(reason), None)
        });
        let inner = Arc::new(Inner {
            runner: AllureCli::new(cli, binary),
            installer,
            registry: Registry::new(registry, npm),
            managed: bin.is_none(),
            data_dir,
            busy: Arc::new(AtomicBool::new(false)),
            state: Mutex::new(State { installing: None, active }),
            known_version: Mutex::new(None),
        });
        if install_default {
            let claim = Inner::claim(&inner, &mut inner.lock(), &default_version);
            tokio::spawn(async move {
                let inner = Arc::clone(&claim.0);
                inner.install_default(&default_version).await;
                drop(claim);
            });
        }
        Self { inner }
    }

    /// The runner whose executable this manager switches, for the generation service.
    pub fn runner(&self) -> AllureCli {
        self.inner.runner.clone()
    }

    /// `true` while an installation runs: the dispatcher starts no job meanwhile (§8.3).
    pub fn installing(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.inner.busy)
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the installation slot for `version`, under the lock with which the caller found it free.
    fn claim(inner: &Arc<Self>, state: &mut State, version: &str) -> Claim {
        state.installing = Some(version.to_owned());
        inner.busy.store(true, Ordering::Release);
        Claim(Arc::clone(inner))
    }

    /// `detail` fit for a client: no server path, at most 4 KiB.
    fn scrub(&self, detail: &str) -> String {
        scrubbed_tail(detail, &self.data_dir, DETAIL_BYTES)
    }

    /// The start-up install of `ALLURE_VERSION`; its failure leaves generation unavailable with the reason.
    async fn install_default(&self, version: &str) {
        match self.installer.ensure(version).await {
            Ok(binary) => {
                self.runner.set_binary(Ok(binary));
                self.lock().active = Some(version.to_owned());
            }
            Err(e) => {
                let reason = self.scrub(&e.to_string());
                tracing::error!(%version, %reason, "the Allure CLI could not be installed; reports cannot be generated");
                self.runner.set_binary(Err(reason));
            }
        }
    }

    /// Installs `version` unless it is still there (the previous version, kept for rollback), checks it, records
    /// it for the next start and switches the runner to it; then removes installs older than the one it replaces.
    async fn switch_to(&self, version: &AllureVersion) -> Result<(), CliInstallError> {
        let v = version.as_str();
        let failed = |detail: String| CliInstallError::Failed { version: v.to_owned(), detail: self.scrub(&detail) };
        let binary = match self.installer.installed(v) {
            // Kept from earlier, so possibly damaged since: it must still answer.
            Some(binary) => {
                check_version(&binary, v).await.map_err(failed)?;
                binary
            }
            None if self.registry.disabled() => {
                return Err(failed("NPM_REGISTRY_URL is empty, so nothing can be installed".to_owned()));
            }
            None if self.registry.lacks(v).await => return Err(CliInstallError::NotInRegistry(v.to_owned())),
            None => self.installer.ensure(v).await.map_err(|e| failed(e.detail))?,
        };
        self.installer.set_active(version).await.map_err(|e| CliInstallError::Storage(e.to_string()))?;
        self.runner.set_binary(Ok(binary));
        let previous = self.lock().active.replace(v.to_owned());
        tracing::info!(version = v, previous = previous.as_deref().unwrap_or(""), "switched the Allure CLI");
        let keep: Vec<&str> = [Some(v), previous.as_deref()].into_iter().flatten().collect();
        self.installer.remove_except(&keep).await;
        Ok(())
    }

    /// What the active CLI says its version is; `""` when there is none or it does not answer.
    async fn active_version(&self) -> String {
        let Some(binary) = self.runner.binary_path() else { return String::new() };
        let stamp = std::fs::metadata(&binary).and_then(|m| m.modified()).ok();
        if let (Some(stamp), Some((path, at, version))) =
            (stamp, &*self.known_version.lock().unwrap_or_else(|e| e.into_inner()))
            && *path == binary
            && *at == stamp
        {
            return version.clone();
        }
        match version_of(&binary).await {
            Ok(version) => {
                if let Some(stamp) = stamp {
                    *self.known_version.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some((binary, stamp, version.clone()));
                }
                version
            }
            Err(e) => {
                tracing::warn!(error = %e, "the Allure CLI does not tell its version");
                String::new()
            }
        }
    }
}

#[async_trait]
impl AllureCliManager for CliManager {
    async fn status(&self) -> CliStatus {
        let installing = self.inner.lock().installing.clone();
        let (version, latest) = tokio::join!(self.inner.active_version(), self.inner.registry.latest());
        CliStatus { version, latest, managed: self.inner.managed, installing }
    }

    async fn active_version(&self) -> Option<String> {
        Some(self.inner.active_version().await).filter(|v| !v.is_empty())
    }

    async fn activate(&self, version: &AllureVersion) -> Result<(), CliInstallError> {
        if !self.inner.managed {
            return Err(CliInstallError::NotManaged);
        }
        let claim = {
            let mut state = self.inner.lock();
            if state.installing.is_some() {
                return Err(CliInstallError::InProgress);
            }
            if state.active.as_deref() == Some(version.as_str()) {
                return Ok(());
            }
            Inner::claim(&self.inner, &mut state, version.as_str())
        };
        let version = version.clone();
        // Its own task: a client that goes away must not stop npm halfway through.
        tokio::spawn(async move {
            let inner = Arc::clone(&claim.0);
            let result = inner.switch_to(&version).await;
            drop(claim);
            result
        })
        .await
        .unwrap_or_else(|e| Err(CliInstallError::Storage(format!("the installation stopped: {e}"))))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::CliSettings;

    fn file(path: &std::path::Path, mode: u32) {
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[tokio::test]
    async fn an_allure_on_path_is_used_before_installing_one() {
        let dir = tempfile::tempdir().unwrap();
        let (plain, bin, data) = (dir.path().join("plain"), dir.path().join("bin"), dir.path().join("data"));
        for d in [&plain, &bin, &data] {
            std::fs::create_dir(d).unwrap();
        }
        file(&plain.join("allure"), 0o644);
        std::fs::create_dir(bin.join("missing")).unwrap();
        let search = std::env::join_paths([plain.clone(), bin.join("missing"), bin.clone()]).unwrap();
        assert_eq!(allure_on_path(Some(&search)), None, "not executable, and a directory, are skipped");
        file(&bin.join("allure"), 0o755);
        assert_eq!(allure_on_path(Some(&search)), Some(bin.join("allure")));
        assert_eq!(allure_on_path(None), None);

        let settings = |search_path| ManagerSettings {
            data_dir: data.clone(),
            bin: None,
            default_version: "3.18.0".into(),
            npm: PathBuf::from("false"),
            registry: Some(String::new()),
            search_path,
        };
        let cli = CliSettings { timeout: None, node_heap_mb: 512, data_dir: data.clone() };
        let found = CliManager::start(settings(Some(search)), cli.clone());
        assert_eq!(found.runner().binary_path(), Some(bin.join("allure")));
        assert!(!found.installing().load(Ordering::Acquire), "nothing to install");
        let none = CliManager::start(settings(None), cli);
        assert_eq!(none.runner().binary_path(), None, "no CLI and installs disabled");
    }

    #[tokio::test]
    async fn the_active_version_is_what_the_cli_prints_or_none_when_it_fails() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let settings = |bin| ManagerSettings {
            data_dir: data.clone(),
            bin,
            default_version: "3.18.0".into(),
            npm: PathBuf::from("false"),
            registry: Some(String::new()),
            search_path: None,
        };
        let cli = CliSettings { timeout: None, node_heap_mb: 512, data_dir: data.clone() };
        let allure = hub_test_support::npm::script(dir.path(), "allure", "echo 'allure 3.19.1'");
        let fixed = CliManager::start(settings(Some(allure)), cli.clone());
        assert_eq!(fixed.active_version().await.as_deref(), Some("3.19.1"));
        let broken = hub_test_support::npm::script(dir.path(), "broken", "exit 1");
        assert_eq!(CliManager::start(settings(Some(broken)), cli).active_version().await, None);
    }
}
