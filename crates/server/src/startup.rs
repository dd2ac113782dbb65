//! Start-up: open and migrate the database, prepare the data directory, wire services, bind the listener.

use hub_domain::model::grant::GrantKey;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_service::ServiceFactoryExt as _;
use actix_web::HttpServer;
use actix_web::dev::Server;
use actix_web::web::Data;
use anyhow::Context;
use hub_db::{DbConfig, Store};
use hub_domain::ids::Email;
use hub_domain::model::notification::Notification;
use hub_domain::ports::{AllureCliManager, Clock, EventBus, ReportFiles, ResultStore, SecretSource, UploadEvent};
use hub_domain::services::{
    ApiKeyService, AuthService, AuthSettings, DiskService, EnvironmentService, GenerationService, NotificationPorts,
    NotificationService, OverviewService, ProjectService, ReportPorts, ReportService, RetentionConfig, RetentionPorts,
    RetentionService, UploadPorts, UploadService, UploadTimeouts, UserService,
};
use hub_http::cors::CorsConfig;
use hub_http::rate_limit::{RateLimit, RateLimiter};
use hub_http::{AppState, HttpConfig, VersionInfo};
use hub_identity::{Argon2Hasher, GithubSettings, OAuthProviders, OidcSettings, PolicyFile};
use hub_storage_fs::{DataDirLock, FsDiskProbe, FsResultStore};

use crate::config::{Config, Secret};
use crate::events::BroadcastBus;
use crate::outcomes::{self, OutcomeTap};
use crate::system::{OsSecrets, RandomIds, SystemClock};
use crate::{background, generation};

