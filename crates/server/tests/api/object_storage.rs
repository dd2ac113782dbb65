//! The server with `STORAGE_URL=s3://…` on a real S3 on loopback (moto, see `hub_test_support::s3`) and the real
//! Allure CLI: uploads, generation with history, reports served from objects with validators and ranges, a
//! regeneration that replaces the report's objects, and deletion. Skipped without S3 or npm unless required
//! (`ALLURE_HUB_REQUIRE_S3=1`, `ALLURE_HUB_REQUIRE_NODE=1`, as in CI).

use hub_test_support::s3::S3TestBucket;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::generation::{allure_bin, create_project, upload_and_wait};
use crate::support::TestServer;

const PROJECT: &str = "/api/environments/staging/projects/checkout";
/// The key prefix of the server's objects inside the test bucket.
const PREFIX: &str = "hub";

/// A server on its own bucket, with the `staging/checkout` project.
async fn server() -> Option<(TestServer, S3TestBucket)> {
    let bucket = S3TestBucket::create()?;
    let bin = allure_bin().await?.display().to_string();
    let mut vars = bucket.vars();
    vars.push(("ALLURE_BIN".to_owned(), bin));
    vars.push(("STORAGE_URL".to_owned(), bucket.url(PREFIX)));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = TestServer::sqlite_with(&vars).await;
    create_project(&s).await;
    Some((s, bucket))
}

/// The keys below `prefix` in the bucket (moto checks no signature, so a plain listing request will do).
async fn keys(bucket: &S3TestBucket, prefix: &str) -> Vec<String> {
    let url = format!("{}/{}?list-type=2&max-keys=1000&prefix={PREFIX}/{prefix}", bucket.endpoint, bucket.bucket);
    let xml = reqwest::get(url).await.unwrap().text().await.unwrap();
    xml.split("<Key>")
        .skip(1)
        .filter_map(|k| k.split("</Key>").next())
        .map(|k| k[PREFIX.len() + 1..].to_owned())
        .collect()
}

