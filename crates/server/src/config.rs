//! Typed configuration, read once at start-up from environment variables (names and defaults from the
//! contract's Appendix A). An invalid value stops start-up with a message naming the variable.
//!
//! Kept whole (about 650 lines without its tests): one concern, reading and checking the environment, in one
//! `from_lookup`; the planned split is a `config/` module per group (storage, auth, uploads, Allure) with a secret
//! newtype.

use hub_domain::model::report_config::DEFAULT_ALLOWED_PLUGINS;
use hub_domain::model::retention::RetentionSettings;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hub_db::DatabaseUrl;
use hub_domain::model::upload::UploadLimits;
use hub_http::report_files::ReportPolicy;
use thiserror::Error;

use hub_domain::model::syntax as parse;

/// A variable that could not be used.
#[derive(Debug, Error)]
#[error("invalid {name}: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// What is wrong (never the value of a secret).
    pub reason: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Console,
}

/// Logging settings.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `trace` … `error`.
    pub level: String,
    /// Line format.
    pub format: LogFormat,
    /// `true` for stderr, `false` for stdout.
    pub to_stderr: bool,
}

/// Network protection (Appendix A.6).
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Trusted reverse proxies in front of the server (`TRUST_PROXY`).
    pub trust_proxy: usize,
    /// Tokens per second per client IP (`RATE_LIMIT_RATE`); 0 disables the limiter.
    pub rate_limit_rate: f64,
    /// Bucket size (`RATE_LIMIT_BURST`).
    pub rate_limit_burst: f64,
    /// `CORS_ALLOWED_ORIGINS`, unparsed (comma-separated origins or `*`).
    pub cors_allowed_origins: String,
}

impl NetworkConfig {
    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let trust_proxy = match vars.get("TRUST_PROXY") {
            None => 0,
            Some(v) => match parse::boolean(&v) {
                Some(b) if !v.chars().all(|c| c.is_ascii_digit()) => usize::from(b),
                _ => v.parse().map_err(|_| ConfigError {
                    name: "TRUST_PROXY",
                    reason: "expected a number of proxies, true or false".into(),
                })?,
            },
        };
        let non_negative = |name: &'static str, default: f64| {
            vars.parsed(name, default, |v| v.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0), "a number ≥ 0")
        };
        let rate_limit_rate = non_negative("RATE_LIMIT_RATE", 20.0)?;
        let rate_limit_burst = non_negative("RATE_LIMIT_BURST", 60.0)?;
        if rate_limit_rate > 0.0 && rate_limit_burst < 1.0 {
            return Err(ConfigError { name: "RATE_LIMIT_BURST", reason: "must be at least 1".into() });
        }
        Ok(Self {
            trust_proxy,
            rate_limit_rate,
            rate_limit_burst,
            cors_allowed_origins: vars.get("CORS_ALLOWED_ORIGINS").unwrap_or_default(),
        })
    }
}

/// Upload and archive limits (Appendix A.3).
#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// Size, entry and ratio limits.
    pub limits: UploadLimits,
    /// Longest pause between body bytes (`UPLOAD_IDLE_TIMEOUT`).
    pub idle_timeout: Duration,
    /// Longest hold of a `wait=true` request (`UPLOAD_WAIT_TIMEOUT`).
    pub wait_timeout: Duration,
    /// A chunked upload without progress for this long fails (`STALE_UPLOAD_AFTER`).
    pub stale_after: Duration,
}

impl UploadConfig {
    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let d = UploadLimits::default();
        let positive_duration = |name: &'static str, default: Duration| {
            let value = vars.duration(name, default)?;
            if value.is_zero() {
                return Err(ConfigError { name, reason: "must be positive".into() });
            }
            Ok(value)
        };
        let ratio =
            vars.parsed("MAX_COMPRESSION_RATIO", d.max_compression_ratio, |v| v.parse().ok(), "an integer ≥ 0")?;
        Ok(Self {
            limits: UploadLimits {
                max_upload_bytes: vars.positive("MAX_UPLOAD_BYTES", d.max_upload_bytes)?,
                max_chunk_bytes: vars.positive("MAX_CHUNK_BYTES", d.max_chunk_bytes)?,
                max_chunks: vars.positive("MAX_CHUNKS", d.max_chunks)?,
                max_decompressed_bytes: vars.positive("MAX_DECOMPRESSED_BYTES", d.max_decompressed_bytes)?,
                max_zip_entries: vars.positive("MAX_ZIP_ENTRIES", d.max_zip_entries)?,
                max_compression_ratio: ratio,
            },
            idle_timeout: positive_duration("UPLOAD_IDLE_TIMEOUT", Duration::from_secs(300))?,
            wait_timeout: positive_duration("UPLOAD_WAIT_TIMEOUT", Duration::from_secs(1_800))?,
            stale_after: positive_duration("STALE_UPLOAD_AFTER", Duration::from_secs(86_400))?,
        })
    }
}

