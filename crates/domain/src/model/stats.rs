//! Build statistics computed from the result files themselves (contract §8.6), so a build has numbers even when
//! its report generation fails. Parsing the files is the storage adapter's job; the counting rules live here.

use std::collections::HashMap;

use crate::model::build::BuildStats;

/// The fields of one `*-result.json` that the statistics need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultSummary {
    /// File name relative to the results directory (the last tie-breaker between retries).
    pub file_name: String,
    /// Identity of the test across retries; results sharing a non-empty one are one test.
    pub history_id: Option<String>,
    /// `passed`, `failed`, `broken`, `skipped`, or anything else (counted as unknown).
    pub status: Option<String>,
    /// Start time in epoch milliseconds.
    pub start: Option<i64>,
    /// Stop time in epoch milliseconds.
    pub stop: Option<i64>,
}

/// Most "unreadable result file" warnings listed one by one.
const MAX_LISTED_WARNINGS: usize = 20;

/// The results that count as tests, the one retry rule shared by [`compute_stats`] and [`longest_test_ms`] so the
/// quality gate measures the same tests as the statistics: results sharing a non-empty `historyId` are retries of
/// one test and only the latest attempt (greatest `stop`, then `start`, then file name) is kept.
fn counted_results<'a>(results: impl IntoIterator<Item = &'a ResultSummary>) -> Vec<&'a ResultSummary> {
    let latest = |r: &'a ResultSummary| (r.stop, r.start, r.file_name.as_str());
    let mut by_test: HashMap<&'a str, &'a ResultSummary> = HashMap::new();
    let mut counted = Vec::new();
    for result in results {
        match result.history_id.as_deref().filter(|h| !h.is_empty()) {
            None => counted.push(result),
            Some(id) => match by_test.get(id) {
                Some(kept) if latest(kept) >= latest(result) => {}
                _ => {
                    by_test.insert(id, result);
                }
            },
        }
    }
    counted.extend(by_test.into_values());
    counted
}

/// Counts results as Allure does: retries of one test (same `historyId`) count once, the latest attempt (greatest
/// `stop`, then `start`, then file name) deciding the outcome.
pub fn compute_stats(results: impl IntoIterator<Item = ResultSummary>) -> BuildStats {
    let results: Vec<ResultSummary> = results.into_iter().collect();
    let counted = counted_results(&results);

    let mut stats = BuildStats::default();
    let (mut first_start, mut last_stop) = (None::<i64>, None::<i64>);
    for result in &counted {
        match result.status.as_deref() {
            Some("passed") => stats.passed += 1,
            Some("failed") => stats.failed += 1,
            Some("broken") => stats.broken += 1,
            Some("skipped") => stats.skipped += 1,
            _ => stats.unknown += 1,
        }
        if let (Some(start), Some(stop)) = (result.start, result.stop) {
            first_start = Some(first_start.map_or(start, |s| s.min(start)));
            last_stop = Some(last_stop.map_or(stop, |s| s.max(stop)));
        }
    }
    stats.total = stats.passed + stats.failed + stats.broken + stats.skipped + stats.unknown;
    stats.duration_ms = match (first_start, last_stop) {
        (Some(start), Some(stop)) if stop > start => stop - start,
        _ => 0,
    };
    stats
}

/// The duration of the longest single test in milliseconds, which the quality gate's `maxDuration` rule measures
/// (the build's `durationMs` spans the whole run instead). Retries are counted as in [`compute_stats`], so an
/// earlier slow attempt of a test that was retried does not count; results without both timestamps are left out,
/// and the answer is 0 when none has them (a negative span, from a clock going backwards, counts as 0 too).
pub fn longest_test_ms(results: &[ResultSummary]) -> i64 {
    counted_results(results)
        .into_iter()
        .filter_map(|r| Some(r.stop? - r.start?))
        .max()
        .map_or(0, |longest| longest.max(0))
}

