//! The real Allure 3 CLI, installed with npm into a cache under the target directory on first use (about 10 s):
//! a report with trend history from real result files. Without npm the test is skipped with a message, unless
//! `ALLURE_HUB_REQUIRE_NODE=1` (as in CI), where it fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use hub_allure_cli::{AllureCli, CliSettings, Installer};
use hub_domain::ports::{GenerateRequest, ReportGenerator};

/// The pinned version (`ALLURE_VERSION`'s default).
const VERSION: &str = "3.18.0";

fn required() -> bool {
    matches!(std::env::var("ALLURE_HUB_REQUIRE_NODE").as_deref(), Ok("1" | "true" | "yes"))
}

async fn installed_cli() -> Option<PathBuf> {
    let installer =
        Installer::new(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("allure-cli"), PathBuf::from("npm"), None);
    match installer.ensure(VERSION).await {
        Ok(binary) => Some(binary),
        Err(e) if !required() => {
            let _ = writeln!(
                std::io::stderr(),
                "\n*** real Allure CLI test SKIPPED: {e} (ALLURE_HUB_REQUIRE_NODE=1 makes this an error) ***\n"
            );
            None
        }
        Err(e) => panic!("the Allure CLI is required but cannot be installed: {e}"),
    }
}

fn result(uuid: &str, status: &str) -> String {
    serde_json::json!({
        "uuid": uuid, "historyId": format!("h-{uuid}"), "name": format!("test {uuid}"), "fullName": format!("suite.{uuid}"),
        "status": status, "stage": "finished", "start": 1_700_000_000_000_i64, "stop": 1_700_000_001_000_i64,
        "labels": [{"name": "suite", "value": "checkout"}]
    })
    .to_string()
}

#[tokio::test]
async fn the_real_cli_writes_a_report_and_a_history_point() {
    let Some(binary) = installed_cli().await else { return };
    assert_eq!(hub_allure_cli::install::version_of(&binary).await.unwrap(), VERSION);
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    std::fs::create_dir(&results).unwrap();
    for (uuid, status) in [("a", "passed"), ("b", "failed"), ("c", "skipped")] {
        std::fs::write(results.join(format!("{uuid}-result.json")), result(uuid, status)).unwrap();
    }
    let history = dir.path().join("history.jsonl");
    let output = dir.path().join("report");
    let settings =
        CliSettings { timeout: Some(Duration::from_secs(300)), node_heap_mb: 1024, data_dir: dir.path().to_path_buf() };
    let cli = AllureCli::new(settings, Ok(binary));
    let request = GenerateRequest {
        results_dir: results,
        output_dir: output.clone(),
        work_dir: dir.path().join("work"),
        config: serde_json::json!({
            "name": "Checkout nightly",
            "output": output,
            "historyPath": history,
            "historyLimit": 21
        }),
    };
    cli.generate(request).await.unwrap();
    assert!(output.join("index.html").is_file(), "the report has its index");
    let lines = std::fs::read_to_string(&history).unwrap();
    assert_eq!(lines.lines().count(), 1, "one trend point per run: {lines}");
    let point: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert!(point.is_object());
}
