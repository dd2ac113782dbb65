//! The permission matrix, generated from the route table: every route × every kind of principal gets exactly the
//! contract's answer. The expected rules are copied from the contract's route index (§2), independently of the
//! table, so a route added without a rule, or with another rule than the contract's, fails here.

use hub_http::access::Access;
use hub_http::routes::endpoints;
use reqwest::{Method, StatusCode};

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Reply, TestServer, login};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Nobody,
    Key(&'static str),
    RevokedKey,
    AdminSession,
}

fn permissions_of(role: &str) -> &'static [&'static str] {
    match role {
        "admin" => &["view", "upload", "manage"],
        "developer" => &["view", "upload"],
        _ => &["view"],
    }
}

/// The contract's route index (§2): permission and accepted credentials.
const CONTRACT: &[(&str, &str, &str, &str)] = &[
    ("GET", "/api/environments", "view", "any"),
    ("POST", "/api/environments", "manage", "any"),
    ("PATCH", "/api/environments/{envId}", "manage", "any"),
    ("DELETE", "/api/environments/{envId}", "manage", "any"),
    ("GET", "/api/environments/{envId}/projects", "view", "any"),
    ("POST", "/api/environments/{envId}/projects", "manage", "any"),
    ("DELETE", "/api/environments/{envId}/projects/{projectId}", "manage", "any"),
    ("POST", "/api/environments/{envId}/projects/{projectId}/results", "upload", "any"),
    ("POST", "/api/environments/{envId}/projects/{projectId}/uploads", "upload", "any"),
    ("PUT", "/api/environments/{envId}/projects/{projectId}/uploads/{uploadId}", "upload", "any"),
    ("GET", "/api/environments/{envId}/projects/{projectId}/uploads/{uploadId}", "view", "any"),
    ("POST", "/api/environments/{envId}/projects/{projectId}/uploads/{uploadId}/complete", "upload", "any"),
    ("GET", "/api/environments/{envId}/projects/{projectId}/reports", "view", "any"),
    ("POST", "/api/environments/{envId}/projects/{projectId}/reports", "upload", "any"),
    ("GET", "/api/environments/{envId}/projects/{projectId}/reports/stats", "view", "any"),
    ("GET", "/api/environments/{envId}/projects/{projectId}/reports/{buildId}", "view", "any"),
    ("DELETE", "/api/environments/{envId}/projects/{projectId}/reports/{buildId}", "manage", "any"),
    ("GET", "/api/uploads", "view", "any"),
    ("GET", "/api/uploads/stream", "view", "any"),
    ("DELETE", "/api/uploads/{id}", "manage", "any"),
    ("GET", "/api/notifications", "view", "any"),
    ("GET", "/api/notifications/stream", "view", "any"),
    ("GET", "/api/notifications/unread", "view", "any"),
    ("PATCH", "/api/notifications/{id}/read", "view", "any"),
    ("POST", "/api/notifications/read", "view", "any"),
    ("DELETE", "/api/notifications/{id}", "view", "any"),
    ("GET", "/api/overview", "view", "any"),
    ("GET", "/api/healthz", "-", "public"),
    ("GET", "/api/openapi.json", "-", "public"),
    ("GET", "/api/docs", "-", "public"),
    // Not a row of §2: the assets of the docs page, which §15.2 says the server serves itself.
    ("GET", "/api/docs/{file}", "-", "public"),
    ("GET", "/api/version", "-", "public"),
    // Not a row of §2: the nodes sharing the database (issue 18), for operators like the other manage routes.
    ("GET", "/api/nodes", "manage", "any"),
    ("GET", "/api/settings/apikeys", "manage", "session"),
    ("POST", "/api/settings/apikeys", "manage", "session"),
    ("DELETE", "/api/settings/apikeys/{id}", "manage", "session"),
    ("GET", "/api/settings/users", "manage", "session"),
    ("PATCH", "/api/settings/users/{email}/role", "manage", "session-admin"),
    ("DELETE", "/api/settings/users/{email}/role", "manage", "session-admin"),
    ("GET", "/api/settings/disk", "manage", "session"),
    ("GET", "/api/settings/disk/notification-threshold", "manage", "session"),
    ("PUT", "/api/settings/disk/notification-threshold", "manage", "session"),
    ("GET", "/api/settings/allure", "manage", "session"),
    ("PUT", "/api/settings/allure", "manage", "session-admin"),
    ("GET", "/api/settings/retention", "manage", "session"),
    ("PUT", "/api/settings/retention", "manage", "session"),
    ("GET", "/api/settings/retention/runs", "manage", "session"),
    ("POST", "/api/settings/retention/run", "manage", "session"),
    ("GET", "/auth/providers", "-", "public"),
    ("POST", "/auth/login", "-", "public"),
    ("POST", "/auth/logout", "-", "optional-session"),
    ("GET", "/auth/me", "-", "signed-in"),
    ("GET", "/auth/{provider}", "-", "public"),
    ("GET", "/auth/{provider}/callback", "-", "public"),
];

