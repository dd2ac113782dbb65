//! §12.1–12.2 health and version.

use reqwest::{Method, StatusCode};

use crate::on_both_backends;
use crate::support::TestServer;

on_both_backends!(health_is_public_and_reports_the_database);

async fn health_is_public_and_reports_the_database(s: TestServer) {
    let res = TestServer::read(s.request(Method::GET, "/api/healthz")).await;
    assert_eq!(res.status, StatusCode::OK);
    let body = res.json();
    assert_eq!(body.as_object().unwrap().len(), 7, "{body}");
    assert_eq!((body["status"].as_str(), body["db"].as_str()), (Some("ok"), Some("ok")));
    assert_eq!(body["storage"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    // The test servers are not given NODE_ID: named by host and process.
    assert!(body["node"].as_str().unwrap().ends_with(&format!(":{}", std::process::id())), "{body}");
    let seconds = body["uptimeSeconds"].as_u64().unwrap();
    assert_eq!(body["uptime"], format!("{seconds}s"));
    // Credentials, even wrong ones, are ignored on public routes.
    let res = TestServer::read(s.request(Method::GET, "/api/healthz").bearer_auth("ah_wrong")).await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn health_is_503_without_detail_when_the_database_is_gone() {
    let Some(s) = TestServer::postgres().await else {
        return;
    };
    assert_eq!(s.get("/api/healthz").await.status, StatusCode::OK);
    // Drop the server's database under it (ending its connections): a real outage, not a mock.
    let pg = s.pg.as_ref().unwrap();
    let admin =
        std::env::var("ALLURE_HUB_TEST_PG_URL").unwrap_or_else(|_| hub_test_support::pg::DEFAULT_ADMIN_URL.to_owned());
    let name = pg.url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    tokio::task::spawn_blocking(move || {
        use diesel::{Connection, RunQueryDsl};
        let mut conn = diesel::PgConnection::establish(&admin).unwrap();
        diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut conn).unwrap();
    })
    .await
    .unwrap();

    let res = s.get("/api/healthz").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = res.json();
    assert_eq!((body["status"].as_str(), body["db"].as_str()), (Some("degraded"), Some("unavailable")));
    // Other routes answer with the generic 503 body, not the driver's message.
    let res = s.get("/api/environments").await;
    assert_eq!((res.status, res.error()), (StatusCode::SERVICE_UNAVAILABLE, "service unavailable".to_owned()));
}

#[tokio::test]
async fn version_is_public_and_complete() {
    let s = TestServer::sqlite().await;
    let res = TestServer::read(s.request(Method::GET, "/api/version")).await;
    assert_eq!(res.status, StatusCode::OK);
    let body = res.json();
    assert_eq!(body.as_object().unwrap().len(), 4, "{body}");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    for field in ["buildTime", "rustVersion", "gitCommit"] {
        assert!(body[field].as_str().is_some_and(|v| !v.is_empty()), "{field}: {body}");
    }
}
