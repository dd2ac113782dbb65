#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;

/// 10 tests: 6 passed, 2 failed, 1 broken, 1 skipped; the longest lasted 1.5 s.
fn facts() -> GateFacts {
    GateFacts {
        stats: BuildStats { total: 10, passed: 6, failed: 2, broken: 1, skipped: 1, unknown: 0, duration_ms: 9_000 },
        longest_test_ms: 1_500,
    }
}

fn gate(rules: Value) -> Value {
    json!({ "name": "nightly", "qualityGate": { "rules": rules } })
}

/// The failures of a gate that has rules and no warnings.
fn failures(rules: Value, facts: &GateFacts) -> Vec<QualityGateFailure> {
    let (result, warnings) = evaluate(&gate(rules), facts);
    assert!(warnings.is_empty(), "{warnings:?}");
    let result = result.unwrap();
    assert_eq!(result.passed, result.failures.is_empty());
    result.failures
}

fn failure(rule: &str, expected: Value, actual: Value, message: &str) -> QualityGateFailure {
    QualityGateFailure { rule: rule.into(), expected, actual, message: message.into() }
}

#[test]
fn no_rules_means_no_gate() {
    for config in [
        json!({}),
        json!({ "qualityGate": null }),
        json!({ "qualityGate": {} }),
        json!({ "qualityGate": { "rules": [] } }),
        json!({ "qualityGate": { "rules": null } }),
    ] {
        assert_eq!(evaluate(&config, &facts()), (None, vec![]), "{config}");
    }
}

#[test]
fn max_failures_counts_failed_and_broken() {
    assert_eq!(failures(json!([{ "maxFailures": 3 }]), &facts()), vec![]);
    assert_eq!(
        failures(json!([{ "maxFailures": 2 }]), &facts()),
        vec![failure(
            "maxFailures",
            json!(2),
            json!(3),
            "The number of failed tests 3 exceeds the allowed threshold value 2"
        )]
    );
}

#[test]
fn the_contract_example() {
    let facts = GateFacts { stats: BuildStats { total: 9, failed: 4, broken: 1, ..BuildStats::default() }, ..facts() };
    assert_eq!(
        failures(json!([{ "maxFailures": 2, "fastFail": true }]), &facts),
        vec![failure(
            "maxFailures",
            json!(2),
            json!(5),
            "The number of failed tests 5 exceeds the allowed threshold value 2"
        )]
    );
}

#[test]
fn min_tests_count_counts_every_test() {
    assert_eq!(failures(json!([{ "minTestsCount": 10 }]), &facts()), vec![]);
    assert_eq!(
        failures(json!([{ "minTestsCount": 11 }]), &facts()),
        vec![failure(
            "minTestsCount",
            json!(11),
            json!(10),
            "The total number of tests 10 is less than the expected threshold value 11"
        )]
    );
}

#[test]
fn success_rate_ignores_skipped_and_unknown_tests() {
    // 6 / (6 + 2 + 1) = 0.666…
    assert_eq!(failures(json!([{ "successRate": 0.6 }]), &facts()), vec![]);
    assert_eq!(
        failures(json!([{ "successRate": 0.7 }]), &facts()),
        vec![failure(
            "successRate",
            json!(0.7),
            json!(6.0 / 9.0),
            "Success rate 0.6666666666666666 is less, than expected 0.7"
        )]
    );
    let all_passed =
        GateFacts { stats: BuildStats { total: 3, passed: 2, skipped: 1, ..BuildStats::default() }, ..facts() };
    assert_eq!(failures(json!([{ "successRate": 1 }]), &all_passed), vec![]);
}

#[test]
fn success_rate_without_tests_is_zero_as_in_allure() {
    let only_skipped = GateFacts { stats: BuildStats { total: 2, skipped: 2, ..BuildStats::default() }, ..facts() };
    for facts in [GateFacts::default(), only_skipped] {
        assert_eq!(failures(json!([{ "successRate": 0 }]), &facts), vec![]);
        assert_eq!(
            failures(json!([{ "successRate": 0.5 }]), &facts),
            vec![failure("successRate", json!(0.5), json!(0), "Success rate 0 is less, than expected 0.5")]
        );
    }
}

