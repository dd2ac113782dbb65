//! `kill -9` while a report is being published to S3, then a restart on the same data: the build's page is served
//! throughout from its old report or its new one (never a mix, never nothing), the interrupted job ends visibly,
//! and once it has settled the build's `reports/` prefix holds only the report the build names.
//!
//! The real `allure-hub` binary runs as a process (an in-process server cannot be killed mid-write), on moto and
//! the real Allure CLI. The first process reaches the store through a proxy that watches the requests and stops
//! forwarding in both directions at a chosen moment, so that the kill lands exactly there, however the adapter
//! lays a report out under its key: once the store has answered for the first object of the new report (before
//! the build's record is switched), or just before the old report is first listed or deleted (after it). Skipped
//! without S3 or npm unless required (`ALLURE_HUB_REQUIRE_S3=1`, `ALLURE_HUB_REQUIRE_NODE=1`, as in CI).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hub_test_support::s3::S3TestBucket;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::archives::zip_of;
use crate::generation::allure_bin;
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, login};

const PROJECT: &str = "/api/environments/staging/projects/checkout";
/// The key prefix of the server's objects inside the test bucket.
const PREFIX: &str = "hub";
/// Where the build's reports live, below [`PREFIX`].
const REPORTS: &str = "envs/staging/checkout/builds/b1/reports/";
/// The regeneration's report name: in its page and its summary, never in the first report's.
const MARKER: &str = "Regenerated after the kill";
/// Length of a report key (a ULID).
const KEY_LEN: usize = 26;

/// A few tests with many small attachments: the report is then a few hundred files, so its publication is not
/// over in an instant, while the archive stays a few KiB.
fn results() -> Vec<u8> {
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for (test, status) in [("login", "passed"), ("cart", "failed"), ("pay", "passed")] {
        let attachments: Vec<Value> = (0..40)
            .map(|n| json!({"name": format!("log {n}"), "source": format!("{test}-{n}-attachment.txt"), "type": "text/plain"}))
            .collect();
        let result = json!({"uuid": test, "name": test, "historyId": test, "status": status, "start": 1000, "stop": 2000,
            "attachments": attachments});
        entries.push((format!("allure-results/{test}-result.json"), result.to_string().into_bytes()));
        for n in 0..40 {
            entries
                .push((format!("allure-results/{test}-{n}-attachment.txt"), format!("{test} line {n}\n").into_bytes()));
        }
    }
    let entries: Vec<(&str, &[u8])> = entries.iter().map(|(name, bytes)| (name.as_str(), bytes.as_slice())).collect();
    zip_of(&entries)
}

/// When the proxy freezes, once armed with the build's report key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    /// As soon as the store has answered the first request for an object of a new report: publishing has begun
    /// and the build's record still names the old report.
    Publishing,
    /// Before the first request that names the old report is sent (the listing or batch delete of its objects),
    /// which happens only once the build names the new report: switched, the old report not deleted yet.
    Switched,
}

/// A TCP proxy to the store that freezes once armed: at its [`Moment`], nothing more is forwarded either way on
/// any connection.
struct FreezingProxy {
    address: SocketAddr,
    /// The build's report key, and when to freeze.
    armed: Arc<OnceLock<(String, Moment)>>,
    frozen: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accepting: tokio::task::JoinHandle<()>,
}

