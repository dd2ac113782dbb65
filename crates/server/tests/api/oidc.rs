//! Sign-in through a real OpenID provider (the certified npm package `oidc-provider`) started on loopback:
//! redirect, callback, token and ID token verification, session, `/auth/me`, sign-out; and the refusals of a bad
//! `state`, a replayed code and a wrong `nonce`.
//!
//! The provider is installed with npm into the target directory on first use. Without Node or npm the tests are
//! skipped with a message, unless `ALLURE_HUB_REQUIRE_NODE=1` (as in CI), where they fail.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use reqwest::{Method, StatusCode};

use crate::support::{Reply, TestServer};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../adapters/identity/tests/oidc-provider");

/// Installs the fixture's npm dependencies once per test process; `None` when Node or npm is unusable.
fn installed_fixture() -> Option<PathBuf> {
    static INSTALLED: OnceLock<Option<PathBuf>> = OnceLock::new();
    INSTALLED.get_or_init(|| crate::support::npm_fixture("oidc-provider", FIXTURE, "OIDC")).clone()
}

/// A running provider, killed when dropped.
struct Provider {
    child: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_provider(dir: &Path, redirect_uri: &str, extra: &[(&str, &str)]) -> Provider {
    let script = ["provider.mjs", "provider.cjs", "provider.js"]
        .iter()
        .map(|s| dir.join(s))
        .find(|p| p.exists())
        .expect("provider script");
    let mut cmd = Command::new("node");
    cmd.arg(script).current_dir(dir).env("REDIRECT_URI", redirect_uri).stdout(Stdio::piped()).stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start node");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let issuer = loop {
        let line = lines.next().expect("provider exited before announcing its issuer").unwrap();
        if let Some(issuer) = line.strip_prefix("ISSUER=") {
            break issuer.trim().to_owned();
        }
    };
    // Keep draining stdout so the provider never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Provider { child, issuer }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A hub with the provider configured as `oidc`, or `None` when the fixture is unavailable.
async fn setup(provider_env: &[(&str, &str)]) -> Option<(TestServer, Provider)> {
    setup_with(provider_env, &[]).await
}

/// Like [`setup`], with extra variables for the hub.
async fn setup_with(provider_env: &[(&str, &str)], hub_env: &[(&str, &str)]) -> Option<(TestServer, Provider)> {
    let dir = tokio::task::spawn_blocking(installed_fixture).await.unwrap()?;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let provider = start_provider(&dir, &format!("{base}/auth/oidc/callback"), provider_env);
    let addr = format!("127.0.0.1:{port}");
    let mut vars = vec![
        ("ADDR", addr.as_str()),
        ("BASE_URL", base.as_str()),
        ("OIDC_ISSUER_URL", provider.issuer.as_str()),
        ("OIDC_CLIENT_ID", "allure-hub"),
        ("OIDC_CLIENT_SECRET", "test-secret"),
        ("OIDC_DISPLAY_NAME", "Company SSO"),
    ];
    vars.extend_from_slice(hub_env);
    let s = TestServer::sqlite_with(&vars).await;
    Some((s, provider))
}

/// The value of cookie `name` in a response's `Set-Cookie` headers, with the header line itself.
pub(crate) fn set_cookie(headers: &reqwest::header::HeaderMap, name: &str) -> Option<(String, String)> {
    headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|line| {
        let value = line.strip_prefix(&format!("{name}="))?.split(';').next()?.to_owned();
        Some((value, line.to_owned()))
    })
}

/// Starts a sign-in at the hub: the provider URL and the sealed flow cookie.
async fn start(s: &TestServer, next: &str) -> (String, String) {
    let res = TestServer::read(s.request(Method::GET, &format!("/auth/oidc?next={next}"))).await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.text);
    let (flow, line) = set_cookie(&res.headers, "allure_hub_oauth").expect("flow cookie");
    for attribute in ["Path=/auth/", "HttpOnly", "SameSite=Lax", "Max-Age=600"] {
        assert!(line.contains(attribute), "{line}");
    }
    (res.header("location").unwrap().to_owned(), flow)
}

