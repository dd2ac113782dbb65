//! Start-up, step one: the adapters, opened in the order their dependencies need. The data directory's lock comes
//! before anything touches the database or the files, so a second process on the same directory stops here.

use std::sync::Arc;

use anyhow::Context;
use hub_db::Store;
use hub_domain::model::report_config::ReportConfigPolicy;
use hub_domain::ports::{Clock, SecretSource};
use hub_identity::{Argon2Hasher, GithubSettings, OAuthProviders, OidcSettings, PolicyFile};
use hub_storage_fs::{DataDirLock, FsDiskProbe, FsResultStore};

use crate::config::Config;
use crate::generation;
use crate::system::{OsSecrets, SystemClock};

/// Every adapter of the process, each built once; the services are wired from these.
pub(super) struct Adapters {
    /// This process's hold on `DATA_DIR`, kept until everything else has stopped.
    pub data_lock: DataDirLock,
    /// The database, implementing every repository port.
    pub store: Arc<Store>,
    /// The files under `DATA_DIR`, implementing every storage port.
    pub files: Arc<FsResultStore>,
    /// Free space of the file system `DATA_DIR` is on.
    pub disk_probe: Arc<FsDiskProbe>,
    /// Wall-clock time.
    pub clock: Arc<dyn Clock>,
    /// The operating system's random numbers.
    pub secrets: Arc<dyn SecretSource>,
    /// The role policy file, reloaded by a worker.
    pub policy: Arc<PolicyFile>,
    /// Password hashing on its own thread.
    pub hasher: Arc<Argon2Hasher>,
    /// The OAuth and OIDC providers.
    pub identity: Arc<OAuthProviders>,
    /// The Allure CLI: its runner and its manager.
    pub cli: generation::Cli,
    /// The base report config and plugin allowlist (`ALLURE_CONFIG`).
    pub report_config: Arc<ReportConfigPolicy>,
    /// Key material of sealed cookies and report grants.
    pub session_secret: String,
}

impl Adapters {
    /// Opens everything, cleaning what an earlier process left behind in `DATA_DIR`.
    ///
    /// # Errors
    /// When the data directory, the database, the policy file, the report config or a provider is unusable.
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create DATA_DIR {}", config.data_dir.display()))?;
        let dir = config.data_dir.clone();
        let data_lock = tokio::task::spawn_blocking(move || DataDirLock::acquire(&dir)).await??;
        let store = Arc::new(super::open_database(config).await?);

        let files = Arc::new(
            FsResultStore::open(&config.data_dir)
                .await
                .with_context(|| format!("cannot prepare DATA_DIR {}", config.data_dir.display()))?,
        );
        let swept = files.sweep_tmp().await.context("cannot clean DATA_DIR/tmp")?;
        // Directories whose records were deleted while their removal failed or the process died.
        let known = hub_domain::ports::ProjectRepo::list_all_ids(store.as_ref()).await?;
        let orphans = hub_domain::ports::ResultStore::remove_orphans(files.as_ref(), &known).await?;
        tracing::info!(data_dir = %config.data_dir.display(), swept, orphans, "data directory ready");

        let secrets: Arc<dyn SecretSource> = Arc::new(OsSecrets);
        let session_secret = super::session_secret(config, secrets.as_ref())?;
        Ok(Self {
            data_lock,
            store,
            files,
            disk_probe: Arc::new(FsDiskProbe::new(config.data_dir.clone())),
            clock: Arc::new(SystemClock),
            secrets,
            policy: Arc::new(PolicyFile::open(config.auth.policy_file.clone())?),
            hasher: Arc::new(Argon2Hasher::start().context("cannot start the password hashing thread")?),
            identity: Arc::new(identity_providers(config)?),
            cli: generation::start_cli(&config.allure, &config.data_dir),
            report_config: Arc::new(generation::report_config_policy(&config.allure)?),
            session_secret,
        })
    }
}

/// The configured OIDC providers and GitHub.
fn identity_providers(config: &Config) -> anyhow::Result<OAuthProviders> {
    let providers = config
        .auth
        .oidc
        .iter()
        .map(|p| {
            Ok(OidcSettings {
                provider: p.id.parse().map_err(|_| anyhow::anyhow!("unknown provider id {}", p.id))?,
                display_name: p.display_name.clone(),
                issuer: p.issuer.clone(),
                client_id: p.client_id.clone(),
                client_secret: p.client_secret.as_ref().map(|s| s.expose().to_owned()),
                scopes: p.scopes.clone(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let github = config.auth.github.as_ref().map(|g| GithubSettings {
        client_id: g.client_id.clone(),
        client_secret: g.client_secret.expose().to_owned(),
        web_url: g.web_url.clone(),
        api_url: g.api_url.clone(),
    });
    OAuthProviders::new(providers, github).map_err(anyhow::Error::msg)
}
