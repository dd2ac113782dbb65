//! The quality gate of a report config (contract §8.3). The Allure CLI's `generate` never evaluates gates and its
//! `quality-gate` command does not run on our Node runtime, so the server evaluates the `qualityGate.rules` of the
//! effective config itself, on the statistics it computed from the result files (§8.6), following the semantics and
//! messages of Allure 3's default rules.
//!
//! Only the four numeric rules can be evaluated here: Allure's other rule keys (`filter`, custom rules from `use`)
//! are JavaScript functions, which a JSON config cannot carry and the server could not run anyway.

use serde_json::{Map, Value};

use crate::model::build::{BuildStats, QualityGateFailure, QualityGateResult};

/// What the rules measure, gathered by the caller from the build's result files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GateFacts {
    /// The build's statistics, retries excluded ([`crate::model::stats::compute_stats`]).
    pub stats: BuildStats,
    /// The longest single test in milliseconds ([`crate::model::stats::longest_test_ms`]).
    pub longest_test_ms: i64,
}

/// The rules the server can evaluate, in the order they are evaluated within a ruleset.
///
/// Allure evaluates a ruleset's keys in the order they were written, but a `serde_json` object (like a stored
/// `jsonb` config) does not keep that order; the order of Allure's list of default rules is used instead, so that
/// `fastFail` always stops at the same rule.
const RULES: [Rule; 4] = [Rule::MaxFailures, Rule::MinTestsCount, Rule::SuccessRate, Rule::MaxDuration];

/// One of the supported rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Failed plus broken tests must not exceed the threshold.
    MaxFailures,
    /// There must be at least this many tests.
    MinTestsCount,
    /// passed / (passed + failed + broken) must reach the threshold.
    SuccessRate,
    /// No single test may last longer than the threshold (ms).
    MaxDuration,
}

impl Rule {
    /// The ruleset key naming the rule, which is also its name in failures.
    fn key(self) -> &'static str {
        match self {
            Rule::MaxFailures => "maxFailures",
            Rule::MinTestsCount => "minTestsCount",
            Rule::SuccessRate => "successRate",
            Rule::MaxDuration => "maxDuration",
        }
    }

    /// The rule a ruleset key names, if it is supported.
    fn from_key(key: &str) -> Option<Rule> {
        RULES.into_iter().find(|rule| rule.key() == key)
    }

    /// The threshold a configured value stands for, or what the value should have been.
    fn threshold(self, value: &Value) -> Result<f64, &'static str> {
        let number = value.as_f64().filter(|n| n.is_finite());
        match self {
            // JSON clients may write 2 as 2.0 and JavaScript cannot tell them apart, so whole floats are accepted.
            Rule::MaxFailures | Rule::MinTestsCount => {
                number.filter(|n| *n >= 0.0 && n.fract() == 0.0).ok_or("must be a non-negative integer")
            }
            Rule::SuccessRate => number.filter(|n| (0.0..=1.0).contains(n)).ok_or("must be a number between 0 and 1"),
            Rule::MaxDuration => number.filter(|n| *n >= 0.0).ok_or("must be a non-negative number of milliseconds"),
        }
    }

    /// The measured value and whether it satisfies the threshold (Allure's comparisons: limits are inclusive).
    fn measure(self, facts: &GateFacts, threshold: f64) -> (f64, bool) {
        let stats = &facts.stats;
        match self {
            Rule::MaxFailures => {
                let actual = (stats.failed + stats.broken) as f64;
                (actual, actual <= threshold)
            }
            Rule::MinTestsCount => {
                let actual = stats.total as f64;
                (actual, actual >= threshold)
            }
            Rule::SuccessRate => {
                // Allure rates a run without tests 0 (so a successRate rule fails unless it asks for 0); a run
                // with only skipped or unknown tests also rates 0 there, which a zero denominator matches here.
                let counted = stats.passed + stats.failed + stats.broken;
                let actual = if counted > 0 { stats.passed as f64 / counted as f64 } else { 0.0 };
                (actual, actual >= threshold)
            }
            Rule::MaxDuration => {
                let actual = facts.longest_test_ms as f64;
                (actual, actual <= threshold)
            }
        }
    }

    /// Allure 3's message for the failed rule, without the terminal's bold markers.
    fn message(self, actual: f64, expected: f64) -> String {
        let (actual, expected) = (js_string(actual), js_string(expected));
        match self {
            Rule::MaxFailures => {
                format!("The number of failed tests {actual} exceeds the allowed threshold value {expected}")
            }
            Rule::MinTestsCount => {
                format!("The total number of tests {actual} is less than the expected threshold value {expected}")
            }
            Rule::SuccessRate => format!("Success rate {actual} is less, than expected {expected}"),
            Rule::MaxDuration => {
                format!("Maximum duration of some tests exceed the defined limit; actual {actual}, expected {expected}")
            }
        }
    }
}

