//! Report config overrides (contract §8.2): what a request may put in `reportConfig`, and how it is merged over
//! the server's base config. The CLI treats an unknown plugin key as a module to load and resolves paths in
//! options, so a free-form override would let any uploader run code or read files on the server: everything not
//! listed here is refused.

use serde_json::{Map, Value};

/// Top-level keys an override may set.
const ALLOWED_KEYS: [&str; 10] = [
    "name",
    "plugins",
    "qualityGate",
    "variables",
    "environments",
    "environment",
    "allowedEnvironments",
    "defaultLabels",
    "hideLabels",
    "categories",
];
/// Keys the server always sets itself; an override's copies are dropped with a warning.
const SERVER_KEYS: [&str; 2] = ["output", "historyPath"];
/// Deepest nesting accepted.
const MAX_DEPTH: usize = 32;

/// The plugin keys an override may use (`ALLURE_PLUGINS_ALLOWED`'s default), besides those of the base config.
pub const DEFAULT_ALLOWED_PLUGINS: [&str; 6] = ["awesome", "allure2", "classic", "dashboard", "csv", "log"];

/// A checked override, with the warnings for the build.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedOverride {
    /// The override without server-controlled keys.
    pub value: Map<String, Value>,
    /// `reportConfig.<key> is controlled by the server and was ignored`, …
    pub warnings: Vec<String>,
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Whether a string could name a file outside the job's empty working directory.
fn refers_to_files(s: &str) -> bool {
    let bytes = s.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    s.starts_with('/')
        || s.starts_with('\\')
        || s.starts_with('~')
        || drive
        || s.split(['/', '\\']).any(|seg| seg == "..")
}

/// The dotted path of the first string under `value` that refers to files.
fn file_reference(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(s) if refers_to_files(s) => Some(path.to_owned()),
        Value::Object(map) => map.iter().find_map(|(k, v)| file_reference(v, &format!("{path}.{k}"))),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| file_reference(v, &format!("{path}.{i}"))),
        _ => None,
    }
}

/// Checks an override against §8.2; `base_plugins` are the plugin keys of the trusted base config.
///
/// # Errors
/// The contract's 400 message.
pub fn check_override(
    value: &Value,
    allowed_plugins: &[String],
    base_plugins: &[String],
) -> Result<CheckedOverride, String> {
    let Value::Object(map) = value else { return Err("reportConfig must be an object".into()) };
    if depth(value) > MAX_DEPTH {
        return Err("reportConfig is nested too deeply".into());
    }
    let mut checked = Map::new();
    let mut warnings = Vec::new();
    for (key, v) in map {
        if SERVER_KEYS.contains(&key.as_str()) {
            warnings.push(format!("reportConfig.{key} is controlled by the server and was ignored"));
            continue;
        }
        if !ALLOWED_KEYS.contains(&key.as_str()) {
            return Err(format!("reportConfig.{key} is not allowed"));
        }
        if key == "name" && !v.as_str().is_some_and(|n| (1..=200).contains(&n.chars().count())) {
            return Err("reportConfig.name must be a string of 1 to 200 characters".into());
        }
        if key == "plugins" {
            check_plugins(v, allowed_plugins, base_plugins)?;
        }
        if key == "qualityGate" {
            crate::model::quality_gate::check_rules(v)?;
        }
        checked.insert(key.clone(), v.clone());
    }
    Ok(CheckedOverride { value: checked, warnings })
}

fn check_plugins(plugins: &Value, allowed: &[String], base: &[String]) -> Result<(), String> {
    let Value::Object(plugins) = plugins else { return Err("reportConfig.plugins must be an object".into()) };
    for (key, plugin) in plugins {
        if !allowed.contains(key) && !base.contains(key) {
            return Err(format!("reportConfig.plugins.{key} is not an allowed plugin"));
        }
        let members = match plugin {
            Value::Null => continue,
            Value::Object(members) => members,
            _ => return Err(format!("reportConfig.plugins.{key} must be an object or null")),
        };
        for (member, v) in members {
            match member.as_str() {
                "import" => return Err(format!("reportConfig.plugins.{key}.import is not allowed")),
                "enabled" if v.is_boolean() => {}
                "options" if v.is_object() => {
                    if let Some(path) = file_reference(v, "options") {
                        return Err(format!("reportConfig.plugins.{key}.{path} must not refer to files"));
                    }
                }
                _ => return Err(format!("reportConfig.plugins.{key}.{member} is not allowed")),
            }
        }
    }
    Ok(())
}

/// The server's side of §8.2: the trusted base config (`ALLURE_CONFIG`) and the plugin keys overrides may use
/// (`ALLURE_PLUGINS_ALLOWED`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportConfigPolicy {
    base: Map<String, Value>,
    allowed_plugins: Vec<String>,
}

impl Default for ReportConfigPolicy {
    /// An empty base config and the default plugin list.
    fn default() -> Self {
        Self::new(Map::new(), DEFAULT_ALLOWED_PLUGINS.iter().map(|p| (*p).to_owned()).collect())
    }
}

impl ReportConfigPolicy {
    /// A policy over this base config; `output` and `historyPath` are the server's even in the base config.
    pub fn new(mut base: Map<String, Value>, allowed_plugins: Vec<String>) -> Self {
        for key in SERVER_KEYS {
            base.remove(key);
        }
        Self { base, allowed_plugins }
    }

    /// The base config.
    pub fn base(&self) -> &Map<String, Value> {
        &self.base
    }

