//! Reading and checking single variables: the helpers every section of the configuration shares.

use std::time::Duration;

use hub_domain::model::syntax as parse;

use super::ConfigError;

/// Reads variables through `lookup`, so tests can pass a map instead of the process environment.
pub(super) struct Vars<F: Fn(&str) -> Option<String>>(pub(super) F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    /// The trimmed value, or `None` when unset or empty.
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// The value as `parse` reads it, `default` when unset or empty, or an error saying what was `expected`.
    pub(super) fn parsed<T>(
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

    /// A duration such as `30s` or `1h30m`.
    pub(super) fn duration(&self, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        self.parsed(name, default, parse::duration, "a duration such as 30s, 10m or 1h30m")
    }

    /// A number greater than zero.
    pub(super) fn positive<T: std::str::FromStr + PartialOrd + Default>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        self.parsed(name, default, |v| v.parse().ok().filter(|n| *n > T::default()), "a positive integer")
    }
}

/// Checks `scheme://host[:port]` without path, query, fragment or trailing slash.
pub(super) fn parse_base_url(name: &'static str, url: &str) -> Result<String, ConfigError> {
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