/// How long a request waits for a pooled database connection before the database counts as unavailable.
const DB_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How often the policy file is re-read.
const POLICY_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

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
    /// Tells event streams and the job dispatcher the server is stopping.
    shutdown: tokio::sync::watch::Sender<bool>,
    /// The job dispatcher, awaited at the end so stopped jobs are back in the queue before the process exits.
    dispatcher: tokio::task::JoinHandle<()>,
    /// This process's hold on `DATA_DIR`, released when everything above has stopped.
    data_lock: DataDirLock,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("port", &self.port).finish_non_exhaustive()
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
        // Before anything touches the database or the files: a second process on the same directory stops here.
        let dir = config.data_dir.clone();
        let data_lock = tokio::task::spawn_blocking(move || DataDirLock::acquire(&dir)).await??;
        let store = Arc::new(open_database(&config).await?);

        let files = Arc::new(
            FsResultStore::open(&config.data_dir)
                .await
                .with_context(|| format!("cannot prepare DATA_DIR {}", config.data_dir.display()))?,
        );
        let swept = files.sweep_tmp().await.context("cannot clean DATA_DIR/tmp")?;
        // Directories whose records were deleted while their removal failed or the process died.
        let known = hub_domain::ports::ProjectRepo::list_all_ids(store.as_ref()).await?;
        let orphans = files.remove_orphans(&known).await?;
        tracing::info!(data_dir = %config.data_dir.display(), swept, orphans, "data directory ready");

        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let secrets: Arc<dyn SecretSource> = Arc::new(OsSecrets);
        let policy = Arc::new(PolicyFile::open(config.auth.policy_file.clone())?);
        tokio::spawn(Arc::clone(&policy).watch(POLICY_RELOAD_INTERVAL));
        let auth = Arc::new(
            AuthService::new(
                store.clone(),
                store.clone(),
                policy.clone(),
                Arc::new(Argon2Hasher::start().context("cannot start the password hashing thread")?),
                secrets.clone(),
                clock.clone(),
                AuthSettings {
                    session_ttl: chrono::TimeDelta::from_std(config.auth.session_ttl)
                        .context("SESSION_TTL is too large")?,
                    local_login: config.auth.local_login,
                },
            )
            .await?,
        );
        if config.auth.local_login {
            let email = Email::parse(&config.auth.admin_email).map_err(|_| anyhow::anyhow!("invalid ADMIN_EMAIL"))?;
            let admin_password = config.auth.admin_password.as_ref().map(Secret::expose);
            if let Some(password) = auth.ensure_admin_account(&email, admin_password).await? {
                tracing::warn!(
                    email = %email,
                    password = %password,
                    "created the local admin account with a generated password; it is shown only this once"
                );
            }
        }

        let secret = session_secret(&config, secrets.as_ref())?;
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
        let identity = Arc::new(OAuthProviders::new(providers, github).map_err(anyhow::Error::msg)?);
        tokio::spawn({
            let identity = Arc::clone(&identity);
            async move { identity.warm_up().await }
        });

        let report_config = Arc::new(generation::report_config_policy(&config.allure)?);
        let notifications = NotificationService::new(NotificationPorts {
            repo: store.clone(),
            bus: Arc::new(BroadcastBus::<Notification>::default()),
            builds: store.clone(),
            envs: store.clone(),
            projects: store.clone(),
            settings: store.clone(),
            clock: clock.clone(),
            ids: Arc::new(RandomIds),
        });
        // Every session change goes through this bus; endings also become notifications and metrics.
        let job_queued = Arc::new(tokio::sync::Notify::new());
        let (tap, endings) = OutcomeTap::new(Arc::new(BroadcastBus::<UploadEvent>::default()), Arc::clone(&job_queued));
        let disk_check_now = Arc::new(tokio::sync::Notify::new());
        tokio::spawn(outcomes::follow(endings, notifications.clone(), Arc::clone(&disk_check_now)));
        let events: Arc<dyn EventBus> = Arc::new(tap);
        let uploads = UploadService::new(
            UploadPorts {
                sessions: store.clone(),
                builds: store.clone(),
                envs: store.clone(),
                projects: store.clone(),
                files: files.clone(),
                events: events.clone(),
                clock: clock.clone(),
                ids: Arc::new(RandomIds),
            },
            config.uploads.limits,
            UploadTimeouts { idle: config.uploads.idle_timeout, stale_after: config.uploads.stale_after },
            Arc::clone(&report_config),
        );
        let recovered = uploads.recover().await.context("cannot recover upload sessions")?;
        if recovered > 0 {
            tracing::info!(sessions = recovered, "upload sessions recovered after a restart");
        }

        let cli = generation::start_cli(&config.allure, &config.data_dir);
        let generation = GenerationService::new(
            store.clone(),
            store.clone(),
            files.clone(),
            Arc::new(cli.runner.clone()),
            events.clone(),
            clock.clone(),
            config.allure.history_limit,
        );
        let requeued = generation.recover().await.context("cannot recover generation jobs")?;
        if requeued > 0 {
            tracing::warn!(sessions = requeued, "generations interrupted by restarts too often have failed");
        }
        let (shutdown, shutdown_watch) = tokio::sync::watch::channel(false);
        let dispatcher = tokio::spawn(generation::run_jobs(
            generation,
            config.allure.max_concurrency,
            cli.installing,
            job_queued,
            shutdown_watch.clone(),
        ));

        let reports = ReportService::new(ReportPorts {
            envs: store.clone(),
            projects: store.clone(),
            builds: store.clone(),
            files: files.clone(),
            history: files.clone(),
            jobs: store.clone(),
            events: Arc::clone(uploads.events()),
            clock: clock.clone(),
            ids: Arc::new(RandomIds),
            report_config: Arc::clone(&report_config),
        });
        let reports_arc = Arc::new(reports.clone());
        let notifications_arc = Arc::new(notifications.clone());
        let retention = RetentionService::new(
            RetentionPorts {
                settings: store.clone(),
                runs: store.clone(),
                builds: store.clone(),
                uploads: store.clone(),
                files: files.clone(),
                reports: reports_arc,
                notifications: Arc::clone(&notifications_arc),
                clock: clock.clone(),
                ids: Arc::new(RandomIds),
            },
            RetentionConfig {
                seed: config.background.retention_seed,
                enabled: config.background.cleanup_enabled,
                started_at: clock.now(),
            },
        );
        let disk = DiskService::new(
            Arc::new(FsDiskProbe::new(config.data_dir.clone())),
            store.clone(),
            notifications_arc,
            clock.clone(),
        );
        let allure_cli: Arc<dyn AllureCliManager> = Arc::new(cli.manager);
        tokio::spawn(background::sweep_stale_uploads(
            uploads.clone(),
            config.uploads.stale_after,
            shutdown_watch.clone(),
        ));
        tokio::spawn(background::schedule_cleanup(retention.clone(), clock.clone(), shutdown_watch.clone()));
        tokio::spawn(background::check_disk(
            disk.clone(),
            config.background.disk_check_interval,
            disk_check_now,
            shutdown_watch.clone(),
        ));
        tokio::spawn(background::prune_notifications(
            notifications.clone(),
            config.background.notify_retention_days,
            shutdown_watch.clone(),
        ));
        tokio::spawn(background::check_allure_updates(
            Arc::clone(&allure_cli),
            notifications.clone(),
            config.allure.update_check_interval,
            shutdown_watch.clone(),
        ));
        tokio::spawn(background::gauge_jobs(store.clone(), shutdown_watch.clone()));

        // Both listeners are bound before the state is made: each origin is derived from the other's real port.
        let listener = TcpListener::bind(config.addr).with_context(|| format!("cannot listen on {}", config.addr))?;
        let port = listener.local_addr()?.port();
        let report_listener = match config.reports_addr {
            Some(addr) => {
                let l = TcpListener::bind(addr).with_context(|| format!("cannot listen on REPORTS_ADDR {addr}"))?;
                let report_port = l.local_addr()?.port();
                Some((l, report_port))
            }
            None => None,
        };
        let report_host = match (&report_listener, config.reports_base_url.as_deref()) {
            (None, Some(url)) => hub_domain::model::origin::Origin::parse(url).map(|o| o.host().to_owned()),
            _ => None,
        };
        let files: Arc<dyn ResultStore> = files;
        let report_files: Arc<dyn ReportFiles> = files.clone();
        let state = Data::new(AppState {
            shutdown: shutdown_watch,
            uploads,
            reports,
            notifications,
            overview: OverviewService::new(store.clone(), clock.clone()),
            disk,
            retention,
            grants: GrantKey::derive(&secret),
            report_files,
            environments: EnvironmentService::new(store.clone(), files.clone(), clock.clone()),
            projects: ProjectService::new(store.clone(), store.clone(), files, clock.clone()),
            api_keys: ApiKeyService::new(store.clone(), Arc::new(RandomIds), secrets, clock.clone()),
            users: UserService::new(store.clone(), auth.clone(), policy, clock),
            identity,
            cookie_key: actix_web::cookie::Key::derive_from(secret.as_bytes()),
            auth,
            health: store,
            allure: allure_cli,
            version: version_info(),
            started_at: Instant::now(),
            config: HttpConfig {
                max_json_bytes: config.max_json_bytes,
                base_url: config.base_url.clone(),
                secure_cookie: config.auth.secure_cookie,
                session_ttl: config.auth.session_ttl,
                cors: CorsConfig::parse(&config.network.cors_allowed_origins),
                trust_proxy: config.network.trust_proxy,
                after_login_url: config.auth.after_login_url.clone(),
                upload_idle_timeout: config.uploads.idle_timeout,
                upload_wait_timeout: config.uploads.wait_timeout,
                reports_base_url: config.reports_base_url.clone(),
                reports_port: report_listener.as_ref().map(|(_, p)| *p),
                main_port: port,
                report_host,
                metrics_public: config.metrics_public,
                report_policy: config.report_policy.clone(),
            },
            limiter: (config.network.rate_limit_rate > 0.0).then(|| {
                RateLimiter::new(RateLimit {
                    rate: config.network.rate_limit_rate,
                    burst: config.network.rate_limit_burst,
                })
            }),
        });

        let gate_state = state.clone();
        let report_server = match report_listener {
            Some((listener, report_port)) => {
                let state = state.clone();
                let server = HttpServer::new(move || hub_http::build_report_app(state.clone()))
                    .shutdown_timeout(config.shutdown_timeout.as_secs())
                    .client_request_timeout(config.request_header_timeout)
                    .keep_alive(config.idle_timeout)
                    .disable_signals()
                    .listen(listener)?
                    .run();
                tracing::info!(port = report_port, "report origin listening");
                Some((report_port, server))
            }
            None => None,
        };
        // The web UI reads through the same service instances as the API.
        let ui = Data::new(hub_web::WebState {
            auth: state.auth.clone(),
            identity: state.identity.clone(),
            overview: state.overview.clone(),
            environments: state.environments.clone(),
            projects: state.projects.clone(),
            reports: state.reports.clone(),
            health: state.health.clone(),
            version: state.version.version.clone(),
        });
        // The upload, notification and settings pages, the bell and the framed report, over the same instances.
        let ui_services = Data::new(hub_web::Services {
            uploads: state.uploads.clone(),
            notifications: state.notifications.clone(),
            api_keys: state.api_keys.clone(),
            users: state.users.clone(),
            disk: state.disk.clone(),
            retention: state.retention.clone(),
            allure: state.allure.clone(),
            report_origin: match (&config.reports_base_url, state.config.reports_port) {
                (Some(url), _) => hub_web::ReportOrigin::Fixed(url.clone()),
                (None, Some(port)) => hub_web::ReportOrigin::Port { base_url: config.base_url.clone(), port },
                (None, None) => hub_web::ReportOrigin::None,
            },
        });
        // Paths and methods that are not UI pages get the API's own JSON 404.
        let app = move || {
            hub_http::build_app_with(
                state.clone(),
                hub_web::configure(ui.clone(), ui_services.clone(), hub_http::route_not_found),
            )
        };
        let server = main_server(listener, &config, gate_state, app)?;
        tracing::info!(addr = %config.addr, port, "listening");
        Ok(Self { port, server, report_server, shutdown, dispatcher, data_lock })
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
        // The report listener and the job dispatcher live exactly as long as the main listener, however that one
        // is stopped (a signal, or a test's handle).
        let reports = self.report_server.map(|(_, server)| (server.handle(), tokio::spawn(server)));
        let result = self.server.await;
        let _ = shutdown.send(true);
        if let Some((handle, task)) = reports {
            handle.stop(true).await;
            let _ = task.await;
        }
        let _ = self.dispatcher.await;
        drop(self.data_lock);
        result
    }
}

