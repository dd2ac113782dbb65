//! Typed configuration, read once at start-up from environment variables (names and defaults from the
//! contract's Appendix A). An invalid value stops start-up with a message naming the variable. Variables of
//! features that do not exist yet are read by the issues that bring them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hub_db::DatabaseUrl;
use thiserror::Error;

use crate::parse;

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
    /// The temporary API credential (`BOOTSTRAP_TOKEN`); generated and logged once when unset.
    pub bootstrap_token: Option<String>,
    /// Logging.
    pub log: LogConfig,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url)
            .field("db_max_connections", &self.db_max_connections)
            .field("max_json_bytes", &self.max_json_bytes)
            .field(
                "bootstrap_token",
                &self.bootstrap_token.as_ref().map(|_| "***"),
            )
            .finish_non_exhaustive()
    }
}

/// Reads variables through `lookup`, so tests can pass a map instead of the process environment.
struct Vars<F: Fn(&str) -> Option<String>>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    /// The trimmed value, or `None` when unset or empty.
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
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
            Some(v) => parse(&v).ok_or_else(|| ConfigError {
                name,
                reason: format!("expected {expected}"),
            }),
        }
    }

    fn duration(&self, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        self.parsed(
            name,
            default,
            parse::duration,
            "a duration such as 30s, 10m or 1h30m",
        )
    }

    fn positive<T: std::str::FromStr + PartialOrd + Default>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        self.parsed(
            name,
            default,
            |v| v.parse().ok().filter(|n| *n > T::default()),
            "a positive integer",
        )
    }
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
        let addr = vars.parsed(
            "ADDR",
            SocketAddr::from(([0, 0, 0, 0], 8080)),
            |v| v.parse().ok(),
            "host:port",
        )?;

        let data_dir = PathBuf::from(vars.get("DATA_DIR").unwrap_or_else(|| "./data".into()));
        let data_dir = std::path::absolute(&data_dir).map_err(|e| ConfigError {
            name: "DATA_DIR",
            reason: e.to_string(),
        })?;
        let database_url = match vars.get("DATABASE_URL") {
            Some(url) => DatabaseUrl::parse(&url).map_err(|e| ConfigError {
                name: "DATABASE_URL",
                reason: e.to_string(),
            })?,
            None => DatabaseUrl::Sqlite(data_dir.join("allure-hub.db")),
        };

        let format = match vars.get("LOG_FORMAT").as_deref() {
            None | Some("json") => LogFormat::Json,
            Some("console") => LogFormat::Console,
            Some(_) => {
                return Err(ConfigError {
                    name: "LOG_FORMAT",
                    reason: "expected json or console".into(),
                });
            }
        };
        let level = vars
            .get("LOG_LEVEL")
            .unwrap_or_else(|| "info".into())
            .to_ascii_lowercase();
        if !["trace", "debug", "info", "warn", "error"].contains(&level.as_str()) {
            return Err(ConfigError {
                name: "LOG_LEVEL",
                reason: "expected trace, debug, info, warn or error".into(),
            });
        }
        let to_stderr = match vars.get("LOG_OUTPUT").as_deref() {
            None | Some("stdout") => false,
            Some("stderr") => true,
            Some(_) => {
                return Err(ConfigError {
                    name: "LOG_OUTPUT",
                    reason: "expected stdout or stderr".into(),
                });
            }
        };

        let bootstrap_token = vars.get("BOOTSTRAP_TOKEN");
        if bootstrap_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(ConfigError {
                name: "BOOTSTRAP_TOKEN",
                reason: "must be at least 16 characters".into(),
            });
        }

        Ok(Self {
            addr,
            shutdown_timeout: vars.duration("SHUTDOWN_TIMEOUT", Duration::from_secs(30))?,
            request_header_timeout: vars
                .duration("REQUEST_HEADER_TIMEOUT", Duration::from_secs(10))?,
            idle_timeout: vars.duration("IDLE_TIMEOUT", Duration::from_secs(120))?,
            data_dir,
            database_url,
            db_max_connections: vars.positive("DB_MAX_CONNECTIONS", 10)?,
            max_json_bytes: vars.positive("MAX_JSON_BYTES", 1_048_576)?,
            bootstrap_token,
            log: LogConfig {
                level,
                format,
                to_stderr,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use hub_db::Backend;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn embedded_defaults_use_sqlite_under_the_data_dir() {
        let c = config(&[]).unwrap();
        assert_eq!(c.addr.to_string(), "0.0.0.0:8080");
        assert!(c.data_dir.is_absolute() && c.data_dir.ends_with("data"));
        assert_eq!(
            c.database_url,
            DatabaseUrl::Sqlite(c.data_dir.join("allure-hub.db"))
        );
        assert_eq!(c.max_json_bytes, 1_048_576);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(c.log.format, LogFormat::Json);
    }

    #[test]
    fn the_default_database_follows_a_custom_data_dir() {
        let c = config(&[("DATA_DIR", "/srv/hub")]).unwrap();
        assert_eq!(
            c.database_url,
            DatabaseUrl::Sqlite(PathBuf::from("/srv/hub/allure-hub.db"))
        );
        let c = config(&[
            ("DATA_DIR", "/srv/hub"),
            ("DATABASE_URL", "postgres://db/hub"),
        ])
        .unwrap();
        assert_eq!(c.database_url.backend(), Backend::Postgres);
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
            ("BOOTSTRAP_TOKEN", "short"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert_eq!(err.name, name);
            assert!(
                err.to_string().starts_with(&format!("invalid {name}")),
                "{err}"
            );
        }
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = config(&[
            ("BOOTSTRAP_TOKEN", "ah_supersecretvalue"),
            ("DATABASE_URL", "postgres://u:pw123@h/db"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("supersecret") && !shown.contains("pw123"),
            "{shown}"
        );
    }
}
