//! §8.6: the build statistics of the extracted result files.

use std::fs;
use std::io;
use std::path::Path;

use hub_domain::model::stats::{ResultSummary, compute_stats, longest_test_ms, unreadable_warnings};
use hub_domain::ports::Extracted;

/// The fields of a result file the statistics read; any JSON object parses (unknown fields ignored, odd types
/// count as missing).
#[derive(serde::Deserialize)]
struct ResultFile {
    #[serde(default, rename = "historyId")]
    history_id: serde_json::Value,
    #[serde(default)]
    status: serde_json::Value,
    #[serde(default)]
    start: serde_json::Value,
    #[serde(default)]
    stop: serde_json::Value,
}

/// §8.6: the statistics of the `*-result.json` files at the top level of `results`.
pub fn statistics(results: &Path) -> Extracted {
    let mut summaries = Vec::new();
    let mut unreadable = Vec::new();
    let Ok(entries) = fs::read_dir(results) else { return Extracted::default() };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with("-result.json"))
        .collect();
    names.sort();
    for name in names {
        let parsed = fs::File::open(results.join(&name))
            .ok()
            .and_then(|f| serde_json::from_reader::<_, ResultFile>(io::BufReader::new(f)).ok());
        match parsed {
            Some(r) => summaries.push(ResultSummary {
                file_name: name,
                history_id: r.history_id.as_str().map(str::to_owned),
                status: r.status.as_str().map(str::to_owned),
                start: r.start.as_i64(),
                stop: r.stop.as_i64(),
            }),
            None => unreadable.push(name),
        }
    }
    Extracted {
        longest_test_ms: longest_test_ms(&summaries),
        stats: compute_stats(summaries),
        warnings: unreadable_warnings(&unreadable),
    }
}