#[test]
fn max_duration_measures_the_longest_test() {
    assert_eq!(failures(json!([{ "maxDuration": 1_500 }]), &facts()), vec![]);
    assert_eq!(
        failures(json!([{ "maxDuration": 1_000.0 }]), &facts()),
        vec![failure(
            "maxDuration",
            json!(1_000.0),
            json!(1_500),
            "Maximum duration of some tests exceed the defined limit; actual 1500, expected 1000"
        )]
    );
}

#[test]
fn the_id_prefixes_rule_names_and_an_empty_one_does_not() {
    let rules = json!([{ "id": "critical", "maxFailures": 0 }, { "id": "", "minTestsCount": 20 }]);
    let names: Vec<String> = failures(rules, &facts()).into_iter().map(|f| f.rule).collect();
    assert_eq!(names, ["critical/maxFailures", "minTestsCount"]);
}

#[test]
fn rules_run_in_allures_order_whatever_the_key_order() {
    let rules = json!([{ "maxDuration": 0, "successRate": 1, "minTestsCount": 100, "maxFailures": 0 }]);
    let names: Vec<String> = failures(rules, &facts()).into_iter().map(|f| f.rule).collect();
    assert_eq!(names, ["maxFailures", "minTestsCount", "successRate", "maxDuration"]);
}

#[test]
fn fast_fail_stops_its_ruleset_and_skips_later_ones() {
    let rules = json!([
        { "id": "first", "maxFailures": 10, "minTestsCount": 1 },
        { "id": "fast", "fastFail": true, "maxFailures": 0, "minTestsCount": 100 },
        { "id": "never", "maxFailures": 0 },
    ]);
    let names: Vec<String> = failures(rules, &facts()).into_iter().map(|f| f.rule).collect();
    assert_eq!(names, ["fast/maxFailures"]);

    // A fast-fail ruleset whose rules all pass lets the next rulesets run.
    let rules = json!([{ "fastFail": true, "maxFailures": 10 }, { "id": "next", "maxFailures": 0 }]);
    let names: Vec<String> = failures(rules, &facts()).into_iter().map(|f| f.rule).collect();
    assert_eq!(names, ["next/maxFailures"]);
}

#[test]
fn without_fast_fail_every_ruleset_is_evaluated() {
    let rules = json!([
        { "id": "a", "maxFailures": 0, "minTestsCount": 100 },
        { "id": "b", "fastFail": false, "successRate": 0.9 },
        { "id": "c", "maxFailures": 5 },
        { "id": "d", "maxDuration": 10 },
    ]);
    let names: Vec<String> = failures(rules, &facts()).into_iter().map(|f| f.rule).collect();
    assert_eq!(names, ["a/maxFailures", "a/minTestsCount", "b/successRate", "d/maxDuration"]);
}

#[test]
fn a_passing_gate_has_no_failures() {
    let (result, warnings) = evaluate(&gate(json!([{ "maxFailures": 3, "minTestsCount": 1 }])), &facts());
    assert_eq!(result, Some(QualityGateResult { passed: true, failures: vec![] }));
    assert!(warnings.is_empty());
}

#[test]
fn check_rules_accepts_what_the_server_can_evaluate() {
    for gate in [
        json!(null),
        json!({}),
        json!({ "rules": null }),
        json!({ "rules": [] }),
        json!({ "rules": [{}] }),
        json!({ "rules": [
            { "id": "critical", "fastFail": true, "maxFailures": 0, "minTestsCount": 2.0 },
            { "successRate": 0, "maxDuration": 12.5 },
            { "successRate": 1 },
        ] }),
    ] {
        assert_eq!(check_rules(&gate), Ok(()), "{gate}");
    }
}

#[test]
fn check_rules_refuses_unsupported_rules_with_the_contracts_text() {
    let at = "reportConfig.qualityGate";
    for (gate, error) in [
        (
            json!({ "rules": [{ "maxFailures": 1 }, { "minCriticals": 1 }] }),
            format!("{at}: rule minCriticals is not supported"),
        ),
        (json!({ "rules": [{ "filter": "x" }] }), format!("{at}: rule filter is not supported")),
        (
            json!({ "rules": [{ "allTestsContainEnv": "ci" }] }),
            format!("{at}: rule allTestsContainEnv is not supported"),
        ),
    ] {
        assert_eq!(check_rules(&gate), Err(error), "{gate}");
    }
}

