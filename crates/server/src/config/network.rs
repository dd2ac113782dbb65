//! Network protection (Appendix A.6): proxies in front, the rate limiter and cross-origin access.

use hub_domain::model::syntax as parse;

use super::ConfigError;
use super::vars::Vars;

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
    pub(super) fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
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

#[cfg(test)]
mod tests {
    use crate::config::tests::{assert_rejected, config};

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
    fn invalid_network_values_name_their_variable() {
        assert_rejected(&[("TRUST_PROXY", "maybe"), ("RATE_LIMIT_RATE", "-1"), ("RATE_LIMIT_BURST", "0.5")]);
    }
}
