//! Stand-ins for npm and its registry, so tests of the Allure CLI management never reach the public registry or
//! install anything real: a registry on loopback that knows a few `allure` versions, and an npm script whose
//! `install` writes an `allure` that prints the requested version.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A registry on `127.0.0.1` answering `/allure/latest` and `/allure/<version>` for the versions it was given,
/// 404 for everything else. It stops with the test's runtime.
#[derive(Debug, Clone)]
pub struct FakeRegistry {
    /// Its base URL, for `NPM_REGISTRY_URL`.
    pub url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeRegistry {
    /// Starts a registry whose `allure` package has `versions`, the last of them being `latest`.
    pub async fn start(versions: &[&str]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let versions: Vec<String> = versions.iter().map(|v| (*v).to_owned()).collect();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (versions, seen) = (versions.clone(), Arc::clone(&seen));
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head);
                    let path = head.split_whitespace().nth(1).unwrap_or_default().to_owned();
                    seen.lock().unwrap().push(path.clone());
                    let known = |v: &str| versions.iter().any(|k| k == v);
                    let body = match path.strip_prefix("/allure/") {
                        Some("latest") => versions.last().map(|v| serde_json::json!({"name": "allure", "version": v})),
                        Some(v) if known(v) => Some(serde_json::json!({"name": "allure", "version": v})),
                        _ => None,
                    };
                    let (status, body) = match body {
                        Some(body) => ("200 OK", body.to_string()),
                        None => ("404 Not Found", r#"{"error":"Not found"}"#.to_owned()),
                    };
                    let reply = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        Self { url, requests }
    }

    /// How many requests asked for `path` (`/allure/latest`, say).
    pub fn hits(&self, path: &str) -> usize {
        self.requests.lock().unwrap().iter().filter(|p| *p == path).count()
    }
}

/// Writes an executable shell script `name` with `body` into `dir`.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// An npm whose `install --prefix <p> allure@<v>` writes `<p>/node_modules/.bin/allure` printing `<v>` for
/// `--version`, except for the versions in `failing`, where it prints an error naming the prefix to stderr and
/// exits 1. `config get registry` names `registry`.
pub fn fake_npm(dir: &Path, registry: &str, failing: &[&str]) -> PathBuf {
    let failing = failing.join(" ");
    script(
        dir,
        "fake-npm",
        &format!(
            r#"if [ "$1" = config ]; then echo '{registry}'; exit 0; fi
prefix=""; version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift ;;
    allure@*) version="${{1#allure@}}" ;;
  esac
  shift
done
case " {failing} " in
  *" $version "*)
    echo "npm error code E500" >&2
    echo "npm error could not write $prefix/node_modules" >&2
    exit 1 ;;
esac
mkdir -p "$prefix/node_modules/.bin"
printf '#!/bin/sh\necho %s\n' "$version" > "$prefix/node_modules/.bin/allure"
chmod 755 "$prefix/node_modules/.bin/allure""#
        ),
    )
}
