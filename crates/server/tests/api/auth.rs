//! §14 sign-in and §13.1–13.2 keys and users, end to end.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestServer, assert_timestamp, login, session_cookie_of};

fn login_request(s: &TestServer, email: &str, password: &str) -> reqwest::RequestBuilder {
    s.request(Method::POST, "/auth/login").json(&json!({"email": email, "password": password}))
}

#[tokio::test]
async fn local_sign_in_returns_me_and_a_session_cookie() {
    let s = TestServer::sqlite().await;
    let res = TestServer::read(login_request(&s, " Admin@LOCALHOST ", ADMIN_PASSWORD)).await;
    assert_eq!(res.status, StatusCode::OK);
    let cookie_header = res.headers.get("set-cookie").unwrap().to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(cookie_header.contains(attribute), "{cookie_header}");
    }
    assert!(!cookie_header.contains("Secure"), "no Secure without https");
    let me = res.json();
    assert_eq!(me.as_object().unwrap().len(), 8, "{me}");
    assert_eq!(
        (me["email"].as_str(), me["provider"].as_str(), me["role"].as_str()),
        (Some(ADMIN_EMAIL), Some("local"), Some("admin"))
    );
    assert_eq!(me["name"], "admin");
    assert!(me["avatarUrl"].is_null());
    assert_eq!(me["permissions"], json!(["view", "upload", "manage"]));
    assert_timestamp(&me["sessionExpiresAt"]);

    let cookie = session_cookie_of(&res.headers).unwrap();
    let res =
        TestServer::read(s.request(Method::GET, "/auth/me").header("Cookie", format!("allure_hub_session={cookie}")))
            .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json(), me);
}

#[tokio::test]
async fn wrong_credentials_are_indistinguishable() {
    let s = TestServer::sqlite().await;
    for (email, password) in [(ADMIN_EMAIL, "wrong"), ("nobody@example.com", ADMIN_PASSWORD), ("not an email", "x")] {
        let res = TestServer::read(login_request(&s, email, password)).await;
        assert_eq!((res.status, res.error()), (StatusCode::UNAUTHORIZED, "invalid email or password".to_owned()));
        assert!(session_cookie_of(&res.headers).is_none());
    }
    for (body, message) in [
        (json!({"password": "x"}), "email is required"),
        (json!({"email": "a@b"}), "password is required"),
        (json!({"email": "a@b", "password": "p".repeat(1025)}), "password must be at most 1024 characters"),
    ] {
        let res = TestServer::read(s.request(Method::POST, "/auth/login").json(&body)).await;
        assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, message.to_owned()));
    }
}