/// The main listener's server: what `HttpServer` builds, plus the `Expect: 100-continue` gate of hub-http, which
/// `HttpServer` offers no way to set (it invites every body at once, before authentication and size checks).
fn main_server<F, A, B>(
    listener: TcpListener,
    config: &Config,
    state: Data<AppState>,
    app: F,
) -> std::io::Result<Server>
where
    F: Fn() -> actix_web::App<A> + Send + Clone + 'static,
    A: actix_service::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: actix_web::body::MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let (keep_alive, header_timeout) = (config.idle_timeout, config.request_header_timeout);
    let builder = Server::build();
    // Tells each connection that the server is stopping, so idle keep-alive connections close at once instead of
    // holding a worker for the whole grace period (as `HttpServer` wires it).
    let stopping = builder.graceful_shutdown_signal();
    Ok(builder
        .shutdown_timeout(config.shutdown_timeout.as_secs())
        // Signals are handled in `run_until_stopped`, which first tells event streams to end.
        .disable_signals()
        .listen("allure-hub", listener, move || {
            let app = actix_service::IntoServiceFactory::into_factory(app())
                .map_err(|err: actix_web::Error| err.error_response());
            let stopping = stopping.clone();
            actix_http::HttpService::build()
                .graceful_shutdown_signal(move || {
                    let stopping = stopping.clone();
                    async move { stopping.notified().await }
                })
                .keep_alive(keep_alive)
                .client_request_timeout(header_timeout)
                // `HttpServer`'s default: a closing client gets a second to read the end of its response.
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(addr)
                .expect(hub_http::expect::expect_gate(state.clone()))
                // The connection facts the application reads (`HttpServer` fills in the same): a plain-text
                // listener, the bound address as the host of last resort.
                .finish(actix_service::map_config(app, move |()| {
                    actix_web::dev::AppConfig::__priv_test_new(false, addr.to_string(), addr)
                }))
                .tcp()
        })?
        .run())
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