fn contract_rule(method: &str, path: &str) -> Access {
    let Some((_, _, permission, auth)) = CONTRACT.iter().find(|(m, p, _, _)| *m == method && *p == path) else {
        panic!("{method} {path} is not in the contract's route index (or this copy of it)");
    };
    let permission = permission.parse().ok();
    match (*auth, permission) {
        ("public", None) => Access::Public,
        ("any", Some(p)) => Access::Any(p),
        ("session", Some(p)) => Access::Session(p),
        ("session-admin", Some(p)) => Access::SessionAdmin(p),
        ("signed-in", None) => Access::SignedIn,
        ("optional-session", None) => Access::OptionalSession,
        other => panic!("bad contract row {other:?}"),
    }
}

#[test]
fn the_route_table_declares_exactly_the_contracts_rules() {
    let table = endpoints();
    for e in &table {
        assert_eq!(e.access, contract_rule(e.method.as_str(), e.path), "{} {}", e.method, e.path);
    }
    assert_eq!(table.len(), CONTRACT.len(), "every contract row is served");
}

/// `None` means "allowed": any answer but 401 and 403.
fn expected(access: Access, who: Who) -> Option<(StatusCode, String)> {
    let unauthenticated = Some((StatusCode::UNAUTHORIZED, "not authenticated".to_owned()));
    match (access, who) {
        (Access::Public, _) => None,
        (Access::OptionalSession, _) => None,
        (_, Who::Nobody) => unauthenticated,
        (Access::SignedIn, Who::Key(_) | Who::RevokedKey) => unauthenticated,
        (_, Who::RevokedKey) => Some((StatusCode::UNAUTHORIZED, "invalid API key".to_owned())),
        (Access::Session(_) | Access::SessionAdmin(_), Who::Key(_)) => {
            Some((StatusCode::FORBIDDEN, "settings require a browser session".to_owned()))
        }
        (Access::Any(p), Who::Key(role)) if !permissions_of(role).contains(&p.as_str()) => {
            Some((StatusCode::FORBIDDEN, format!("missing permission: {p}")))
        }
        _ => None,
    }
}

fn concrete(path: &str) -> String {
    path.replace("{envId}", "default")
        .replace("{projectId}", "p")
        .replace("{id}", "01JR8X7Q2M5N9P3V4W6Y8Z0ABC")
        .replace("{uploadId}", "01JR8X7Q2M5N9P3V4W6Y8Z0ABC")
        .replace("{email}", "someone%40example.com")
        .replace("{provider}", "oidc")
}