/// A number as JavaScript's `String()` writes it, since Allure's messages are built that way: whole numbers
/// without a fractional part (`2`, not `2.0`).
fn js_string(n: f64) -> String {
    if n.fract() == 0.0 { format!("{n:.0}") } else { n.to_string() }
}

/// A number as JavaScript's `JSON.stringify` writes it, for `actual`: whole numbers as integers.
fn js_number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 { Value::from(n as i64) } else { Value::from(n) }
}

/// One ruleset as read from the config, with its problems already reported.
#[derive(Debug)]
struct Ruleset<'a> {
    /// Prefix of the rule names in failures; empty means none (Allure ignores an empty id too).
    id: &'a str,
    /// Whether the first failing rule stops the whole gate.
    fast_fail: bool,
    /// The valid rules with their configured value and threshold, in evaluation order.
    rules: Vec<(Rule, &'a Value, f64)>,
}

/// Reads ruleset number `index`, keeping what is valid and describing every problem, so that request-time checks
/// (which refuse the first problem) and evaluation of the trusted base config (which warns and goes on) share one
/// set of rules and texts.
fn read_ruleset(index: usize, value: &Value) -> (Option<Ruleset<'_>>, Vec<String>) {
    let at = format!("reportConfig.qualityGate.rules[{index}]");
    let Some(object) = value.as_object() else {
        return (None, vec![format!("{at} must be an object")]);
    };
    let mut ruleset = Ruleset { id: "", fast_fail: false, rules: Vec::new() };
    let mut problems = Vec::new();
    for (key, value) in object {
        match key.as_str() {
            "id" => match value.as_str() {
                Some(id) => ruleset.id = id,
                None => problems.push(format!("{at}.id must be a string")),
            },
            "fastFail" => match value.as_bool() {
                Some(fast_fail) => ruleset.fast_fail = fast_fail,
                None => problems.push(format!("{at}.fastFail must be a boolean")),
            },
            _ => match Rule::from_key(key) {
                None => problems.push(format!("reportConfig.qualityGate: rule {key} is not supported")),
                Some(rule) => match rule.threshold(value) {
                    Ok(threshold) => ruleset.rules.push((rule, value, threshold)),
                    Err(should) => problems.push(format!("{at}.{key} {should}")),
                },
            },
        }
    }
    ruleset.rules.sort_by_key(|(rule, _, _)| RULES.iter().position(|r| r == rule));
    (Some(ruleset), problems)
}

/// Keys of the `qualityGate` object other than `rules`, which the server cannot honour (`use` lists JavaScript
/// rule implementations).
fn unsupported_gate_keys(gate: &Map<String, Value>) -> impl Iterator<Item = String> + '_ {
    gate.keys().filter(|key| *key != "rules").map(|key| format!("reportConfig.qualityGate.{key} is not supported"))
}

