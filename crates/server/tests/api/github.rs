//! Sign-in with GitHub (plain OAuth 2.0, not OpenID Connect) against a GitHub-compatible server on loopback.
//!
//! GitHub itself cannot run here, so the test serves the four endpoints the hub uses, with GitHub's documented
//! behaviour: `/login/oauth/authorize` (redirect with `code` and `state`), `/login/oauth/access_token` (client
//! secret, single-use code and PKCE S256 checked; errors answered as 200 with an `error` field, as GitHub does),
//! `/user` and `/user/emails` (bearer token and `User-Agent` required). The hub is pointed at it with
//! `GITHUB_URL` and `GITHUB_API_URL`, the variables a GitHub Enterprise Server set-up uses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest;

use crate::oidc::{callback, free_port, query_value, set_cookie};
use crate::support::TestServer;

const CLIENT_ID: &str = "gh-client";
const CLIENT_SECRET: &str = "gh-secret";
const ACCESS_TOKEN: &str = "gho_test_token";

/// What the fake GitHub remembers between the browser's visit and the hub's token request.
#[derive(Default)]
struct GithubState {
    /// code → (PKCE challenge, redirect URI)
    codes: HashMap<String, (String, String)>,
    next_code: u32,
    emails: Value,
}

type Shared = Arc<Mutex<GithubState>>;

async fn authorize(state: web::Data<Shared>, query: web::Query<HashMap<String, String>>) -> HttpResponse {
    let q = query.into_inner();
    let param = |name: &str| q.get(name).cloned().unwrap_or_default();
    let scopes: Vec<String> = param("scope").split(' ').map(str::to_owned).collect();
    if param("client_id") != CLIENT_ID
        || param("code_challenge_method") != "S256"
        || param("response_type") != "code"
        || !scopes.iter().any(|s| s == "read:user")
        || !scopes.iter().any(|s| s == "user:email")
    {
        return HttpResponse::BadRequest().body(format!("bad authorization request: {q:?}"));
    }
    let mut state = state.lock().unwrap();
    state.next_code += 1;
    let code = format!("code-{}", state.next_code);
    state.codes.insert(code.clone(), (param("code_challenge"), param("redirect_uri")));
    let location = format!("{}?code={code}&state={}", param("redirect_uri"), param("state"));
    HttpResponse::Found().insert_header(("Location", location)).finish()
}

async fn access_token(
    state: web::Data<Shared>,
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let f = form.into_inner();
    let param = |name: &str| f.get(name).cloned().unwrap_or_default();
    let accepts_json = req.headers().get("accept").and_then(|v| v.to_str().ok()) == Some("application/json");
    let grant = state.lock().unwrap().codes.remove(&param("code"));
    let error = match grant {
        _ if !accepts_json => Some("the hub must ask for JSON"),
        _ if param("client_id") != CLIENT_ID || param("client_secret") != CLIENT_SECRET => {
            Some("incorrect_client_credentials")
        }
        None => Some("bad_verification_code"),
        Some((challenge, redirect)) => {
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(param("code_verifier").as_bytes()));
            if computed != challenge || redirect != param("redirect_uri") {
                Some("bad_verification_code")
            } else {
                None
            }
        }
    };
    match error {
        // GitHub answers token errors with 200 and an `error` field.
        Some(error) => HttpResponse::Ok().json(json!({"error": error})),
        None => HttpResponse::Ok()
            .json(json!({"access_token": ACCESS_TOKEN, "token_type": "bearer", "scope": "read:user,user:email"})),
    }
}

fn authorized(req: &HttpRequest) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    header("authorization") == format!("Bearer {ACCESS_TOKEN}") && !header("user-agent").is_empty()
}

async fn user(req: HttpRequest) -> HttpResponse {
    if !authorized(&req) {
        return HttpResponse::Unauthorized().json(json!({"message": "Bad credentials"}));
    }
    HttpResponse::Ok().json(json!({
        "login": "octocat",
        "id": 1,
        "name": "The Octocat",
        "avatar_url": "https://avatars.example.com/u/583231",
        "email": null
    }))
}

async fn user_emails(state: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    if !authorized(&req) {
        return HttpResponse::Unauthorized().json(json!({"message": "Bad credentials"}));
    }
    let emails = state.lock().unwrap().emails.clone();
    HttpResponse::Ok().json(emails)
}

/// Starts the GitHub stand-in on port 0; returns its root URL.
fn start_github(emails: Value) -> String {
    let state: Shared = Arc::new(Mutex::new(GithubState { emails, ..GithubState::default() }));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(Arc::clone(&state)))
            .route("/login/oauth/authorize", web::get().to(authorize))
            .route("/login/oauth/access_token", web::post().to(access_token))
            .route("/api/v3/user", web::get().to(user))
            .route("/api/v3/user/emails", web::get().to(user_emails))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    format!("http://127.0.0.1:{port}")
}

