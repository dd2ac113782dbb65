//! The deployment recipe proven: the `allure-hub` binary behind a real nginx that runs the shipped
//! `deploy/nginx/allure-hub.conf`, with two host names for the two origins.
//!
//! The test changes only what a loopback run must: listen ports, host names (`hub.test`, `reports.test`, sent as
//! `Host` headers, so no DNS is needed) and TLS (plain HTTP here: certificates would test nginx, not the recipe; the
//! server sees the scheme only through `X-Forwarded-Proto` and `BASE_URL`). Every substitution must find its text in
//! the shipped file, so a change there that the test no longer understands fails instead of being skipped.
//!
//! Without nginx (Debian package `nginx`) the test is skipped with a message, unless `ALLURE_HUB_REQUIRE_NGINX=1`.
//! `ALLURE_HUB_PROXY_TEST_BIN` names the server binary to run (CI: the release build).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

const APP_HOST: &str = "hub.test";
const REPORT_HOST: &str = "reports.test";
const PASSWORD: &str = "proxy-test-Passw0rd";
/// Size of the attachment inside the large upload.
const BIG_BYTES: usize = 200 * 1024 * 1024;
/// How much of the large body is sent before the test waits for the upload's first event.
const HELD_AFTER: u64 = 16 * 1024 * 1024;
/// How long the client holds back the body waiting for the upload's first event.
const HOLD_LIMIT: Duration = Duration::from_secs(60);
/// Limit for anything that should take seconds; reaching it means the recipe is broken, not that a machine is slow.
const PATIENCE: Duration = Duration::from_secs(120);

/// A child process stopped with SIGTERM (then SIGKILL) when dropped, so neither nginx workers nor the server outlive
/// a failed assertion.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn nginx_binary() -> Option<PathBuf> {
    let found =
        ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"].iter().map(PathBuf::from).find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("ALLURE_HUB_REQUIRE_NGINX").as_deref() != Ok("1"),
            "nginx is required (ALLURE_HUB_REQUIRE_NGINX=1) but not installed: apt-get install nginx"
        );
        eprintln!("\n*** proxy test SKIPPED: nginx is not installed (Debian package `nginx`) ***\n");
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn server_binary() -> PathBuf {
    std::env::var_os("ALLURE_HUB_PROXY_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_allure-hub")))
}