    /// The effective config of a generation: `report_config` (if any) checked and merged over the base, with the
    /// warnings for the build.
    ///
    /// # Errors
    /// The contract's 400 message for an override that breaks a rule.
    pub fn effective(&self, report_config: Option<&Value>) -> Result<(Value, Vec<String>), String> {
        let base = Value::Object(self.base.clone());
        let Some(value) = report_config else { return Ok((base, Vec::new())) };
        let base_plugins: Vec<String> = match self.base.get("plugins") {
            Some(Value::Object(plugins)) => plugins.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let checked = check_override(value, &self.allowed_plugins, &base_plugins)?;
        Ok((merge(&base, &Value::Object(checked.value)), checked.warnings))
    }
}

/// RFC 7396 JSON merge patch: objects merge key by key, `null` removes, anything else replaces.
pub fn merge(base: &Value, patch: &Value) -> Value {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            let mut merged = base.clone();
            for (key, value) in patch {
                if value.is_null() {
                    merged.remove(key);
                } else {
                    let next = merge(merged.get(key).unwrap_or(&Value::Null), value);
                    merged.insert(key.clone(), next);
                }
            }
            Value::Object(merged)
        }
        (_, Value::Object(_)) => merge(&Value::Object(Map::new()), patch),
        (_, patch) => patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn allowed() -> Vec<String> {
        DEFAULT_ALLOWED_PLUGINS.iter().map(|s| (*s).to_owned()).collect()
    }

    fn check(value: Value) -> Result<CheckedOverride, String> {
        check_override(&value, &allowed(), &["custom".to_owned()])
    }

    #[test]
    fn safe_overrides_pass_and_server_keys_are_dropped_with_a_warning() {
        let checked = check(json!({
            "name": "Nightly",
            "output": "/etc",
            "plugins": {"awesome": {"enabled": true, "options": {"reportName": "x", "singleFile": false}},
                        "custom": {"options": {"dir": "reports/here"}}, "csv": null},
            "variables": {"env": "prod"}
        }))
        .unwrap();
        assert!(!checked.value.contains_key("output"));
        assert_eq!(checked.warnings, ["reportConfig.output is controlled by the server and was ignored"]);
    }

    #[test]
    fn anything_that_could_load_code_or_read_files_is_refused() {
        for (value, message) in [
            (json!([]), "reportConfig must be an object"),
            (json!({"knownIssuesPath": "x"}), "reportConfig.knownIssuesPath is not allowed"),
            (json!({"historyLimit": 5}), "reportConfig.historyLimit is not allowed"),
            (json!({"plugins": {"./evil.js": {}}}), "reportConfig.plugins../evil.js is not an allowed plugin"),
            (json!({"plugins": {"awesome": {"import": "x"}}}), "reportConfig.plugins.awesome.import is not allowed"),
            (json!({"plugins": {"awesome": {"path": "x"}}}), "reportConfig.plugins.awesome.path is not allowed"),
            (
                json!({"plugins": {"csv": {"options": {"fileName": "../../x.csv"}}}}),
                "reportConfig.plugins.csv.options.fileName must not refer to files",
            ),
            (
                json!({"plugins": {"log": {"options": {"a": [{"b": "C:\\\\x"}]}}}}),
                "reportConfig.plugins.log.options.a.0.b must not refer to files",
            ),
            (json!({"name": ""}), "reportConfig.name must be a string of 1 to 200 characters"),
            (
                json!({"qualityGate": {"rules": [{"maxFailures": 1, "filter": "x"}]}}),
                "reportConfig.qualityGate: rule filter is not supported",
            ),
        ] {
            assert_eq!(check(value.clone()).unwrap_err(), message, "{value}");
        }
        let mut deep = json!("x");
        for _ in 0..40 {
            deep = json!({"a": deep});
        }
        assert_eq!(check(json!({"variables": deep})).unwrap_err(), "reportConfig is nested too deeply");
    }

    #[test]
    fn the_base_config_is_trusted_and_its_plugins_are_allowed() {
        let base = json!({"name": "Base", "output": "/x", "plugins": {"custom-team-plugin": {"options": {"a": 1}}}});
        let Value::Object(base) = base else { unreachable!() };
        let policy = ReportConfigPolicy::new(base, vec!["awesome".into()]);
        assert_eq!(policy.base().get("output"), None, "server keys are dropped from the base too");
        let (config, warnings) = policy
            .effective(Some(&json!({"plugins": {"custom-team-plugin": {"options": {"b": 2}}}, "output": "/y"})))
            .unwrap();
        assert_eq!(config, json!({"name": "Base", "plugins": {"custom-team-plugin": {"options": {"a": 1, "b": 2}}}}));
        assert_eq!(warnings, vec!["reportConfig.output is controlled by the server and was ignored"]);
        assert_eq!(
            policy.effective(Some(&json!({"plugins": {"csv": {}}}))).unwrap_err(),
            "reportConfig.plugins.csv is not an allowed plugin",
            "only ALLURE_PLUGINS_ALLOWED and the base's plugins"
        );
        assert_eq!(
            policy.effective(None).unwrap().0,
            json!({"name": "Base", "plugins": {"custom-team-plugin": {"options": {"a": 1}}}})
        );
    }

    #[test]
    fn merging_follows_json_merge_patch() {
        let base = json!({"name": "Base", "plugins": {"awesome": {"options": {"a": 1, "b": 2}}, "csv": {}}, "x": [1]});
        let patch =
            json!({"plugins": {"awesome": {"options": {"b": null, "c": 3}}, "csv": null}, "x": [2], "name": "N"});
        assert_eq!(
            merge(&base, &patch),
            json!({"name": "N", "plugins": {"awesome": {"options": {"a": 1, "c": 3}}}, "x": [2]})
        );
    }
}