async fn send(s: &TestServer, who: Who, keys: &Keys, method: &Method, path: &str) -> Reply {
    let mut req = match who {
        Who::AdminSession => {
            // A fresh session each time: the matrix includes sign-out, which ends the session it is sent with.
            let session = login(&s.client, &s.base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
            s.as_session(&session, method.clone(), path)
        }
        Who::Nobody => s.request(method.clone(), path),
        Who::RevokedKey => s.request(method.clone(), path).bearer_auth(&keys.revoked),
        Who::Key(role) => s.request(method.clone(), path).bearer_auth(keys.of(role)),
    };
    if matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        req = req.json(&serde_json::json!({}));
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    // An allowed event stream never ends: its status and headers are the answer.
    let streaming = headers.get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let text = if streaming { String::new() } else { res.text().await.unwrap() };
    Reply { status, headers, text }
}

struct Keys {
    viewer: String,
    developer: String,
    admin: String,
    revoked: String,
}

impl Keys {
    fn of(&self, role: &str) -> &str {
        match role {
            "admin" => &self.admin,
            "developer" => &self.developer,
            _ => &self.viewer,
        }
    }
}

#[tokio::test]
async fn every_route_answers_every_principal_as_the_contract_says() {
    // The Allure settings ask the npm registry: a local stand-in keeps the public one out of the test.
    let registry = hub_test_support::npm::FakeRegistry::start(&[]).await;
    let s = TestServer::sqlite_with(&[("NPM_REGISTRY_URL", &registry.url)]).await;
    let revoked = s.key_with_role("to-revoke", "viewer").await;
    let listed = TestServer::read(s.as_session(&s.admin, Method::GET, "/api/settings/apikeys?search=to-revoke")).await;
    let id = listed.json()["items"][0]["id"].as_str().unwrap().to_owned();
    let revoke = s.as_session(&s.admin, Method::DELETE, &format!("/api/settings/apikeys/{id}"));
    assert_eq!(TestServer::read(revoke).await.status, StatusCode::NO_CONTENT);
    let keys = Keys {
        viewer: s.key_with_role("viewer", "viewer").await,
        developer: s.key_with_role("developer", "developer").await,
        admin: s.key_with_role("admin", "admin").await,
        revoked,
    };
    let principals =
        [Who::Nobody, Who::Key("viewer"), Who::Key("developer"), Who::Key("admin"), Who::RevokedKey, Who::AdminSession];
    let mut checked = 0;
    for e in endpoints() {
        let method = Method::from_bytes(e.method.as_str().as_bytes()).unwrap();
        let path = concrete(e.path);
        let rule = contract_rule(e.method.as_str(), e.path);
        for who in principals {
            let res = send(&s, who, &keys, &method, &path).await;
            match expected(rule, who) {
                Some((status, message)) => {
                    assert_eq!((res.status, res.error()), (status, message), "{who:?} {method} {path}");
                }
                None => assert!(
                    res.status != StatusCode::UNAUTHORIZED && res.status != StatusCode::FORBIDDEN,
                    "{who:?} {method} {path} was refused: {} {}",
                    res.status,
                    res.text
                ),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, endpoints().len() * principals.len());
}

/// The original system's API reference documents `role` as optional, defaulting to `developer`: its clients send
/// keys without one.
#[tokio::test]
async fn a_key_created_without_a_role_is_a_developer_key() {
    let s = TestServer::sqlite().await;
    for (name, body) in [
        ("no-role", serde_json::json!({"name": "no-role"})),
        ("null-role", serde_json::json!({"name": "null-role", "role": null})),
    ] {
        let res = TestServer::read(s.as_session(&s.admin, Method::POST, "/api/settings/apikeys").json(&body)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{name}: {}", res.text);
        let created = res.json();
        assert_eq!(created["role"], "developer", "{created}");
        let key = created["key"].as_str().unwrap();
        let listed =
            TestServer::read(s.as_session(&s.admin, Method::GET, &format!("/api/settings/apikeys?search={name}")))
                .await
                .json();
        assert_eq!(listed["items"][0]["role"], "developer", "{listed}");
        // It reads and uploads (a missing project is a 404, past the permission check), and cannot manage.
        let read = TestServer::read(s.request(Method::GET, "/api/environments").bearer_auth(key)).await;
        assert_eq!(read.status, StatusCode::OK);
        let upload = TestServer::read(
            s.request(Method::POST, "/api/environments/default/projects/none/results?buildId=b1")
                .bearer_auth(key)
                .header("Content-Type", "application/zip")
                .body(vec![0u8; 4]),
        )
        .await;
        assert_eq!(upload.status, StatusCode::NOT_FOUND, "{}", upload.text);
        let manage = TestServer::read(
            s.request(Method::POST, "/api/environments")
                .bearer_auth(key)
                .json(&serde_json::json!({"id": "x", "name": "X"})),
        )
        .await;
        assert_eq!((manage.status, manage.error()), (StatusCode::FORBIDDEN, "missing permission: manage".to_owned()));
    }
    // A role that is given must still be one of the three.
    let res = TestServer::read(
        s.as_session(&s.admin, Method::POST, "/api/settings/apikeys")
            .json(&serde_json::json!({"name": "x", "role": ""})),
    )
    .await;
    assert_eq!(
        (res.status, res.error()),
        (StatusCode::BAD_REQUEST, "role must be one of admin, developer, viewer".to_owned())
    );
}
