//! The bytes the storage holds per build, kept with the build (issue 17): `storedBytes` of `/api/settings/disk`
//! follows uploads, generations and deletions, equals what the storage really holds, and on object storage makes
//! the per-project breakdown; builds without a kept size (an upgraded installation) are measured at start-up.
//! The S3 case runs on a real S3 on loopback (moto) with the real Allure CLI, skipped without them unless required
//! (`ALLURE_HUB_REQUIRE_S3=1`, `ALLURE_HUB_REQUIRE_NODE=1`, as in CI).

use std::path::Path;
use std::time::Duration;

use hub_test_support::s3::S3TestBucket;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::archives::results_zip;
use crate::generation::{allure_bin, create_project, upload_and_wait};
use crate::on_both_backends;
use crate::support::TestServer;

const PROJECT: &str = "/api/environments/staging/projects/checkout";
/// The key prefix of the server's objects inside the test bucket.
const PREFIX: &str = "hub";
/// How often the disk check measures (the API answers its latest measurement).
const CHECK_EVERY: &str = "200ms";

async fn disk(s: &TestServer) -> Value {
    let res = TestServer::read(s.as_session(&s.admin, Method::GET, "/api/settings/disk")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.json()
}

/// The disk usage once `storedBytes` is `expected` (measurements follow the disk check), within 30 s.
async fn stored_reaches(s: &TestServer, expected: i64) -> Value {
    let mut usage = Value::Null;
    for _ in 0..300 {
        usage = disk(s).await;
        if usage["storedBytes"] == expected {
            return usage;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("storedBytes never became {expected}: {usage}");
}

/// The bytes of the objects below `prefix` of the server's keys (one listing page: a test build has few objects).
async fn bucket_bytes(bucket: &S3TestBucket, prefix: &str) -> i64 {
    let url = format!("{}/{}?list-type=2&max-keys=1000&prefix={PREFIX}/{prefix}", bucket.endpoint, bucket.bucket);
    let xml = reqwest::get(url).await.unwrap().text().await.unwrap();
    assert!(!xml.contains("<IsTruncated>true</IsTruncated>"), "one page lists them all");
    xml.split("<Size>").skip(1).map(|s| s.split("</Size>").next().unwrap().parse::<i64>().unwrap()).sum()
}

/// The bytes of the regular files below `dir`.
fn tree_bytes(dir: &Path) -> i64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .map(|e| e.unwrap())
            .map(|e| {
                let kind = e.file_type().unwrap();
                if kind.is_dir() { tree_bytes(&e.path()) } else { i64::try_from(e.metadata().unwrap().len()).unwrap() }
            })
            .sum()
    })
}

#[tokio::test]
async fn stored_bytes_follow_uploads_generations_and_deletions_on_object_storage() {
    let Some(bucket) = S3TestBucket::create() else { return };
    let Some(bin) = allure_bin().await else { return };
    let bin = bin.display().to_string();
    let mut vars = bucket.vars();
    vars.extend([
        ("ALLURE_BIN".to_owned(), bin),
        ("STORAGE_URL".to_owned(), bucket.url(PREFIX)),
        ("DISK_CHECK_INTERVAL".to_owned(), CHECK_EVERY.to_owned()),
    ]);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = TestServer::sqlite_with(&vars).await;
    create_project(&s).await;
    let usage = disk(&s).await;
    assert_eq!((&usage["storage"], &usage["storedBytes"], &usage["breakdown"]), (&json!("s3"), &json!(0), &json!([])));

    // Each build is measured once its report is published: exactly what its objects take in the bucket.
    assert_eq!(upload_and_wait(&s, "b1").await["phase"], "done");
    let b1 = bucket_bytes(&bucket, "envs/staging/checkout/builds/b1/").await;
    assert!(b1 > 0);
    let usage = stored_reaches(&s, b1).await;
    assert_eq!(usage["breakdown"], json!([{"path": "staging/checkout", "bytes": b1}]), "made of the kept sizes");
    assert!(usage["usedBytes"].as_i64().unwrap() > 0, "the data directory still measured: {usage}");
    assert_eq!(upload_and_wait(&s, "b2").await["phase"], "done");
    let b2 = bucket_bytes(&bucket, "envs/staging/checkout/builds/b2/").await;
    stored_reaches(&s, b1 + b2).await;

    // A deleted build's objects and its kept size go together.
    assert_eq!(s.delete(&format!("{PROJECT}/reports/b1")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(bucket_bytes(&bucket, "envs/staging/checkout/builds/b1/").await, 0);
    let usage = stored_reaches(&s, b2).await;
    assert_eq!(usage["breakdown"], json!([{"path": "staging/checkout", "bytes": b2}]));

    // An installation from before sizes were kept: its builds are measured by the next start.
    {
        use diesel::{Connection, RunQueryDsl};
        let url = s.data_dir.join("allure-hub.db").display().to_string();
        let mut conn = diesel::SqliteConnection::establish(&url).unwrap();
        diesel::sql_query("UPDATE builds SET stored_bytes = NULL").execute(&mut conn).unwrap();
    }
    let s = s.restart().await;
    stored_reaches(&s, b2).await;
}

/// On the filesystem, a build's size is measured as soon as its results are saved (here no report is generated:
/// the test server's Allure CLI never finishes installing), and the breakdown is still the data directory's.
async fn stored_bytes_are_kept_on_the_filesystem(s: TestServer) {
    let s = s.restart_with(&[("DISK_CHECK_INTERVAL", CHECK_EVERY)]).await;
    create_project(&s).await;
    assert_eq!(disk(&s).await["storedBytes"], 0);
    let res = TestServer::read(
        s.request(Method::POST, &format!("{PROJECT}/results?buildId=b1"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip")
            .body(results_zip()),
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    let on_disk = tree_bytes(&s.data_dir.join("envs/staging/checkout/builds/b1"));
    assert!(on_disk > 0);
    let usage = stored_reaches(&s, on_disk).await;
    assert_eq!(usage["storage"], "filesystem");
    let project = &usage["breakdown"][0];
    assert_eq!(project["path"], "staging/checkout", "{usage}");
    assert!(project["bytes"].as_i64().unwrap() >= on_disk, "the project's directory, as walked: {usage}");
}

on_both_backends!(stored_bytes_are_kept_on_the_filesystem);
