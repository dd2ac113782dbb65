//! Starting a server for a test and talking to it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hub_server::{Application, Config};
use hub_test_support::pg::PgTestDatabase;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The bootstrap admin of every test server.
pub const ADMIN_EMAIL: &str = "admin@localhost";
/// Its password.
pub const ADMIN_PASSWORD: &str = "test-admin-Passw0rd";
/// The session secret of servers on PostgreSQL, which nodes on one database share.
const SESSION_SECRET: &str = "0123456789abcdef0123456789abcdef-test";

/// A signed-in browser session: the cookie and its CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// A running server with its own data directory (and database), stopped when dropped.
pub struct TestServer {
    pub base: String,
    /// The report origin (its own listener on another port of loopback).
    pub reports: String,
    /// An admin API key, used by [`TestServer::call`].
    pub key: String,
    /// The admin's browser session.
    pub admin: Session,
    pub data_dir: PathBuf,
    pub client: reqwest::Client,
    pub pg: Option<PgTestDatabase>,
    /// The variables it was started with, for [`TestServer::restart`].
    vars: HashMap<String, String>,
    handle: actix_web::dev::ServerHandle,
    /// The running server; it holds the data directory's lock until it has ended.
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// The `error` message of an error body.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_else(|| panic!("no error member: {}", self.text)).to_owned()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestServer {
    /// A server on embedded SQLite.
    pub async fn sqlite() -> Self {
        Self::start(None, &[], "test-admin").await
    }

    /// A server on a fresh PostgreSQL database, or `None` when PostgreSQL is not available and not required.
    pub async fn postgres() -> Option<Self> {
        let db = tokio::task::spawn_blocking(PgTestDatabase::create).await.unwrap()?;
        Some(Self::start(Some(db), &[], "test-admin").await)
    }

    /// One more node on the PostgreSQL database at `db_url` (another test server's, which keeps it), with its own
    /// data directory, `NODE_ID` and admin key (named after the node: key names are unique in the database).
    pub async fn postgres_on(db_url: &str, node_id: &str) -> Self {
        let vars = [("DATABASE_URL", db_url), ("SESSION_SECRET", SESSION_SECRET), ("NODE_ID", node_id)];
        Self::start(None, &vars, &format!("test-admin-{node_id}")).await
    }

    /// A SQLite server with extra variables.
    pub async fn sqlite_with(vars: &[(&str, &str)]) -> Self {
        Self::start(None, vars, "test-admin").await
    }

    async fn start(pg: Option<PgTestDatabase>, extra: &[(&str, &str)], key_name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let mut vars: HashMap<String, String> = HashMap::from([
            ("ADDR".into(), "127.0.0.1:0".into()),
            ("REPORTS_ADDR".into(), "127.0.0.1:0".into()),
            ("DATA_DIR".into(), data_dir.display().to_string()),
            ("ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
            ("AUTH_POLICY_FILE".into(), dir.path().join("policy.yaml").display().to_string()),
            ("SHUTDOWN_TIMEOUT".into(), "1s".into()),
            ("DB_MAX_CONNECTIONS".into(), "4".into()),
            // Tests send bursts from one address; the limiter has its own tests.
            ("RATE_LIMIT_RATE".into(), "0".into()),
        ]);
        // Unless a test brings the real Allure CLI (`ALLURE_BIN`), the server "installs" it with an npm that never
        // finishes: generation jobs then stay queued, as the contract says they do while an install runs, and the
        // upload tests see their builds wait in `pending`.
        let npm = dir.path().join("npm-that-never-finishes");
        std::fs::write(&npm, "#!/bin/sh\nexec sleep 3600\n").unwrap();
        std::fs::set_permissions(&npm, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        vars.insert("NPM_BIN".into(), npm.display().to_string());
        if let Some(db) = &pg {
            vars.insert("DATABASE_URL".into(), db.url.clone());
            vars.insert("SESSION_SECRET".into(), SESSION_SECRET.into());
        }
        // `ALLURE_HUB_TEST_STORAGE=s3` runs the suite with its files in a bucket of the loopback S3, to check that
        // what works on the filesystem works there too (tests that read DATA_DIR's files are then expected to fail).
        if std::env::var("ALLURE_HUB_TEST_STORAGE").as_deref() == Ok("s3")
            && let Some(bucket) = hub_test_support::s3::S3TestBucket::create()
        {
            vars.extend(bucket.vars());
            vars.insert("STORAGE_URL".into(), bucket.url("suite"));
        }
        for (k, v) in extra {
            vars.insert((*k).into(), (*v).into());
        }
        let config = Config::from_lookup(|name| vars.get(name).cloned()).unwrap();
        let app = Application::build(config).await.unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        let reports = app.report_port().map(|p| format!("http://127.0.0.1:{p}")).unwrap_or_default();
        let handle = app.handle();
        let task = tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let admin = login(&client, &base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let key = mint_key(&client, &base, &admin, key_name, "admin").await;
        Self { base, reports, key, admin, data_dir, client, pg, vars, handle, task, _dir: dir }
    }

    /// Stops the server and starts a new process-equivalent on the same data directory and database (a restart);
    /// the new instance listens on a new port.
    pub async fn restart(self) -> Self {
        self.restart_with(&[]).await
    }

    /// [`TestServer::restart`] with some variables changed.
    pub async fn restart_with(mut self, changed: &[(&str, &str)]) -> Self {
        self.handle.stop(false).await;
        // A process-equivalent: the old one has let go of everything (the data directory's lock included).
        (&mut self.task).await.unwrap().unwrap();
        for (k, v) in changed {
            self.vars.insert((*k).into(), (*v).into());
        }
        let mut vars = self.vars.clone();
        vars.insert("ADDR".into(), "127.0.0.1:0".into());
        let config = Config::from_lookup(|name| vars.get(name).cloned()).unwrap();
        let app = Application::build(config).await.unwrap();
        self.base = format!("http://127.0.0.1:{}", app.port());
        self.reports = app.report_port().map(|p| format!("http://127.0.0.1:{p}")).unwrap_or_default();
        self.handle = app.handle();
        self.task = tokio::spawn(app.run_until_stopped());
        self
    }

    /// The configuration it runs with, for a command run beside it (such as `storage copy`).
    pub fn config(&self) -> Config {
        Config::from_lookup(|name| self.vars.get(name).cloned()).unwrap()
    }

    /// Mints a key of `role` through the admin session and returns its secret.
    pub async fn key_with_role(&self, name: &str, role: &str) -> String {
        mint_key(&self.client, &self.base, &self.admin, name, role).await
    }

    /// Sends a request as a browser with `session` (cookie and CSRF token).
    pub fn as_session(&self, session: &Session, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.request(method, path)
            .header("Cookie", format!("allure_hub_session={}", session.cookie))
            .header("X-CSRF-Token", &session.csrf)
    }

    /// Sends a request with the bootstrap token.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        Self::read(req).await
    }

    /// Sends a prepared request builder (for unusual headers or bodies).
    pub async fn read(req: reqwest::RequestBuilder) -> Reply {
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        Reply { status, headers, text }
    }

    /// A request builder for `path`, without credentials.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Stops accepting and closes the pool's users before the database (if any) is dropped.
        drop(self.handle.stop(false));
    }
}

/// Asserts an RFC 3339 UTC timestamp with exactly three fractional digits.
pub fn assert_timestamp(value: &Value) {
    let s = value.as_str().unwrap_or_else(|| panic!("not a string: {value}"));
    assert_eq!(s.len(), 24, "{s}");
    assert!(chrono::DateTime::parse_from_rfc3339(s).is_ok() && s.ends_with('Z') && s.as_bytes()[19] == b'.', "{s}");
}

/// The value of the session cookie set by a response, if any.
pub fn session_cookie_of(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        c.strip_prefix("allure_hub_session=").map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
    })
}

