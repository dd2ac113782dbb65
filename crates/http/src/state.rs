//! What handlers share: the domain services and the HTTP layer's own settings.

use std::time::Instant;

use hub_domain::services::Services;

/// Build facts shown by `/api/version`.
#[derive(Debug, Clone)]
pub struct VersionInfo {
    /// Release version, `dev` when unknown.
    pub version: String,
    /// RFC 3339 build time or `unknown`.
    pub build_time: String,
    /// Compiler version or `unknown`.
    pub rust_version: String,
    /// Short commit hash or `unknown`.
    pub git_commit: String,
}

/// Limits and switches of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest JSON request body (`MAX_JSON_BYTES`).
    pub max_json_bytes: usize,
    /// Public URL of the main origin (`BASE_URL`); derived from each request when unset.
    pub base_url: Option<String>,
    /// Whether cookies get the `Secure` attribute.
    pub secure_cookie: bool,
    /// Session lifetime, for the cookie's `Max-Age`.
    pub session_ttl: std::time::Duration,
    /// Origins allowed to call the API from browsers.
    pub cors: crate::cors::CorsConfig,
    /// Reverse proxies whose `X-Forwarded-*` headers are trusted (`TRUST_PROXY`).
    pub trust_proxy: usize,
    /// Where a sign-in without `next` ends (`AUTH_AFTER_LOGIN_URL`).
    pub after_login_url: String,
    /// Longest pause between body bytes of an upload (`UPLOAD_IDLE_TIMEOUT`).
    pub upload_idle_timeout: std::time::Duration,
    /// Longest hold of a `wait=true` request (`UPLOAD_WAIT_TIMEOUT`).
    pub upload_wait_timeout: std::time::Duration,
    /// Public URL of the report origin (`REPORTS_BASE_URL`); derived from each request when unset.
    pub reports_base_url: Option<String>,
    /// Port of the report listener, for deriving the report origin from a main-origin request.
    pub reports_port: Option<u16>,
    /// Port of the main listener, for deriving the main origin from a report-origin request.
    pub main_port: u16,
    /// Host name of the report origin when the main listener also serves it, chosen by `Host` (`REPORTS_ADDR`
    /// empty).
    pub report_host: Option<String>,
    /// Whether `/metrics` answers without credentials (`METRICS_PUBLIC`).
    pub metrics_public: bool,
    /// What report pages may load: the `Content-Security-Policy` of every report-origin response, before its
    /// `frame-ancestors` (`REPORT_CSP`).
    pub report_policy: crate::report_files::ReportPolicy,
}

/// Everything a handler may need, shared by all workers: the use cases, and what only the HTTP layer has.
///
/// It dereferences to [`Services`], so a handler reads a use case as `state.reports`; the fields here are the
/// HTTP layer's own.
pub struct AppState {
    /// The use cases, the same instances the web UI uses.
    pub services: Services,
    /// Signs and checks the grants that hand a viewer over to the report origin.
    pub grants: hub_domain::model::grant::GrantKey,
    /// Build facts.
    pub version: VersionInfo,
    /// Process start, for `uptime`.
    pub started_at: Instant,
    /// Key sealing the sign-in flow cookie, derived from the session secret.
    pub cookie_key: actix_web::cookie::Key,
    /// Per-client-IP request limiter; `None` when disabled.
    pub limiter: Option<crate::rate_limit::RateLimiter>,
    /// HTTP settings.
    pub config: HttpConfig,
    /// Becomes `true` when the server starts shutting down, so long-lived responses (event streams) end at once
    /// instead of holding the shutdown for its whole grace period.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("version", &self.version).finish_non_exhaustive()
    }
}
