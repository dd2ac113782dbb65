//! The runner's process handling with stand-in executables (shell scripts): time limit and process-group kill,
//! scrubbed environment, exit status and output rules. The real CLI is exercised in `real_cli.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hub_allure_cli::{AllureCli, CliSettings};
use hub_domain::ports::{GenerateError, GenerateRequest, ReportGenerator};

/// A stand-in CLI: a shell script receiving `generate <results> --output <dir> --config <file>`.
fn script(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("allure");
    std::fs::write(&path, format!("#!/bin/sh\nOUT=\"$4\"\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn request(dir: &Path) -> GenerateRequest {
    std::fs::create_dir_all(dir.join("results")).unwrap();
    GenerateRequest {
        results_dir: dir.join("results"),
        output_dir: dir.join("out"),
        work_dir: dir.join("work"),
        config: serde_json::json!({"name": "Nightly", "output": dir.join("out"), "historyLimit": 21}),
    }
}

fn cli(dir: &Path, body: &str, timeout: Option<Duration>) -> AllureCli {
    let settings = CliSettings { timeout, node_heap_mb: 512, data_dir: dir.to_path_buf() };
    AllureCli::new(settings, Ok(script(dir, body)))
}

#[tokio::test]
async fn a_report_with_an_index_succeeds_and_the_environment_is_scrubbed() {
    let dir = tempfile::tempdir().unwrap();
    let body = r#"mkdir -p "$OUT" && echo '<html>' > "$OUT/index.html" && env > "$OUT/env.txt" && pwd > "$OUT/pwd.txt"
cp "$6" "$OUT/config.txt""#;
    let runner = cli(dir.path(), body, Some(Duration::from_secs(30)));
    let generated = runner.generate(request(dir.path())).await.unwrap();
    assert!(generated.warnings.is_empty());
    let env = std::fs::read_to_string(dir.path().join("out/env.txt")).unwrap();
    let mut names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split('=').next())
        .filter(|n| !n.is_empty() && *n != "PWD" && *n != "SHLVL" && *n != "_")
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["HOME", "LANG", "NODE_OPTIONS", "PATH", "TMPDIR"], "{env}");
    assert!(env.contains("NODE_OPTIONS=--max-old-space-size=512"));
    assert!(env.contains(&format!("HOME={}", dir.path().join("work/home").display())));
    let pwd = std::fs::read_to_string(dir.path().join("out/pwd.txt")).unwrap();
    assert_eq!(pwd.trim(), dir.path().join("work").display().to_string(), "runs in the job's empty directory");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/config.txt")).unwrap()).unwrap();
    assert_eq!(config["historyLimit"], 21);
}

#[tokio::test]
async fn exit_status_zero_without_a_report_or_with_a_crashed_plugin_fails() {
    let dir = tempfile::tempdir().unwrap();
    let empty = cli(dir.path(), "exit 0", None);
    assert_eq!(empty.generate(request(dir.path())).await, Err(GenerateError::NoIndex));
    let dir = tempfile::tempdir().unwrap();
    let crashed =
        cli(dir.path(), r#"mkdir -p "$OUT" && echo x > "$OUT/index.html"; echo "plugin awesome error: boom""#, None);
    assert_eq!(crashed.generate(request(dir.path())).await, Err(GenerateError::NoIndex));
}

#[tokio::test]
async fn a_failure_reports_its_status_and_stderr_tail_without_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!("echo 'cannot read {}/secret-place' >&2\nexit 3", dir.path().display());
    let failing = cli(dir.path(), &body, None);
    let err = failing.generate(request(dir.path())).await.unwrap_err();
    assert_eq!(err, GenerateError::Exited { status: 3, stderr_tail: "cannot read $DATA_DIR/secret-place".into() });
    assert_eq!(err.to_string(), "allure generate exited with status 3: cannot read $DATA_DIR/secret-place");
}

#[tokio::test]
async fn known_harmless_messages_with_a_report_are_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let body = r#"mkdir -p "$OUT/awesome" && echo x > "$OUT/awesome/index.html"
echo 'Error parsing history.json: Unexpected end' >&2
exit 1"#;
    let runner = cli(dir.path(), body, None);
    let generated = runner.generate(request(dir.path())).await.unwrap();
    assert_eq!(generated.warnings, ["Error parsing history.json: Unexpected end"]);
    let root = std::fs::read_to_string(dir.path().join("out/index.html")).unwrap();
    assert!(root.contains("awesome/index.html"), "a root index links the plugin reports: {root}");
}

#[tokio::test]
async fn a_run_past_its_time_limit_is_killed_with_its_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("grandchild-alive");
    // The CLI starts a helper that would outlive it; both must be gone after the timeout.
    let body = format!("(sleep 3; touch {}) &\nsleep 60", marker.display());
    let slow = cli(dir.path(), &body, Some(Duration::from_millis(500)));
    let err = slow.generate(request(dir.path())).await.unwrap_err();
    assert_eq!(err.to_string(), "allure generate timed out after 500ms");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!marker.exists(), "the process group was killed, helpers included");
}

#[tokio::test]
async fn a_missing_cli_is_unavailable_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let settings = CliSettings { timeout: None, node_heap_mb: 512, data_dir: dir.path().to_path_buf() };
    let none = AllureCli::new(settings, Err("npm is not available".into()));
    let err = none.generate(request(dir.path())).await.unwrap_err();
    assert_eq!(err.to_string(), "Allure CLI is not available: npm is not available");
}