/// Follows the provider's redirects like a browser (keeping its cookies) until it sends the browser back to the
/// hub; returns that callback URL.
async fn through_provider(client: &reqwest::Client, mut url: String, hub: &str) -> String {
    let mut jar: HashMap<String, String> = HashMap::new();
    for _ in 0..20 {
        if url.starts_with(hub) {
            return url;
        }
        let cookies = jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let res = client.get(&url).header("Cookie", cookies).send().await.unwrap();
        for line in res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
            if let Some((name, rest)) = line.split_once('=') {
                jar.insert(name.to_owned(), rest.split(';').next().unwrap_or_default().to_owned());
            }
        }
        let location = res.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let Some(location) = location else { panic!("the provider stopped at {url}: {}", res.status()) };
        url = if location.starts_with("http") { location } else { format!("{}{location}", origin(&url)) };
    }
    panic!("too many redirects");
}

fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    format!("{scheme}://{}", rest.split('/').next().unwrap())
}

pub(crate) async fn callback(s: &TestServer, url: &str, flow: Option<&str>) -> Reply {
    let mut req = s.client.get(url);
    if let Some(flow) = flow {
        req = req.header("Cookie", format!("allure_hub_oauth={flow}"));
    }
    TestServer::read(req).await
}

fn replace_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let query: Vec<String> = query
        .split('&')
        .map(|pair| if pair.starts_with(&format!("{name}=")) { format!("{name}={value}") } else { pair.to_owned() })
        .collect();
    format!("{base}?{}", query.join("&"))
}

