//! §8.3 and §17.3: uploads turned into reports by the real Allure 3 CLI (installed with npm into a cache under the
//! target directory on first use), with trend history, and failures that leave the previous state in place.
//! Without npm the tests are skipped with a message, unless `ALLURE_HUB_REQUIRE_NODE=1` (as in CI).

use std::io::Write;
use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::archives::results_zip;
use crate::support::TestServer;

const PROJECT: &str = "/api/environments/staging/projects/checkout";

fn required() -> bool {
    matches!(std::env::var("ALLURE_HUB_REQUIRE_NODE").as_deref(), Ok("1" | "true" | "yes"))
}

/// The pinned CLI, installed once per test process; `None` (test skipped) when npm is unusable.
async fn allure_bin() -> Option<PathBuf> {
    static BIN: OnceCell<Option<PathBuf>> = OnceCell::const_new();
    BIN.get_or_init(|| async {
        let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("allure-cli");
        let installer = hub_allure_cli::Installer::new(cache, PathBuf::from("npm"), None);
        match installer.ensure("3.18.0").await {
            Ok(bin) => Some(bin),
            Err(e) if !required() => {
                let _ = writeln!(std::io::stderr(), "\n*** generation tests SKIPPED: {e} ***\n");
                None
            }
            Err(e) => panic!("the Allure CLI is required but cannot be installed: {e}"),
        }
    })
    .await
    .clone()
}

async fn server(extra: &[(&str, &str)]) -> Option<TestServer> {
    let bin = allure_bin().await?;
    let bin = bin.display().to_string();
    let mut vars = vec![("ALLURE_BIN", bin.as_str())];
    vars.extend_from_slice(extra);
    let s = TestServer::sqlite_with(&vars).await;
    let res = s.post("/api/environments", serde_json::json!({"id": "staging", "name": "Staging"})).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let res =
        s.post("/api/environments/staging/projects", serde_json::json!({"id": "checkout", "name": "Checkout"})).await;
    assert_eq!(res.status, StatusCode::CREATED);
    Some(s)
}

async fn upload_and_wait(s: &TestServer, build: &str) -> Value {
    let res = TestServer::read(
        s.request(Method::POST, &format!("{PROJECT}/results?buildId={build}&wait=true"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip")
            .body(results_zip()),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    serde_json::from_str(res.text.trim_start()).unwrap()
}

fn history_lines(s: &TestServer) -> Vec<Value> {
    std::fs::read_to_string(s.data_dir.join("envs/staging/checkout/history.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn uploads_become_reports_with_one_trend_point_each() {
    let Some(s) = server(&[]).await else { return };
    let session = upload_and_wait(&s, "b1").await;
    assert_eq!((session["phase"].as_str(), session["error"].as_str()), (Some("done"), None), "{session}");
    assert!(session["completedAt"].is_string());
    let report = s.data_dir.join("envs/staging/checkout/builds/b1/report");
    assert!(report.join("index.html").is_file(), "the report is published");
    assert_eq!(history_lines(&s).len(), 1);

    let session = upload_and_wait(&s, "b2").await;
    assert_eq!(session["phase"], "done", "{session}");
    assert_eq!(history_lines(&s).len(), 2, "each build adds its point");
    let projects = s.get("/api/environments/staging/projects").await.json();
    assert_eq!(
        (projects[0]["latestBuild"]["buildId"].as_str(), projects[0]["latestBuild"]["status"].as_str()),
        (Some("b2"), Some("ready"))
    );
    let tmp: Vec<_> = std::fs::read_dir(s.data_dir.join("tmp")).unwrap().collect();
    assert!(tmp.len() <= 2, "job directories are removed (trash may still be going): {tmp:?}");
}

#[tokio::test]
async fn a_generation_past_its_time_limit_fails_the_build_and_keeps_the_history() {
    let Some(s) = server(&[("ALLURE_TIMEOUT", "1ms")]).await else { return };
    let session = upload_and_wait(&s, "slow").await;
    assert_eq!(
        (session["phase"].as_str(), session["failedAtPhase"].as_str(), session["error"].as_str()),
        (Some("failed"), Some("generating"), Some("allure generate timed out after 1ms")),
        "{session}"
    );
    assert!(!s.data_dir.join("envs/staging/checkout/builds/slow/report").exists());
    assert!(s.data_dir.join("envs/staging/checkout/builds/slow/results").exists(), "results stay for a retry");
    assert!(history_lines(&s).is_empty());
    let projects = s.get("/api/environments/staging/projects").await.json();
    assert_eq!(projects[0]["latestBuild"]["status"], "failed");
}
