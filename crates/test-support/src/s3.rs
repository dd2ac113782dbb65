//! A real S3 on loopback: a fresh bucket per test in a moto server (`moto[server]` from PyPI) that this process
//! starts once and that ends with it.
//!
//! `ALLURE_HUB_TEST_S3_ENDPOINT` names an S3 that is already running (moto: buckets are created with an unsigned
//! request). Otherwise moto is installed once into a virtual environment (`ALLURE_HUB_MOTO_VENV`, default
//! `~/.cache/allure-hub/moto-venv`; about a minute the first time) and started on a free port. When neither works,
//! tests that need S3 are skipped with a message printed once, unless `ALLURE_HUB_REQUIRE_S3=1` (as in CI), where
//! they fail. Moto answers about 100 small writes a second: keep test data small.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Once, OnceLock};
use std::time::Duration;

/// The requirement pinned for the virtual environment.
const MOTO: &str = "moto[server]>=5,<6";
/// How long moto may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts moto on a free loopback port, prints the port, and stops when its standard input closes: the test
/// process holds the other end until it exits, so the server never outlives the tests.
const SERVER_SCRIPT: &str = r#"
import os, sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
os._exit(0)
"#;

/// A bucket of its own for one test, on the shared loopback S3.
#[derive(Debug)]
pub struct S3TestBucket {
    /// The S3 endpoint (`http://127.0.0.1:<port>`).
    pub endpoint: String,
    /// The bucket's name.
    pub bucket: String,
}

impl S3TestBucket {
    /// Creates a fresh, empty bucket, or returns `None` (after saying so once) when no S3 can be had and it is
    /// not required.
    ///
    /// # Panics
    /// When S3 is required but cannot be had, or refuses to create the bucket.
    pub fn create() -> Option<Self> {
        let endpoint = match endpoint() {
            Ok(endpoint) => endpoint,
            Err(e) if !required() => {
                static SAID: Once = Once::new();
                SAID.call_once(|| {
                    // Written to the real stderr, past the test harness's capture, so that a run without S3 says
                    // plainly that the S3 tests did not run.
                    let _ = writeln!(
                        std::io::stderr(),
                        "\n*** No S3 on loopback ({e}); the S3 tests were SKIPPED. Make python3 -m venv and PyPI \
                         available or set ALLURE_HUB_TEST_S3_ENDPOINT; ALLURE_HUB_REQUIRE_S3=1 makes this an error. \
                         ***\n"
                    );
                });
                return None;
            }
            Err(e) => panic!("S3 is required (ALLURE_HUB_REQUIRE_S3) but cannot be had: {e}"),
        };
        let bucket = format!("hub-test-{}", ulid::Ulid::new().to_string().to_lowercase());
        create_bucket(&endpoint, &bucket).unwrap_or_else(|e| panic!("cannot create bucket {bucket}: {e}"));
        Some(Self { endpoint, bucket })
    }

    /// `STORAGE_URL` of the bucket, with `prefix` (may be empty).
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// The variables a client of this bucket needs (moto checks no signature, but the client signs anyway).
    pub fn vars(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}

fn required() -> bool {
    matches!(std::env::var("ALLURE_HUB_REQUIRE_S3").as_deref(), Ok("1" | "true" | "yes"))
}

/// The endpoint of the S3 given by the environment, or of the moto server this process started.
fn endpoint() -> Result<String, String> {
    if let Ok(given) = std::env::var("ALLURE_HUB_TEST_S3_ENDPOINT")
        && !given.is_empty()
    {
        return Ok(given.trim_end_matches('/').to_owned());
    }
    /// The server and the write end of its standard input, kept for the life of the process.
    static SERVER: OnceLock<Result<(String, Child), String>> = OnceLock::new();
    SERVER.get_or_init(start_moto).as_ref().map(|(endpoint, _)| endpoint.clone()).map_err(Clone::clone)
}

fn venv_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("ALLURE_HUB_MOTO_VENV")
        && !dir.is_empty()
    {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("allure-hub").join("moto-venv")
}

fn python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

fn has_moto(venv: &Path) -> bool {
    Command::new(python(venv))
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Creates the virtual environment with moto, next to where it belongs and renamed into place when complete, so
/// that an interrupted install or a concurrent one never leaves a half environment at `venv`. Scripts are never
/// run from it (their first line names the path where they were installed), only `python -m`.
fn install_moto(venv: &Path) -> Result<(), String> {
    let parent = venv.parent().ok_or("the virtual environment has no parent directory")?;
    std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let building = parent.join(format!("moto-venv.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    let _ = writeln!(std::io::stderr(), "installing {MOTO} into {} (once)", venv.display());
    let run = |command: &mut Command| -> Result<(), String> {
        let output = command.stdin(Stdio::null()).output().map_err(|e| format!("cannot run {command:?}: {e}"))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        Err(format!("{command:?} failed: {}", tail.into_iter().rev().collect::<Vec<_>>().join(" | ")))
    };
    let result = run(Command::new("python3").args(["-m", "venv"]).arg(&building)).and_then(|()| {
        run(Command::new(python(&building)).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            MOTO,
        ]))
    });
    let result = result.and_then(|()| match std::fs::rename(&building, venv) {
        Ok(()) => Ok(()),
        // Another process finished first.
        Err(_) if has_moto(venv) => Ok(()),
        Err(e) => Err(format!("cannot move the virtual environment into place: {e}")),
    });
    let _ = std::fs::remove_dir_all(&building);
    result
}

fn start_moto() -> Result<(String, Child), String> {
    let venv = venv_dir();
    if !has_moto(&venv) {
        let _ = std::fs::remove_dir_all(&venv);
        install_moto(&venv)?;
    }
    let mut child = Command::new(python(&venv))
        .args(["-c", SERVER_SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start moto: {e}"))?;
    let stdout = child.stdout.take().ok_or("moto has no standard output")?;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = sender.send(BufReader::new(stdout).read_line(&mut line).map(|_| line));
    });
    let port = match receiver.recv_timeout(START_TIMEOUT) {
        Ok(Ok(line)) => line.trim().parse::<u16>().map_err(|_| format!("moto did not start: {line:?}")),
        Ok(Err(e)) => Err(format!("cannot read moto's port: {e}")),
        Err(_) => Err(format!("moto did not start within {START_TIMEOUT:?}")),
    };
    let port = match port {
        Ok(port) => port,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    Ok((format!("http://127.0.0.1:{port}"), child))
}

/// `PUT /<bucket>`: moto checks no signature, so a plain request creates a bucket.
fn create_bucket(endpoint: &str, bucket: &str) -> Result<(), String> {
    let authority = endpoint.strip_prefix("http://").ok_or("the endpoint is not http://")?;
    let mut stream = TcpStream::connect(authority).map_err(|e| format!("cannot connect to {endpoint}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    let request =
        format!("PUT /{bucket} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    let status = response.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("the server answered {status:?}"))
    }
}