/// One object's content below the test servers' prefix, read with a signed request as any S3 client would.
pub(crate) async fn object(bucket: &S3TestBucket, key: &str) -> String {
    use object_store::ObjectStoreExt;
    let mut client = object_store::aws::AmazonS3Builder::new().with_bucket_name(&bucket.bucket);
    for (name, value) in bucket.vars() {
        client = client.with_config(name.to_ascii_lowercase().parse().unwrap(), value);
    }
    let path = object_store::path::Path::from(format!("{PREFIX}/{key}"));
    let bytes = client.build().unwrap().get(&path).await.unwrap().bytes().await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The report keys a build's objects are under.
async fn report_keys(bucket: &S3TestBucket, build: &str) -> Vec<String> {
    let prefix = format!("envs/staging/checkout/builds/{build}/reports/");
    let mut found: Vec<String> = keys(bucket, &prefix)
        .await
        .iter()
        .filter_map(|k| k.strip_prefix(&prefix)?.split('/').next().map(str::to_owned))
        .collect();
    found.dedup();
    found
}

/// The report origin's URL of `page` with a fresh grant, as the main origin hands it over.
async fn granted(s: &TestServer, page: &str) -> String {
    let res = s.client.get(format!("{}{page}", s.base)).bearer_auth(&s.key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    res.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn uploads_become_reports_served_from_objects_and_replaced_reports_leave_none_behind() {
    let Some((s, bucket)) = server().await else { return };
    let health = s.get("/api/healthz").await.json();
    assert_eq!((health["status"].as_str(), health["storage"].as_str()), (Some("ok"), Some("ok")), "{health}");
    let usage = TestServer::read(s.as_session(&s.admin, Method::GET, "/api/settings/disk")).await.json();
    assert_eq!(usage["storage"], "s3", "{usage}");

    assert_eq!(upload_and_wait(&s, "b1").await["phase"], "done");
    assert_eq!(upload_and_wait(&s, "b2").await["phase"], "done");
    assert!(!s.data_dir.join("envs").exists(), "no result or report file is kept on the local disk");
    let stored = keys(&bucket, "envs/staging/checkout/").await;
    assert!(stored.contains(&"envs/staging/checkout/builds/b1/results.zip".to_owned()), "{stored:?}");
    let history = object(&bucket, "envs/staging/checkout/history.jsonl").await;
    assert_eq!(history.lines().count(), 2, "a point per build: {history:?}");
    let first = report_keys(&bucket, "b1").await;
    assert_eq!(first.len(), 1, "{first:?}");

    // Served from the objects, with the report origin's validators and ranges.
    let page = "/reports/staging/checkout/b1/index.html";
    let res = s.client.get(granted(&s, page).await).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let html = res.text().await.unwrap();
    assert!(html.contains("<html"), "the report itself");
    let again = |extra: (&str, &str)| {
        s.client.get(format!("{}{page}", s.reports)).header("Cookie", cookie.clone()).header(extra.0, extra.1)
    };
    let res = again(("If-None-Match", &etag)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let res = again(("Range", "bytes=0-14")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.text().await.unwrap(), html[..15]);
    let res = s.client.get(format!("{}/reports/staging/checkout/b1/nope.js", s.reports));
    assert_eq!(res.header("Cookie", cookie.clone()).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    // A regeneration publishes under a new key, which the build then names; the old report's objects go.
    let res = s.post(&format!("{PROJECT}/reports"), serde_json::json!({"buildId": "b1"})).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    let id = res.json()["uploadId"].as_str().unwrap().to_owned();
    let mut session = Value::Null;
    for _ in 0..600 {
        session = s.get(&format!("{PROJECT}/uploads/{id}")).await.json();
        if session["phase"] != "generating" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(session["phase"], "done", "{session}");
    // The session ends with the transaction that names the new report; the old one is deleted right after.
    let mut second = report_keys(&bucket, "b1").await;
    for _ in 0..100 {
        if second.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        second = report_keys(&bucket, "b1").await;
    }
    assert_eq!(second.len(), 1, "only the new report is left: {second:?}");
    assert_ne!(second, first, "published under a new key");
    let res = s.client.get(format!("{}{page}", s.reports)).header("Cookie", cookie.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the build's page is served from its new report");

    // Deleting a build deletes its objects, and nothing else.
    assert_eq!(s.delete(&format!("{PROJECT}/reports/b1")).await.status, StatusCode::NO_CONTENT);
    assert!(keys(&bucket, "envs/staging/checkout/builds/b1/").await.is_empty());
    assert!(!keys(&bucket, "envs/staging/checkout/builds/b2/").await.is_empty());
    assert_eq!(object(&bucket, "envs/staging/checkout/history.jsonl").await.lines().count(), 1, "b2's point");
}

/// Sends `zip` as a chunked upload of `build` with its parts in the order `order`, restarting the server (a node
/// other than the one that stored the first parts, as far as the bucket can tell) before the last part; returns
/// the completed session once its report is ready.
async fn chunked_upload(s: TestServer, build: &str, zip: &[u8], order: &[usize]) -> (TestServer, Value) {
    use sha2::Digest;
    let hex = |bytes: &[u8]| sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect::<String>();
    let parts: Vec<&[u8]> = zip.chunks(zip.len().div_ceil(order.len())).collect();
    let body = serde_json::json!({
        "buildId": build, "fileName": "results.zip", "totalSize": zip.len(), "totalChunks": parts.len(),
        "sha256": hex(zip),
    });
    let init = s.post(&format!("{PROJECT}/uploads"), body).await;
    assert_eq!(init.status, StatusCode::CREATED, "{}", init.text);
    let id = init.json()["uploadId"].as_str().unwrap().to_owned();
    let mut s = s;
    for (sent, &index) in order.iter().enumerate() {
        if sent + 1 == order.len() {
            s = s.restart().await;
        }
        let req = s
            .request(Method::PUT, &format!("{PROJECT}/uploads/{id}"))
            .bearer_auth(&s.key)
            .header("X-Chunk-Index", index.to_string())
            .header("X-Total-Chunks", parts.len().to_string())
            .header("Content-Type", "application/octet-stream")
            .body(parts[index].to_vec());
        let res = TestServer::read(req).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    }
    let res = s.post(&format!("{PROJECT}/uploads/{id}/complete"), serde_json::json!({})).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    let session = crate::generation::finished_session(&s, &id).await;
    (s, session)
}

#[tokio::test]
async fn chunks_in_any_order_the_latest_alias_and_retention_work_on_objects() {
    let Some((s, bucket)) = server().await else { return };
    let zip = crate::archives::results_zip();
    let (s, session) = chunked_upload(s, "c1", &zip, &[2, 0, 1]).await;
    assert_eq!(session["phase"], "done", "{session}");
    assert!(keys(&bucket, "envs/staging/checkout/uploads/").await.is_empty(), "the stored chunks are deleted");
    assert!(
        keys(&bucket, "envs/staging/checkout/builds/c1/")
            .await
            .contains(&"envs/staging/checkout/builds/c1/results.zip".to_owned())
    );

    // `latest` is the newest ready build's report.
    assert_eq!(upload_and_wait(&s, "b2").await["phase"], "done");
    let page = |build: &str| format!("/reports/staging/checkout/{build}/data/summary.json");
    let fetch = |url: String| async { s.client.get(url).send().await.unwrap().text().await.unwrap() };
    let latest = fetch(granted(&s, &page("latest")).await).await;
    assert_eq!(latest, fetch(granted(&s, &page("b2")).await).await);

    // Retention deletes an expired build's objects, and only those.
    let database = s.data_dir.join("allure-hub.db");
    tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        use diesel::connection::SimpleConnection;
        let mut db = diesel::SqliteConnection::establish(database.to_str().unwrap()).unwrap();
        db.batch_execute("UPDATE builds SET created_at = datetime('now', '-40 days') WHERE build_id = 'c1'").unwrap();
    })
    .await
    .unwrap();
    let settings = serde_json::json!({"retentionDays": 30, "intervalHours": 24, "dryRun": false});
    let res = crate::operations::retention_call(&s, Method::PUT, "/api/settings/retention", Some(settings)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
    let run = crate::operations::retention_call(&s, Method::POST, "/api/settings/retention/run", None).await.json();
    assert_eq!((run["status"].as_str(), run["deletedCount"].as_i64()), (Some("success"), Some(1)), "{run}");
    assert!(run["freedBytes"].as_i64().unwrap() > 0, "{run}");
    assert!(keys(&bucket, "envs/staging/checkout/builds/c1/").await.is_empty());
    assert!(!keys(&bucket, "envs/staging/checkout/builds/b2/").await.is_empty());
    assert_eq!(s.get(&format!("{PROJECT}/reports/c1")).await.status, StatusCode::NOT_FOUND);
}