/// Starts the server with the variables the nginx recipe asks for; returns it with its main and report ports.
fn start_server(dir: &Path, proxy_port: u16, allure: Option<&Path>) -> (Guard, u16, u16) {
    let log = dir.join("server.log");
    let mut cmd = Command::new(server_binary());
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", dir.join("data"))
        .env("ADDR", "127.0.0.1:0")
        .env("REPORTS_ADDR", "127.0.0.1:0")
        .env("TRUST_PROXY", "1")
        .env("BASE_URL", format!("http://{APP_HOST}:{proxy_port}"))
        .env("REPORTS_BASE_URL", format!("http://{REPORT_HOST}:{proxy_port}"))
        .env("ADMIN_PASSWORD", PASSWORD)
        .env("AUTH_POLICY_FILE", dir.join("policy.yaml"))
        .env("ALLURE_CONFIG", dir.join("allurerc.yml"))
        .env("LOG_FORMAT", "json")
        .env("SHUTDOWN_TIMEOUT", "2s")
        .stdout(std::fs::File::create(&log).unwrap());
    match allure {
        Some(bin) => cmd.env("ALLURE_BIN", bin),
        // Generation is then unavailable: npm fails at once.
        None => cmd.env("NPM_BIN", "false"),
    };
    let mut child = Guard(cmd.spawn().unwrap());
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        let port = |message: &str| {
            lines.iter().find(|l| l["message"] == message).and_then(|l| l["port"].as_u64()).map(|p| p as u16)
        };
        if let (Some(main), Some(reports)) = (port("listening"), port("report origin listening")) {
            return (child, main, reports);
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("the server exited ({status}) before listening:\n{text}");
        }
        assert!(started.elapsed() < PATIENCE, "the server did not listen:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The shipped recipe with loopback ports, test host names and no TLS.
fn nginx_site(shipped: &str, proxy_port: u16, app_port: u16, report_port: u16) -> String {
    let replacements = [
        ("listen 443 ssl http2;".to_owned(), format!("listen 127.0.0.1:{proxy_port};")),
        ("listen [::]:443 ssl http2;".to_owned(), String::new()),
        ("listen 80;".to_owned(), format!("listen 127.0.0.1:{};", free_port())),
        ("listen [::]:80;".to_owned(), String::new()),
        ("server 127.0.0.1:8080;".to_owned(), format!("server 127.0.0.1:{app_port};")),
        ("server 127.0.0.1:8081;".to_owned(), format!("server 127.0.0.1:{report_port};")),
        ("hub.example.com".to_owned(), APP_HOST.to_owned()),
        ("reports.example.com".to_owned(), REPORT_HOST.to_owned()),
    ];
    let mut site = shipped.to_owned();
    for (from, to) in &replacements {
        assert!(site.contains(from.as_str()), "deploy/nginx/allure-hub.conf no longer contains {from:?}");
        site = site.replace(from.as_str(), to);
    }
    // TLS directives (certificates that do not exist here) go; everything else stays as shipped.
    let site: Vec<&str> = site.lines().filter(|l| !l.trim_start().starts_with("ssl_")).collect();
    assert!(site.iter().any(|l| l.contains("proxy_request_buffering off")));
    site.join("\n")
}

/// Writes a minimal main configuration around the site file and starts nginx in the foreground.
fn start_nginx(bin: &Path, dir: &Path, site: &str, proxy_port: u16) -> Guard {
    std::fs::write(dir.join("allure-hub.conf"), site).unwrap();
    let d = dir.display();
    let main = format!(
        "worker_processes 1;\nevents {{ worker_connections 256; }}\nhttp {{\n  access_log {d}/access.log;\n  \
         client_body_temp_path {d}/client_body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/allure-hub.conf;\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), main).unwrap();
    let args = |cmd: &mut Command| {
        cmd.arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-g")
            .arg(format!("daemon off; pid {d}/nginx.pid;"));
    };
    let mut test = Command::new(bin);
    args(&mut test);
    let out = test.arg("-t").output().unwrap();
    assert!(out.status.success(), "nginx -t refused the recipe: {}", String::from_utf8_lossy(&out.stderr));

    let mut cmd = Command::new(bin);
    args(&mut cmd);
    let mut child = Guard(cmd.stdout(Stdio::null()).spawn().unwrap());
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", proxy_port)).is_err() {
        if let Ok(Some(status)) = child.0.try_wait() {
            let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            panic!("nginx exited ({status}):\n{log}");
        }
        assert!(started.elapsed() < PATIENCE, "nginx did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// A client that reaches both host names through nginx, connecting from `source` (any address of 127/8 is
/// loopback on Linux, which gives the rate limiter distinct clients).
fn client(source: [u8; 4], proxy_port: u16) -> reqwest::Client {
    let nginx = SocketAddr::from(([127, 0, 0, 1], proxy_port));
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(source))
        .resolve(APP_HOST, nginx)
        .resolve(REPORT_HOST, nginx)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn login(client: &reqwest::Client, app: &str, password: &str, extra: HeaderMap) -> reqwest::Response {
    client
        .post(format!("{app}/auth/login"))
        .header("Origin", app)
        .headers(extra)
        .json(&serde_json::json!({"email": "admin@localhost", "password": password}))
        .send()
        .await
        .unwrap()
}

/// A zip of a few results; with `attachment`, the first result carries an attachment of that many bytes, stored
/// uncompressed (so the archive is as large as the attachment), written straight to disk.
fn write_results_zip(path: &Path, attachment: Option<usize>) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (i, status) in ["passed", "failed", "passed"].iter().enumerate() {
        let mut result = serde_json::json!({"uuid": format!("r{i}"), "name": format!("test {i}"),
            "historyId": format!("h{i}"), "status": status, "start": 1000, "stop": 2000});
        if let (0, Some(_)) = (i, attachment) {
            result["attachments"] = serde_json::json!([{"name": "big", "source": "big-attachment.bin",
                "type": "application/octet-stream"}]);
        }
        zip.start_file(format!("r{i}-result.json"), stored).unwrap();
        zip.write_all(result.to_string().as_bytes()).unwrap();
    }
    if let Some(size) = attachment {
        zip.start_file("big-attachment.bin", stored).unwrap();
        let block: Vec<u8> = (0..1024 * 1024).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let mut written = 0;
        while written < size {
            let n = block.len().min(size - written);
            zip.write_all(&block[..n]).unwrap();
            written += n;
        }
    }
    zip.finish().unwrap();
}

/// Sends `zip` as a streamed upload over a plain socket, pausing after [`HELD_AFTER`] bytes until `go` says so
/// (or gives up); returns the status line and body of the answer.
fn upload_holding_back(
    proxy_port: u16,
    path_and_query: &str,
    cookie: &str,
    zip: &Path,
    go: &mpsc::Receiver<()>,
) -> Result<String, String> {
    let mut file = std::fs::File::open(zip).unwrap();
    let size = file.metadata().unwrap().len();
    let mut socket = TcpStream::connect(("127.0.0.1", proxy_port)).unwrap();
    write!(
        socket,
        "POST {path_and_query} HTTP/1.1\r\nHost: {APP_HOST}:{proxy_port}\r\nOrigin: http://{APP_HOST}:{proxy_port}\r\n\
         Cookie: {cookie}\r\nContent-Type: application/zip\r\nX-Filename: big.zip\r\nContent-Length: {size}\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    std::io::copy(&mut (&mut file).take(HELD_AFTER), &mut socket).unwrap();
    if go.recv_timeout(HOLD_LIMIT).is_err() {
        return Err(format!("no upload event arrived while {HELD_AFTER} of {size} body bytes had been sent"));
    }
    std::io::copy(&mut file, &mut socket).unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    Ok(answer)
}

/// Reads server-sent events from an open response.
struct Events {
    response: reqwest::Response,
    buffer: String,
    /// Updates read while waiting for another build's, kept for a later wait.
    skipped: std::collections::VecDeque<Value>,
}

impl Events {
    /// The next `update` event's data. The limit is on the whole wait: keep-alive comments every 15 s do not
    /// extend it.
    async fn next_update(&mut self, deadline: tokio::time::Instant) -> Value {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if block.lines().any(|l| l == "event: update") {
                    let data = block.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
                    return serde_json::from_str(data).unwrap();
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .expect("no event within the time limit")
                .unwrap()
                .expect("the event stream closed");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Updates of `build_id` until one with `phase`, returning every phase seen on the way.
    async fn phases_until(&mut self, build_id: &str, phases: &[&str]) -> (Vec<String>, Value) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        let mut earlier = std::mem::take(&mut self.skipped);
        loop {
            let update = match earlier.pop_front() {
                Some(update) => update,
                None => self.next_update(deadline).await,
            };
            if update["buildId"] != build_id {
                self.skipped.push_back(update);
                continue;
            }
            let phase = update["phase"].as_str().unwrap().to_owned();
            seen.push(phase.clone());
            if phases.contains(&phase.as_str()) {
                self.skipped.extend(earlier);
                return (seen, update);
            }
        }
    }
}

/// Peak resident memory of a process, in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024
}

async fn allure_cli() -> Option<PathBuf> {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("allure-cli");
    match hub_allure_cli::Installer::new(cache, "npm".into(), None).ensure("3.18.0").await {
        Ok(bin) => Some(bin),
        Err(e) if std::env::var("ALLURE_HUB_REQUIRE_NODE").is_err() => {
            eprintln!("\n*** proxy test: report generation SKIPPED (no Allure CLI: {e}) ***\n");
            None
        }
        Err(e) => panic!("the Allure CLI is required: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_nginx_recipe_carries_sign_in_large_uploads_events_client_addresses_and_both_origins() {
    let Some(nginx) = nginx_binary() else { return };
    let allure = allure_cli().await;
    let dir = tempfile::tempdir().unwrap();
    // nginx's workers run as an unprivileged user when the test runs as root: their temp paths must be reachable.
    let nginx_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(nginx_dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let proxy_port = free_port();
    let (server, app_port, report_port) = start_server(dir.path(), proxy_port, allure.as_deref());
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx/allure-hub.conf"))
            .unwrap();
    let site = nginx_site(&shipped, proxy_port, app_port, report_port);
    let _nginx = start_nginx(&nginx, nginx_dir.path(), &site, proxy_port);
    let app = format!("http://{APP_HOST}:{proxy_port}");
    let reports = format!("http://{REPORT_HOST}:{proxy_port}");
    let main = client([127, 0, 0, 1], proxy_port);

    // Sign-in through the proxy: the Origin check passes against BASE_URL, and the cookie works.
    let res = main.get(format!("{app}/api/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = login(&main, &app, PASSWORD, HeaderMap::new()).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let me: Value =
        main.get(format!("{app}/auth/me")).header("Cookie", &cookie).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["email"], "admin@localhost", "{me}");
    for project in ["big", "app"] {
        let res = main
            .post(format!("{app}/api/environments/default/projects"))
            .header("Cookie", &cookie)
            .header("Origin", &app)
            .json(&serde_json::json!({"id": project, "name": project}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }

    // Client addresses: ten failed sign-ins from 127.0.0.2 lock that address out, even when it claims another
    // address in its own X-Forwarded-For (nginx appends the real one, and the server trusts only that one); a
    // client on 127.0.0.3 still signs in. Behind a proxy that passed no address, both would share nginx's.
    let blocked = client([127, 0, 0, 2], proxy_port);
    for attempt in 1..=10 {
        let res = login(&blocked, &app, "wrong-password", HeaderMap::new()).await;
        assert_eq!(res.status(), 401, "failed attempt {attempt}");
    }
    let res = login(&blocked, &app, PASSWORD, HeaderMap::new()).await;
    assert_eq!(res.status(), 429, "the 11th attempt from the same address is refused");
    assert!(res.headers().contains_key("retry-after"));
    let spoofed = HeaderMap::from_iter([("x-forwarded-for".parse().unwrap(), HeaderValue::from_static("127.0.0.9"))]);
    let res = login(&blocked, &app, PASSWORD, spoofed).await;
    assert_eq!(res.status(), 429, "a client-sent X-Forwarded-For does not pick the bucket");
    let res = login(&client([127, 0, 0, 3], proxy_port), &app, PASSWORD, HeaderMap::new()).await;
    assert_eq!(res.status(), 200, "another client address is not affected: {}", res.text().await.unwrap());

    // Events: the stream opens at once through the proxy.
    // Asked the way browsers ask: a compressing proxy would hold events back in its compressor (and this client
    // could not read them).
    let response = main
        .get(format!("{app}/api/uploads/stream"))
        .header("Cookie", &cookie)
        .header("Accept-Encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    assert!(response.headers().get("content-encoding").is_none(), "events are never compressed");
    let mut events = Events { response, buffer: String::new(), skipped: Default::default() };
    while !events.buffer.contains(": connected") {
        let chunk = tokio::time::timeout(PATIENCE, events.response.chunk()).await.unwrap().unwrap().unwrap();
        events.buffer.push_str(&String::from_utf8_lossy(&chunk));
    }

    // A 200 MB upload, streamed from disk. The client holds back most of the body until the upload's first event
    // has come through the event stream: that event exists only once nginx has passed the request on without
    // spooling the body (proxy_request_buffering off), and reaches the client only if nginx does not buffer the
    // stream. Either kind of buffering leaves the upload waiting here, and the test fails with a clear message.
    let zip = dir.path().join("big.zip");
    write_results_zip(&zip, Some(BIG_BYTES));
    let size = std::fs::metadata(&zip).unwrap().len();
    let (go, wait) = mpsc::channel();
    let mut upload = {
        let cookie = cookie.clone();
        let zip = zip.clone();
        tokio::task::spawn_blocking(move || {
            let path = "/api/environments/default/projects/big/results?buildId=big-1";
            upload_holding_back(proxy_port, path, &cookie, &zip, &wait)
        })
    };
    let (seen, first) = tokio::select! {
        first = events.phases_until("big-1", &["uploading", "assembling", "generating", "failed"]) => first,
        answer = &mut upload => panic!("the upload ended before its first event came through: {answer:?}"),
    };
    assert_eq!(seen, ["uploading"], "the first event arrives while the body is still held back: {first}");
    go.send(()).unwrap();
    let started = Instant::now();
    let (seen, extracted) = events.phases_until("big-1", &["generating", "failed"]).await;
    assert_eq!(seen, ["assembling", "generating"], "{extracted}");
    assert_eq!(extracted["totalSize"], size, "{extracted}");
    let answer = upload.await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{}", &answer[..answer.len().min(600)]);
    let rss = peak_rss_mib(server.0.id());
    eprintln!(
        "proxy test: {} MiB uploaded through nginx, received and extracted in {:.1} s; server peak RSS {rss} MiB",
        size / 1024 / 1024,
        started.elapsed().as_secs_f64()
    );
    assert!(rss < 160, "the server's memory does not grow with the upload: peak {rss} MiB for a {size}-byte body");

    // The report lives on its own host name: the main host only redirects there, with a grant.
    let Some(_) = allure else { return };
    let small = dir.path().join("small.zip");
    write_results_zip(&small, None);
    let res = main
        .post(format!("{app}/api/environments/default/projects/app/results?buildId=b1"))
        .header("Cookie", &cookie)
        .header("Origin", &app)
        .header("Content-Type", "application/zip")
        .body(std::fs::read(&small).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let (_, done) = events.phases_until("b1", &["done", "failed"]).await;
    assert_eq!(done["phase"], "done", "{done}");

    let report_path = "/reports/default/app/b1/index.html";
    let res = main.get(format!("{app}{report_path}")).header("Cookie", &cookie).send().await.unwrap();
    assert_eq!(res.status(), 302, "the main host does not serve report files");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("{reports}{report_path}?grant=")), "{location}");
    assert!(!res.text().await.unwrap().contains("<html"), "no report content on the main host");

    let viewer = client([127, 0, 0, 4], proxy_port);
    let res = viewer.get(format!("{reports}{report_path}")).header("Cookie", &cookie).send().await.unwrap();
    assert_eq!(res.status(), 401, "the report host ignores the main session cookie");
    let res = viewer.get(&location).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = res.text().await.unwrap();
    assert!(html.to_lowercase().contains("<html"), "{}", &html[..html.len().min(300)]);
    let res = viewer.get(format!("{reports}/api/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 404, "the report host serves reports and nothing else");

    let (_, big) = events.phases_until("big-1", &["done", "failed"]).await;
    assert_eq!(big["phase"], "done", "the 200 MB upload's report was generated too: {big}");
}
