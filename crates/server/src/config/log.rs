//! Logging settings (`LOG_FORMAT`, `LOG_LEVEL`, `LOG_OUTPUT`).

use super::ConfigError;
use super::vars::Vars;

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

impl LogConfig {
    pub(super) fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
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
        Ok(Self { level, format, to_stderr })
    }
}

#[cfg(test)]
mod tests {
    use super::LogFormat;
    use crate::config::tests::{assert_rejected, config};

    #[test]
    fn logs_are_json_lines_at_info_on_stdout_unless_set_otherwise() {
        let log = config(&[]).unwrap().log;
        assert_eq!((log.format, log.level.as_str(), log.to_stderr), (LogFormat::Json, "info", false));
        let log = config(&[("LOG_FORMAT", "console"), ("LOG_LEVEL", "DEBUG"), ("LOG_OUTPUT", "stderr")]).unwrap().log;
        assert_eq!((log.format, log.level.as_str(), log.to_stderr), (LogFormat::Console, "debug", true));
    }

    #[test]
    fn invalid_logging_values_name_their_variable() {
        assert_rejected(&[("LOG_FORMAT", "xml"), ("LOG_LEVEL", "loud"), ("LOG_OUTPUT", "syslog")]);
    }
}
