//! Typed configuration, read once at start-up from environment variables (names and defaults from the
//! contract's Appendix A). An invalid value stops start-up with a message naming the variable.
//!
//! [`Config`] holds the listeners, storage and origins and reads them here; each group of settings (sign-in, OAuth
//! providers, network, uploads, Allure, background work, logging) is a section in its own module that reads its own
//! variables. Secrets are [`Secret`]s, so every section derives `Debug` without showing them.

mod allure;
mod auth;
mod background;
mod log;
mod network;
mod providers;
mod secret;
mod storage;
mod uploads;
mod vars;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hub_db::DatabaseUrl;
use hub_domain::ids::NodeId;
use hub_domain::model::syntax as parse;
use hub_http::report_files::ReportPolicy;
use thiserror::Error;

pub use allure::AllureConfig;
pub use auth::AuthConfig;
pub use background::BackgroundConfig;
pub use log::{LogConfig, LogFormat};
pub use network::NetworkConfig;
pub use providers::{GithubConfig, OidcProviderConfig};
pub use secret::Secret;
pub use storage::{CopyTarget, StorageConfig};
pub use uploads::UploadConfig;
use vars::{Vars, parse_base_url};

/// A variable that could not be used.
#[derive(Debug, Error)]
#[error("invalid {name}: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// What is wrong (never the value of a secret).
    pub reason: String,
}

/// The whole configuration of a server process.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address of the main origin (`ADDR`).
    pub addr: SocketAddr,
    /// Grace period for in-flight requests on shutdown (`SHUTDOWN_TIMEOUT`).
    pub shutdown_timeout: Duration,
    /// Time allowed to send request headers (`REQUEST_HEADER_TIMEOUT`).
    pub request_header_timeout: Duration,
    /// Idle keep-alive connections are closed after this (`IDLE_TIMEOUT`).
    pub idle_timeout: Duration,
    /// Root of all files (`DATA_DIR`), absolute; with object storage, of the database and local scratch work only.
    pub data_dir: PathBuf,
    /// Where results, reports, history and chunks are kept (`STORAGE_URL`).
    pub storage: StorageConfig,
    /// The database (`DATABASE_URL`); its `Debug` hides the password.
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
    /// This process among those sharing the database (`NODE_ID`; default `<host name>:<process id>`).
    pub node_id: NodeId,
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
        let storage = StorageConfig::from_vars(&vars, &data_dir)?;
        let log = LogConfig::from_vars(&vars)?;

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
            storage,
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
            log,
            metrics_public: vars.parsed("METRICS_PUBLIC", false, parse::boolean, "true or false")?,
            node_id: match vars.get("NODE_ID") {
                Some(id) => NodeId::parse(&id).map_err(|_| ConfigError {
                    name: "NODE_ID",
                    reason: "expected 1 to 64 of A-Z a-z 0-9 . _ - :".into(),
                })?,
                None => default_node_id(),
            },
        })
    }
}

/// `<host name>:<process id>`: unique among processes on one machine and, with distinct host names (pods, VMs),
/// across machines.
fn default_node_id() -> NodeId {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host: String = host.trim().chars().take(50).collect();
    let host = if host.is_empty() { "node" } else { host.as_str() };
    NodeId::sanitized(&format!("{host}:{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use hub_db::Backend;

    use super::*;

    /// The configuration read from `vars` alone, as if they were the whole environment.
    pub(in crate::config) fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    /// Each `(name, value)` alone stops the configuration with an error naming `name`.
    pub(in crate::config) fn assert_rejected(cases: &[(&'static str, &str)]) {
        for &(name, value) in cases {
            let err = config(&[(name, value)]).unwrap_err();
            assert_eq!(err.name, name, "{name}={value:?}");
            assert!(err.to_string().starts_with(&format!("invalid {name}")), "{err}");
        }
    }

    #[test]
    fn a_node_is_named_by_its_host_and_process_unless_told() {
        let own = config(&[]).unwrap().node_id;
        assert!(own.as_str().ends_with(&format!(":{}", std::process::id())), "{own}");
        assert_eq!(config(&[("NODE_ID", "web-2")]).unwrap().node_id.as_str(), "web-2");
        assert_rejected(&[("NODE_ID", "a b"), ("NODE_ID", &"n".repeat(65))]);
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
    fn the_default_database_follows_a_custom_data_dir() {
        let c = config(&[("DATA_DIR", "/srv/hub")]).unwrap();
        assert_eq!(c.database_url, DatabaseUrl::Sqlite(PathBuf::from("/srv/hub/allure-hub.db")));
        let c = config(&[("DATA_DIR", "/srv/hub"), ("DATABASE_URL", "postgres://db/hub")]).unwrap();
        assert_eq!(c.database_url.backend(), Backend::Postgres);
    }

    #[test]
    fn invalid_values_name_their_variable() {
        assert_rejected(&[
            ("ADDR", "nowhere"),
            ("SHUTDOWN_TIMEOUT", "soon"),
            ("DB_MAX_CONNECTIONS", "0"),
            ("MAX_JSON_BYTES", "-5"),
            ("DATABASE_URL", "mysql://x"),
            ("BASE_URL", "https://hub.example.com/"),
            ("BASE_URL", "ftp://hub"),
            ("REPORTS_ADDR", "nowhere"),
            ("REPORTS_BASE_URL", "https://reports.example.com/r"),
            ("CORS_ALLOWED_ORIGINS", "http://localhost:8081"),
        ]);
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let session_secret = "ss-supersecret-0123456789abcdefghij";
        let c = config(&[
            ("ADMIN_PASSWORD", "ah_supersecretvalue"),
            ("SESSION_SECRET", session_secret),
            ("DATABASE_URL", "postgres://u:pw123@h/db"),
            ("BASE_URL", "https://hub.example.com"),
            ("GITHUB_CLIENT_ID", "id"),
            ("GITHUB_CLIENT_SECRET", "gh-supersecret"),
            ("GOOGLE_CLIENT_ID", "google-id"),
            ("GOOGLE_CLIENT_SECRET", "google-supersecret"),
            ("GITLAB_CLIENT_ID", "gitlab-id"),
            ("GITLAB_CLIENT_SECRET", "gitlab-supersecret"),
            ("OIDC_ISSUER_URL", "https://sso.example.com"),
            ("OIDC_CLIENT_ID", "oidc-id"),
            ("OIDC_CLIENT_SECRET", "oidc-supersecret"),
        ])
        .unwrap();
        assert_eq!((c.auth.oidc.len(), c.auth.github.is_some()), (3, true), "every secret is really held");
        for shown in [format!("{c:?}"), format!("{c:#?}")] {
            assert!(!shown.contains("supersecret") && !shown.contains("pw123"), "{shown}");
            assert!(shown.contains("Secret([redacted])") && shown.contains("google-id"), "{shown}");
        }
    }
}
