//! Query parameters given with an empty value (`?search=&offset=`, as clients send a form's unfilled fields) mean
//! the same as parameters not given, on every route and for every kind of parameter: paging, search, enums,
//! booleans, identifiers and names.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::archives::results_zip;
use crate::support::{Reply, TestServer};

const PROJECT: &str = "/api/environments/staging/projects/checkout";

async fn with_project(s: &TestServer) {
    assert_eq!(s.post("/api/environments", json!({"id": "staging", "name": "Staging"})).await.status, 201);
    let res = s.post("/api/environments/staging/projects", json!({"id": "checkout", "name": "Checkout"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
}

/// `POST …/results?buildId=<build><query>` with a results zip.
async fn upload(s: &TestServer, query: &str) -> Reply {
    TestServer::read(
        s.request(Method::POST, &format!("{PROJECT}/results?{query}"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip")
            .body(results_zip()),
    )
    .await
}

/// `GET path` as the admin session, expecting 200.
async fn read_as_admin(s: &TestServer, path: &str) -> Value {
    let res = TestServer::read(s.as_session(&s.admin, Method::GET, path)).await;
    assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text);
    res.json()
}

/// What a list answer holds, without values that change with time (a key's `lastUsedAt`).
fn ids(list: &Value) -> Vec<String> {
    let items = list.get("items").unwrap_or(list).as_array().unwrap_or_else(|| panic!("no list: {list}"));
    let id = |i: &Value| ["id", "buildId", "email"].iter().find_map(|k| i.get(*k)?.as_str().map(str::to_owned));
    items.iter().map(|i| id(i).unwrap_or_else(|| panic!("no id: {i}"))).collect()
}

#[tokio::test]
async fn empty_values_of_list_parameters_are_not_given() {
    let s = TestServer::sqlite().await;
    with_project(&s).await;
    for build in ["b1", "b2"] {
        assert_eq!(upload(&s, &format!("buildId={build}")).await.status, StatusCode::ACCEPTED);
    }
    s.key_with_role("second", "viewer").await;

    // Paginated lists with search: the query the original system's clients send when the fields are blank.
    for (path, empty) in [
        ("/api/settings/apikeys", "?search=&offset="),
        ("/api/settings/apikeys", "?search=&limit=&offset="),
        ("/api/settings/users", "?search=&limit=&offset="),
        (&format!("{PROJECT}/reports"), "?search=&offset="),
        (&format!("{PROJECT}/reports"), "?status=&filter=&limit=&offset="),
    ] {
        let without = read_as_admin(&s, path).await;
        let with = read_as_admin(&s, &format!("{path}{empty}")).await;
        assert_eq!((ids(&with), &with["total"]), (ids(&without), &without["total"]), "{path}{empty}");
        assert!(without["total"].as_i64().unwrap() >= 1, "{path}: {without}");
    }
    // An empty alias leaves the other spelling in force.
    let failed = read_as_admin(&s, &format!("{PROJECT}/reports?status=failed")).await;
    assert_eq!(ids(&read_as_admin(&s, &format!("{PROJECT}/reports?status=&filter=failed")).await), ids(&failed));

    // Plain lists, identifier filters, booleans and the dashboard.
    for (path, empty) in [
        ("/api/uploads", "?envId=&projectId=&limit="),
        ("/api/notifications", "?unread=&limit="),
        ("/api/settings/retention/runs", "?limit="),
    ] {
        let without = read_as_admin(&s, path).await;
        let with = read_as_admin(&s, &format!("{path}{empty}")).await;
        assert_eq!(ids(&with), ids(&without), "{path}{empty}");
    }
    assert_eq!(ids(&read_as_admin(&s, "/api/uploads").await).len(), 2);
    let overview = read_as_admin(&s, "/api/overview").await;
    assert_eq!(read_as_admin(&s, "/api/overview?envId=&projectId=&env_id=&project_id=").await, overview);
    // An empty spelling does not conflict with the other one.
    let staging = read_as_admin(&s, "/api/overview?envId=staging").await;
    assert_eq!(read_as_admin(&s, "/api/overview?envId=&env_id=staging").await, staging);

    // The live stream takes the same filters.
    let res = s.as_session(&s.admin, Method::GET, "/api/uploads/stream?envId=&projectId=").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
}

#[tokio::test]
async fn empty_values_of_upload_and_action_parameters_are_not_given() {
    let s = TestServer::sqlite().await;
    with_project(&s).await;
    // `wait=` is no wait (202, not the 200 of a held response); `reportName=` is no name, not an invalid one.
    let res = upload(&s, "buildId=b1&reportName=&replace=&wait=").await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    let build = s.get(&format!("{PROJECT}/reports/b1")).await.json();
    assert_eq!(build["config"].get("name"), None, "{build}");
    // `replace=` is no replace: the build exists.
    let res = upload(&s, "buildId=b1&replace=").await;
    assert_eq!((res.status, res.error()), (StatusCode::CONFLICT, "build b1 already exists".to_owned()));
    // An empty required parameter is a missing one.
    let res = upload(&s, "buildId=").await;
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, "buildId is required".to_owned()));

    // The chunked protocol: `replace=` at the start, `wait=` at completion.
    let zip = results_zip();
    let init = s
        .post(
            &format!("{PROJECT}/uploads?replace="),
            json!({"buildId": "b2", "totalSize": zip.len(), "totalChunks": 1}),
        )
        .await;
    assert_eq!(init.status, StatusCode::CREATED, "{}", init.text);
    let id = init.json()["uploadId"].as_str().unwrap().to_owned();
    let chunk = TestServer::read(
        s.request(Method::PUT, &format!("{PROJECT}/uploads/{id}"))
            .bearer_auth(&s.key)
            .header("X-Chunk-Index", "0")
            .header("X-Total-Chunks", "1")
            .body(zip),
    )
    .await;
    assert_eq!(chunk.status, StatusCode::OK, "{}", chunk.text);
    let done = s.post(&format!("{PROJECT}/uploads/{id}/complete?wait="), json!({})).await;
    assert_eq!(done.status, StatusCode::ACCEPTED, "{}", done.text);

    // `action=` is the default action, revoke: the key stays listed.
    let key = s.key_with_role("to-revoke", "viewer").await;
    let listed = read_as_admin(&s, "/api/settings/apikeys?search=to-revoke").await;
    let key_id = listed["items"][0]["id"].as_str().unwrap();
    let res =
        TestServer::read(s.as_session(&s.admin, Method::DELETE, &format!("/api/settings/apikeys/{key_id}?action=")))
            .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
    let listed = read_as_admin(&s, "/api/settings/apikeys?search=to-revoke").await;
    assert!(listed["items"][0]["revokedAt"].is_string(), "{listed}");
    let res = TestServer::read(s.request(Method::GET, "/api/environments").bearer_auth(&key)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

/// The `Expect: 100-continue` gate reads the query as the handler does: an upload the handler would accept is
/// invited to send its body, not refused for an empty value.
#[tokio::test]
async fn an_upload_with_empty_values_is_invited_to_send_its_body() {
    use std::io::{Read, Write};
    let s = TestServer::sqlite().await;
    with_project(&s).await;
    let mut stream = std::net::TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let head = format!(
        "POST {PROJECT}/results?buildId=b1&reportName=&replace=&wait= HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/zip\r\nContent-Length: 10\r\n\
         Expect: 100-continue\r\n\r\n",
        s.key
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = [0u8; 512];
    let n = stream.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 100 "), "{answer}");
}
