//! Start-up: open and migrate the database, prepare the data directory, wire services, bind the listener.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::HttpServer;
use actix_web::dev::Server;
use actix_web::web::Data;
use anyhow::Context;
use hub_db::{DbConfig, Store};
use hub_domain::ports::{Clock, ResultStore};
use hub_domain::services::{EnvironmentService, ProjectService};
use hub_http::access::BootstrapToken;
use hub_http::{AppState, HttpConfig, VersionInfo};
use hub_storage_fs::FsResultStore;

use crate::config::Config;
use crate::system::{SystemClock, random_hex_32};

/// How long a request waits for a pooled database connection before the database counts as unavailable.
const DB_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Build facts compiled in by `build.rs`.
pub fn version_info() -> VersionInfo {
    VersionInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        build_time: env!("ALLURE_HUB_BUILD_TIME").to_owned(),
        rust_version: env!("ALLURE_HUB_RUST_VERSION").to_owned(),
        git_commit: env!("ALLURE_HUB_GIT_COMMIT").to_owned(),
    }
}

/// Opens the database and applies pending migrations (what `allure-hub migrate` does).
///
/// # Errors
/// When the database cannot be opened or migrated.
pub async fn open_database(config: &Config) -> anyhow::Result<Store> {
    let store = Store::open(DbConfig {
        url: config.database_url.clone(),
        max_connections: config.db_max_connections,
        acquire_timeout: DB_ACQUIRE_TIMEOUT,
    })
    .await?;
    let applied = store.migrate().await?;
    tracing::info!(database = %config.database_url.redacted(), applied = ?applied, "database ready");
    Ok(store)
}

/// A server bound to its port, ready to run.
pub struct Application {
    port: u16,
    server: Server,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Prepares everything and binds `config.addr` (port 0 picks a free port).
    ///
    /// # Errors
    /// When the data directory, the database or the listener cannot be set up.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create DATA_DIR {}", config.data_dir.display()))?;
        let store = Arc::new(open_database(&config).await?);

        let files = Arc::new(
            FsResultStore::open(&config.data_dir)
                .await
                .with_context(|| {
                    format!("cannot prepare DATA_DIR {}", config.data_dir.display())
                })?,
        );
        let swept = files
            .sweep_tmp()
            .await
            .context("cannot clean DATA_DIR/tmp")?;
        // Directories whose records were deleted while their removal failed or the process died.
        let known = hub_domain::ports::ProjectRepo::list_all_ids(store.as_ref()).await?;
        let orphans = files.remove_orphans(&known).await?;
        tracing::info!(data_dir = %config.data_dir.display(), swept, orphans, "data directory ready");

        let bootstrap = match &config.bootstrap_token {
            Some(token) => token.clone(),
            None => {
                let token = format!("ah_{}", random_hex_32().context("no random source")?);
                tracing::warn!(
                    token = %token,
                    "BOOTSTRAP_TOKEN is not set: generated one for this run; send it as `Authorization: Bearer <token>`"
                );
                token
            }
        };

        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let files: Arc<dyn ResultStore> = files;
        let state = Data::new(AppState {
            environments: EnvironmentService::new(store.clone(), files.clone(), clock.clone()),
            projects: ProjectService::new(store.clone(), store.clone(), files, clock),
            health: store,
            version: version_info(),
            started_at: Instant::now(),
            bootstrap: BootstrapToken::new(bootstrap),
            config: HttpConfig {
                max_json_bytes: config.max_json_bytes,
            },
        });

        let listener = TcpListener::bind(config.addr)
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || hub_http::build_app(state.clone()))
            .shutdown_timeout(config.shutdown_timeout.as_secs())
            .client_request_timeout(config.request_header_timeout)
            .keep_alive(config.idle_timeout)
            .listen(listener)?
            .run();
        tracing::info!(addr = %config.addr, port, "listening");
        Ok(Self { port, server })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server from elsewhere (tests).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT or SIGTERM, then finishes in-flight requests within `SHUTDOWN_TIMEOUT`.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
