//! Installing pinned Allure CLI versions with npm, each into its own prefix `DATA_DIR/allure/<version>`
//! (contract §13.5): installed under a temporary name and renamed into place only once it answers `--version`, so
//! a failed or interrupted install never leaves a half-installed CLI that would be picked up later. The version
//! last activated through the API is recorded in `DATA_DIR/allure/active`, so the next start picks it again.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use hub_domain::model::allure_version::{AllureVersion, first_version_in};
use hub_domain::model::syntax::format_duration;
use tokio::process::Command;

use crate::runner::binary_in;

/// Longest an `npm install` may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest `allure --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);
/// npm stderr kept for an error; the API shows the last 4 KiB of it (after hiding paths), so a little more is kept.
const STDERR_KEPT_BYTES: usize = 16 * 1024;
/// The file naming the version last activated through the API.
const ACTIVE_FILE: &str = "active";

/// Why a version could not be installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallError {
    /// The version asked for.
    pub version: String,
    /// What went wrong: the end of npm's stderr, a time-out, the installed CLI not answering.
    pub detail: String,
}

impl std::fmt::Display for InstallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "npm install allure@{} failed: {}", self.version, self.detail)
    }
}

impl std::error::Error for InstallError {}

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
    /// What failed (npm missing, the install, the installed CLI not answering).
    pub async fn ensure(&self, version: &str) -> Result<PathBuf, InstallError> {
        if let Some(binary) = self.installed(version) {
            return Ok(binary);
        }
        let fail = |detail: String| InstallError { version: version.to_owned(), detail };
        if version.is_empty() || !version.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')) {
            return Err(fail(format!("invalid Allure version {version:?}")));
        }
        tokio::fs::create_dir_all(&self.root)
            .await
            .map_err(|e| fail(format!("cannot create {}: {e}", self.root.display())))?;
        // One staging directory per install, also within a process: two installs at once (two test servers, a
        // start-up and a version switch) must not delete each other's files.
        static INSTALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let install = INSTALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let staging = self.root.join(format!(".installing-{version}-{}-{install}", std::process::id()));
        let _ = tokio::fs::remove_dir_all(&staging).await;
        let result = self.install_into(&staging, version).await;
        if result.is_err() {
            let _ = tokio::fs::remove_dir_all(&staging).await;
        }
        result.map_err(fail)?;
        let target = self.root.join(version);
        match tokio::fs::rename(&staging, &target).await {
            Ok(()) => {}
            // Installed meanwhile by another process: keep that one.
            Err(_) if self.installed(version).is_some() => {
                let _ = tokio::fs::remove_dir_all(&staging).await;
            }
            Err(e) => return Err(fail(format!("cannot move the install into place: {e}"))),
        }
        self.installed(version).ok_or_else(|| fail("the installed CLI disappeared".to_owned()))
    }

    async fn install_into(&self, prefix: &Path, version: &str) -> Result<(), String> {
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
            .map_err(|_| format!("timed out after {}", format_duration(INSTALL_TIMEOUT)))?
            .map_err(|e| format!("npm is not available ({}): {e}", self.npm.display()))?;
        if !out.status.success() {
            let stderr = &out.stderr[out.stderr.len().saturating_sub(STDERR_KEPT_BYTES)..];
            let stderr = String::from_utf8_lossy(stderr).trim().to_owned();
            return Err(if stderr.is_empty() { format!("npm exited with {}", out.status) } else { stderr });
        }
        check_version(&binary_in(prefix), version).await?;
        tracing::info!(version, "Allure CLI installed");
        Ok(())
    }

    /// The version last activated through the API, when one was recorded and looks like a version.
    pub fn active(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.root.join(ACTIVE_FILE)).ok()?;
        let version = AllureVersion::parse(text.trim()).ok();
        if version.is_none() {
            tracing::warn!(file = %self.root.join(ACTIVE_FILE).display(), "ignoring an unreadable active version");
        }
        version.map(|v| v.to_string())
    }

    /// Records `version` as the one to use at the next start: written to a temporary file and renamed, so a crash
    /// leaves the old or the new choice, never a partial one.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub async fn set_active(&self, version: &AllureVersion) -> std::io::Result<()> {
        tokio::fs::create_dir_all(&self.root).await?;
        let tmp = self.root.join(format!(".{ACTIVE_FILE}.tmp"));
        tokio::fs::write(&tmp, format!("{version}\n")).await?;
        tokio::fs::rename(&tmp, self.root.join(ACTIVE_FILE)).await
    }

    /// Removes every installed version but those in `keep` (installs in progress, whose names start with a dot,
    /// and the record of the active version stay).
    pub async fn remove_except(&self, keep: &[&str]) {
        let Ok(mut entries) = tokio::fs::read_dir(&self.root).await else { return };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().await.is_ok_and(|t| t.is_dir());
            if !is_dir || name.starts_with('.') || keep.contains(&name.as_str()) {
                continue;
            }
            match tokio::fs::remove_dir_all(entry.path()).await {
                Ok(()) => tracing::info!(version = %name, "removed an old Allure CLI install"),
                Err(e) => tracing::warn!(version = %name, error = %e, "cannot remove an old Allure CLI install"),
            }
        }
    }
}

