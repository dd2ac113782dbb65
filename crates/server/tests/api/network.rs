//! §1.2 rate limiting, proxies and CORS.

use reqwest::{Method, StatusCode};

use crate::support::TestServer;

#[tokio::test]
async fn each_client_gets_a_bucket_and_an_empty_one_answers_429() {
    let s = TestServer::sqlite_with(&[("RATE_LIMIT_RATE", "0.1"), ("RATE_LIMIT_BURST", "5")]).await;
    // Starting the test server signed in and minted a key: two of the five tokens are spent.
    for _ in 0..3 {
        assert_eq!(s.get("/api/environments").await.status, StatusCode::OK);
    }
    let res = s.get("/api/environments").await;
    assert_eq!((res.status, res.error()), (StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded".to_owned()));
    assert_eq!(res.header("retry-after"), Some("10"), "one token takes 1/rate = 10 s");
    // Health checks are exempt.
    for _ in 0..5 {
        assert_eq!(s.get("/api/healthz").await.status, StatusCode::OK);
    }
    // Without trusted proxies, X-Forwarded-For does not make a new client.
    let res = TestServer::read(s.request(Method::GET, "/api/version").header("X-Forwarded-For", "198.51.100.7")).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let s =
        TestServer::sqlite_with(&[("RATE_LIMIT_RATE", "0.1"), ("RATE_LIMIT_BURST", "2"), ("TRUST_PROXY", "1")]).await;
    let from = |ip: &'static str| s.request(Method::GET, "/api/version").header("X-Forwarded-For", ip);
    for _ in 0..2 {
        assert_eq!(TestServer::read(from("198.51.100.7")).await.status, StatusCode::OK);
    }
    assert_eq!(TestServer::read(from("198.51.100.7")).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(TestServer::read(from("203.0.113.9")).await.status, StatusCode::OK, "another client");
    // Only the last entry is trusted with one proxy: a spoofed first entry changes nothing.
    let spoofed = s.request(Method::GET, "/api/version").header("X-Forwarded-For", "1.1.1.1, 198.51.100.7");
    assert_eq!(TestServer::read(spoofed).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn preflights_are_answered_on_every_path_and_only_allowed_origins_get_cors_headers() {
    let s = TestServer::sqlite_with(&[("CORS_ALLOWED_ORIGINS", "https://ci.example.com, http://localhost:3000")]).await;
    let preflight = |path: &str, origin: &'static str| {
        s.request(Method::OPTIONS, path).header("Origin", origin).header("Access-Control-Request-Method", "POST")
    };
    let res = TestServer::read(preflight("/api/environments", "https://ci.example.com")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(res.header("access-control-allow-origin"), Some("https://ci.example.com"));
    assert_eq!(res.header("access-control-allow-methods"), Some("GET, HEAD, POST, PUT, PATCH, DELETE"));
    assert!(res.header("access-control-allow-headers").unwrap().contains("X-API-Key"));
    assert_eq!(res.header("access-control-max-age"), Some("86400"));
    assert_eq!(res.header("vary"), Some("Origin"));
    assert!(res.header("access-control-allow-credentials").is_none());

    for path in ["/api/nowhere", "/api/settings/apikeys", "/api/healthz"] {
        let res = TestServer::read(preflight(path, "https://ci.example.com")).await;
        assert_eq!(res.status, StatusCode::NO_CONTENT, "{path}: never 401, 404 or 405");
    }
    let res = TestServer::read(preflight("/api/environments", "https://evil.example")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert!(res.header("access-control-allow-origin").is_none());

    let res = TestServer::read(
        s.request(Method::GET, "/api/environments").bearer_auth(&s.key).header("Origin", "http://localhost:3000"),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("access-control-allow-origin"), Some("http://localhost:3000"));
    assert_eq!(res.header("access-control-expose-headers"), Some("Location, Retry-After, X-Request-Id"));
    let res = TestServer::read(
        s.request(Method::GET, "/api/environments").bearer_auth(&s.key).header("Origin", "https://evil.example"),
    )
    .await;
    assert!(res.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn no_origin_is_allowed_by_default() {
    let s = TestServer::sqlite().await;
    let res =
        TestServer::read(s.request(Method::OPTIONS, "/api/environments").header("Origin", "https://ci.example.com"))
            .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert!(res.header("access-control-allow-origin").is_none());
}