fn verified_primary() -> Value {
    json!([
        {"email": "octo@old.example.com", "primary": false, "verified": true, "visibility": null},
        {"email": "Octo@Example.com", "primary": true, "verified": true, "visibility": "private"}
    ])
}

/// A hub with GitHub sign-in pointed at the stand-in.
async fn setup(emails: Value, secret: &str) -> TestServer {
    let github = start_github(emails);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let addr = format!("127.0.0.1:{port}");
    TestServer::sqlite_with(&[
        ("ADDR", addr.as_str()),
        ("BASE_URL", base.as_str()),
        ("GITHUB_CLIENT_ID", CLIENT_ID),
        ("GITHUB_CLIENT_SECRET", secret),
        ("GITHUB_URL", github.as_str()),
        ("GITHUB_API_URL", &format!("{github}/api/v3")),
    ])
    .await
}

/// Starts a sign-in at the hub and lets the stand-in approve it: the callback URL and the flow cookie.
async fn approved(s: &TestServer) -> (String, String) {
    approved_with_next(s, "/uploads").await
}

/// [`approved`] for a sign-in started with `next` (as written in the query).
async fn approved_with_next(s: &TestServer, next: &str) -> (String, String) {
    let res = TestServer::read(s.request(Method::GET, &format!("/auth/github?next={next}"))).await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.text);
    let (flow, _) = set_cookie(&res.headers, "allure_hub_oauth").expect("flow cookie");
    let authorize = res.header("location").unwrap().to_owned();
    assert!(authorize.contains("/login/oauth/authorize?"), "{authorize}");
    assert_eq!(
        query_value(&authorize, "redirect_uri"),
        format!("{}/auth/github/callback", s.base).replace(':', "%3A").replace('/', "%2F")
    );
    let res = s.client.get(&authorize).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND, "{}", res.text().await.unwrap());
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&s.base), "{back}");
    (back, flow)
}

#[tokio::test]
async fn github_sign_in_uses_the_primary_verified_email() {
    let s = setup(verified_primary(), CLIENT_SECRET).await;
    let providers = TestServer::read(s.request(Method::GET, "/auth/providers")).await.json();
    assert_eq!(providers[0], json!({"id": "github", "name": "GitHub", "kind": "oauth"}));

    let (back, flow) = approved(&s).await;
    let res = callback(&s, &back, Some(&flow)).await;
    assert_eq!((res.status, res.header("location")), (StatusCode::SEE_OTHER, Some("/uploads")), "{}", res.text);
    let (session, _) = set_cookie(&res.headers, "allure_hub_session").expect("session cookie");
    let me =
        TestServer::read(s.request(Method::GET, "/auth/me").header("Cookie", format!("allure_hub_session={session}")))
            .await
            .json();
    assert_eq!(
        (me["email"].as_str(), me["provider"].as_str(), me["name"].as_str(), me["avatarUrl"].as_str()),
        (Some("octo@example.com"), Some("github"), Some("The Octocat"), Some("https://avatars.example.com/u/583231"))
    );

    // A code is good once.
    let res = callback(&s, &back, Some(&flow)).await;
    assert_eq!(res.header("location"), Some("/login?error=provider_error"));
}

#[tokio::test]
async fn github_accounts_without_a_verified_primary_email_are_refused() {
    let unverified = json!([{"email": "octo@example.com", "primary": true, "verified": false, "visibility": null}]);
    let s = setup(unverified, CLIENT_SECRET).await;
    let (back, flow) = approved(&s).await;
    let res = callback(&s, &back, Some(&flow)).await;
    assert_eq!(res.header("location"), Some("/login?error=email_unverified"));

    let s = setup(json!([]), CLIENT_SECRET).await;
    let (back, flow) = approved(&s).await;
    let res = callback(&s, &back, Some(&flow)).await;
    assert_eq!(res.header("location"), Some("/login?error=email_missing"), "no email at all");
}

#[tokio::test]
async fn a_refused_github_token_exchange_is_a_provider_error() {
    let s = setup(verified_primary(), "wrong-secret").await;
    let (back, flow) = approved(&s).await;
    let res = callback(&s, &back, Some(&flow)).await;
    assert_eq!(res.header("location"), Some("/login?error=provider_error"));
}

#[tokio::test]
async fn a_github_sign_in_started_with_a_hostile_next_ends_at_the_root() {
    let s = setup(verified_primary(), CLIENT_SECRET).await;
    for next in crate::auth::HOSTILE_NEXT {
        let (back, flow) = approved_with_next(&s, next).await;
        let res = callback(&s, &back, Some(&flow)).await;
        assert_eq!((res.status, res.header("location")), (StatusCode::SEE_OTHER, Some("/")), "{next}: {}", res.text);
        assert!(set_cookie(&res.headers, "allure_hub_session").is_some(), "{next}: signed in all the same");
    }
    let (back, flow) = approved_with_next(&s, crate::auth::LOCAL_NEXT.0).await;
    let res = callback(&s, &back, Some(&flow)).await;
    assert_eq!(res.header("location"), Some(crate::auth::LOCAL_NEXT.1));
}
