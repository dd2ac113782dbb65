//! Conventions every route shares (§1): credentials, unknown routes and methods, body limits, error precedence,
//! request ids and headers. HTTP behaviour does not depend on the database, so these run on SQLite.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::TestServer;

#[tokio::test]
async fn an_api_key_is_accepted_in_either_header() {
    let s = TestServer::sqlite().await;
    let res = TestServer::read(s.request(Method::GET, "/api/environments").header("X-API-Key", &s.key)).await;
    assert_eq!(res.status, StatusCode::OK);
    // A proxy's Basic credentials do not hide the API key header.
    let res = TestServer::read(
        s.request(Method::GET, "/api/environments").header("Authorization", "Basic dTpw").header("X-API-Key", &s.key),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_paths_are_404_json_and_paths_match_exactly() {
    let s = TestServer::sqlite().await;
    for path in ["/api/nothing", "/api/environments/", "/auth/nothing/at/all", "/api"] {
        let res = s.get(path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.header("content-type"), Some("application/json"));
        assert_eq!(res.error(), "not found");
    }
}

#[tokio::test]
async fn a_known_path_with_another_method_is_405_with_allow() {
    let s = TestServer::sqlite().await;
    let res = s.call(Method::PUT, "/api/environments", None).await;
    assert_eq!((res.status, res.error()), (StatusCode::METHOD_NOT_ALLOWED, "method not allowed".to_owned()));
    assert_eq!(res.header("allow"), Some("GET, HEAD, POST"));
    let res = s.call(Method::GET, "/api/environments/default", None).await;
    assert_eq!(res.header("allow"), Some("PATCH, DELETE"));
    let res = s.call(Method::POST, "/api/healthz", None).await;
    assert_eq!((res.status, res.header("allow")), (StatusCode::METHOD_NOT_ALLOWED, Some("GET, HEAD")));
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let s = TestServer::sqlite().await;
    let get = s.get("/api/environments").await;
    let head = s.call(Method::HEAD, "/api/environments", None).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.text.is_empty());
    assert_eq!(head.header("content-type"), get.header("content-type"));
    assert_eq!(head.header("content-length"), Some(get.text.len().to_string().as_str()));
}

#[tokio::test]
async fn json_bodies_need_the_json_media_type_and_a_bounded_size() {
    let s = TestServer::sqlite_with(&[("MAX_JSON_BYTES", "256")]).await;
    let res = TestServer::read(
        s.request(Method::POST, "/api/environments")
            .bearer_auth(&s.key)
            .header("Content-Type", "text/plain")
            .body("{}"),
    )
    .await;
    assert_eq!(
        (res.status, res.error()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json".to_owned())
    );
    let res = TestServer::read(s.request(Method::POST, "/api/environments").bearer_auth(&s.key).body("{}")).await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "a missing Content-Type is refused too");
    let res = TestServer::read(
        s.request(Method::POST, "/api/environments")
            .bearer_auth(&s.key)
            .header("Content-Type", "application/json; charset=utf-8")
            .body(r#"{"id":"cs","name":"Charset"}"#),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "parameters of the media type are allowed");

    let big = json!({"id": "big", "name": "x", "padding": "p".repeat(400)});
    let res = s.post("/api/environments", big).await;
    assert_eq!((res.status, res.error()), (StatusCode::PAYLOAD_TOO_LARGE, "request body too large".to_owned()));
    let res = TestServer::read(
        s.request(Method::POST, "/api/environments")
            .bearer_auth(&s.key)
            .header("Content-Type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.error().starts_with("invalid JSON body: "));
}

#[tokio::test]
async fn errors_follow_the_contracts_precedence() {
    let s = TestServer::sqlite().await;
    // 401 before a bad path parameter.
    let res = TestServer::read(s.request(Method::DELETE, "/api/environments/BAD")).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    // A bad path parameter before a wrong media type.
    let res = TestServer::read(
        s.request(Method::PATCH, "/api/environments/BAD")
            .bearer_auth(&s.key)
            .header("Content-Type", "text/plain")
            .body("x"),
    )
    .await;
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, "invalid envId".to_owned()));
    // A bad body before a missing environment.
    let res = s.patch("/api/environments/ghost", json!({"name": ""})).await;
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, "name is required".to_owned()));
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let s = TestServer::sqlite().await;
    let res = TestServer::read(s.request(Method::GET, "/api/healthz").header("X-Request-Id", "ci-run.42_a")).await;
    assert_eq!(res.header("x-request-id"), Some("ci-run.42_a"));
    let res =
        TestServer::read(s.request(Method::GET, "/api/healthz").header("X-Request-Id", "bad id with spaces")).await;
    let generated = res.header("x-request-id").unwrap();
    assert!(hub_domain::ids::UploadId::parse(generated).is_ok(), "a ULID replaces an unusable id: {generated}");
    let res = s.get("/api/nothing").await;
    assert!(res.header("x-request-id").is_some(), "errors carry the id too");
}

#[tokio::test]
async fn api_responses_are_not_cached_or_sniffed() {
    let s = TestServer::sqlite().await;
    for res in [
        s.get("/api/environments").await,
        s.get("/api/nothing").await,
        TestServer::read(s.request(Method::GET, "/api/environments")).await,
    ] {
        assert_eq!(res.header("cache-control"), Some("no-store"));
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    }
}

#[tokio::test]
async fn errors_that_actix_answers_itself_are_json_too() {
    let s = TestServer::sqlite().await;
    // A body above the default limit of a raw-body handler: actix's own 413, which was plain text.
    let res = TestServer::read(
        s.as_session(&s.admin, Method::POST, "/api/settings/retention/run")
            .header("Content-Type", "application/json")
            .body(vec![b' '; 300 * 1024]),
    )
    .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        (res.header("content-type"), res.error()),
        (Some("application/json"), "request body too large".to_owned())
    );
    assert!(res.header("x-request-id").is_some());
    // The UI's asset path is not a page: its 404 is the API's JSON, like other reserved prefixes.
    let res = s.get("/assets/app.css").await;
    assert_eq!((res.status, res.header("content-type")), (StatusCode::NOT_FOUND, Some("application/json")));
    assert_eq!(res.error(), "not found");
}
