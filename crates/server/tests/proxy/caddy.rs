//! Caddy in front of the server, running the shipped `deploy/caddy/Caddyfile`.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{APP_HOST, Guard, PATIENCE, REPORT_HOST, Running, find_tool};

/// The Caddy executable (Debian package `caddy`), or `None` when the test is to be skipped.
pub fn caddy_binary() -> Option<PathBuf> {
    let candidates = ["/usr/bin/caddy", "/usr/local/bin/caddy"];
    find_tool("caddy", "ALLURE_HUB_CADDY_BIN", &candidates, "ALLURE_HUB_REQUIRE_CADDY")
}

/// Caddy running the shipped recipe on `proxy_port`, in front of the server's two listeners.
pub fn start(bin: &Path, proxy_port: u16, app_port: u16, report_port: u16) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/caddy/Caddyfile")).unwrap();
    let config = dir.path().join("Caddyfile");
    std::fs::write(&config, caddy_site(&shipped, proxy_port, app_port, report_port)).unwrap();
    let mut cmd = Command::new(bin);
    cmd.args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&config)
        // Caddy keeps its state (certificates, autosaved config) under these; none of it may land in $HOME.
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("caddy.log")).unwrap());
    let mut process = Guard(cmd.spawn().unwrap());
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", proxy_port)).is_err() {
        if let Ok(Some(status)) = process.0.try_wait() {
            let log = std::fs::read_to_string(dir.path().join("caddy.log")).unwrap_or_default();
            panic!("caddy exited ({status}):\n{log}");
        }
        assert!(started.elapsed() < PATIENCE, "caddy did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    Running::new(process, dir)
}

/// The shipped recipe with plain-HTTP site addresses on a loopback port (which also turns automatic HTTPS off),
/// the server's ports, and a global block that keeps Caddy's admin endpoint closed and its listeners on loopback.
fn caddy_site(shipped: &str, proxy_port: u16, app_port: u16, report_port: u16) -> String {
    let replacements = [
        ("\nhub.example.com {".to_owned(), format!("\nhttp://{APP_HOST}:{proxy_port} {{")),
        ("\nreports.example.com {".to_owned(), format!("\nhttp://{REPORT_HOST}:{proxy_port} {{")),
        ("reverse_proxy 127.0.0.1:8080".to_owned(), format!("reverse_proxy 127.0.0.1:{app_port}")),
        ("reverse_proxy 127.0.0.1:8081".to_owned(), format!("reverse_proxy 127.0.0.1:{report_port}")),
    ];
    let mut site = shipped.to_owned();
    for (from, to) in &replacements {
        assert!(site.contains(from.as_str()), "deploy/caddy/Caddyfile no longer contains {from:?}");
        site = site.replace(from.as_str(), to);
    }
    assert!(!site.contains("\n{"), "the test's global options block would be a second one");
    format!("{{\n\tadmin off\n\tdefault_bind 127.0.0.1\n}}\n\n{site}")
}
