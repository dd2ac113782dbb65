//! `allure-hub storage copy`: an installation on the filesystem copied into a bucket of the loopback S3 (moto) and
//! back into a directory, with the server started on each copy: the same reports are served, the trend history
//! carries on, builds regenerate from their copied results, and a second run resumes from its journal. Skipped
//! without S3 or npm unless required (`ALLURE_HUB_REQUIRE_S3=1`, `ALLURE_HUB_REQUIRE_NODE=1`, as in CI).

use hub_server::storage_copy;
use hub_test_support::s3::S3TestBucket;
use reqwest::StatusCode;
use serde_json::Value;

use crate::generation::{allure_bin, create_project, finished_session, upload_and_wait};
use crate::support::TestServer;

const PROJECT: &str = "/api/environments/staging/projects/checkout";

/// A report page's body, fetched from the report origin with a fresh grant.
async fn report_page(s: &TestServer, page: &str) -> String {
    let res = s.client.get(format!("{}{page}", s.base)).bearer_auth(&s.key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND, "{page}");
    let granted = res.headers()["location"].to_str().unwrap().to_owned();
    let res = s.client.get(granted).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{page}");
    res.text().await.unwrap()
}

/// Regenerates `build` and waits for its session to end.
async fn regenerate(s: &TestServer, build: &str) -> Value {
    let res = s.post(&format!("{PROJECT}/reports"), serde_json::json!({"buildId": build})).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    finished_session(s, res.json()["uploadId"].as_str().unwrap()).await
}

/// The number of points in the trend of the project's stats.
async fn trend_points(s: &TestServer) -> usize {
    s.get(&format!("{PROJECT}/reports/stats")).await.json()["trend"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn an_installation_copied_into_a_bucket_and_back_serves_the_same_reports_and_keeps_its_history() {
    let Some(bucket) = S3TestBucket::create() else { return };
    let Some(bin) = allure_bin().await else { return };
    let bin = bin.display().to_string();
    let s = TestServer::sqlite_with(&[("ALLURE_BIN", bin.as_str())]).await;
    create_project(&s).await;
    for build in ["b1", "b2"] {
        assert_eq!(upload_and_wait(&s, build).await["phase"], "done");
    }
    let page = "/reports/staging/checkout/b1/index.html";
    let before = report_page(&s, page).await;
    let database = s.data_dir.join("allure-hub.db");

    // Into the bucket, while the server runs: the history, and each build's results and report.
    let url = bucket.url("copied");
    let vars = bucket.vars();
    let lookup = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let copied = storage_copy::run(&s.config(), &url, lookup).await.unwrap();
    assert_eq!((copied.copied, copied.skipped, copied.absent), (5, 0, 0), "{copied:?}");
    assert!(copied.bytes > 0);
    let again = storage_copy::run(&s.config(), &url, lookup).await.unwrap();
    assert_eq!((again.copied, again.skipped), (1, 4), "a second run copies the history only: {again:?}");
    assert_eq!(regenerate(&s, "b2").await["phase"], "done");
    let after_change = storage_copy::run(&s.config(), &url, lookup).await.unwrap();
    assert_eq!((after_change.copied, after_change.skipped), (2, 3), "and b2's new report: {after_change:?}");
    let onto_itself = storage_copy::run(&s.config(), &format!("file://{}", s.data_dir.display()), lookup).await;
    assert!(onto_itself.unwrap_err().to_string().contains("names the storage this installation uses"));

    // The server on the bucket serves the same report, continues the trend and regenerates from the results.
    let mut on_bucket: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    on_bucket.push(("STORAGE_URL", url.as_str()));
    let s = s.restart_with(&on_bucket).await;
    assert_eq!(s.get("/api/healthz").await.json()["storage"], "ok");
    assert_eq!(report_page(&s, page).await, before, "the copied report");
    assert_eq!(upload_and_wait(&s, "b3").await["phase"], "done");
    assert_eq!(trend_points(&s).await, 3);
    assert_eq!(regenerate(&s, "b1").await["phase"], "done", "b1 regenerates from its copied results");
    let b3 = report_page(&s, "/reports/staging/checkout/b3/index.html").await;

    // And back into a directory, which a server then uses as its DATA_DIR.
    let back = tempfile::tempdir().unwrap();
    let to = format!("file://{}", back.path().display());
    let returned = storage_copy::run(&s.config(), &to, |_| None).await.unwrap();
    assert_eq!((returned.copied, returned.absent), (7, 0), "{returned:?}");
    let history = std::fs::read_to_string(back.path().join("envs/staging/checkout/history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 3, "a point per build: {history}");
    let database_url = format!("sqlite://{}", database.display());
    let data_dir = back.path().display().to_string();
    let on_disk = [("STORAGE_URL", ""), ("DATA_DIR", data_dir.as_str()), ("DATABASE_URL", database_url.as_str())];
    let s = s.restart_with(&on_disk).await;
    assert_eq!(report_page(&s, "/reports/staging/checkout/b3/index.html").await, b3);
    assert!(report_page(&s, page).await.contains("<html"));
    assert_eq!(regenerate(&s, "b2").await["phase"], "done", "b2 regenerates from the results copied back");
    assert_eq!(trend_points(&s).await, 3);
}
