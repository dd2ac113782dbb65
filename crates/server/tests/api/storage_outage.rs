//! An outage of the object store while the server runs (`STORAGE_URL=s3://…` on moto, reached through a TCP proxy
//! that the test cuts and restores on the same port): health, report files, uploads and chunks answer 503 with
//! `Retry-After` while it is down, nothing half-stored is left, a generation waits instead of failing, and
//! everything works again when the store is back, without a restart. Skipped without S3 or npm unless required
//! (`ALLURE_HUB_REQUIRE_S3=1`, `ALLURE_HUB_REQUIRE_NODE=1`, as in CI).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hub_test_support::s3::S3TestBucket;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

use crate::archives::results_zip;
use crate::generation::{server, upload_and_wait};
use crate::support::{Reply, TestServer};

const PROJECT: &str = "/api/environments/staging/projects/checkout";
/// The key prefix of the server's objects inside the test bucket.
const PREFIX: &str = "hub";

/// A TCP proxy to the S3 endpoint that can be cut: while cut, every new connection is closed at once and the open
/// ones are dropped, as when the store goes down; restored, it forwards again on the same address.
struct Proxy {
    address: SocketAddr,
    cut: Arc<AtomicBool>,
    /// The forwarding tasks of open connections, aborted by a cut.
    open: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (is_cut, connections) = (Arc::clone(&cut), Arc::clone(&open));
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if is_cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                let mut connections = connections.lock().unwrap();
                connections.retain(|t| !t.is_finished());
                connections.push(task.abort_handle());
            }
        });
        Self { address, cut, open, accepting }
    }

    /// The endpoint to give the server instead of the store's.
    fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for connection in self.open.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accepting.abort();
    }
}

/// The keys below `prefix` in the bucket, listed from the store itself (not through the proxy; moto checks no
/// signature).
async fn keys(bucket: &S3TestBucket, prefix: &str) -> Vec<String> {
    let url = format!("{}/{}?list-type=2&max-keys=1000&prefix={PREFIX}/{prefix}", bucket.endpoint, bucket.bucket);
    let xml = reqwest::get(url).await.unwrap().text().await.unwrap();
    xml.split("<Key>").skip(1).filter_map(|k| k.split("</Key>").next()).map(str::to_owned).collect()
}