#[test]
fn check_rules_refuses_wrong_types() {
    let at = "reportConfig.qualityGate";
    for (gate, error) in [
        (json!([]), format!("{at} must be an object")),
        (json!({ "use": [] }), format!("{at}.use is not supported")),
        (json!({ "rules": {} }), format!("{at}.rules must be an array")),
        (json!({ "rules": [{}, 3] }), format!("{at}.rules[1] must be an object")),
        (json!({ "rules": [{ "id": 1 }] }), format!("{at}.rules[0].id must be a string")),
        (json!({ "rules": [{ "fastFail": "yes" }] }), format!("{at}.rules[0].fastFail must be a boolean")),
        (
            json!({ "rules": [{ "maxFailures": -1 }] }),
            format!("{at}.rules[0].maxFailures must be a non-negative integer"),
        ),
        (
            json!({ "rules": [{ "minTestsCount": 1.5 }] }),
            format!("{at}.rules[0].minTestsCount must be a non-negative integer"),
        ),
        (
            json!({ "rules": [{ "maxFailures": "2" }] }),
            format!("{at}.rules[0].maxFailures must be a non-negative integer"),
        ),
        (
            json!({ "rules": [{ "successRate": 1.1 }] }),
            format!("{at}.rules[0].successRate must be a number between 0 and 1"),
        ),
        (
            json!({ "rules": [{ "successRate": null }] }),
            format!("{at}.rules[0].successRate must be a number between 0 and 1"),
        ),
        (
            json!({ "rules": [{ "maxDuration": -5 }] }),
            format!("{at}.rules[0].maxDuration must be a non-negative number of milliseconds"),
        ),
    ] {
        assert_eq!(check_rules(&gate), Err(error), "{gate}");
    }
}

#[test]
fn base_config_problems_become_warnings_and_the_rest_still_runs() {
    let rules = json!([
        { "id": "a", "minCriticals": 1, "maxFailures": 0 },
        "not a ruleset",
        { "id": 7, "fastFail": "yes", "successRate": 2, "minTestsCount": 100 },
    ]);
    let (result, warnings) = evaluate(&gate(rules), &facts());
    assert_eq!(
        warnings,
        [
            "reportConfig.qualityGate: rule minCriticals is not supported",
            "reportConfig.qualityGate.rules[1] must be an object",
            "reportConfig.qualityGate.rules[2].fastFail must be a boolean",
            "reportConfig.qualityGate.rules[2].id must be a string",
            "reportConfig.qualityGate.rules[2].successRate must be a number between 0 and 1",
        ]
    );
    // A bad fastFail counts as false and a bad id as none: both remaining rules are reported.
    let names: Vec<String> = result.unwrap().failures.into_iter().map(|f| f.rule).collect();
    assert_eq!(names, ["a/maxFailures", "minTestsCount"]);
}

#[test]
fn base_config_with_a_malformed_gate_warns_without_a_result() {
    for (gate, warning) in [
        (json!("strict"), "reportConfig.qualityGate must be an object"),
        (json!({ "rules": { "maxFailures": 1 } }), "reportConfig.qualityGate.rules must be an array"),
    ] {
        assert_eq!(evaluate(&json!({ "qualityGate": gate }), &facts()), (None, vec![warning.to_owned()]));
    }
    let (result, warnings) =
        evaluate(&json!({ "qualityGate": { "use": [], "rules": [{ "maxFailures": 9 }] } }), &facts());
    assert_eq!(warnings, ["reportConfig.qualityGate.use is not supported"]);
    assert_eq!(result, Some(QualityGateResult { passed: true, failures: vec![] }));
}

#[test]
fn numbers_are_written_as_javascript_writes_them() {
    assert_eq!(js_string(2.0), "2");
    assert_eq!(js_string(0.95), "0.95");
    assert_eq!(js_string(1e20), "100000000000000000000");
    assert_eq!(js_number(1.0), json!(1));
    assert_eq!(js_number(0.5), json!(0.5));
}