/// Checks that `binary` answers `--version` with `version`.
///
/// # Errors
/// What it answered instead, or why it could not answer.
pub async fn check_version(binary: &Path, version: &str) -> Result<(), String> {
    let answered = version_of(binary).await?;
    if answered != version {
        return Err(format!("the installed CLI reports version {answered}, not {version}"));
    }
    Ok(())
}

/// The first `MAJOR.MINOR.PATCH` that `<binary> --version` prints.
///
/// # Errors
/// When it cannot run, fails, times out or prints no version.
pub async fn version_of(binary: &Path) -> Result<String, String> {
    let mut command = Command::new(binary);
    command.arg("--version").stdin(Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(VERSION_TIMEOUT, command.output())
        .await
        .map_err(|_| format!("{} --version did not answer", binary.display()))?
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if !out.status.success() {
        return Err(format!("{} --version failed with {}", binary.display(), out.status));
    }
    first_version_in(&String::from_utf8_lossy(&out.stdout))
        .ok_or_else(|| format!("{} --version printed no version", binary.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use hub_test_support::npm::script;

    use super::*;

    #[tokio::test]
    async fn the_version_is_the_first_one_printed() {
        let dir = tempfile::tempdir().unwrap();
        let cli = script(dir.path(), "allure", "echo 'allure 3.19.1 (node 20.1.0)'");
        assert_eq!(version_of(&cli).await.unwrap(), "3.19.1");
        assert!(check_version(&cli, "3.18.0").await.unwrap_err().contains("reports version 3.19.1"));
        let silent = script(dir.path(), "silent", "true");
        assert!(version_of(&silent).await.unwrap_err().contains("printed no version"));
    }

    #[tokio::test]
    async fn a_failing_npm_leaves_nothing_and_reports_its_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let npm = script(dir.path(), "npm", "echo 'npm error 404 Not Found' >&2; exit 1");
        let installer = Installer::new(dir.path().join("allure"), npm, None);
        let err = installer.ensure("3.18.0").await.unwrap_err();
        assert_eq!(err.detail, "npm error 404 Not Found");
        assert_eq!(err.to_string(), "npm install allure@3.18.0 failed: npm error 404 Not Found");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("allure")).unwrap().collect();
        assert!(left.is_empty(), "no staging directory is left behind");
    }

    #[tokio::test]
    async fn installs_at_once_in_one_process_keep_their_own_staging_directories() {
        let dir = tempfile::tempdir().unwrap();
        let npm = hub_test_support::npm::fake_npm(dir.path(), "https://registry.npmjs.org/", &[]);
        let installer = Installer::new(dir.path().join("allure"), npm, None);
        let (a, b) = tokio::join!(installer.ensure("3.18.0"), installer.ensure("3.18.0"));
        assert_eq!(a.unwrap(), b.unwrap(), "both installs end with the one installed CLI");
        let left: Vec<String> = std::fs::read_dir(dir.path().join("allure"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["3.18.0"], "no staging directory is left behind");
    }

    #[tokio::test]
    async fn the_active_choice_is_recorded_and_old_installs_removed() {
        let dir = tempfile::tempdir().unwrap();
        let installer = Installer::new(dir.path().join("allure"), PathBuf::from("npm"), None);
        assert_eq!(installer.active(), None);
        installer.set_active(&AllureVersion::parse("3.19.1").unwrap()).await.unwrap();
        assert_eq!(installer.active().as_deref(), Some("3.19.1"));
        for name in ["3.17.0", "3.18.0", "3.19.1", ".installing-3.20.0-1"] {
            std::fs::create_dir_all(dir.path().join("allure").join(name)).unwrap();
        }
        installer.remove_except(&["3.19.1", "3.18.0"]).await;
        let mut left: Vec<String> = std::fs::read_dir(dir.path().join("allure"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".installing-3.20.0-1", "3.18.0", "3.19.1", "active"]);
    }
}