/// The warnings for result files that could not be parsed: each named up to a limit, then one summary line.
pub fn unreadable_warnings(paths: &[String]) -> Vec<String> {
    let mut warnings: Vec<String> =
        paths.iter().take(MAX_LISTED_WARNINGS).map(|p| format!("skipped unreadable result file {p}")).collect();
    if paths.len() > MAX_LISTED_WARNINGS {
        warnings.push(format!("…and {} more unreadable result files", paths.len() - MAX_LISTED_WARNINGS));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(file: &str, history: Option<&str>, status: Option<&str>, start: i64, stop: i64) -> ResultSummary {
        ResultSummary {
            file_name: file.into(),
            history_id: history.map(String::from),
            status: status.map(String::from),
            start: Some(start),
            stop: Some(stop),
        }
    }

    #[test]
    fn retries_count_once_and_the_latest_attempt_decides() {
        let stats = compute_stats([
            result("a1-result.json", Some("a"), Some("failed"), 1_000, 2_000),
            result("a2-result.json", Some("a"), Some("passed"), 3_000, 4_000),
            result("b-result.json", Some("b"), Some("broken"), 1_500, 2_500),
            result("c-result.json", Some(""), Some("skipped"), 1_200, 1_300),
            result("d-result.json", None, Some("skipped"), 1_200, 1_300),
            result("e-result.json", None, Some("weird"), 900, 950),
            ResultSummary { file_name: "f-result.json".into(), ..ResultSummary::default() },
        ]);
        assert_eq!(
            stats,
            BuildStats { total: 6, passed: 1, failed: 0, broken: 1, skipped: 2, unknown: 2, duration_ms: 3_100 }
        );
    }

    #[test]
    fn equal_stops_fall_back_to_start_then_file_name() {
        let stats = compute_stats([
            result("x2-result.json", Some("x"), Some("passed"), 10, 20),
            result("x1-result.json", Some("x"), Some("failed"), 10, 20),
        ]);
        assert_eq!((stats.passed, stats.failed), (1, 0), "x2 sorts after x1");
        assert_eq!(compute_stats([]), BuildStats::default());
    }

    #[test]
    fn longest_test_uses_the_latest_attempt_of_each_test() {
        let results = [
            // The slow first attempt of `a` is a retry: only its latest attempt counts.
            result("a1-result.json", Some("a"), Some("failed"), 0, 9_000),
            result("a2-result.json", Some("a"), Some("passed"), 10_000, 10_500),
            result("b-result.json", Some("b"), Some("passed"), 1_000, 3_000),
            // Empty history ids are not retries of each other.
            result("c1-result.json", Some(""), Some("passed"), 0, 2_500),
            result("c2-result.json", Some(""), Some("passed"), 0, 100),
            ResultSummary { file_name: "d-result.json".into(), start: Some(0), ..ResultSummary::default() },
        ];
        assert_eq!(longest_test_ms(&results), 2_500);
        assert_eq!(compute_stats(results.clone()).total, 5, "both functions see the same tests");
    }

    #[test]
    fn longest_test_is_zero_without_timing_data() {
        assert_eq!(longest_test_ms(&[]), 0);
        let untimed = ResultSummary { file_name: "x-result.json".into(), stop: Some(5), ..ResultSummary::default() };
        assert_eq!(longest_test_ms(&[untimed]), 0);
        assert_eq!(longest_test_ms(&[result("y-result.json", None, None, 50, 10)]), 0, "negative spans count as 0");
    }

    #[test]
    fn longest_test_equal_stops_fall_back_to_the_later_start() {
        let results = [
            result("x1-result.json", Some("x"), Some("failed"), 5, 20),
            result("x2-result.json", Some("x"), Some("passed"), 10, 20),
            result("y-result.json", None, Some("passed"), 0, 12),
        ];
        assert_eq!(longest_test_ms(&results), 12, "x's kept attempt lasts 10 ms, not the retried 15 ms");
    }

    #[test]
    fn unreadable_files_are_listed_up_to_twenty() {
        let paths: Vec<String> = (0..23).map(|i| format!("{i}-result.json")).collect();
        let warnings = unreadable_warnings(&paths);
        assert_eq!(warnings.len(), 21);
        assert_eq!(warnings[0], "skipped unreadable result file 0-result.json");
        assert_eq!(warnings[20], "…and 3 more unreadable result files");
    }
}
