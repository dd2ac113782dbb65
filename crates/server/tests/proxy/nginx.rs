//! nginx in front of the server, running the shipped `deploy/nginx/allure-hub.conf`.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{APP_HOST, Guard, PATIENCE, REPORT_HOST, Running, find_tool, free_port};

/// The nginx executable (Debian package `nginx`), or `None` when the test is to be skipped.
pub fn nginx_binary() -> Option<PathBuf> {
    let candidates = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"];
    find_tool("nginx", "ALLURE_HUB_NGINX_BIN", &candidates, "ALLURE_HUB_REQUIRE_NGINX")
}

/// nginx running the shipped recipe on `proxy_port`, in front of the server's two listeners.
pub fn start(bin: &Path, proxy_port: u16, app_port: u16, report_port: u16) -> Running {
    // nginx's workers run as an unprivileged user when the test runs as root: their temp paths must be reachable.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx/allure-hub.conf"))
            .unwrap();
    let site = nginx_site(&shipped, proxy_port, app_port, report_port);
    let process = start_nginx(bin, dir.path(), &site, proxy_port);
    Running::new(process, dir)
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
