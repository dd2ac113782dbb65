//! Start-up, step one: the adapters, opened in the order their dependencies need. The data directory's lock comes
//! before anything touches the database or the files, so a second process on the same directory stops here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use hub_db::Store;
use hub_domain::model::report_config::ReportConfigPolicy;
use hub_domain::ports::{
    ArchiveError, GenerationFiles, ReportFiles, ResultStore, StorageError, StorageHealth, StorageTransfer, UploadFiles,
};
use hub_domain::ports::{Clock, SecretSource};
use hub_identity::{Argon2Hasher, GithubSettings, OAuthProviders, OidcSettings, PolicyFile};
use hub_storage_fs::{DataDirLock, FsDiskProbe, FsResultStore};
use hub_storage_s3::{Extractor, S3Settings, S3Storage};

use crate::config::{Config, CopyTarget, StorageConfig};
use crate::generation;
use crate::system::{OsSecrets, SystemClock};

/// Every adapter of the process, each built once; the services are wired from these.
pub(super) struct Adapters {
    /// This process's hold on `DATA_DIR`, kept until everything else has stopped.
    pub data_lock: DataDirLock,
    /// The database, implementing every repository port.
    pub store: Arc<Store>,
    /// Where results, reports, history and chunks are kept.
    pub storage: Storage,
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

        let storage = Storage::open(config).await?;
        // Files of environments and projects whose records were deleted while their removal failed or the process
        // died.
        let known = hub_domain::ports::ProjectRepo::list_all_ids(store.as_ref()).await?;
        let orphans = storage.results.remove_orphans(&known).await?;
        tracing::info!(storage = storage.health.kind(), orphans, "storage ready");

        let secrets: Arc<dyn SecretSource> = Arc::new(OsSecrets);
        let session_secret = super::session_secret(config, secrets.as_ref())?;
        Ok(Self {
            data_lock,
            store,
            storage,
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

/// The filesystem adapter's archive checks, for the S3 adapter (adapters do not depend on each other).
fn extractor() -> Extractor {
    Arc::new(|zip: &Path, staging: &Path, limits| {
        let file = std::fs::File::open(zip).map_err(|e| ArchiveError::Storage(StorageError::new(e.to_string())))?;
        hub_storage_fs::archive::extract(std::io::BufReader::new(file), staging, limits)
    })
}

/// The storage `STORAGE_URL` names (`target`: `None`) or a copy's target, as `allure-hub storage copy` reads and
/// writes it. Nothing is swept or cleaned: a server may be using the same storage. S3 scratch files go to `scratch`.
///
/// # Errors
/// When the directory cannot be prepared or the bucket's settings are refused.
pub(crate) async fn open_transfer(
    config: &Config,
    target: Option<&CopyTarget>,
    scratch: &Path,
) -> anyhow::Result<Arc<dyn StorageTransfer>> {
    let open_directory = |dir: PathBuf| async move {
        let files = FsResultStore::open(&dir).await.with_context(|| format!("cannot prepare {}", dir.display()))?;
        Ok::<Arc<dyn StorageTransfer>, anyhow::Error>(Arc::new(files))
    };
    let bucket = match target {
        Some(CopyTarget::Directory(dir)) => return open_directory(dir.clone()).await,
        Some(CopyTarget::Bucket(bucket)) => bucket,
        None => &config.storage,
    };
    let StorageConfig::S3 { url, .. } = bucket else { return open_directory(config.data_dir.clone()).await };
    let settings = S3Settings::parse(url, bucket.s3_variables())?;
    let objects = S3Storage::connect(&settings, scratch.to_path_buf(), extractor()).await?;
    objects.check().await.map_err(|e| anyhow::anyhow!("{url}: the bucket cannot be used ({e})"))?;
    Ok(Arc::new(objects))
}

/// The storage adapter, as the ports the services take.
pub(super) struct Storage {
    /// Removal, sizes and orphans.
    pub results: Arc<dyn ResultStore>,
    /// Received archives and chunks.
    pub uploads: Arc<dyn UploadFiles>,
    /// Generation workspaces and publishing.
    pub generation: Arc<dyn GenerationFiles>,
    /// Reading published reports.
    pub reports: Arc<dyn ReportFiles>,
    /// Readiness.
    pub health: Arc<dyn StorageHealth>,
}

impl Storage {
    fn of<A>(adapter: Arc<A>) -> Self
    where
        A: ResultStore + UploadFiles + GenerationFiles + ReportFiles + StorageHealth,
    {
        Self {
            results: adapter.clone(),
            uploads: adapter.clone(),
            generation: adapter.clone(),
            reports: adapter.clone(),
            health: adapter,
        }
    }

    /// The adapter `STORAGE_URL` names, its leftovers from a previous process removed: files under `DATA_DIR`, or
    /// objects in a bucket (checked by writing, reading and deleting an object, so a wrong endpoint or credential
    /// stops start-up with a message) with local scratch work under `DATA_DIR/scratch`.
    async fn open(config: &Config) -> anyhow::Result<Self> {
        let data_dir = &config.data_dir;
        match &config.storage {
            StorageConfig::Filesystem => {
                let files = FsResultStore::open(data_dir)
                    .await
                    .with_context(|| format!("cannot prepare DATA_DIR {}", data_dir.display()))?;
                let swept = files.sweep_tmp().await.context("cannot clean DATA_DIR/tmp")?;
                tracing::info!(data_dir = %data_dir.display(), swept, "data directory ready");
                Ok(Self::of(Arc::new(files)))
            }
            StorageConfig::S3 { url, .. } => {
                let settings = S3Settings::parse(url, config.storage.s3_variables())?;
                let objects = S3Storage::connect(&settings, data_dir.join("scratch"), extractor()).await?;
                objects.check().await.map_err(|e| {
                    anyhow::anyhow!("STORAGE_URL: the bucket cannot be used ({e}); check the AWS_* variables")
                })?;
                let swept = objects.sweep_scratch().await.context("cannot clean DATA_DIR/scratch")?;
                tracing::info!(location = objects.location(), swept, "object storage ready");
                Ok(Self::of(Arc::new(objects)))
            }
        }
    }
}