/// The Allure CLI and report generation (Appendix A.4).
#[derive(Debug, Clone)]
pub struct AllureConfig {
    /// A CLI to use as is, never installed or switched (`ALLURE_BIN`).
    pub bin: Option<PathBuf>,
    /// Version installed into `DATA_DIR/allure/` when no CLI is found (`ALLURE_VERSION`).
    pub version: String,
    /// Generation jobs running at once (`ALLURE_MAX_CONCURRENCY`, at least 1).
    pub max_concurrency: i64,
    /// Time limit of one run; `None` for none (`ALLURE_TIMEOUT=0`).
    pub timeout: Option<Duration>,
    /// Trend points kept per project (`HISTORY_LIMIT`).
    pub history_limit: usize,
    /// Node heap limit of the CLI (`ALLURE_NODE_HEAP_MB`).
    pub node_heap_mb: u32,
    /// npm executable (`NPM_BIN`).
    pub npm_bin: PathBuf,
    /// Registry for installs (`NPM_REGISTRY_URL`): `None` for npm's own, `Some("")` disables installing.
    pub npm_registry: Option<String>,
    /// Base report config file (`ALLURE_CONFIG`), read at start-up.
    pub config_file: PathBuf,
    /// Plugin keys an override may use besides the base config's (`ALLURE_PLUGINS_ALLOWED`).
    pub plugins_allowed: Vec<String>,
    /// Period of the look for a newer Allure release; zero disables it (`ALLURE_UPDATE_CHECK_INTERVAL`).
    pub update_check_interval: Duration,
}

impl AllureConfig {
    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let concurrency: i64 = vars.parsed("ALLURE_MAX_CONCURRENCY", 4, |v| v.parse().ok(), "an integer")?;
        let timeout = vars.duration("ALLURE_TIMEOUT", Duration::from_secs(600))?;
        Ok(Self {
            bin: vars.get("ALLURE_BIN").map(PathBuf::from),
            version: vars.get("ALLURE_VERSION").unwrap_or_else(|| "3.18.0".into()),
            max_concurrency: concurrency.max(1),
            timeout: (!timeout.is_zero()).then_some(timeout),
            history_limit: vars.positive("HISTORY_LIMIT", 20)?,
            node_heap_mb: vars.positive("ALLURE_NODE_HEAP_MB", 2048)?,
            npm_bin: PathBuf::from(vars.get("NPM_BIN").unwrap_or_else(|| "npm".into())),
            // Set but empty means "no registry access at all", which `get` would read as unset.
            npm_registry: (vars.0)("NPM_REGISTRY_URL").map(|v| v.trim().to_owned()),
            config_file: PathBuf::from(vars.get("ALLURE_CONFIG").unwrap_or_else(|| "./allurerc.yml".into())),
            plugins_allowed: match vars.get("ALLURE_PLUGINS_ALLOWED") {
                Some(list) => list.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect(),
                None => DEFAULT_ALLOWED_PLUGINS.iter().map(|p| (*p).to_owned()).collect(),
            },
            update_check_interval: vars.duration("ALLURE_UPDATE_CHECK_INTERVAL", Duration::from_secs(86_400))?,
        })
    }
}

/// Background work (Appendix A.7): retention sweeps, notification pruning and the disk check.
#[derive(Debug, Clone, Copy)]
pub struct BackgroundConfig {
    /// Run scheduled cleanup sweeps (`CLEANUP_ENABLED`); manual sweeps work either way.
    pub cleanup_enabled: bool,
    /// Retention settings stored on the very first start (`CLEANUP_RETENTION_DAYS`, `CLEANUP_INTERVAL_HOURS`,
    /// `CLEANUP_DRY_RUN`); later the stored ones apply.
    pub retention_seed: RetentionSettings,
    /// Notifications older than this many days are deleted; 0 keeps them (`NOTIFY_RETENTION_DAYS`).
    pub notify_retention_days: i64,
    /// Period of the disk check behind the disk warning (`DISK_CHECK_INTERVAL`).
    pub disk_check_interval: Duration,
}