#[tokio::test]
async fn a_full_sign_in_through_a_real_provider_opens_a_session() {
    let Some((s, _provider)) = setup(&[]).await else { return };
    let providers = TestServer::read(s.request(Method::GET, "/auth/providers")).await.json();
    assert_eq!(
        providers,
        serde_json::json!([
            {"id": "oidc", "name": "Company SSO", "kind": "oauth"},
            {"id": "local", "name": "Email and password", "kind": "local"}
        ])
    );

    let (authorize, flow) = start(&s, "/environments/staging").await;
    for param in ["code_challenge_method=S256", "state=", "nonce=", "response_type=code", "client_id=allure-hub"] {
        assert!(authorize.contains(param), "{param} in {authorize}");
    }
    let back = through_provider(&s.client, authorize, &s.base).await;
    let res = callback(&s, &back, Some(&flow)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    assert_eq!(res.header("location"), Some("/environments/staging"));
    let (_, cleared) = set_cookie(&res.headers, "allure_hub_oauth").expect("flow cookie cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let (session, line) = set_cookie(&res.headers, "allure_hub_session").expect("session cookie");
    assert!(line.contains("HttpOnly") && line.contains("Max-Age=604800"), "{line}");

    let me =
        TestServer::read(s.request(Method::GET, "/auth/me").header("Cookie", format!("allure_hub_session={session}")))
            .await;
    assert_eq!(me.status, StatusCode::OK);
    let me = me.json();
    assert_eq!(
        (me["email"].as_str(), me["provider"].as_str(), me["name"].as_str()),
        (Some("dev@example.com"), Some("oidc"), Some("Dev Eloper"))
    );
    assert_eq!(me["avatarUrl"], "https://avatars.example.com/u/1");
    assert!(me["role"].is_null(), "no role in the built-in policy");
    assert_eq!(me["permissions"], serde_json::json!([]));
    // Without a role, the user is signed in but may do nothing.
    let res = TestServer::read(
        s.request(Method::GET, "/api/environments").header("Cookie", format!("allure_hub_session={session}")),
    )
    .await;
    assert_eq!((res.status, res.error()), (StatusCode::FORBIDDEN, "missing permission: view".to_owned()));

    // The admin sees the new user.
    let users = TestServer::read(s.as_session(&s.admin, Method::GET, "/api/settings/users?search=dev@")).await.json();
    assert_eq!(
        (users["items"][0]["provider"].as_str(), users["items"][0]["roleSource"].as_str()),
        (Some("oidc"), Some("none"))
    );

    // The same code cannot be used twice.
    let res = callback(&s, &back, Some(&flow)).await;
    assert_eq!(res.header("location"), Some("/login?error=provider_error"));

    let res = TestServer::read(
        s.request(Method::POST, "/auth/logout")
            .header("Cookie", format!("allure_hub_session={session}"))
            .header("Origin", &s.base),
    )
    .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res =
        TestServer::read(s.request(Method::GET, "/auth/me").header("Cookie", format!("allure_hub_session={session}")))
            .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_sign_in_started_with_a_hostile_next_ends_at_the_root() {
    let Some((s, _provider)) = setup(&[]).await else { return };
    for next in crate::auth::HOSTILE_NEXT {
        let (authorize, flow) = start(&s, next).await;
        let back = through_provider(&s.client, authorize, &s.base).await;
        let res = callback(&s, &back, Some(&flow)).await;
        assert_eq!((res.status, res.header("location")), (StatusCode::SEE_OTHER, Some("/")), "{next}: {}", res.text);
    }
}

#[tokio::test]
async fn a_callback_without_the_matching_flow_is_refused() {
    let Some((s, _provider)) = setup(&[]).await else { return };
    let (authorize, flow) = start(&s, "/").await;
    let back = through_provider(&s.client, authorize, &s.base).await;

    let res = callback(&s, &replace_param(&back, "state", "forged"), Some(&flow)).await;
    assert_eq!((res.status, res.header("location")), (StatusCode::SEE_OTHER, Some("/login?error=invalid_state")));
    let res = callback(&s, &back, None).await;
    assert_eq!(res.header("location"), Some("/login?error=invalid_state"), "no flow cookie");
    let res = callback(&s, &back, Some("tampered-value")).await;
    assert_eq!(res.header("location"), Some("/login?error=invalid_state"), "a cookie that does not open");
    let denied = format!("{}/auth/oidc/callback?error=access_denied&state={}", s.base, query_value(&back, "state"));
    let res = callback(&s, &denied, Some(&flow)).await;
    assert_eq!(res.header("location"), Some("/login?error=access_denied"));
}

#[tokio::test]
async fn an_id_token_for_another_nonce_is_refused() {
    let Some((s, _provider)) = setup(&[]).await else { return };
    let (authorize, flow) = start(&s, "/").await;
    // The provider is asked for a token bound to another nonce than the one sealed in the flow cookie.
    let forged = replace_param(&authorize, "nonce", "another-nonce");
    let back = through_provider(&s.client, forged, &s.base).await;
    let res = callback(&s, &back, Some(&flow)).await;
    assert_eq!(res.header("location"), Some("/login?error=provider_error"));
}

#[tokio::test]
async fn unverified_emails_are_refused() {
    let Some((s, _provider)) = setup(&[("USER_EMAIL_VERIFIED", "false")]).await else { return };
    let (authorize, flow) = start(&s, "/").await;
    let back = through_provider(&s.client, authorize, &s.base).await;
    let res = callback(&s, &back, Some(&flow)).await;
    assert_eq!(res.header("location"), Some("/login?error=email_unverified"));
}

#[tokio::test]
async fn unknown_or_disabled_providers_are_404() {
    let Some((s, _provider)) = setup(&[]).await else { return };
    for path in ["/auth/google", "/auth/github/callback", "/auth/local"] {
        let res = TestServer::read(s.request(Method::GET, path)).await;
        let id = path.split('/').nth(2).unwrap();
        assert_eq!((res.status, res.error()), (StatusCode::NOT_FOUND, format!("unknown provider {id}")), "{path}");
    }
}

pub(crate) fn query_value(url: &str, name: &str) -> String {
    url.split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_default()
        .to_owned()
}

/// Signs in through the provider and returns the session cookie value.
async fn sign_in(s: &TestServer) -> String {
    let (authorize, flow) = start(s, "/").await;
    let back = through_provider(&s.client, authorize, &s.base).await;
    let res = callback(s, &back, Some(&flow)).await;
    assert_eq!(res.header("location"), Some("/"), "{:?}", res.headers);
    set_cookie(&res.headers, "allure_hub_session").expect("session cookie").0
}

async fn me(s: &TestServer, session: &str) -> Reply {
    TestServer::read(s.request(Method::GET, "/auth/me").header("Cookie", format!("allure_hub_session={session}"))).await
}

#[tokio::test]
async fn a_role_override_revokes_the_users_sessions_and_applies_at_the_next_sign_in() {
    let Some((s, _provider)) = setup(&[]).await else { return };
    let first = sign_in(&s).await;
    let second = sign_in(&s).await;
    assert!(me(&s, &first).await.json()["role"].is_null());

    let path = "/api/settings/users/dev%40example.com/role";
    let res =
        TestServer::read(s.as_session(&s.admin, Method::PATCH, path).json(&serde_json::json!({"role": "developer"})))
            .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    for session in [&first, &second] {
        assert_eq!(me(&s, session).await.status, StatusCode::UNAUTHORIZED, "every session of the user is revoked");
    }
    assert_eq!(me(&s, &s.admin.cookie).await.status, StatusCode::OK, "other users keep theirs");

    let third = sign_in(&s).await;
    let now = me(&s, &third).await.json();
    assert_eq!(
        (now["role"].as_str(), &now["permissions"]),
        (Some("developer"), &serde_json::json!(["view", "upload"]))
    );
    let res = TestServer::read(
        s.request(Method::GET, "/api/environments").header("Cookie", format!("allure_hub_session={third}")),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = TestServer::read(
        s.request(Method::POST, "/api/environments")
            .header("Cookie", format!("allure_hub_session={third}"))
            .header("Origin", &s.base)
            .json(&serde_json::json!({"id": "x", "name": "x"})),
    )
    .await;
    assert_eq!((res.status, res.error()), (StatusCode::FORBIDDEN, "missing permission: manage".to_owned()));
    let res = TestServer::read(
        s.request(Method::GET, "/api/settings/users").header("Cookie", format!("allure_hub_session={third}")),
    )
    .await;
    assert_eq!((res.status, res.error()), (StatusCode::FORBIDDEN, "missing permission: manage".to_owned()));

    // Resetting the override revokes again; the policy (no role) decides at the next sign-in.
    let res = TestServer::read(s.as_session(&s.admin, Method::DELETE, path)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(me(&s, &third).await.status, StatusCode::UNAUTHORIZED);
    let fourth = sign_in(&s).await;
    assert!(me(&s, &fourth).await.json()["role"].is_null());
}

#[tokio::test]
async fn manage_without_the_admin_role_cannot_touch_roles_or_admin_keys() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "roles:\n  admin:\n    permissions: ['*']\n  manager:\n    permissions: [view, manage]\n    members: [Dev@Example.com]\n",
    )
    .unwrap();
    let policy = policy.display().to_string();
    let Some((s, _provider)) = setup_with(&[], &[("AUTH_POLICY_FILE", &policy)]).await else { return };
    let session = sign_in(&s).await;
    let me_now = me(&s, &session).await.json();
    assert_eq!(
        (me_now["role"].as_str(), &me_now["permissions"]),
        (Some("manager"), &serde_json::json!(["view", "manage"]))
    );

    let csrf = me_now["csrfToken"].as_str().unwrap().to_owned();
    let manager = crate::support::Session { cookie: session, csrf };
    let res = TestServer::read(
        s.as_session(&manager, Method::PATCH, "/api/settings/users/x%40y.io/role")
            .json(&serde_json::json!({"role": "admin"})),
    )
    .await;
    assert_eq!((res.status, res.error()), (StatusCode::FORBIDDEN, "admin role required".to_owned()));
    let res = TestServer::read(
        s.as_session(&manager, Method::POST, "/api/settings/apikeys")
            .json(&serde_json::json!({"name": "root", "role": "admin"})),
    )
    .await;
    assert_eq!((res.status, res.error()), (StatusCode::FORBIDDEN, "only admins can create admin keys".to_owned()));
    let res = TestServer::read(
        s.as_session(&manager, Method::POST, "/api/settings/apikeys")
            .json(&serde_json::json!({"name": "ci", "role": "developer"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "a manager may mint non-admin keys");
    let users = TestServer::read(s.as_session(&manager, Method::GET, "/api/settings/users?search=dev")).await.json();
    assert_eq!(users["items"][0]["roleSource"], "policy");
}
