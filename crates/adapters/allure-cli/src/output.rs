//! Deciding whether a finished CLI run produced a usable report (contract §8.3 step 5). Exit status 0 proves
//! nothing: the CLI exits 0 when a plugin crashed, and prints configuration errors on stdout.

use std::path::Path;

/// Whether a stderr line is one of the CLI's known harmless messages (it complains about optional history and
/// test-run files it could not parse, and still writes the report).
pub fn is_harmless(line: &str) -> bool {
    let line = line.to_lowercase();
    (line.contains("error parsing") || line.contains("typeerror: parsed is not iterable"))
        && (line.contains("testrun.json") || line.contains("history.json"))
}

/// Whether a line reports a crashed plugin (`plugin <name> error`).
pub fn is_plugin_error(line: &str) -> bool {
    let lower = line.to_lowercase();
    lower.split("plugin ").skip(1).any(|rest| {
        let mut words = rest.split_whitespace();
        words.next().is_some() && words.next().is_some_and(|w| w.trim_end_matches(':') == "error")
    })
}

/// Whether the report has an `index.html` at its root or in one of its plugin folders.
pub fn has_index(output: &Path) -> bool {
    if output.join("index.html").is_file() {
        return true;
    }
    std::fs::read_dir(output)
        .map(|entries| entries.filter_map(Result::ok).any(|e| e.path().join("index.html").is_file()))
        .unwrap_or(false)
}

/// Every `summary.json` the run wrote (at the root or one level down) parses as JSON.
pub fn summaries_parse(output: &Path) -> bool {
    let mut candidates = vec![output.join("summary.json")];
    if let Ok(entries) = std::fs::read_dir(output) {
        candidates.extend(entries.filter_map(Result::ok).map(|e| e.path().join("summary.json")));
    }
    candidates.into_iter().filter(|p| p.is_file()).all(|p| {
        std::fs::read(&p).ok().is_some_and(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).is_ok())
    })
}

/// The plugin folders that have an `index.html`, for a root index when the CLI wrote none (several plugins).
pub fn plugin_indexes(output: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(output)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().join("index.html").is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A root `index.html` linking to each plugin's report, so the build's report URL resolves.
pub fn write_root_index(output: &Path) -> std::io::Result<()> {
    let links: String = plugin_indexes(output)
        .iter()
        .map(|name| format!("<li><a href=\"{name}/index.html\">{name}</a></li>"))
        .collect();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Reports</title></head>\
         <body><h1>Reports</h1><ul>{links}</ul></body></html>\n"
    );
    std::fs::write(output.join("index.html"), html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_messages_are_recognised() {
        assert!(is_harmless("Error parsing /tmp/x/history.json: unexpected end"));
        assert!(is_harmless("TypeError: parsed is not iterable (testRun.json)"));
        assert!(!is_harmless("Error: cannot find module"));
        assert!(is_plugin_error("plugin awesome error: boom"));
        assert!(is_plugin_error("[allure] plugin dashboard error"));
        assert!(!is_plugin_error("loading plugin awesome"));
    }

    #[test]
    fn a_report_needs_an_index_and_readable_summaries() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!has_index(dir.path()));
        std::fs::create_dir(dir.path().join("awesome")).unwrap();
        std::fs::write(dir.path().join("awesome/index.html"), "<html>").unwrap();
        std::fs::create_dir(dir.path().join("csv")).unwrap();
        assert!(has_index(dir.path()));
        assert_eq!(plugin_indexes(dir.path()), ["awesome"]);
        write_root_index(dir.path()).unwrap();
        assert!(std::fs::read_to_string(dir.path().join("index.html")).unwrap().contains("awesome/index.html"));
        std::fs::write(dir.path().join("awesome/summary.json"), "{\"stats\":{}}").unwrap();
        assert!(summaries_parse(dir.path()));
        std::fs::write(dir.path().join("summary.json"), "{broken").unwrap();
        assert!(!summaries_parse(dir.path()));
    }
}
