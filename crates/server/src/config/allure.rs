//! The Allure CLI and report generation (Appendix A.4).

use std::path::PathBuf;
use std::time::Duration;

use hub_domain::model::report_config::DEFAULT_ALLOWED_PLUGINS;

use super::ConfigError;
use super::vars::Vars;

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
    /// How long a node holds a running job without renewing its lease (`JOB_LEASE`): a job whose node died is
    /// taken up by another after this long.
    pub job_lease: Duration,
}

impl AllureConfig {
    pub(super) fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
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
            job_lease: match vars.duration("JOB_LEASE", Duration::from_secs(30))? {
                lease if lease >= Duration::from_secs(1) => lease,
                _ => return Err(ConfigError { name: "JOB_LEASE", reason: "expected at least 1s".into() }),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::assert_rejected;

    #[test]
    fn invalid_allure_values_name_their_variable() {
        assert_rejected(&[("ALLURE_TIMEOUT", "forever"), ("HISTORY_LIMIT", "0"), ("ALLURE_MAX_CONCURRENCY", "many")]);
    }
}