impl FreezingProxy {
    async fn start(upstream: String, bucket: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let armed: Arc<OnceLock<(String, Moment)>> = Arc::default();
        let frozen = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        // A request line names the object after the bucket (path-style addressing).
        let pattern = Arc::new(format!(" /{bucket}/{PREFIX}/{REPORTS}").into_bytes());
        let (is_armed, is_frozen, open) = (Arc::clone(&armed), Arc::clone(&frozen), Arc::clone(&connections));
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else { continue };
                let (armed, frozen, pattern) = (Arc::clone(&is_armed), Arc::clone(&is_frozen), Arc::clone(&pattern));
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                // This connection has sent a request for an object of the new report.
                let asked = Arc::new(AtomicBool::new(false));
                let (up_frozen, up_asked) = (Arc::clone(&frozen), Arc::clone(&asked));
                let up = tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut tail: Vec<u8> = Vec::new();
                    loop {
                        let n = client_read.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            let _ = server_write.shutdown().await;
                            return;
                        }
                        tail.extend_from_slice(&buf[..n]);
                        match armed.get() {
                            Some((old, Moment::Publishing)) if names_new_report(&tail, &pattern, old) => {
                                up_asked.store(true, Ordering::SeqCst);
                            }
                            Some((old, Moment::Switched)) if contains(&tail, old.as_bytes()) => {
                                up_frozen.store(true, Ordering::SeqCst);
                            }
                            _ => {}
                        }
                        // Enough to find a request line or a key cut between two reads.
                        let keep = pattern.len() + KEY_LEN;
                        if tail.len() > keep {
                            tail.drain(..tail.len() - keep);
                        }
                        if up_frozen.load(Ordering::SeqCst) {
                            std::future::pending::<()>().await;
                        }
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
                let down = tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = server_read.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            let _ = client_write.shutdown().await;
                            return;
                        }
                        // The store has answered a request for the new report: it holds (at least) that object.
                        if asked.load(Ordering::SeqCst) {
                            frozen.store(true, Ordering::SeqCst);
                        }
                        if frozen.load(Ordering::SeqCst) {
                            std::future::pending::<()>().await;
                        }
                        if client_write.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
                open.lock().unwrap().extend([up.abort_handle(), down.abort_handle()]);
            }
        });
        Self { address, armed, frozen, connections, accepting }
    }

    /// From now on, freezes at `moment` of the publication that replaces the report `old_key`.
    fn arm(&self, old_key: String, moment: Moment) {
        self.armed.set((old_key, moment)).unwrap();
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::SeqCst)
    }
}

