//! Start-up: the adapters, the services, the workers and the listeners, one module each, run in that order by
//! [`Application::build`]; then serving until a signal, and a shutdown that lets work end cleanly.

mod adapters;
mod listen;
mod services;
mod workers;

use std::sync::Arc;

use actix_web::dev::Server;
use hub_db::{DbConfig, Store};
use hub_domain::ports::SecretSource;
use hub_http::VersionInfo;
use hub_storage_fs::DataDirLock;

use self::adapters::Adapters;
pub(crate) use self::adapters::open_transfer;
use crate::config::Config;

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

/// The key material for sealed cookies: `SESSION_SECRET`, or with SQLite a secret generated once and kept in
/// `DATA_DIR/secret` (mode 0600). PostgreSQL deployments may run several nodes, which must share it, so there it is
/// required.
fn session_secret(config: &Config, secrets: &dyn SecretSource) -> anyhow::Result<String> {
    if let Some(secret) = &config.auth.session_secret {
        return Ok(secret.expose().to_owned());
    }
    if config.database_url.backend() == hub_db::Backend::Postgres {
        anyhow::bail!("SESSION_SECRET is required with PostgreSQL, so that every node shares it");
    }
    let path = config.data_dir.join("secret");
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= 32 => return Ok(text.trim().to_owned()),
        Ok(_) => anyhow::bail!("{} is shorter than 32 bytes; delete it to have a new one generated", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display()))),
    }
    let secret = secrets.hex(32);
    // Written to a temporary file with owner-only permissions, then renamed: never a partial or readable secret.
    let tmp = config.data_dir.join("secret.tmp");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        file.write_all(secret.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    tracing::info!(path = %path.display(), "generated the session secret");
    Ok(secret)
}

/// A server bound to its port, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    /// The report origin's listener (`REPORTS_ADDR`), when it has its own.
    report_server: Option<(u16, Server)>,
    /// Tells event streams and every worker the server is stopping.
    shutdown: tokio::sync::watch::Sender<bool>,
    /// The background workers (the job dispatcher first), awaited at the end: stopped jobs are back in the queue
    /// and nothing writes any more when the data directory is let go.
    workers: Vec<tokio::task::JoinHandle<()>>,
    /// Longest wait for the workers once the listeners have stopped (`SHUTDOWN_TIMEOUT`).
    shutdown_timeout: std::time::Duration,
    /// This process's hold on `DATA_DIR`, released when everything above has stopped.
    data_lock: DataDirLock,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("port", &self.port).finish_non_exhaustive()
    }
}

impl Application {
    /// Prepares everything and binds `config.addr` (port 0 picks a free port), in four steps: open the adapters,
    /// wire the services, start the workers, bind the listeners.
    ///
    /// # Errors
    /// When the data directory, the database or the listener cannot be set up.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let adapters = Adapters::open(&config).await?;
        let wired = services::wire(&config, &adapters).await?;
        let services = wired.services.clone();
        let workers = workers::spawn(&config, &adapters, wired).await?;
        let listeners = match listen::bind(&config, services, &adapters.session_secret, workers.shutdown.subscribe()) {
            Ok(listeners) => listeners,
            Err(err) => {
                // Nothing will serve: the workers stop rather than run on behind a failed start.
                let _ = workers.shutdown.send(true);
                return Err(err);
            }
        };
        Ok(Self {
            port: listeners.port,
            server: listeners.server,
            report_server: listeners.report_server,
            shutdown: workers.shutdown,
            workers: workers.tasks,
            shutdown_timeout: config.shutdown_timeout,
            data_lock: adapters.data_lock,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The report listener's port, when it has its own listener.
    pub fn report_port(&self) -> Option<u16> {
        self.report_server.as_ref().map(|(port, _)| *port)
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
        let handle = self.server.handle();
        let shutdown = Arc::new(self.shutdown);
        let signalled = Arc::clone(&shutdown);
        tokio::spawn(async move {
            stop_signal().await;
            tracing::info!("shutting down");
            let _ = signalled.send(true);
            handle.stop(true).await;
        });
        // The report listener and the workers live exactly as long as the main listener, however that one is
        // stopped (a signal, or a test's handle).
        let reports = self.report_server.map(|(_, server)| (server.handle(), tokio::spawn(server)));
        let result = self.server.await;
        let _ = shutdown.send(true);
        if let Some((handle, task)) = reports {
            handle.stop(true).await;
            let _ = task.await;
        }
        let stopped = futures_util::future::join_all(self.workers);
        if tokio::time::timeout(self.shutdown_timeout, stopped).await.is_err() {
            tracing::warn!("background work did not end within SHUTDOWN_TIMEOUT; exiting anyway");
        }
        drop(self.data_lock);
        result
    }
}

/// Resolves at the first SIGINT or SIGTERM.
async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            let _ = interrupt.await;
            return;
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
