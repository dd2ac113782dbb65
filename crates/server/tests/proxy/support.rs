//! Shared parts of the proxy tests: the server process, clients that reach it through the proxy from chosen
//! loopback addresses, a results archive written to disk, and an event stream reader.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde_json::Value;

pub const APP_HOST: &str = "hub.test";
pub const REPORT_HOST: &str = "reports.test";
pub const PASSWORD: &str = "proxy-test-Passw0rd";
/// Size of the attachment inside the large upload.
pub const BIG_BYTES: usize = 200 * 1024 * 1024;
/// How much of the large body is sent before the test waits for the upload's first event.
pub const HELD_AFTER: u64 = 16 * 1024 * 1024;
/// How long the client holds back the body waiting for the upload's first event.
pub const HOLD_LIMIT: Duration = Duration::from_secs(60);
/// Limit for anything that should take seconds; reaching it means the recipe is broken, not that a machine is slow.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// A child process stopped with SIGTERM (then SIGKILL) when dropped, so neither nginx workers nor the server outlive
/// a failed assertion.
pub struct Guard(pub Child);

impl Guard {
    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

/// A proxy process and the directory holding its configuration, logs and temp files (the process stops first).
pub struct Running {
    _process: Guard,
    _dir: tempfile::TempDir,
}

impl Running {
    pub fn new(process: Guard, dir: tempfile::TempDir) -> Self {
        Self { _process: process, _dir: dir }
    }
}

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

/// A proxy executable: `env_var` if set, else the first of `candidates` that exists. When none is found the test
/// is skipped with a message, or fails when `require_var` is `1`.
pub fn find_tool(name: &str, env_var: &str, candidates: &[&str], require_var: &str) -> Option<PathBuf> {
    let found = std::env::var_os(env_var)
        .map(PathBuf::from)
        .or_else(|| candidates.iter().map(PathBuf::from).find(|p| p.is_file()));
    if found.is_none() {
        assert!(
            std::env::var(require_var).as_deref() != Ok("1"),
            "{name} is required ({require_var}=1) but not installed (or set {env_var})"
        );
        eprintln!("\n*** proxy test SKIPPED: {name} is not installed (set {env_var} to use another) ***\n");
    }
    found
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn server_binary() -> PathBuf {
    std::env::var_os("ALLURE_HUB_PROXY_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_allure-hub")))
}

/// Starts the server with the variables the proxy recipes ask for; returns it with its main and report ports.
pub fn start_server(dir: &Path, proxy_port: u16, allure: Option<&Path>) -> (Guard, u16, u16) {
    let log = dir.join("server.log");
    let bin = server_binary();
    eprintln!("proxy test: server binary {}", bin.display());
    let mut cmd = Command::new(bin);
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

/// A client that reaches both host names through the proxy, connecting from `source` (any address of 127/8 is
/// loopback on Linux, which gives the rate limiter distinct clients).
pub fn client(source: [u8; 4], proxy_port: u16) -> reqwest::Client {
    let proxy = SocketAddr::from(([127, 0, 0, 1], proxy_port));
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(source))
        .resolve(APP_HOST, proxy)
        .resolve(REPORT_HOST, proxy)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn login(client: &reqwest::Client, app: &str, password: &str, extra: HeaderMap) -> reqwest::Response {
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
pub fn write_results_zip(path: &Path, attachment: Option<usize>) {
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
pub fn upload_holding_back(
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
pub struct Events {
    response: reqwest::Response,
    buffer: String,
    /// Updates read while waiting for another build's, kept for a later wait.
    skipped: std::collections::VecDeque<Value>,
}

impl Events {
    /// Wraps an event stream response once its opening `: connected` comment has arrived.
    pub async fn open(response: reqwest::Response) -> Self {
        let mut events = Self { response, buffer: String::new(), skipped: Default::default() };
        while !events.buffer.contains(": connected") {
            let chunk = tokio::time::timeout(PATIENCE, events.response.chunk()).await.unwrap().unwrap().unwrap();
            events.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
        events
    }

    /// The next `update` event's data. The limit is on the whole wait: keep-alive comments every 15 s do not
    /// extend it.
    pub async fn next_update(&mut self, deadline: tokio::time::Instant) -> Value {
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
    pub async fn phases_until(&mut self, build_id: &str, phases: &[&str]) -> (Vec<String>, Value) {
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
pub fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024
}

pub async fn allure_cli() -> Option<PathBuf> {
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