impl BackgroundConfig {
    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let flag = |name: &'static str, default: bool| vars.parsed(name, default, parse::boolean, "true or false");
        let ranged = |name: &'static str, default: i64, max: i64| {
            vars.parsed(
                name,
                default,
                |v| v.parse::<i64>().ok().filter(|n| (1..=max).contains(n)),
                &format!("an integer from 1 to {max}"),
            )
        };
        let disk_check_interval = vars.duration("DISK_CHECK_INTERVAL", Duration::from_secs(300))?;
        if disk_check_interval.is_zero() {
            return Err(ConfigError { name: "DISK_CHECK_INTERVAL", reason: "must be positive".into() });
        }
        Ok(Self {
            cleanup_enabled: flag("CLEANUP_ENABLED", true)?,
            retention_seed: RetentionSettings {
                retention_days: ranged("CLEANUP_RETENTION_DAYS", 90, 36_500)?,
                interval_hours: ranged("CLEANUP_INTERVAL_HOURS", 6, 8_760)?,
                dry_run: flag("CLEANUP_DRY_RUN", false)?,
            },
            notify_retention_days: vars.parsed(
                "NOTIFY_RETENTION_DAYS",
                30,
                |v| v.parse::<i64>().ok().filter(|n| (0..=36_500).contains(n)),
                "an integer from 0 to 36500",
            )?,
            disk_check_interval,
        })
    }
}

/// Sign-in and session settings (Appendix A.5).
#[derive(Clone)]
pub struct AuthConfig {
    /// Session lifetime (`SESSION_TTL`).
    pub session_ttl: Duration,
    /// `Secure` attribute on cookies (`SECURE_COOKIE`, `auto` = on when `BASE_URL` is https).
    pub secure_cookie: bool,
    /// Role policy file (`AUTH_POLICY_FILE`).
    pub policy_file: PathBuf,
    /// Whether local sign-in is enabled (`LOCAL_LOGIN`).
    pub local_login: bool,
    /// Bootstrap admin account (`ADMIN_EMAIL`).
    pub admin_email: String,
    /// Its password (`ADMIN_PASSWORD`); never logged.
    pub admin_password: Option<String>,
    /// Key material for cookies the server seals (`SESSION_SECRET`); generated into `DATA_DIR/secret` when unset.
    pub session_secret: Option<String>,
    /// Where a sign-in without `next` ends (`AUTH_AFTER_LOGIN_URL`).
    pub after_login_url: String,
    /// Enabled OpenID Connect providers.
    pub oidc: Vec<OidcProviderConfig>,
    /// GitHub sign-in, when `GITHUB_CLIENT_ID` and `GITHUB_CLIENT_SECRET` are both set.
    pub github: Option<GithubConfig>,
}

/// GitHub's OAuth app and endpoints from the environment.
#[derive(Clone)]
pub struct GithubConfig {
    /// Client id.
    pub client_id: String,
    /// Client secret (never logged).
    pub client_secret: String,
    /// Web root (`GITHUB_URL`, default `https://github.com`).
    pub web_url: String,
    /// REST API root (`GITHUB_API_URL`; default `https://api.github.com`, or `<GITHUB_URL>/api/v3` for GitHub
    /// Enterprise Server).
    pub api_url: String,
}

impl std::fmt::Debug for GithubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubConfig")
            .field("client_id", &self.client_id)
            .field("web_url", &self.web_url)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// One OpenID Connect provider from the environment.
#[derive(Clone)]
pub struct OidcProviderConfig {
    /// `google`, `gitlab` or `oidc`.
    pub id: &'static str,
    /// Label.
    pub display_name: String,
    /// Issuer URL.
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Client secret (never logged).
    pub client_secret: Option<String>,
    /// Scopes.
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for OidcProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProviderConfig")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("session_ttl", &self.session_ttl)
            .field("secure_cookie", &self.secure_cookie)
            .field("policy_file", &self.policy_file)
            .field("local_login", &self.local_login)
            .field("admin_email", &self.admin_email)
            .field("admin_password", &self.admin_password.as_ref().map(|_| "***"))
            .field("session_secret", &self.session_secret.as_ref().map(|_| "***"))
            .field("oidc", &self.oidc)
            .field("github", &self.github)
            .finish()
    }
}