async fn upload(s: &TestServer, build: &str) -> Reply {
    TestServer::read(
        s.request(Method::POST, &format!("{PROJECT}/results?buildId={build}&wait=true"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip")
            .body(results_zip()),
    )
    .await
}

async fn put_chunk(s: &TestServer, id: &str, zip: &[u8]) -> Reply {
    TestServer::read(
        s.request(Method::PUT, &format!("{PROJECT}/uploads/{id}"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/octet-stream")
            .header("X-Chunk-Index", "0")
            .header("X-Total-Chunks", "1")
            .body(zip.to_vec()),
    )
    .await
}

/// The session `id` once it has left `generating` (or after a minute).
async fn settled(s: &TestServer, id: &str) -> Value {
    let mut session = Value::Null;
    for _ in 0..600 {
        session = s.get(&format!("{PROJECT}/uploads/{id}")).await.json();
        if session["phase"] != "generating" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    session
}

/// A 503 that tells the client to come back, with the contract's body.
fn assert_unavailable(res: &Reply, what: &str) {
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {}", res.text);
    assert_eq!(res.json(), json!({"error": "service unavailable"}), "{what}");
    assert_eq!(res.header("retry-after"), Some("5"), "{what}");
}

#[tokio::test]
async fn the_store_stopped_and_started_again_under_load_503s_while_down_no_data_lost_recovery_without_restart() {
    let Some(bucket) = S3TestBucket::create() else { return };
    let proxy = Proxy::start(bucket.endpoint.trim_start_matches("http://").to_owned()).await;
    let mut vars: Vec<(String, String)> =
        bucket.vars().into_iter().filter(|(name, _)| name != "AWS_ENDPOINT_URL").collect();
    vars.push(("AWS_ENDPOINT_URL".to_owned(), proxy.endpoint()));
    vars.push(("STORAGE_URL".to_owned(), bucket.url(PREFIX)));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let Some(s) = server(&vars).await else { return };

    // Before the outage: a report, opened on the report origin.
    assert_eq!(upload_and_wait(&s, "b1").await["phase"], "done");
    let res = s.client.get(format!("{}/reports/staging/checkout/b1/index.html", s.base)).bearer_auth(&s.key);
    let granted = res.send().await.unwrap().headers()["location"].to_str().unwrap().to_owned();
    let res = s.client.get(granted).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    assert!(res.text().await.unwrap().contains("<html"));
    let report_file = || {
        let url = format!("{}/reports/staging/checkout/b1/index.html", s.reports);
        TestServer::read(s.client.get(url).header("Cookie", cookie.clone()))
    };
    let zip = results_zip();
    let init = json!({"buildId": "c1", "totalSize": zip.len(), "totalChunks": 1});
    let init = s.post(&format!("{PROJECT}/uploads"), init).await;
    assert_eq!(init.status, StatusCode::CREATED, "{}", init.text);
    let chunked = init.json()["uploadId"].as_str().unwrap().to_owned();

    proxy.cut();

    let health = s.get("/api/healthz").await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE, "{}", health.text);
    let health = health.json();
    assert_eq!((health["status"].as_str(), health["db"].as_str()), (Some("degraded"), Some("ok")), "{health}");
    assert_eq!(health["storage"], "unavailable", "{health}");
    // Viewers under load: every request is answered, each with a 503 to retry.
    let answers = futures_util::future::join_all((0..8).map(|_| report_file())).await;
    for res in &answers {
        assert_unavailable(res, "a report file");
    }
    // An upload fails whole: a 503, its session failed with the same message, no build, no object.
    let res = upload(&s, "b2").await;
    assert_unavailable(&res, "an upload");
    let sessions = s.get("/api/uploads?envId=staging&projectId=checkout").await.json();
    let failed = sessions.as_array().unwrap().iter().find(|u| u["buildId"] == "b2").unwrap().clone();
    assert_eq!((failed["phase"].as_str(), failed["error"].as_str()), (Some("failed"), Some("service unavailable")));
    assert_eq!(s.get(&format!("{PROJECT}/reports/b2")).await.status, StatusCode::NOT_FOUND);
    // A chunk is refused with a 503 and may be sent again; the session stays open.
    assert_unavailable(&put_chunk(&s, &chunked, &zip).await, "a chunk");
    // A generation waits for the store instead of failing its build.
    let res = s.post(&format!("{PROJECT}/reports"), json!({"buildId": "b1"})).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    let regeneration = res.json()["uploadId"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let session = s.get(&format!("{PROJECT}/uploads/{regeneration}")).await.json();
    assert_eq!(session["phase"], "generating", "{session}");
    let build = s.get(&format!("{PROJECT}/reports/b1")).await.json();
    assert_ne!(build["status"], "failed", "{build}");

    proxy.restore();

    // The same server, with nothing restarted.
    let mut health = s.get("/api/healthz").await;
    for _ in 0..50 {
        if health.status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        health = s.get("/api/healthz").await;
    }
    assert_eq!(health.status, StatusCode::OK, "{}", health.text);
    let res = report_file().await;
    assert_eq!(res.status, StatusCode::OK, "the report written before the outage is served again");
    let session = settled(&s, &regeneration).await;
    assert_eq!(session["phase"], "done", "the waiting generation ran once the store was back: {session}");
    assert_eq!(report_file().await.status, StatusCode::OK, "its new report is served");
    assert!(keys(&bucket, "envs/staging/checkout/builds/b2/").await.is_empty(), "the failed upload left nothing");
    assert_eq!(upload_and_wait(&s, "b2").await["phase"], "done", "the same build id, uploaded again");
    assert_eq!(put_chunk(&s, &chunked, &zip).await.status, StatusCode::OK);
    let done = s.post(&format!("{PROJECT}/uploads/{chunked}/complete?wait=true"), json!({})).await;
    assert_eq!((done.status, done.json()["phase"].as_str()), (StatusCode::OK, Some("done")), "{}", done.text);
    let history = crate::object_storage::object(&bucket, "envs/staging/checkout/history.jsonl").await;
    assert_eq!(history.lines().count(), 3, "a point per build, b1's replaced by its regeneration: {history}");
}