/// Signs in with a local account.
pub async fn login(client: &reqwest::Client, base: &str, email: &str, password: &str) -> Session {
    let res = client
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "login as {email}");
    let cookie = session_cookie_of(res.headers()).expect("session cookie");
    let me: Value = res.json().await.unwrap();
    Session { cookie, csrf: me["csrfToken"].as_str().unwrap().to_owned() }
}

async fn mint_key(client: &reqwest::Client, base: &str, session: &Session, name: &str, role: &str) -> String {
    let res = client
        .post(format!("{base}/api/settings/apikeys"))
        .header("Cookie", format!("allure_hub_session={}", session.cookie))
        .header("X-CSRF-Token", &session.csrf)
        .json(&serde_json::json!({"name": name, "role": role}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "mint a {role} key");
    let body: Value = res.json().await.unwrap();
    body["key"].as_str().unwrap().to_owned()
}

/// The `id` members of a JSON array, in order.
pub fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Whether tests that need Node must run (`ALLURE_HUB_REQUIRE_NODE=1`, as in CI) instead of being skipped.
pub fn node_required() -> bool {
    matches!(std::env::var("ALLURE_HUB_REQUIRE_NODE").as_deref(), Ok("1" | "true" | "yes"))
}

/// Copies the npm fixture in `source` (a `package.json` with its lock file and scripts) to the target directory
/// and installs its locked dependencies there, once; `None` (tests skipped, with a message naming `what`) when
/// npm is unusable and Node is not required.
pub fn npm_fixture(name: &str, source: &str, what: &str) -> Option<PathBuf> {
    // One install at a time: two tests sharing a fixture must not run `npm ci` in one folder together.
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _installing = INSTALLING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let result = (|| -> Result<PathBuf, String> {
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        for entry in std::fs::read_dir(source).map_err(|e| e.to_string())? {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_file() {
                std::fs::copy(&path, dir.join(path.file_name().unwrap_or_default())).map_err(|e| e.to_string())?;
            }
        }
        // Installed once per lock file: a changed `package-lock.json` (a package added or upgraded) installs again.
        let lock = std::fs::read(Path::new(source).join("package-lock.json")).map_err(|e| e.to_string())?;
        let stamp = dir.join("node_modules").join(".installed-from-lock");
        if std::fs::read(&stamp).ok().as_deref() != Some(lock.as_slice()) {
            let out = std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--silent"])
                .current_dir(&dir)
                .output()
                .map_err(|e| format!("npm: {e}"))?;
            if !out.status.success() {
                let _ = std::fs::remove_dir_all(dir.join("node_modules"));
                return Err(format!("npm ci failed: {}", String::from_utf8_lossy(&out.stderr)));
            }
            std::fs::write(&stamp, &lock).map_err(|e| e.to_string())?;
        }
        Ok(dir.clone())
    })();
    match result {
        Ok(dir) => Some(dir),
        Err(e) if !node_required() => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n*** {what} tests SKIPPED: {e} (ALLURE_HUB_REQUIRE_NODE=1 makes this an error) ***\n"
            );
            None
        }
        Err(e) => panic!("the {what} test fixture is required but cannot be installed: {e}"),
    }
}