/// The whole configuration of a server process.
#[derive(Clone)]
pub struct Config {
    /// Listen address of the main origin (`ADDR`).
    pub addr: SocketAddr,
    /// Grace period for in-flight requests on shutdown (`SHUTDOWN_TIMEOUT`).
    pub shutdown_timeout: Duration,
    /// Time allowed to send request headers (`REQUEST_HEADER_TIMEOUT`).
    pub request_header_timeout: Duration,
    /// Idle keep-alive connections are closed after this (`IDLE_TIMEOUT`).
    pub idle_timeout: Duration,
    /// Root of all files (`DATA_DIR`), absolute.
    pub data_dir: PathBuf,
    /// The database (`DATABASE_URL`).
    pub database_url: DatabaseUrl,
    /// Pool size (`DB_MAX_CONNECTIONS`).
    pub db_max_connections: u32,
    /// Largest JSON body (`MAX_JSON_BYTES`).
    pub max_json_bytes: usize,
    /// Public URL of the main origin (`BASE_URL`), without a trailing slash.
    pub base_url: Option<String>,
    /// Listen address of the report origin (`REPORTS_ADDR`); `None` when empty (the main listener serves it by
    /// `Host`).
    pub reports_addr: Option<SocketAddr>,
    /// Public URL of the report origin (`REPORTS_BASE_URL`, or derived from `BASE_URL`); `None` when derived per
    /// request.
    pub reports_base_url: Option<String>,
    /// What report pages may load (`REPORT_CSP`, or the built-in policy); `frame-ancestors` is added per response.
    pub report_policy: ReportPolicy,
    /// Authentication settings.
    pub auth: AuthConfig,
    /// Network protection (Appendix A.6).
    pub network: NetworkConfig,
    /// Upload and archive limits (Appendix A.3).
    pub uploads: UploadConfig,
    /// The Allure CLI (Appendix A.4).
    pub allure: AllureConfig,
    /// Retention, notification pruning and the disk check.
    pub background: BackgroundConfig,
    /// Logging.
    pub log: LogConfig,
    /// Serve `/metrics` without authentication (`METRICS_PUBLIC`).
    pub metrics_public: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url)
            .field("db_max_connections", &self.db_max_connections)
            .field("max_json_bytes", &self.max_json_bytes)
            .field("base_url", &self.base_url)
            .field("reports_addr", &self.reports_addr)
            .field("reports_base_url", &self.reports_base_url)
            .field("report_policy", &self.report_policy)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// Reads variables through `lookup`, so tests can pass a map instead of the process environment.
struct Vars<F: Fn(&str) -> Option<String>>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    /// The trimmed value, or `None` when unset or empty.
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn parsed<T>(
        &self,
        name: &'static str,
        default: T,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => parse(&v).ok_or_else(|| ConfigError { name, reason: format!("expected {expected}") }),
        }
    }

    fn duration(&self, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        self.parsed(name, default, parse::duration, "a duration such as 30s, 10m or 1h30m")
    }

    fn positive<T: std::str::FromStr + PartialOrd + Default>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        self.parsed(name, default, |v| v.parse().ok().filter(|n| *n > T::default()), "a positive integer")
    }
}

/// Checks `scheme://host[:port]` without path, query, fragment or trailing slash.
fn parse_base_url(name: &'static str, url: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError { name, reason: reason.to_owned() };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| invalid("must start with http:// or https://"))?;
    if rest.is_empty() {
        return Err(invalid("has no host"));
    }
    if rest.contains(['/', '?', '#']) {
        return Err(invalid("must not have a path, query or fragment (nor a trailing slash)"));
    }
    Ok(url.to_owned())
}

impl AuthConfig {
    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>, base_url: Option<&str>) -> Result<Self, ConfigError> {
        let admin_password = vars.get("ADMIN_PASSWORD");
        if admin_password.as_ref().is_some_and(|p| p.chars().count() > 1024) {
            return Err(ConfigError { name: "ADMIN_PASSWORD", reason: "must be at most 1024 characters".into() });
        }
        let oidc = oidc_providers(vars)?;
        let github = github_provider(vars)?;
        let oauth = !oidc.is_empty() || github.is_some();
        if oauth && base_url.is_none() {
            return Err(ConfigError {
                name: "BASE_URL",
                reason: "is required when an OAuth provider is configured".into(),
            });
        }
        let local_login = match vars.get("LOCAL_LOGIN").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("auto") => !oauth || admin_password.is_some(),
            Some(v) => parse::boolean(v)
                .ok_or_else(|| ConfigError { name: "LOCAL_LOGIN", reason: "expected true, false or auto".into() })?,
        };
        if !local_login && !oauth {
            return Err(ConfigError { name: "LOCAL_LOGIN", reason: "no sign-in method would be enabled".into() });
        }
        let session_secret = vars.get("SESSION_SECRET");
        if session_secret.as_ref().is_some_and(|s| s.len() < 32) {
            return Err(ConfigError { name: "SESSION_SECRET", reason: "must be at least 32 bytes".into() });
        }
        let after_login_url = vars.get("AUTH_AFTER_LOGIN_URL").unwrap_or_else(|| "/".into());
        // It becomes a `Location` header: a space or control character would make every sign-in a 500.
        if !after_login_url.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError {
                name: "AUTH_AFTER_LOGIN_URL",
                reason: "must be a path or URL of visible ASCII characters (percent-encode the rest)".into(),
            });
        }
        let secure_cookie = match vars.get("SECURE_COOKIE").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("auto") => base_url.is_some_and(|u| u.starts_with("https://")),
            Some(v) => parse::boolean(v)
                .ok_or_else(|| ConfigError { name: "SECURE_COOKIE", reason: "expected true, false or auto".into() })?,
        };
        let admin_email = vars.get("ADMIN_EMAIL").unwrap_or_else(|| "admin@localhost".into());
        if hub_domain::ids::Email::parse(&admin_email).is_err() {
            return Err(ConfigError { name: "ADMIN_EMAIL", reason: "expected an email address".into() });
        }
        let session_ttl = vars.duration("SESSION_TTL", Duration::from_secs(7 * 86_400))?;
        if session_ttl.is_zero() {
            return Err(ConfigError { name: "SESSION_TTL", reason: "must be positive".into() });
        }
        Ok(Self {
            session_ttl,
            secure_cookie,
            policy_file: PathBuf::from(vars.get("AUTH_POLICY_FILE").unwrap_or_else(|| "./policy.yaml".into())),
            local_login,
            admin_email,
            admin_password,
            session_secret,
            after_login_url,
            oidc,
            github,
        })
    }
}

