//! The npm registry as the settings page asks it (contract §13.5): the newest `allure` release, and whether a
//! version exists before npm is asked to install it. `NPM_REGISTRY_URL` names the registry; unset, npm's own
//! configuration does (asked once); empty, the registry is never contacted.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::process::Command;
use tokio::sync::OnceCell;

/// Longest a registry request may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a successful `latest` answer is reused.
const LATEST_TTL: Duration = Duration::from_secs(3600);
/// Longest `npm config get registry` may take.
const NPM_CONFIG_TIMEOUT: Duration = Duration::from_secs(5);
/// npm's own default, for when npm cannot say.
const DEFAULT_REGISTRY: &str = "https://registry.npmjs.org/";

/// Registry look-ups for the `allure` package.
#[derive(Debug)]
pub(crate) struct Registry {
    /// `NPM_REGISTRY_URL`: `None` unset, `Some("")` disabled.
    configured: Option<String>,
    /// `NPM_BIN`, asked for its configured registry when `NPM_REGISTRY_URL` is unset.
    npm: PathBuf,
    /// The base URL once known; `None` when registry access is disabled.
    base: OnceCell<Option<String>>,
    client: reqwest::Client,
    /// The last successful `latest` answer and when it came.
    latest: Mutex<Option<(Instant, String)>>,
}

impl Registry {
    /// Look-ups in the registry `configured` (or npm's, asking `npm`).
    pub(crate) fn new(configured: Option<String>, npm: PathBuf) -> Self {
        Self { configured, npm, base: OnceCell::new(), client: reqwest::Client::new(), latest: Mutex::new(None) }
    }

    /// Whether registry access is turned off (`NPM_REGISTRY_URL` set but empty).
    pub(crate) fn disabled(&self) -> bool {
        self.configured.as_deref() == Some("")
    }

    /// The registry's base URL without a trailing slash; `None` when access is disabled.
    async fn base(&self) -> Option<&str> {
        let base = self
            .base
            .get_or_init(|| async {
                let url = match &self.configured {
                    Some(url) if url.is_empty() => return None,
                    Some(url) => url.clone(),
                    None => npm_registry(&self.npm).await,
                };
                Some(url.trim_end_matches('/').to_owned())
            })
            .await;
        base.as_deref()
    }

    async fn get(&self, path: &str) -> Option<reqwest::Response> {
        let url = format!("{}/allure/{path}", self.base().await?);
        match self.client.get(&url).timeout(LOOKUP_TIMEOUT).send().await {
            Ok(response) => Some(response),
            Err(e) => {
                tracing::warn!(%url, error = %e, "the npm registry did not answer");
                None
            }
        }
    }

    /// The newest release, or `""` when the registry cannot tell.
    pub(crate) async fn latest(&self) -> String {
        if let Some((at, version)) = &*self.latest.lock().unwrap_or_else(|e| e.into_inner())
            && at.elapsed() < LATEST_TTL
        {
            return version.clone();
        }
        let Some(response) = self.get("latest").await.filter(|r| r.status().is_success()) else {
            return String::new();
        };
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let Some(version) = body["version"].as_str().map(str::to_owned) else { return String::new() };
        *self.latest.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), version.clone()));
        version
    }

    /// Whether the registry answered that `version` does not exist (any other answer, or none, lets npm decide).
    pub(crate) async fn lacks(&self, version: &str) -> bool {
        self.get(version).await.is_some_and(|r| r.status() == reqwest::StatusCode::NOT_FOUND)
    }
}

/// npm's configured registry, or npm's default when npm cannot say.
async fn npm_registry(npm: &Path) -> String {
    let mut command = Command::new(npm);
    command.args(["config", "get", "registry"]).stdin(Stdio::null()).stderr(Stdio::null()).kill_on_drop(true);
    let answer = match tokio::time::timeout(NPM_CONFIG_TIMEOUT, command.output()).await {
        Ok(Ok(out)) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => String::new(),
    };
    if answer.starts_with("http://") || answer.starts_with("https://") {
        answer
    } else {
        tracing::info!(npm = %npm.display(), "npm did not name its registry; using {DEFAULT_REGISTRY}");
        DEFAULT_REGISTRY.to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use hub_test_support::npm::{FakeRegistry, fake_npm, script};

    use super::*;

    #[tokio::test]
    async fn npms_own_registry_is_asked_once_and_latest_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let fake = FakeRegistry::start(&["3.18.0", "3.19.1"]).await;
        let registry = Registry::new(None, fake_npm(dir.path(), &fake.url, &[]));
        assert_eq!(registry.latest().await, "3.19.1");
        assert_eq!(registry.latest().await, "3.19.1");
        assert_eq!(fake.hits("/allure/latest"), 1);
        assert!(registry.lacks("3.99.0").await);
        assert!(!registry.lacks("3.18.0").await);
    }

    #[tokio::test]
    async fn an_npm_that_cannot_say_means_npms_default_and_empty_means_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(npm_registry(&script(dir.path(), "npm", "exit 1")).await, DEFAULT_REGISTRY);
        assert_eq!(npm_registry(&script(dir.path(), "npm2", "echo undefined")).await, DEFAULT_REGISTRY);
        let disabled = Registry::new(Some(String::new()), PathBuf::from("npm"));
        assert!(disabled.disabled());
        assert_eq!(disabled.latest().await, "");
        assert!(!disabled.lacks("3.18.0").await);
    }
}
