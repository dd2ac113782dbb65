//! Installing pinned Allure CLI versions with npm, each into its own prefix `DATA_DIR/allure/<version>`
//! (contract §13.5): installed under a temporary name and renamed into place only once it answers `--version`, so
//! a failed or interrupted install never leaves a half-installed CLI that would be picked up later.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::runner::binary_in;

/// Longest an `npm install` may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest `allure --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(60);

/// Installs and finds CLI versions under `DATA_DIR/allure/`.
#[derive(Debug, Clone)]
pub struct Installer {
    /// `DATA_DIR/allure`.
    root: PathBuf,
    /// `NPM_BIN`.
    npm: PathBuf,
    /// `NPM_REGISTRY_URL`; `None` for npm's own configuration.
    registry: Option<String>,
}

impl Installer {
    /// Installs under `root` with the `npm` executable.
    pub fn new(root: PathBuf, npm: PathBuf, registry: Option<String>) -> Self {
        Self { root, npm, registry }
    }

    /// The executable of `version` when it is installed.
    pub fn installed(&self, version: &str) -> Option<PathBuf> {
        Some(binary_in(&self.root.join(version))).filter(|b| b.is_file())
    }

    /// Installs `version` (unless present) and returns its executable.
    ///
    /// # Errors
    /// A message naming what failed (npm missing, the install, the installed CLI not answering).
    pub async fn ensure(&self, version: &str) -> Result<PathBuf, String> {
        if let Some(binary) = self.installed(version) {
            return Ok(binary);
        }
        if version.is_empty() || !version.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')) {
            return Err(format!("invalid Allure version {version:?}"));
        }
        tokio::fs::create_dir_all(&self.root)
            .await
            .map_err(|e| format!("cannot create {}: {e}", self.root.display()))?;
        let staging = self.root.join(format!(".installing-{version}-{}", std::process::id()));
        let _ = tokio::fs::remove_dir_all(&staging).await;
        let result = self.install_into(&staging, version).await;
        if result.is_err() {
            let _ = tokio::fs::remove_dir_all(&staging).await;
        }
        result?;
        let target = self.root.join(version);
        match tokio::fs::rename(&staging, &target).await {
            Ok(()) => {}
            // Installed meanwhile by another process: keep that one.
            Err(_) if self.installed(version).is_some() => {
                let _ = tokio::fs::remove_dir_all(&staging).await;
            }
            Err(e) => return Err(format!("cannot move the install into place: {e}")),
        }
        self.installed(version).ok_or_else(|| "the installed CLI disappeared".to_owned())
    }

    async fn install_into(&self, prefix: &std::path::Path, version: &str) -> Result<(), String> {
        tracing::info!(version, npm = %self.npm.display(), "installing the Allure CLI with npm");
        let mut npm = Command::new(&self.npm);
        npm.args(["install", "--no-audit", "--no-fund", "--no-save", "--loglevel=error", "--prefix"])
            .arg(prefix)
            .arg(format!("allure@{version}"))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(registry) = &self.registry {
            npm.arg(format!("--registry={registry}"));
        }
        let out = tokio::time::timeout(INSTALL_TIMEOUT, npm.output())
            .await
            .map_err(|_| format!("npm install did not finish within {}s", INSTALL_TIMEOUT.as_secs()))?
            .map_err(|e| format!("npm is not available ({}): {e}", self.npm.display()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
            return Err(format!(
                "npm install allure@{version} failed: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ));
        }
        let answered = version_of(&binary_in(prefix)).await?;
        if answered != version {
            return Err(format!("the installed CLI reports version {answered}, not {version}"));
        }
        tracing::info!(version, "Allure CLI installed");
        Ok(())
    }
}

/// What `<binary> --version` prints, trimmed.
///
/// # Errors
/// When it cannot run, fails or times out.
pub async fn version_of(binary: &std::path::Path) -> Result<String, String> {
    let mut command = Command::new(binary);
    command.arg("--version").stdin(Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(VERSION_TIMEOUT, command.output())
        .await
        .map_err(|_| format!("{} --version did not answer", binary.display()))?
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if !out.status.success() {
        return Err(format!("{} --version failed with {}", binary.display(), out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.trim().rsplit(' ').next().unwrap_or_default().to_owned())
}