impl Drop for FreezingProxy {
    fn drop(&mut self) {
        self.accepting.abort();
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

/// Whether `bytes` hold a request line for an object below `pattern` whose report key is not `old_key`.
fn names_new_report(bytes: &[u8], pattern: &[u8], old_key: &str) -> bool {
    bytes.windows(pattern.len()).enumerate().any(|(at, window)| {
        window == pattern
            && bytes.get(at + pattern.len()..at + pattern.len() + KEY_LEN).is_some_and(|key| key != old_key.as_bytes())
    })
}

fn contains(bytes: &[u8], part: &[u8]) -> bool {
    bytes.windows(part.len()).any(|window| window == part)
}

/// An `allure-hub` process, killed with SIGKILL when dropped (a failed assertion leaves no server behind).
struct Hub {
    child: Child,
    log: PathBuf,
    base: String,
    reports: String,
}

impl Hub {
    /// Starts the binary on `dir` (DATA_DIR and its SQLite database) with `vars`, its output into `<dir>/<name>.log`,
    /// and waits until both origins listen.
    async fn start(dir: &Path, name: &str, vars: &[(String, String)]) -> Self {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_allure-hub"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATA_DIR", dir.join("data"))
            .env("ADDR", "127.0.0.1:0")
            .env("REPORTS_ADDR", "127.0.0.1:0")
            .env("LOG_FORMAT", "json")
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("AUTH_POLICY_FILE", dir.join("policy.yaml"))
            .env("RATE_LIMIT_RATE", "0")
            .env("SHUTDOWN_TIMEOUT", "1s")
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let mut hub = Self { child, log, base: String::new(), reports: String::new() };
        let started = Instant::now();
        loop {
            let (mut main, mut reports) = (None, None);
            for line in std::fs::read_to_string(&hub.log).unwrap_or_default().lines() {
                let Ok(line) = serde_json::from_str::<Value>(line) else { continue };
                let port = line["port"].as_u64();
                match line["message"].as_str() {
                    Some("listening") => main = port,
                    Some("report origin listening") => reports = port,
                    _ => {}
                }
            }
            if let (Some(main), Some(reports)) = (main, reports) {
                hub.base = format!("http://127.0.0.1:{main}");
                hub.reports = format!("http://127.0.0.1:{reports}");
                return hub;
            }
            if let Some(status) = hub.child.try_wait().unwrap() {
                panic!("the server exited ({status}) before listening: {}", hub.output());
            }
            assert!(started.elapsed() < Duration::from_secs(60), "the server did not listen: {}", hub.output());
            // Not a blocking sleep: the proxy the server may be talking to runs on this runtime.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown, no cleanup.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The report keys below the build's `reports/`, listed on the store itself (moto checks no signature).
async fn report_keys(bucket: &S3TestBucket) -> Vec<String> {
    let url = format!("{}/{}?list-type=2&max-keys=1000&prefix={PREFIX}/{REPORTS}", bucket.endpoint, bucket.bucket);
    let xml = reqwest::get(url).await.unwrap().text().await.unwrap();
    let mut keys: Vec<String> = xml
        .split("<Key>")
        .skip(1)
        .filter_map(|k| k.split("</Key>").next()?.strip_prefix(&format!("{PREFIX}/{REPORTS}"))?.split('/').next())
        .map(str::to_owned)
        .collect();
    keys.dedup();
    keys
}

/// An admin API key, minted through a browser session.
async fn admin_key(client: &reqwest::Client, base: &str) -> String {
    let session = login(client, base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let res = client
        .post(format!("{base}/api/settings/apikeys"))
        .header("Cookie", format!("allure_hub_session={}", session.cookie))
        .header("X-CSRF-Token", &session.csrf)
        .json(&json!({"name": "kill-test", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned()
}

/// A file of the build's report from the report origin: its status and body.
async fn report_file(client: &reqwest::Client, hub: &Hub, key: &str, path: &str) -> (StatusCode, String) {
    let url = format!("{}/reports/staging/checkout/b1/{path}", hub.reports);
    let res = client.get(url).bearer_auth(key).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

#[tokio::test]
async fn a_server_killed_while_publishing_serves_the_old_or_the_new_report_and_leaves_no_orphan_after_restart() {
    kill_and_restart(Moment::Publishing).await;
}

/// The switch recorded the build; the restart's sweep of replaced reports deletes the old one.
#[tokio::test]
async fn a_server_killed_after_the_switch_serves_the_new_report_and_leaves_no_orphan_after_restart() {
    kill_and_restart(Moment::Switched).await;
}

/// Report A of build `b1`, a regeneration killed at `moment`, a restart on the same data; then what is served and
/// what is left in the bucket.
async fn kill_and_restart(moment: Moment) {
    let Some(bucket) = S3TestBucket::create() else { return };
    let Some(allure) = allure_bin().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut vars: Vec<(String, String)> =
        bucket.vars().into_iter().filter(|(name, _)| name != "AWS_ENDPOINT_URL").collect();
    vars.push(("STORAGE_URL".to_owned(), bucket.url(PREFIX)));
    vars.push(("ALLURE_BIN".to_owned(), allure.display().to_string()));
    let with_endpoint = |endpoint: String| {
        let mut vars = vars.clone();
        vars.push(("AWS_ENDPOINT_URL".to_owned(), endpoint));
        vars
    };
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    // Report A, published by a process that reaches the store through the proxy, not armed yet.
    let proxy = FreezingProxy::start(bucket.endpoint.trim_start_matches("http://").to_owned(), &bucket.bucket).await;
    let mut first = Hub::start(dir.path(), "first", &with_endpoint(proxy.endpoint())).await;
    let key = admin_key(&client, &first.base).await;
    let call = |hub: &Hub, method: reqwest::Method, path: &str| {
        client.request(method, format!("{}{path}", hub.base)).bearer_auth(&key)
    };
    let res = call(&first, reqwest::Method::POST, "/api/environments").json(&json!({"id": "staging", "name": "S"}));
    assert_eq!(res.send().await.unwrap().status(), StatusCode::CREATED);
    let res = call(&first, reqwest::Method::POST, "/api/environments/staging/projects")
        .json(&json!({"id": "checkout", "name": "Checkout"}));
    assert_eq!(res.send().await.unwrap().status(), StatusCode::CREATED);
    let res = call(&first, reqwest::Method::POST, &format!("{PROJECT}/results?buildId=b1&wait=true"))
        .header("Content-Type", "application/zip")
        .body(results())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let session: Value = serde_json::from_str(res.text().await.unwrap().trim_start()).unwrap();
    assert_eq!(session["phase"], "done", "{session}");
    let old = report_keys(&bucket).await;
    assert_eq!(old.len(), 1, "{old:?}");
    let old = old[0].clone();
    let (status, page_a) = report_file(&client, &first, &key, "index.html").await;
    assert_eq!(status, StatusCode::OK);
    let (status, summary_a) = report_file(&client, &first, &key, "summary.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page_a.contains("<html") && !page_a.contains(MARKER) && !summary_a.contains(MARKER));

    // A regeneration, killed at `moment`.
    proxy.arm(old.clone(), moment);
    let res = call(&first, reqwest::Method::POST, &format!("{PROJECT}/reports"))
        .json(&json!({"buildId": "b1", "reportConfig": {"name": MARKER}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let regeneration = res.json::<Value>().await.unwrap()["uploadId"].as_str().unwrap().to_owned();
    let started = Instant::now();
    while !proxy.is_frozen() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the publication never reached {moment:?}: {}",
            first.output()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Listed by the store a moment after it answered (a report written as one multipart object is not listed
    // before it is complete, and the freeze keeps it from completing).
    let started = Instant::now();
    while moment == Moment::Publishing
        && report_keys(&bucket).await.len() < 2
        && started.elapsed() < Duration::from_secs(2)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill();
    let killed_with = report_keys(&bucket).await;
    assert!(killed_with.contains(&old), "the old report is still whole at the kill: {killed_with:?}");
    if moment == Moment::Switched {
        assert_eq!(killed_with.len(), 2, "the old report and the new one: {killed_with:?}");
    }
    drop(proxy);

    // A new process on the same data, reaching the store directly.
    let second = Hub::start(dir.path(), "second", &with_endpoint(bucket.endpoint.clone())).await;
    let session = |hub: &Hub| {
        let request = call(hub, reqwest::Method::GET, &format!("{PROJECT}/uploads/{regeneration}"));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    // Served all along, A until the new report is named; the job runs again from the start and ends.
    let started = Instant::now();
    let ended = loop {
        let current = session(&second).await;
        let (status, page) = report_file(&client, &second, &key, "index.html").await;
        assert_eq!(status, StatusCode::OK, "the build's page is served after the restart");
        assert!(page == page_a || page.contains(MARKER), "the old page or the new one: {page}");
        if current["phase"] != "generating" {
            break current;
        }
        assert!(started.elapsed() < Duration::from_secs(180), "the interrupted job is stuck: {current}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let build = call(&second, reqwest::Method::GET, &format!("{PROJECT}/reports/b1")).send().await.unwrap();
    let build = build.json::<Value>().await.unwrap();
    assert_eq!(build["hasReport"], true, "{build}");
    let regenerated = match ended["phase"].as_str() {
        Some("done") => true,
        Some("failed") => false,
        _ => panic!("the session ends done or failed: {ended}"),
    };
    assert_eq!(build["status"], if regenerated { "ready" } else { "failed" }, "{build}");

    // One whole report: the page and its summary both of the new report (or both of the old one).
    let (_, page) = report_file(&client, &second, &key, "index.html").await;
    let (status, summary) = report_file(&client, &second, &key, "summary.json").await;
    assert_eq!(status, StatusCode::OK);
    if regenerated {
        assert!(page.contains(MARKER) && summary.contains(MARKER), "the new report whole: {summary}");
    } else {
        assert_eq!((page, summary), (page_a, summary_a), "the old report whole");
    }

    // The replaced report goes right after the switch (or, after a kill, with the start-up sweep): then one key is
    // left, and it is the one served.
    let started = Instant::now();
    let mut left = report_keys(&bucket).await;
    while left.len() > 1 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = report_keys(&bucket).await;
    }
    assert_eq!(left.len(), 1, "only the report the build names is left (before the kill: {killed_with:?}): {left:?}");
    match (regenerated, moment) {
        (false, _) => assert_eq!(left[0], old),
        // The partial report is not finished after the restart: the job publishes again, under a new key.
        (true, Moment::Publishing) => assert!(!killed_with.contains(&left[0]), "{left:?} {killed_with:?}"),
        (true, Moment::Switched) => {
            assert!(left[0] != old && killed_with.contains(&left[0]), "{left:?} {killed_with:?}");
            let log = second.output();
            assert!(log.contains("\"replaced reports deleted\""), "by the start-up sweep: {log}");
        }
    }
}