#[tokio::test]
async fn repeated_failures_are_slowed_down_per_client_and_email() {
    let s = TestServer::sqlite().await;
    for _ in 0..10 {
        assert_eq!(TestServer::read(login_request(&s, ADMIN_EMAIL, "wrong")).await.status, StatusCode::UNAUTHORIZED);
    }
    let res = TestServer::read(login_request(&s, ADMIN_EMAIL, ADMIN_PASSWORD)).await;
    assert_eq!((res.status, res.error()), (StatusCode::TOO_MANY_REQUESTS, "too many failed login attempts".to_owned()));
    let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Another email from the same client is not affected.
    let res = TestServer::read(login_request(&s, "someone@example.com", "x")).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_out_revokes_the_session_and_expires_the_cookie() {
    let s = TestServer::sqlite().await;
    let session = login(&s.client, &s.base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let res = TestServer::read(s.as_session(&session, Method::POST, "/auth/logout")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert!(res.header("set-cookie").unwrap().contains("Max-Age=0"));
    let res = TestServer::read(s.as_session(&session, Method::GET, "/auth/me")).await;
    assert_eq!((res.status, res.error()), (StatusCode::UNAUTHORIZED, "not authenticated".to_owned()));
    let res = TestServer::read(s.as_session(&session, Method::GET, "/api/environments")).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "a revoked session is like no cookie");
    // Without any session, sign-out still answers 204 and expires the cookie.
    let res = TestServer::read(s.request(Method::POST, "/auth/logout")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn cookie_authenticated_changes_need_same_origin_proof() {
    let s = TestServer::sqlite().await;
    let cookie = format!("allure_hub_session={}", s.admin.cookie);
    let create = |id: &str| {
        s.request(Method::POST, "/api/environments").header("Cookie", &cookie).json(&json!({"id": id, "name": id}))
    };

    let res = TestServer::read(create("a")).await;
    assert_eq!((res.status, res.error()), (StatusCode::FORBIDDEN, "cross-site request rejected".to_owned()));
    let res = TestServer::read(create("b").header("Origin", "https://evil.example")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = TestServer::read(create("c").header("X-CSRF-Token", "not-the-token")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    assert_eq!(TestServer::read(create("d").header("Origin", &s.base)).await.status, StatusCode::CREATED);
    let referer = format!("{}/environments", s.base);
    assert_eq!(TestServer::read(create("e").header("Referer", referer)).await.status, StatusCode::CREATED);
    assert_eq!(TestServer::read(create("f").header("X-CSRF-Token", &s.admin.csrf)).await.status, StatusCode::CREATED);
    // Reads need no proof, and API keys are exempt.
    let res = TestServer::read(s.request(Method::GET, "/api/environments").header("Cookie", &cookie)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(s.post("/api/environments", json!({"id": "g", "name": "g"})).await.status, StatusCode::CREATED);
    // Sign-in from a foreign page is refused; scripts without Origin may sign in.
    let res =
        TestServer::read(login_request(&s, ADMIN_EMAIL, ADMIN_PASSWORD).header("Origin", "https://evil.example")).await;
    assert_eq!((res.status, res.error()), (StatusCode::FORBIDDEN, "cross-site request rejected".to_owned()));
}

#[tokio::test]
async fn api_keys_are_shown_once_listed_without_secrets_and_revocable() {
    let s = TestServer::sqlite().await;
    let res = TestServer::read(
        s.as_session(&s.admin, Method::POST, "/api/settings/apikeys")
            .json(&json!({"name": "  ci-pipeline ", "role": "developer", "autoCreate": true})),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let created = res.json();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("ah_") && key.len() == 67 && key[3..].bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    assert_eq!(created["prefix"], key[..11]);
    assert_eq!((created["name"].as_str(), created["role"].as_str()), (Some("ci-pipeline"), Some("developer")));

    // The key works, and its use is recorded.
    let res = TestServer::read(s.request(Method::GET, "/api/environments").header("X-API-Key", &key)).await;
    assert_eq!(res.status, StatusCode::OK);
    let list =
        TestServer::read(s.as_session(&s.admin, Method::GET, "/api/settings/apikeys?search=CI-pipe")).await.json();
    assert_eq!(list["total"], 1);
    let item = &list["items"][0];
    assert_eq!(item.as_object().unwrap().len(), 9, "{item}");
    assert!(!list.to_string().contains(&key[11..]), "no secret in lists");
    assert_eq!((item["createdBy"].as_str(), item["autoCreate"].as_bool()), (Some(ADMIN_EMAIL), Some(true)));
    assert_timestamp(&item["lastUsedAt"]);
    assert!(item["revokedAt"].is_null());

    let res = TestServer::read(
        s.as_session(&s.admin, Method::POST, "/api/settings/apikeys")
            .json(&json!({"name": "CI-PIPELINE", "role": "viewer"})),
    )
    .await;
    assert_eq!(
        (res.status, res.error()),
        (StatusCode::CONFLICT, "an active API key named CI-PIPELINE already exists".to_owned())
    );

    let id = item["id"].as_str().unwrap();
    let res = TestServer::read(s.as_session(&s.admin, Method::DELETE, &format!("/api/settings/apikeys/{id}"))).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = TestServer::read(s.request(Method::GET, "/api/environments").bearer_auth(&key)).await;
    assert_eq!((res.status, res.error()), (StatusCode::UNAUTHORIZED, "invalid API key".to_owned()));
    let list =
        TestServer::read(s.as_session(&s.admin, Method::GET, "/api/settings/apikeys?search=ci-pipeline")).await.json();
    assert_timestamp(&list["items"][0]["revokedAt"]);
    let res =
        TestServer::read(s.as_session(&s.admin, Method::DELETE, &format!("/api/settings/apikeys/{id}?action=delete")))
            .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res =
        TestServer::read(s.as_session(&s.admin, Method::DELETE, &format!("/api/settings/apikeys/{id}?action=delete")))
            .await;
    assert_eq!((res.status, res.error()), (StatusCode::NOT_FOUND, format!("API key {id} not found")));
}

#[tokio::test]
async fn api_key_requests_are_validated() {
    let s = TestServer::sqlite().await;
    for (body, message) in [
        (json!({"role": "viewer"}), "name is required"),
        (json!({"name": "n".repeat(65), "role": "viewer"}), "name must be at most 64 characters"),
        (json!({"name": "x", "role": "owner"}), "role must be one of admin, developer, viewer"),
        (json!({"name": "x", "role": "viewer", "autoCreate": "yes"}), "autoCreate must be a boolean"),
    ] {
        let res = TestServer::read(s.as_session(&s.admin, Method::POST, "/api/settings/apikeys").json(&body)).await;
        assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, message.to_owned()), "{body}");
    }
    for (query, message) in [
        ("limit=0", "invalid limit: must be an integer between 1 and 100"),
        ("limit=101", "invalid limit: must be an integer between 1 and 100"),
        ("offset=-1", "invalid offset: must be a non-negative integer"),
    ] {
        let res =
            TestServer::read(s.as_session(&s.admin, Method::GET, &format!("/api/settings/apikeys?{query}"))).await;
        assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, message.to_owned()), "{query}");
    }
    let res = TestServer::read(s.as_session(&s.admin, Method::DELETE, "/api/settings/apikeys/nope")).await;
    assert_eq!(res.error(), "invalid id");
    let res = TestServer::read(s.as_session(
        &s.admin,
        Method::DELETE,
        "/api/settings/apikeys/01JR8X7Q2M5N9P3V4W6Y8Z0ABC?action=burn",
    ))
    .await;
    assert_eq!(res.error(), "invalid action: must be revoke or delete");
}

#[tokio::test]
async fn users_are_listed_with_their_roles_and_overrides_are_checked() {
    let s = TestServer::sqlite().await;
    let list = TestServer::read(s.as_session(&s.admin, Method::GET, "/api/settings/users")).await.json();
    assert_eq!(list["total"], 1);
    let admin = &list["items"][0];
    assert_eq!(admin.as_object().unwrap().len(), 8, "{admin}");
    assert_eq!(
        (admin["email"].as_str(), admin["role"].as_str(), admin["roleSource"].as_str()),
        (Some(ADMIN_EMAIL), Some("admin"), Some("override"))
    );
    assert_eq!(admin["provider"], "local");

    let path = "/api/settings/users/admin%40localhost/role";
    let res = TestServer::read(s.as_session(&s.admin, Method::PATCH, path).json(&json!({"role": "viewer"}))).await;
    assert_eq!((res.status, res.error()), (StatusCode::CONFLICT, "you cannot change your own role".to_owned()));
    let res = TestServer::read(s.as_session(&s.admin, Method::DELETE, path)).await;
    assert_eq!(res.status, StatusCode::CONFLICT);

    let other = "/api/settings/users/New.Person%40Example.com/role";
    let res = TestServer::read(s.as_session(&s.admin, Method::PATCH, other).json(&json!({"role": "owner"}))).await;
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, "unknown role owner".to_owned()));
    let res = TestServer::read(s.as_session(&s.admin, Method::PATCH, other).json(&json!({}))).await;
    assert_eq!(res.error(), "role is required");
    let res = TestServer::read(s.as_session(&s.admin, Method::PATCH, other).json(&json!({"role": "developer"}))).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "access can be granted before a first sign-in");
    let res = TestServer::read(s.as_session(&s.admin, Method::DELETE, other)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = TestServer::read(s.as_session(&s.admin, Method::DELETE, other)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "idempotent");
    let res = TestServer::read(s.as_session(&s.admin, Method::DELETE, "/api/settings/users/nobody/role")).await;
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, "invalid email".to_owned()));
}

