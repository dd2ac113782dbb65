//! Start-up, step four: the listeners. The main origin serves the API and the web UI over the same services; the
//! report origin, when it has its own address, serves only report files.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_service::ServiceFactoryExt as _;
use actix_web::HttpServer;
use actix_web::dev::Server;
use actix_web::web::Data;
use anyhow::Context;
use hub_domain::model::grant::GrantKey;
use hub_domain::model::origin::Origin;
use hub_domain::services::Services;
use hub_http::cors::CorsConfig;
use hub_http::rate_limit::{RateLimit, RateLimiter};
use hub_http::{AppState, HttpConfig};
use tokio::sync::watch;

use crate::config::Config;

/// The bound listeners, not yet running.
pub(super) struct Listeners {
    /// The main listener's port.
    pub port: u16,
    /// The main origin.
    pub server: Server,
    /// The report origin's own listener (`REPORTS_ADDR`) and its port.
    pub report_server: Option<(u16, Server)>,
}

/// Binds both listeners, then builds what their handlers share: each origin is derived from the other's real port.
///
/// # Errors
/// When an address cannot be bound.
pub(super) fn bind(
    config: &Config,
    services: Services,
    session_secret: &str,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Listeners> {
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
        (None, Some(url)) => Origin::parse(url).map(|o| o.host().to_owned()),
        _ => None,
    };
    let reports_port = report_listener.as_ref().map(|(_, p)| *p);
    let ui = Data::new(hub_web::WebState {
        services: services.clone(),
        version: super::version_info().version,
        report_origin: match (&config.reports_base_url, reports_port) {
            (Some(url), _) => hub_web::ReportOrigin::Fixed(url.clone()),
            (None, Some(port)) => hub_web::ReportOrigin::Port { base_url: config.base_url.clone(), port },
            (None, None) => hub_web::ReportOrigin::None,
        },
    });
    let state = Data::new(AppState {
        services,
        grants: GrantKey::derive(session_secret),
        cookie_key: actix_web::cookie::Key::derive_from(session_secret.as_bytes()),
        version: super::version_info(),
        started_at: Instant::now(),
        config: http_config(config, port, reports_port, report_host),
        limiter: (config.network.rate_limit_rate > 0.0).then(|| {
            RateLimiter::new(RateLimit { rate: config.network.rate_limit_rate, burst: config.network.rate_limit_burst })
        }),
        shutdown: stop,
    });

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
    let gate_state = state.clone();
    // Paths and methods that are not UI pages get the API's own JSON 404.
    let app =
        move || hub_http::build_app_with(state.clone(), hub_web::configure(ui.clone(), hub_http::route_not_found));
    let server = main_server(listener, config, gate_state, app)?;
    tracing::info!(addr = %config.addr, port, "listening");
    Ok(Listeners { port, server, report_server })
}

/// The HTTP layer's settings, from the configuration and the bound ports.
fn http_config(config: &Config, main_port: u16, reports_port: Option<u16>, report_host: Option<String>) -> HttpConfig {
    HttpConfig {
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
        reports_port,
        main_port,
        report_host,
        metrics_public: config.metrics_public,
        report_policy: config.report_policy.clone(),
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