/// Request-time check of the `qualityGate` value of a `reportConfig` override, so a gate the server could not
/// evaluate is refused with 400 instead of being silently ignored. Returns the first problem, one of:
///
/// * `reportConfig.qualityGate must be an object`
/// * `reportConfig.qualityGate.<key> is not supported` (a key other than `rules`, such as `use`)
/// * `reportConfig.qualityGate.rules must be an array`
/// * `reportConfig.qualityGate.rules[<i>] must be an object`
/// * `reportConfig.qualityGate.rules[<i>].id must be a string`
/// * `reportConfig.qualityGate.rules[<i>].fastFail must be a boolean`
/// * `reportConfig.qualityGate.rules[<i>].maxFailures must be a non-negative integer` (also `minTestsCount`)
/// * `reportConfig.qualityGate.rules[<i>].successRate must be a number between 0 and 1`
/// * `reportConfig.qualityGate.rules[<i>].maxDuration must be a non-negative number of milliseconds`
/// * `reportConfig.qualityGate: rule <key> is not supported` (any other ruleset key)
///
/// `null`, for `qualityGate` or for `rules`, is accepted: in a JSON merge patch it removes the base config's gate.
/// Within a ruleset, keys are checked in alphabetical order.
pub fn check_rules(quality_gate: &Value) -> Result<(), String> {
    let gate = match quality_gate {
        Value::Null => return Ok(()),
        Value::Object(gate) => gate,
        _ => return Err("reportConfig.qualityGate must be an object".to_owned()),
    };
    if let Some(problem) = unsupported_gate_keys(gate).next() {
        return Err(problem);
    }
    let rulesets = match gate.get("rules") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(rulesets)) => rulesets,
        Some(_) => return Err("reportConfig.qualityGate.rules must be an array".to_owned()),
    };
    for (index, ruleset) in rulesets.iter().enumerate() {
        if let Some(problem) = read_ruleset(index, ruleset).1.into_iter().next() {
            return Err(problem);
        }
    }
    Ok(())
}

/// Evaluates the quality gate of an effective report config on a build's facts, giving the build's `qualityGate`
/// (`None` when the config has no rules) and its warnings.
///
/// Rulesets run in order and every rule of each is evaluated; a failing rule of a `fastFail` ruleset ends the
/// whole gate. Problems that [`check_rules`] would refuse can still be here, since the base config is trusted and
/// not checked: the invalid key, value or ruleset is skipped with a warning in the same words, the rest still runs.
pub fn evaluate(config: &Value, facts: &GateFacts) -> (Option<QualityGateResult>, Vec<String>) {
    let mut warnings = Vec::new();
    let gate = match config.get("qualityGate") {
        None | Some(Value::Null) => return (None, warnings),
        Some(Value::Object(gate)) => gate,
        Some(_) => return (None, vec!["reportConfig.qualityGate must be an object".to_owned()]),
    };
    warnings.extend(unsupported_gate_keys(gate));
    let rulesets = match gate.get("rules") {
        Some(Value::Array(rulesets)) if !rulesets.is_empty() => rulesets,
        None | Some(Value::Null | Value::Array(_)) => return (None, warnings),
        Some(_) => {
            warnings.push("reportConfig.qualityGate.rules must be an array".to_owned());
            return (None, warnings);
        }
    };

    let mut failures = Vec::new();
    'rulesets: for (index, value) in rulesets.iter().enumerate() {
        let (ruleset, problems) = read_ruleset(index, value);
        warnings.extend(problems);
        let Some(ruleset) = ruleset else { continue };
        for (rule, expected, threshold) in ruleset.rules {
            let (actual, passed) = rule.measure(facts, threshold);
            if passed {
                continue;
            }
            let name =
                if ruleset.id.is_empty() { rule.key().to_owned() } else { format!("{}/{}", ruleset.id, rule.key()) };
            failures.push(QualityGateFailure {
                rule: name,
                expected: expected.clone(),
                actual: js_number(actual),
                message: rule.message(actual, threshold),
            });
            if ruleset.fast_fail {
                break 'rulesets;
            }
        }
    }
    (Some(QualityGateResult { passed: failures.is_empty(), failures }), warnings)
}

#[cfg(test)]
mod tests;
