//! Black-box tests of `allure-hub upload` against the real server on port 0: a directory zipped on the fly, a zip
//! file, a refused key (through the binary, for its exit status and message), a chunked upload cut after two
//! chunks and resumed by running the same command again, and, with the real Allure CLI, a failed quality gate.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use hub_server::{Application, Config};
use hub_uploader::{Control, Outcome, UploadArgs, UploadError};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PROJECT: &str = "/api/environments/staging/projects/checkout";

/// A running server, an admin key and a temporary directory for inputs and resume state.
struct Hub {
    base: String,
    key: String,
    client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    task: Running,
    /// The variables it runs with, for [`Hub::restart`].
    vars: HashMap<String, String>,
    dir: tempfile::TempDir,
}

impl Drop for Hub {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl Hub {
    async fn start(extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let npm = dir.path().join("npm-that-never-finishes");
        std::fs::write(&npm, "#!/bin/sh\nexec sleep 3600\n").unwrap();
        std::fs::set_permissions(&npm, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let mut vars: HashMap<String, String> = HashMap::from([
            ("ADDR".into(), "127.0.0.1:0".into()),
            ("REPORTS_ADDR".into(), "127.0.0.1:0".into()),
            ("DATA_DIR".into(), dir.path().join("data").display().to_string()),
            ("ADMIN_PASSWORD".into(), "test-admin-Passw0rd".into()),
            ("AUTH_POLICY_FILE".into(), dir.path().join("policy.yaml").display().to_string()),
            ("SHUTDOWN_TIMEOUT".into(), "1s".into()),
            ("RATE_LIMIT_RATE".into(), "0".into()),
            ("NPM_BIN".into(), npm.display().to_string()),
        ]);
        for (k, v) in extra {
            vars.insert((*k).into(), (*v).into());
        }
        let (base, handle, task) = serve(&vars).await;
        let client = reqwest::Client::new();
        let res = client
            .post(format!("{base}/auth/login"))
            .json(&json!({"email": "admin@localhost", "password": "test-admin-Passw0rd"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("allure_hub_session=").map(|r| r.split(';').next().unwrap().to_owned()))
            .unwrap();
        let me: Value = res.json().await.unwrap();
        let res = client
            .post(format!("{base}/api/settings/apikeys"))
            .header("Cookie", format!("allure_hub_session={cookie}"))
            .header("X-CSRF-Token", me["csrfToken"].as_str().unwrap())
            .json(&json!({"name": "ci", "role": "admin"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let key = res.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned();
        let hub = Self { base, key, client, handle, task, vars, dir };
        assert_eq!(hub.post("/api/environments", json!({"id": "staging", "name": "Staging"})).await.0, 201);
        let project = json!({"id": "checkout", "name": "Checkout"});
        assert_eq!(hub.post("/api/environments/staging/projects", project).await.0, 201);
        hub
    }

    /// Stops the server and starts it again on the same port, data directory and database.
    async fn restart(&mut self) {
        self.handle.stop(true).await;
        (&mut self.task).await.unwrap().unwrap();
        let port = self.base.rsplit(':').next().unwrap().to_owned();
        self.vars.insert("ADDR".into(), format!("127.0.0.1:{port}"));
        let (base, handle, task) = serve(&self.vars).await;
        assert_eq!(base, self.base, "the same URL after the restart");
        (self.handle, self.task) = (handle, task);
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self.client.post(format!("{}{path}", self.base)).bearer_auth(&self.key).json(&body).send().await;
        let res = res.unwrap();
        (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let res = self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.key).send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
    }

    /// The uploader's arguments as a CI job would pass them.
    fn args(&self, input: &Path, build: &str) -> UploadArgs {
        UploadArgs {
            input: input.to_path_buf(),
            url: format!("{}/", self.base),
            key: Some(self.key.clone()),
            env: "staging".into(),
            project: "checkout".into(),
            build: build.into(),
            report_name: None,
            replace: false,
            auto_create: false,
            config: None,
            wait: false,
            chunk_threshold: hub_uploader::DEFAULT_CHUNK_THRESHOLD,
            chunk_size: hub_uploader::DEFAULT_CHUNK_SIZE,
            parallel: 3,
            retries: 2,
            state_dir: Some(self.dir.path().join("state")),
        }
    }
}

/// A running server: its URL, its handle, and its task (which holds the data directory until it has ended).
async fn serve(vars: &HashMap<String, String>) -> (String, actix_web::dev::ServerHandle, Running) {
    let config = Config::from_lookup(|name| vars.get(name).cloned()).unwrap();
    let app = Application::build(config).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let task = tokio::spawn(app.run_until_stopped());
    (base, handle, task)
}

type Running = tokio::task::JoinHandle<std::io::Result<()>>;

fn result(name: &str, status: &str, start: i64, stop: i64) -> Vec<u8> {
    json!({"uuid": name, "name": name, "historyId": name, "status": status, "start": start, "stop": stop})
        .to_string()
        .into_bytes()
}

/// An `allure-results` directory: three tests (passed, failed, broken) and an attachment of `attachment_bytes`
/// hard-to-compress bytes in a sub-folder.
fn results_dir(parent: &Path, attachment_bytes: usize) -> PathBuf {
    let dir = parent.join("allure-results");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("a-result.json"), result("a", "passed", 1_000, 2_000)).unwrap();
    std::fs::write(dir.join("b-result.json"), result("b", "failed", 1_000, 4_000)).unwrap();
    std::fs::write(dir.join("c-result.json"), result("c", "broken", 2_000, 3_000)).unwrap();
    let mut state = 0x2545_f491_u32;
    let noise: Vec<u8> = (0..attachment_bytes)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    std::fs::write(dir.join("data").join("trace.bin"), noise).unwrap();
    dir
}

fn stats(total: i64, passed: i64, failed: i64, broken: i64) -> Value {
    json!({"total": total, "passed": passed, "failed": failed, "broken": broken, "skipped": 0, "unknown": 0})
}

fn counts(build: &Value) -> Value {
    let s = &build["stats"];
    json!({"total": s["total"], "passed": s["passed"], "failed": s["failed"], "broken": s["broken"],
        "skipped": s["skipped"], "unknown": s["unknown"]})
}

fn quiet() -> Control {
    Control { quiet: true, ..Control::default() }
}

#[tokio::test]
async fn a_directory_is_zipped_on_the_fly_and_streamed() {
    let hub = Hub::start(&[]).await;
    let dir = results_dir(hub.dir.path(), 10_000);
    let summary = hub_uploader::run_with(&hub.args(&dir, "b1"), &quiet()).await.unwrap();
    let Outcome::Accepted { upload_id, report_url } = &summary.outcome else { panic!("{summary:?}") };
    assert_eq!(report_url.as_deref(), Some("/reports/staging/checkout/b1/index.html"));
    assert_eq!((summary.chunks_sent, summary.resumed), (0, false));
    let (status, session) = hub.get(&format!("{PROJECT}/uploads/{upload_id}")).await;
    assert_eq!(status, 200);
    assert_eq!((session["kind"].as_str(), session["fileName"].as_str()), (Some("stream"), Some("allure-results.zip")));
    let (status, build) = hub.get(&format!("{PROJECT}/reports/b1")).await;
    assert_eq!(status, 200, "{build}");
    assert_eq!(counts(&build), stats(3, 1, 1, 1));
}

#[tokio::test]
async fn a_zip_file_is_streamed_from_disk_and_a_duplicate_is_refused() {
    let hub = Hub::start(&[]).await;
    let zip_path = hub.dir.path().join("results.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    for (name, status) in [("x", "passed"), ("y", "passed")] {
        zip.start_file(format!("allure-results/{name}-result.json"), zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(&result(name, status, 1_000, 2_000)).unwrap();
    }
    zip.finish().unwrap();
    let size = std::fs::metadata(&zip_path).unwrap().len();

    let summary = hub_uploader::run_with(&hub.args(&zip_path, "z1"), &quiet()).await.unwrap();
    let Outcome::Accepted { upload_id, .. } = &summary.outcome else { panic!("{summary:?}") };
    let (_, session) = hub.get(&format!("{PROJECT}/uploads/{upload_id}")).await;
    assert_eq!((session["fileName"].as_str(), session["totalSize"].as_u64()), (Some("results.zip"), Some(size)));
    assert_eq!(counts(&hub.get(&format!("{PROJECT}/reports/z1")).await.1), stats(2, 2, 0, 0));

    let err = hub_uploader::run_with(&hub.args(&zip_path, "z1"), &quiet()).await.unwrap_err();
    let UploadError::Refused { status, message } = &err else { panic!("{err:?}") };
    assert_eq!((*status, message.as_str()), (409, "build z1 already exists"));
    assert_eq!(hub_uploader::error_exit_code(&err), hub_uploader::EXIT_REFUSED);
}

#[tokio::test]
async fn a_refused_key_exits_with_status_2_and_the_servers_message() {
    let hub = Hub::start(&[]).await;
    let dir = results_dir(hub.dir.path(), 100);
    // The binary with no server variables at all: the uploader must not need them.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_allure-hub"))
        .env_clear()
        .env("ALLURE_HUB_URL", &hub.base)
        .env("ALLURE_HUB_KEY", "ah_0000000000000000000000000000000000000000000000000000000000000000")
        .env("ALLURE_HUB_ENV", "staging")
        .env("ALLURE_HUB_PROJECT", "checkout")
        .args(["upload", dir.to_str().unwrap(), "--build", "k1"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the server refused the upload (401): "), "{stderr}");
    let (_, body) = hub.get(&format!("{PROJECT}/reports/k1")).await;
    assert_eq!(body["error"], "build k1 not found", "nothing was stored");

    // A command-line mistake is not a refusal: it has its own status.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_allure-hub"))
        .env_clear()
        .args(["upload", dir.to_str().unwrap(), "--env", "staging", "--project", "checkout", "--build", "k1"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--url <URL>"));
    let (_, body) = hub.get(&format!("{PROJECT}/reports/k1")).await;
    assert_eq!(body["error"], "build k1 not found", "nothing was stored");
}

#[tokio::test]
async fn the_binary_creates_a_missing_project_names_the_report_and_prints_the_report_url() {
    let hub = Hub::start(&[]).await;
    let dir = results_dir(hub.dir.path(), 100);
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_allure-hub"))
        .env_clear()
        .env("ALLURE_HUB_KEY", &hub.key)
        .env("ALLURE_HUB_BUILD", "n1")
        .env("ALLURE_HUB_AUTO_CREATE", "true")
        .args(["upload", dir.to_str().unwrap(), "--url", &hub.base, "--env", "nightly", "--project", "web"])
        .args(["--report-name", "Web nightly"])
        .output()
        .await
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("uploaded (upload ") && lines[0].ends_with("); the report is being generated"));
    assert_eq!(lines[1], format!("report: {}/reports/nightly/web/n1/index.html", hub.base));
    assert!(stderr.contains("(one streamed request)"), "plain log lines without a terminal: {stderr}");
    let (status, build) = hub.get("/api/environments/nightly/projects/web/reports/n1").await;
    assert_eq!(status, 200, "{build}");
    assert_eq!(build["config"]["name"], "Web nightly", "reportName travels as a query parameter");
}

#[tokio::test]
async fn a_large_streamed_upload_refused_before_its_body_is_read_still_reports_the_servers_message() {
    let hub = Hub::start(&[]).await;
    let dir = results_dir(hub.dir.path(), 20_000_000);
    let mut args = hub.args(&dir, "l1");
    args.key = Some("ah_0000000000000000000000000000000000000000000000000000000000000000".into());
    let err = hub_uploader::run_with(&args, &quiet()).await.unwrap_err();
    assert!(matches!(err, UploadError::Refused { status: 401, .. }), "{err:?}");
    args.key = Some(hub.key.clone());
    args.env = "nowhere".into();
    let err = hub_uploader::run_with(&args, &quiet()).await.unwrap_err();
    let UploadError::Refused { status, message } = &err else { panic!("{err:?}") };
    assert_eq!((*status, message.as_str()), (404, "environment nowhere not found"));
}

#[tokio::test]
async fn a_chunked_directory_upload_through_the_binary_leaves_no_temporary_archive_or_state_behind() {
    let hub = Hub::start(&[]).await;
    let dir = results_dir(hub.dir.path(), 30_000);
    let (tmp, state) = (hub.dir.path().join("tmp"), hub.dir.path().join("state"));
    std::fs::create_dir_all(&tmp).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_allure-hub"))
        .env_clear()
        .env("TMPDIR", &tmp)
        .env("ALLURE_HUB_STATE_DIR", &state)
        .env("ALLURE_HUB_KEY", &hub.key)
        .args(["upload", dir.to_str().unwrap(), "--url", &hub.base, "--env", "staging", "--project", "checkout"])
        .args(["--build", "t1", "--chunk-threshold", "1000", "--chunk-size", "4096", "--parallel", "2"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("in chunks of 4096 bytes"), "{stderr}");
    let temp = stderr.split("into the temporary file ").nth(1).unwrap().split(' ').next().unwrap();
    assert!(temp.starts_with(tmp.to_str().unwrap()) && temp.ends_with(".zip"), "{stderr}");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "the temporary archive is deleted");
    assert_eq!(std::fs::read_dir(&state).unwrap().count(), 0, "the finished upload is forgotten");
    assert_eq!(counts(&hub.get(&format!("{PROJECT}/reports/t1")).await.1), stats(3, 1, 1, 1));
}

#[tokio::test]
async fn a_terminated_chunked_upload_exits_130_and_deletes_its_temporary_archive() {
    use tokio::io::AsyncBufReadExt as _;
    let dir = tempfile::tempdir().unwrap();
    let results = results_dir(dir.path(), 30_000);
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // A "hub" that accepts connections and never answers: the uploader waits on init, its archive zipped.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_allure-hub"))
        .env_clear()
        .env("TMPDIR", &tmp)
        .env("ALLURE_HUB_STATE_DIR", dir.path().join("state"))
        .args(["upload", results.to_str().unwrap(), "--url", &url, "--env", "e", "--project", "p", "--build", "b"])
        .args(["--chunk-threshold", "1000"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains(" in chunks of ") {
            break;
        }
    }
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1, "the temporary archive exists while uploading");
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(130));
    let rest = lines.next_line().await.unwrap().unwrap_or_default();
    assert!(rest.contains("terminated; run the same command again to resume"), "{rest}");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "the temporary archive is deleted");
    held.abort();
}

#[tokio::test]
async fn a_cut_chunked_upload_resumes_and_sends_only_the_missing_chunks() {
    let hub = Hub::start(&[]).await;
    // 40 KB of noise zips to about 40 KB: eleven 4 KB chunks.
    let dir = results_dir(hub.dir.path(), 40_000);
    let mut args = hub.args(&dir, "c1");
    args.chunk_threshold = 1_000;
    args.chunk_size = 4_096;
    args.report_name = Some("Chunked nightly".into());

    let cut = Control { stop_after_chunks: Some(2), quiet: true };
    let err = hub_uploader::run_with(&args, &cut).await.unwrap_err();
    assert!(err.to_string().starts_with("stopped after 2 chunks; run the same command again"), "{err}");
    let states: Vec<PathBuf> =
        std::fs::read_dir(hub.dir.path().join("state")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(states.len(), 1, "one unfinished upload remembered");
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&states[0]).unwrap()).unwrap();
    let upload_id = state["uploadId"].as_str().unwrap();
    let total = state["totalChunks"].as_u64().unwrap();
    assert!(total >= 10, "{state}");
    let (_, session) = hub.get(&format!("{PROJECT}/uploads/{upload_id}")).await;
    assert_eq!((session["phase"].as_str(), session["receivedChunks"].as_u64()), (Some("uploading"), Some(2)));
    assert_eq!(session["missingChunks"].as_array().unwrap().len() as u64, total - 2);

    // The same command again: the directory zips to the same bytes, the state file is found, the server says
    // which chunks it holds, and only the others travel.
    let summary = hub_uploader::run_with(&args, &quiet()).await.unwrap();
    assert!(summary.resumed);
    assert_eq!(summary.chunks_sent as u64, total - 2);
    let Outcome::Accepted { upload_id: completed, .. } = &summary.outcome else { panic!("{summary:?}") };
    assert_eq!(completed, upload_id, "the same session was completed");
    assert!(!states[0].exists(), "a finished upload is forgotten");
    let (_, session) = hub.get(&format!("{PROJECT}/uploads/{upload_id}")).await;
    assert_eq!((session["kind"].as_str(), session["receivedChunks"].as_u64()), (Some("chunked"), Some(total)));
    let (_, build) = hub.get(&format!("{PROJECT}/reports/c1")).await;
    assert_eq!(counts(&build), stats(3, 1, 1, 1));
    assert_eq!(build["config"]["name"], "Chunked nightly", "reportName travels in the chunked reportConfig");
}

#[tokio::test]
async fn a_chunked_zip_upload_resumes_after_a_server_restart() {
    let mut hub = Hub::start(&[]).await;
    let zip_path = hub.dir.path().join("big.zip");
    let noise = std::fs::read(results_dir(hub.dir.path(), 30_000).join("data/trace.bin")).unwrap();
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    zip.start_file("r-result.json", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(&result("r", "passed", 1_000, 2_000)).unwrap();
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("data/noise.bin", stored).unwrap();
    zip.write_all(&noise).unwrap();
    zip.finish().unwrap();
    let size = std::fs::metadata(&zip_path).unwrap().len();
    let mut args = hub.args(&zip_path, "r1");
    args.chunk_threshold = 10_000;
    args.chunk_size = 5_000;
    let total = size.div_ceil(5_000);

    let cut = Control { stop_after_chunks: Some(3), quiet: true };
    assert!(hub_uploader::run_with(&args, &cut).await.is_err());
    hub.restart().await;
    // A changed --chunk-size does not matter: the archive is cut as the first run cut it.
    args.chunk_size = 7_000;
    let summary = hub_uploader::run_with(&args, &quiet()).await.unwrap();
    assert_eq!((summary.resumed, summary.chunks_sent as u64), (true, total - 3), "{summary:?}");
    let (status, build) = hub.get(&format!("{PROJECT}/reports/r1")).await;
    assert_eq!(status, 200, "{build}");
    assert_eq!(counts(&build), stats(1, 1, 0, 0));
}

/// A TCP proxy to `upstream` that cuts the connection carrying the `cut_at`-th byte sent to the server, once;
/// answers its URL and a flag set when it has cut.
async fn cutting_proxy(upstream: String, cut_at: u64) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (cut, sent) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let flag = Arc::clone(&cut);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = tokio::net::TcpStream::connect(upstream.trim_start_matches("http://")).await.unwrap();
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let (cut, sent) = (Arc::clone(&cut), Arc::clone(&sent));
            let downstream = tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                while let Ok(n) = server_read.read(&mut buf).await {
                    if n == 0 || client_write.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                while let Ok(n) = client_read.read(&mut buf).await {
                    let before = sent.fetch_add(n as u64, Ordering::SeqCst);
                    let cutting = before + n as u64 >= cut_at && !cut.swap(true, Ordering::SeqCst);
                    if n == 0 || cutting || server_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                // Both halves of both sockets go: the client sees its connection reset mid-request.
                downstream.abort();
            });
        }
    });
    (url, flag)
}

#[tokio::test]
async fn a_connection_cut_mid_chunk_is_retried_within_the_same_run() {
    let hub = Hub::start(&[]).await;
    let dir = results_dir(hub.dir.path(), 60_000);
    // The cut falls well inside the chunk bodies (past init and the first chunks).
    let (url, cut) = cutting_proxy(hub.base.clone(), 30_000).await;
    let mut args = hub.args(&dir, "p1");
    args.url = url;
    args.chunk_threshold = 1_000;
    args.chunk_size = 8_000;
    args.parallel = 2;
    let summary = hub_uploader::run_with(&args, &quiet()).await.unwrap();
    assert!(cut.load(std::sync::atomic::Ordering::SeqCst), "the proxy cut a connection");
    let Outcome::Accepted { upload_id, .. } = &summary.outcome else { panic!("{summary:?}") };
    let (_, session) = hub.get(&format!("{PROJECT}/uploads/{upload_id}")).await;
    let total = session["totalChunks"].as_u64().unwrap();
    assert_eq!(session["receivedChunks"].as_u64(), Some(total), "{session}");
    assert!(summary.chunks_sent as u64 == total && !summary.resumed, "{summary:?}");
    assert_eq!(counts(&hub.get(&format!("{PROJECT}/reports/p1")).await.1), stats(3, 1, 1, 1));
}

/// The real Allure CLI from the cache the api tests fill (`None`, test skipped, when npm cannot install it and
/// Node is not required).
async fn allure_bin() -> Option<PathBuf> {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("allure-cli");
    let installer = hub_allure_cli::Installer::new(cache, PathBuf::from("npm"), None);
    match installer.ensure("3.18.0").await {
        Ok(bin) => Some(bin),
        Err(e) if !matches!(std::env::var("ALLURE_HUB_REQUIRE_NODE").as_deref(), Ok("1" | "true" | "yes")) => {
            let _ = writeln!(std::io::stderr(), "\n*** uploader generation tests SKIPPED: {e} ***\n");
            None
        }
        Err(e) => panic!("the Allure CLI is required but cannot be installed: {e}"),
    }
}

#[tokio::test]
async fn waiting_reports_a_passed_build_a_failed_gate_and_a_failed_generation_with_their_exit_statuses() {
    let Some(bin) = allure_bin().await else { return };
    let hub = Hub::start(&[("ALLURE_BIN", bin.to_str().unwrap())]).await;
    let dir = results_dir(hub.dir.path(), 100);

    let mut args = hub.args(&dir, "w1");
    args.wait = true;
    let summary = hub_uploader::run_with(&args, &quiet()).await.unwrap();
    assert_eq!(summary.outcome.exit_code(), hub_uploader::EXIT_OK, "{summary:?}");
    let lines = summary.outcome.lines(|p| format!("https://hub{p}"));
    assert_eq!(
        lines,
        [
            "report generated",
            "tests: 3 total, 1 passed, 1 failed, 1 broken, 0 skipped, 0 unknown",
            "quality gate: none",
            "report: https://hub/reports/staging/checkout/w1/index.html",
        ]
    );

    // An allurerc.yml with a gate the results fail (Allure counts failed and broken tests: 2): the config goes as
    // reportConfig (chunked init).
    let rc = hub.dir.path().join("allurerc.yml");
    std::fs::write(&rc, "name: Gated\nqualityGate:\n  rules:\n    - maxFailures: 0\n      fastFail: true\n").unwrap();
    let mut args = hub.args(&dir, "w2");
    args.wait = true;
    args.config = Some(rc);
    let summary = hub_uploader::run_with(&args, &quiet()).await.unwrap();
    assert_eq!(summary.outcome.exit_code(), hub_uploader::EXIT_GATE_FAILED, "{summary:?}");
    let lines = summary.outcome.lines(str::to_owned);
    assert_eq!(lines[2], "quality gate: FAILED", "{lines:?}");
    assert!(
        lines[3].starts_with("  - The number of failed tests 2 exceeds the allowed threshold value 0"),
        "{lines:?}"
    );
    assert_eq!(hub.get(&format!("{PROJECT}/reports/w2")).await.1["config"]["name"], "Gated");
    drop(hub);

    let hub = Hub::start(&[("ALLURE_BIN", bin.to_str().unwrap()), ("ALLURE_TIMEOUT", "1ms")]).await;
    let dir = results_dir(hub.dir.path(), 100);
    let mut args = hub.args(&dir, "w3");
    args.wait = true;
    let summary = hub_uploader::run_with(&args, &quiet()).await.unwrap();
    assert_eq!(summary.outcome.exit_code(), hub_uploader::EXIT_GENERATION_FAILED, "{summary:?}");
    let first = &summary.outcome.lines(str::to_owned)[0];
    assert!(first.starts_with("report generation failed: allure generate timed out"), "{first}");
}