/// GitHub sign-in when its client id and secret are both set. `GITHUB_URL` and `GITHUB_API_URL` point it at a
/// GitHub Enterprise Server instead of github.com.
fn github_provider<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Option<GithubConfig>, ConfigError> {
    let (Some(client_id), Some(client_secret)) = (vars.get("GITHUB_CLIENT_ID"), vars.get("GITHUB_CLIENT_SECRET"))
    else {
        return Ok(None);
    };
    let web_url = parse_base_url("GITHUB_URL", &vars.get("GITHUB_URL").unwrap_or_else(|| "https://github.com".into()))?;
    let api_url = match vars.get("GITHUB_API_URL") {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => url.trim_end_matches('/').to_owned(),
        Some(_) => return Err(ConfigError { name: "GITHUB_API_URL", reason: "must be an http(s) URL".into() }),
        None if web_url == "https://github.com" => "https://api.github.com".to_owned(),
        None => format!("{web_url}/api/v3"),
    };
    Ok(Some(GithubConfig { client_id, client_secret, web_url, api_url }))
}

/// The OpenID Connect providers enabled by their variables: Google and GitLab (client id and secret both set)
/// and a generic issuer (`OIDC_ISSUER_URL` and `OIDC_CLIENT_ID`; the secret is optional for public clients).
fn oidc_providers<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Vec<OidcProviderConfig>, ConfigError> {
    let standard = ["openid", "email", "profile"].map(String::from).to_vec();
    let mut providers = Vec::new();
    if let (Some(client_id), Some(secret)) = (vars.get("GOOGLE_CLIENT_ID"), vars.get("GOOGLE_CLIENT_SECRET")) {
        providers.push(OidcProviderConfig {
            id: "google",
            display_name: "Google".into(),
            issuer: "https://accounts.google.com".into(),
            client_id,
            client_secret: Some(secret),
            scopes: standard.clone(),
        });
    }
    if let (Some(client_id), Some(secret)) = (vars.get("GITLAB_CLIENT_ID"), vars.get("GITLAB_CLIENT_SECRET")) {
        let issuer =
            parse_base_url("GITLAB_URL", &vars.get("GITLAB_URL").unwrap_or_else(|| "https://gitlab.com".into()))?;
        providers.push(OidcProviderConfig {
            id: "gitlab",
            display_name: "GitLab".into(),
            issuer,
            client_id,
            client_secret: Some(secret),
            scopes: standard.clone(),
        });
    }
    if let (Some(issuer), Some(client_id)) = (vars.get("OIDC_ISSUER_URL"), vars.get("OIDC_CLIENT_ID")) {
        if !issuer.starts_with("https://") && !issuer.starts_with("http://") {
            return Err(ConfigError { name: "OIDC_ISSUER_URL", reason: "must be an http(s) URL".into() });
        }
        providers.push(OidcProviderConfig {
            id: "oidc",
            display_name: vars.get("OIDC_DISPLAY_NAME").unwrap_or_else(|| "Single sign-on".into()),
            issuer,
            client_id,
            client_secret: vars.get("OIDC_CLIENT_SECRET"),
            scopes: vars
                .get("OIDC_SCOPES")
                .unwrap_or_else(|| "openid email profile".into())
                .split_whitespace()
                .map(String::from)
                .collect(),
        });
    }
    Ok(providers)
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first invalid variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first invalid variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(lookup);
        let addr = vars.parsed("ADDR", SocketAddr::from(([0, 0, 0, 0], 8080)), |v| v.parse().ok(), "host:port")?;

        let data_dir = PathBuf::from(vars.get("DATA_DIR").unwrap_or_else(|| "./data".into()));
        let data_dir =
            std::path::absolute(&data_dir).map_err(|e| ConfigError { name: "DATA_DIR", reason: e.to_string() })?;
        let database_url = match vars.get("DATABASE_URL") {
            Some(url) => {
                DatabaseUrl::parse(&url).map_err(|e| ConfigError { name: "DATABASE_URL", reason: e.to_string() })?
            }
            None => DatabaseUrl::Sqlite(data_dir.join("allure-hub.db")),
        };

        let format = match vars.get("LOG_FORMAT").as_deref() {
            None | Some("json") => LogFormat::Json,
            Some("console") => LogFormat::Console,
            Some(_) => {
                return Err(ConfigError { name: "LOG_FORMAT", reason: "expected json or console".into() });
            }
        };
        let level = vars.get("LOG_LEVEL").unwrap_or_else(|| "info".into()).to_ascii_lowercase();
        if !["trace", "debug", "info", "warn", "error"].contains(&level.as_str()) {
            return Err(ConfigError { name: "LOG_LEVEL", reason: "expected trace, debug, info, warn or error".into() });
        }
        let to_stderr = match vars.get("LOG_OUTPUT").as_deref() {
            None | Some("stdout") => false,
            Some("stderr") => true,
            Some(_) => {
                return Err(ConfigError { name: "LOG_OUTPUT", reason: "expected stdout or stderr".into() });
            }
        };

        let base_url = vars.get("BASE_URL").map(|url| parse_base_url("BASE_URL", &url)).transpose()?;
        let auth = AuthConfig::from_vars(&vars, base_url.as_deref())?;
        let network = NetworkConfig::from_vars(&vars)?;
        // Unset means the default listener; set but empty means none (the main listener serves by `Host`).
        let reports_addr = match vars.0("REPORTS_ADDR").map(|v| v.trim().to_owned()) {
            None => Some(SocketAddr::from(([0, 0, 0, 0], 8081))),
            Some(v) if v.is_empty() => None,
            Some(v) => {
                Some(v.parse().map_err(|_| ConfigError { name: "REPORTS_ADDR", reason: "expected host:port".into() })?)
            }
        };
        let reports_base_url =
            vars.get("REPORTS_BASE_URL").map(|url| parse_base_url("REPORTS_BASE_URL", &url)).transpose()?;
        let reports_base_url =
            crate::origins::report_base_url(reports_base_url.as_deref(), base_url.as_deref(), reports_addr)?;
        crate::origins::check_cors(&network.cors_allowed_origins, reports_base_url.as_deref(), reports_addr)?;
        let report_policy = match vars.get("REPORT_CSP") {
            None => ReportPolicy::default(),
            Some(value) => ReportPolicy::parse(&value).map_err(|reason| ConfigError { name: "REPORT_CSP", reason })?,
        };

        Ok(Self {
            addr,
            shutdown_timeout: vars.duration("SHUTDOWN_TIMEOUT", Duration::from_secs(30))?,
            request_header_timeout: vars.duration("REQUEST_HEADER_TIMEOUT", Duration::from_secs(10))?,
            idle_timeout: vars.duration("IDLE_TIMEOUT", Duration::from_secs(120))?,
            data_dir,
            database_url,
            db_max_connections: vars.positive("DB_MAX_CONNECTIONS", 10)?,
            max_json_bytes: vars.positive("MAX_JSON_BYTES", 1_048_576)?,
            base_url,
            reports_addr,
            reports_base_url,
            report_policy,
            auth,
            network,
            uploads: UploadConfig::from_vars(&vars)?,
            allure: AllureConfig::from_vars(&vars)?,
            background: BackgroundConfig::from_vars(&vars)?,
            log: LogConfig { level, format, to_stderr },
            metrics_public: vars.parsed("METRICS_PUBLIC", false, parse::boolean, "true or false")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use hub_db::Backend;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn embedded_defaults_use_sqlite_under_the_data_dir() {
        let c = config(&[]).unwrap();
        assert_eq!(c.addr.to_string(), "0.0.0.0:8080");
        assert!(c.data_dir.is_absolute() && c.data_dir.ends_with("data"));
        assert_eq!(c.database_url, DatabaseUrl::Sqlite(c.data_dir.join("allure-hub.db")));
        assert_eq!(c.max_json_bytes, 1_048_576);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(c.log.format, LogFormat::Json);
    }

    #[test]
    fn auth_defaults_follow_the_contract() {
        let c = config(&[]).unwrap();
        assert_eq!(c.auth.session_ttl, Duration::from_secs(7 * 86_400));
        assert!(!c.auth.secure_cookie && c.auth.local_login);
        assert_eq!(c.auth.admin_email, "admin@localhost");
        assert!(c.auth.policy_file.ends_with("policy.yaml"));
        let c = config(&[("BASE_URL", "https://hub.example.com")]).unwrap();
        assert!(c.auth.secure_cookie, "auto turns Secure on for an https BASE_URL");
        let c = config(&[("BASE_URL", "https://hub.example.com"), ("SECURE_COOKIE", "false")]).unwrap();
        assert!(!c.auth.secure_cookie);
    }

    #[test]
    fn the_after_login_url_must_be_usable_as_a_location_header() {
        assert_eq!(config(&[]).unwrap().auth.after_login_url, "/");
        assert_eq!(config(&[("AUTH_AFTER_LOGIN_URL", "/environments")]).unwrap().auth.after_login_url, "/environments");
        for bad in ["/a b", "/a\tb", "/a\nb", "/café"] {
            assert_eq!(config(&[("AUTH_AFTER_LOGIN_URL", bad)]).unwrap_err().name, "AUTH_AFTER_LOGIN_URL", "{bad:?}");
        }
    }

    #[test]
    fn the_report_policy_is_built_in_unless_report_csp_replaces_it() {
        assert_eq!(config(&[]).unwrap().report_policy, ReportPolicy::default());
        assert_eq!(config(&[("REPORT_CSP", "  ")]).unwrap().report_policy, ReportPolicy::default(), "empty is unset");
        let set = config(&[("REPORT_CSP", " default-src 'self'; img-src * ")]).unwrap().report_policy;
        assert_eq!(set.as_str(), "default-src 'self'; img-src *");
        for bad in ["default-src 'self'\nimg-src *", "default-src 'sélf'", "default-src 'self'; frame-ancestors *"] {
            let err = config(&[("REPORT_CSP", bad)]).unwrap_err();
            assert_eq!(err.name, "REPORT_CSP", "{bad:?}");
            assert!(err.to_string().starts_with("invalid REPORT_CSP: "), "{err}");
        }
    }

    #[test]
    fn an_oidc_provider_needs_base_url_and_turns_auto_local_login_off() {
        let oidc = [("OIDC_ISSUER_URL", "https://sso.example.com/realms/main"), ("OIDC_CLIENT_ID", "hub")];
        assert_eq!(config(&oidc).unwrap_err().name, "BASE_URL");
        let mut vars = oidc.to_vec();
        vars.push(("BASE_URL", "https://hub.example.com"));
        let c = config(&vars).unwrap();
        assert_eq!(c.auth.oidc.len(), 1);
        assert_eq!((c.auth.oidc[0].display_name.as_str(), c.auth.oidc[0].scopes.len()), ("Single sign-on", 3));
        assert!(!c.auth.local_login, "auto: no local login beside an OAuth provider without ADMIN_PASSWORD");
        vars.push(("ADMIN_PASSWORD", "pw"));
        assert!(config(&vars).unwrap().auth.local_login);
    }

    #[test]
    fn trust_proxy_accepts_counts_and_booleans() {
        assert_eq!(config(&[]).unwrap().network.trust_proxy, 0);
        assert_eq!(config(&[("TRUST_PROXY", "true")]).unwrap().network.trust_proxy, 1);
        assert_eq!(config(&[("TRUST_PROXY", "2")]).unwrap().network.trust_proxy, 2);
        assert_eq!(config(&[("TRUST_PROXY", "1")]).unwrap().network.trust_proxy, 1);
        assert_eq!(config(&[("TRUST_PROXY", "no")]).unwrap().network.trust_proxy, 0);
        let n = config(&[]).unwrap().network;
        assert_eq!((n.rate_limit_rate, n.rate_limit_burst), (20.0, 60.0));
    }

    #[test]
    fn the_default_database_follows_a_custom_data_dir() {
        let c = config(&[("DATA_DIR", "/srv/hub")]).unwrap();
        assert_eq!(c.database_url, DatabaseUrl::Sqlite(PathBuf::from("/srv/hub/allure-hub.db")));
        let c = config(&[("DATA_DIR", "/srv/hub"), ("DATABASE_URL", "postgres://db/hub")]).unwrap();
        assert_eq!(c.database_url.backend(), Backend::Postgres);
    }

    #[test]
    fn github_needs_both_credentials_and_follows_an_enterprise_server() {
        let c = config(&[("GITHUB_CLIENT_ID", "x")]).unwrap();
        assert!(c.auth.github.is_none(), "a client id alone enables nothing");
        let both = [("GITHUB_CLIENT_ID", "id"), ("GITHUB_CLIENT_SECRET", "secret")];
        assert_eq!(config(&both).unwrap_err().name, "BASE_URL");
        let mut vars = both.to_vec();
        vars.push(("BASE_URL", "https://hub.example.com"));
        let c = config(&vars).unwrap();
        let github = c.auth.github.clone().unwrap();
        assert_eq!(
            (github.web_url.as_str(), github.api_url.as_str()),
            ("https://github.com", "https://api.github.com")
        );
        assert!(!c.auth.local_login, "auto local login is off once an OAuth provider is set");
        vars.push(("GITHUB_URL", "https://ghe.example.com"));
        let github = config(&vars).unwrap().auth.github.unwrap();
        assert_eq!(github.api_url, "https://ghe.example.com/api/v3");
        vars.push(("GITHUB_API_URL", "ftp://ghe"));
        assert_eq!(config(&vars).unwrap_err().name, "GITHUB_API_URL");
    }

    #[test]
    fn invalid_values_name_their_variable() {
        for (name, value) in [
            ("ADDR", "nowhere"),
            ("SHUTDOWN_TIMEOUT", "soon"),
            ("DB_MAX_CONNECTIONS", "0"),
            ("MAX_JSON_BYTES", "-5"),
            ("DATABASE_URL", "mysql://x"),
            ("LOG_FORMAT", "xml"),
            ("LOG_LEVEL", "loud"),
            ("BASE_URL", "https://hub.example.com/"),
            ("BASE_URL", "ftp://hub"),
            ("SESSION_TTL", "0"),
            ("LOCAL_LOGIN", "false"),
            ("SESSION_SECRET", "too-short"),
            ("TRUST_PROXY", "maybe"),
            ("RATE_LIMIT_RATE", "-1"),
            ("RATE_LIMIT_BURST", "0.5"),
            ("ADMIN_EMAIL", "not-an-email"),
            ("REPORTS_ADDR", "nowhere"),
            ("MAX_UPLOAD_BYTES", "0"),
            ("MAX_COMPRESSION_RATIO", "-1"),
            ("UPLOAD_IDLE_TIMEOUT", "0"),
            ("STALE_UPLOAD_AFTER", "soon"),
            ("ALLURE_TIMEOUT", "forever"),
            ("HISTORY_LIMIT", "0"),
            ("ALLURE_MAX_CONCURRENCY", "many"),
            ("REPORTS_BASE_URL", "https://reports.example.com/r"),
            ("CORS_ALLOWED_ORIGINS", "http://localhost:8081"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert_eq!(err.name, name);
            assert!(err.to_string().starts_with(&format!("invalid {name}")), "{err}");
        }
    }

    #[test]
    fn background_work_follows_appendix_a7() {
        let c = config(&[]).unwrap().background;
        assert!(c.cleanup_enabled);
        assert_eq!(c.retention_seed, RetentionSettings { retention_days: 90, interval_hours: 6, dry_run: false });
        assert_eq!((c.notify_retention_days, c.disk_check_interval), (30, Duration::from_secs(300)));
        let c = config(&[
            ("CLEANUP_ENABLED", "false"),
            ("CLEANUP_RETENTION_DAYS", "7"),
            ("CLEANUP_INTERVAL_HOURS", "1"),
            ("CLEANUP_DRY_RUN", "true"),
            ("NOTIFY_RETENTION_DAYS", "0"),
            ("DISK_CHECK_INTERVAL", "30s"),
        ])
        .unwrap()
        .background;
        assert!(!c.cleanup_enabled);
        assert_eq!(c.retention_seed, RetentionSettings { retention_days: 7, interval_hours: 1, dry_run: true });
        assert_eq!((c.notify_retention_days, c.disk_check_interval), (0, Duration::from_secs(30)));
        for (name, value) in [
            ("CLEANUP_RETENTION_DAYS", "0"),
            ("CLEANUP_INTERVAL_HOURS", "8761"),
            ("CLEANUP_DRY_RUN", "maybe"),
            ("NOTIFY_RETENTION_DAYS", "-1"),
            ("DISK_CHECK_INTERVAL", "0s"),
        ] {
            assert_eq!(config(&[(name, value)]).unwrap_err().name, name);
        }
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = config(&[
            ("ADMIN_PASSWORD", "ah_supersecretvalue"),
            ("DATABASE_URL", "postgres://u:pw123@h/db"),
            ("BASE_URL", "https://hub.example.com"),
            ("GITHUB_CLIENT_ID", "id"),
            ("GITHUB_CLIENT_SECRET", "gh-supersecret"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("supersecret") && !shown.contains("pw123"), "{shown}");
    }
}