#[tokio::test]
async fn providers_list_the_enabled_methods() {
    let s = TestServer::sqlite().await;
    let res = TestServer::read(s.request(Method::GET, "/auth/providers")).await;
    assert_eq!(res.json(), json!([{"id": "local", "name": "Email and password", "kind": "local"}]));
}

/// The running server re-reads the policy file (every 30 s) and applies it to the next request, without a restart.
#[tokio::test]
async fn a_changed_policy_file_applies_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    let policy =
        |viewer: &str| format!("roles:\n  admin:\n    permissions: ['*']\n  viewer:\n    permissions: [{viewer}]\n");
    std::fs::write(&path, policy("view")).unwrap();
    let s = TestServer::sqlite_with(&[("AUTH_POLICY_FILE", path.to_str().unwrap())]).await;
    let key = s.key_with_role("reader", "viewer").await;
    let list = || TestServer::read(s.request(Method::GET, "/api/environments").bearer_auth(&key));
    assert_eq!(list().await.status, StatusCode::OK);

    // Replace the file atomically, as an editor or a config-map update does.
    let staged = dir.path().join("policy.yaml.new");
    std::fs::write(&staged, policy("upload")).unwrap();
    std::fs::rename(&staged, &path).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(45);
    loop {
        let res = list().await;
        if res.status == StatusCode::FORBIDDEN {
            assert_eq!(res.error(), "missing permission: view");
            break;
        }
        assert_eq!(res.status, StatusCode::OK);
        assert!(std::time::Instant::now() < deadline, "the new policy was not applied within 45 s");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// `next` values a browser would follow to another host, written as they appear in a query (percent-encoded):
/// controls that URL parsing drops (tab, newline), other controls and Unicode spaces, backslashes that read as
/// slashes, dot segments that resolve to `//`, and plain protocol-relative and absolute URLs.
pub(crate) const HOSTILE_NEXT: &[&str] = &[
    "/%09/evil.example/x",
    "/%0a/evil.example/x",
    "/%0d%0a/evil.example/x",
    "/%00/evil.example/x",
    "/%7f/evil.example/x",
    "/%C2%85/evil.example/x",
    "/%E2%80%A8/evil.example/x",
    "%20//evil.example/x",
    "/%20/evil.example/x",
    "/%5Cevil.example/x",
    "%5C/evil.example/x",
    "/%5C/evil.example/x",
    "//evil.example/x",
    "/.//evil.example/x",
    "/..//evil.example/x",
    "/%252e//evil.example/x",
    "https://evil.example/x",
];

/// A legitimate `next` (a page with a query), encoded as the sign-in redirect encodes it, and the path it names.
pub(crate) const LOCAL_NEXT: (&str, &str) = ("/environments/default%3Fy%3D1", "/environments/default?y=1");

#[tokio::test]
async fn signed_in_the_sign_in_page_sends_on_only_to_paths_of_this_origin() {
    let s = TestServer::sqlite().await;
    let visit = |next: &str| TestServer::read(s.as_session(&s.admin, Method::GET, &format!("/login?next={next}")));
    for next in HOSTILE_NEXT {
        let res = visit(next).await;
        assert_eq!((res.status, res.header("location")), (StatusCode::SEE_OTHER, Some("/")), "{next}: {}", res.text);
    }
    let res = visit(LOCAL_NEXT.0).await;
    assert_eq!((res.status, res.header("location")), (StatusCode::SEE_OTHER, Some(LOCAL_NEXT.1)));
    // Dot segments are resolved as the browser would, so the target sent is the one checked.
    let res = visit("/environments/x/../default").await;
    assert_eq!(res.header("location"), Some("/environments/default"));
}

#[tokio::test]
async fn signed_out_the_sign_in_page_hands_its_form_and_links_only_checked_paths() {
    // GitHub sign-in is enabled for its link; nothing here talks to it.
    let github = [("GITHUB_CLIENT_ID", "id"), ("GITHUB_CLIENT_SECRET", "secret"), ("BASE_URL", "http://127.0.0.1:1")];
    let s = TestServer::sqlite_with(&github).await;
    for next in HOSTILE_NEXT {
        let res = TestServer::read(s.request(Method::GET, &format!("/login?next={next}"))).await;
        assert_eq!(res.status, StatusCode::OK, "{next}: {}", res.text);
        assert!(res.text.contains(r#"data-next="/""#), "{next}: {}", res.text);
        assert!(res.text.contains(r#"href="/auth/github?next=/""#), "{next}: {}", res.text);
        assert!(!res.text.contains("evil.example"), "{next}: {}", res.text);
    }
    let res = TestServer::read(s.request(Method::GET, &format!("/login?next={}", LOCAL_NEXT.0))).await;
    assert!(res.text.contains(r#"data-next="/environments/default?y=1""#), "{}", res.text);
    assert!(res.text.contains(r#"href="/auth/github?next=/environments/default%3Fy%3D1""#), "{}", res.text);
}
