//! Faults from outside the request: a database held by another writer, a failing disk, and a client that asks
//! before sending its body (`Expect: 100-continue`). Each is answered with the contract's error, and nothing a
//! viewer sees carries an internal detail.

use std::io::{Read, Write};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::archives::results_zip;
use crate::support::TestServer;

const PROJECT: &str = "/api/environments/staging/projects/checkout";

async fn with_project(s: &TestServer) {
    assert_eq!(s.post("/api/environments", json!({"id": "staging", "name": "Staging"})).await.status, 201);
    let res = s.post("/api/environments/staging/projects", json!({"id": "checkout", "name": "Checkout"})).await;
    assert_eq!(res.status, StatusCode::CREATED);
}

/// A backup tool, a second writer or a long sweep holding SQLite's write lock: pages that only read keep answering
/// (a WAL snapshot never waits for the writer), and a change that cannot get the lock within the busy timeout is a
/// 503 with `Retry-After`, not a 500.
#[tokio::test]
async fn a_held_sqlite_write_lock_leaves_reads_answering_and_makes_writes_503() {
    let s = TestServer::sqlite().await;
    with_project(&s).await;
    let db = s.data_dir.join("allure-hub.db");
    let mut writer = SqliteConnection::establish(db.to_str().unwrap()).unwrap();
    writer.batch_execute("BEGIN IMMEDIATE; UPDATE environments SET name = 'Held' WHERE id = 'staging';").unwrap();

    for path in
        ["/api/environments", "/api/environments/staging/projects", &format!("{PROJECT}/reports"), "/api/overview"]
    {
        let res = s.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text);
    }
    // The project's page reads the project (and its figures) too.
    let page = TestServer::read(s.as_session(&s.admin, Method::GET, "/environments/staging/projects/checkout")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let names = s.get("/api/environments").await.json();
    assert_eq!(names[0]["name"], "Staging", "the snapshot before the uncommitted change");
    let users = TestServer::read(s.as_session(&s.admin, Method::GET, "/api/settings/users")).await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.text);
    let keys = TestServer::read(s.as_session(&s.admin, Method::GET, "/api/settings/apikeys")).await;
    assert_eq!(keys.status, StatusCode::OK, "{}", keys.text);

    let res = s.post("/api/environments", json!({"id": "blocked", "name": "Blocked"})).await;
    assert_eq!((res.status, res.error()), (StatusCode::SERVICE_UNAVAILABLE, "service unavailable".to_owned()));
    assert_eq!(res.header("retry-after"), Some("5"));

    writer.batch_execute("ROLLBACK").unwrap();
    let res = s.post("/api/environments", json!({"id": "blocked", "name": "Blocked"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "the lock released, writes work again: {}", res.text);
}

/// A failing disk during an upload: the client's answer and the stored session (which every viewer can read) say
/// the same generic `internal server error`; the cause (here "Not a directory") stays in the log.
#[tokio::test]
async fn a_storage_failure_stores_the_message_the_client_got_not_its_cause() {
    let s = TestServer::sqlite().await;
    with_project(&s).await;
    // The upload area is no longer a directory: every write into it fails with ENOTDIR (root ignores permissions,
    // so a read-only directory would not fail here).
    let tmp = s.data_dir.join("tmp");
    std::fs::remove_dir_all(&tmp).unwrap();
    std::fs::write(&tmp, b"not a directory").unwrap();
    let res = TestServer::read(
        s.request(Method::POST, &format!("{PROJECT}/results?buildId=b1"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip")
            .body(results_zip()),
    )
    .await;
    std::fs::remove_file(&tmp).unwrap();
    std::fs::create_dir(&tmp).unwrap();
    assert_eq!((res.status, res.error()), (StatusCode::INTERNAL_SERVER_ERROR, "internal server error".to_owned()));
    let sessions = s.get("/api/uploads").await.json();
    let session = sessions.as_array().unwrap().iter().find(|u| u["buildId"] == "b1").unwrap();
    assert_eq!((session["phase"].as_str(), session["error"].as_str()), (Some("failed"), Some("internal server error")));
    let notifications = s.get("/api/notifications").await.text;
    assert!(!notifications.contains("directory") && !notifications.contains("os error"), "{notifications}");
}

/// Sends a request head (and nothing more) on a raw connection and returns the first thing the server answers:
/// its status line and, for a final response, the body.
fn first_answer(base: &str, head: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        let n = stream.read(&mut buf).expect("an answer before the body is sent");
        assert!(n > 0, "closed without an answer: {}", String::from_utf8_lossy(&received));
        received.extend_from_slice(&buf[..n]);
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&received[..end]).into_owned();
    let status = head.lines().next().unwrap().to_owned();
    if !status.contains(" 100 ") {
        // A body the client may still send must not be read as its next request.
        assert!(head.to_ascii_lowercase().contains("\r\nconnection: close\r\n"), "{head}");
    }
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .unwrap_or(0);
    while received.len() < end + length {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        received.extend_from_slice(&buf[..n]);
    }
    (status, String::from_utf8_lossy(&received[end..end + length]).into_owned())
}

/// A request head asking to be invited before sending `length` bytes.
fn expecting(method: &str, path: &str, key: &str, length: u64, extra: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/zip\r\nContent-Length: {length}\r\n{extra}Expect: 100-continue\r\n\r\n"
    )
}

/// RFC 9110 §10.1.1: every refusal that needs no body comes instead of `100 Continue`, so a client with a wrong
/// key or an oversize archive sends nothing; an acceptable upload is invited, and then goes through.
#[tokio::test]
async fn expect_100_continue_is_answered_with_the_refusal_before_the_body_is_invited() {
    let s = TestServer::sqlite_with(&[("MAX_UPLOAD_BYTES", "1000000"), ("MAX_CHUNK_BYTES", "1000")]).await;
    with_project(&s).await;
    let viewer = s.key_with_role("viewer-ci", "viewer").await;
    let zip = results_zip();
    let accepted = TestServer::read(
        s.request(Method::POST, &format!("{PROJECT}/results?buildId=taken"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip")
            .body(zip.clone()),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    let init =
        s.post(&format!("{PROJECT}/uploads"), json!({"buildId": "chunked", "totalSize": 3000, "totalChunks": 3})).await;
    assert_eq!(init.status, StatusCode::CREATED, "{}", init.text);
    let session = init.json()["uploadId"].as_str().unwrap().to_owned();
    let chunk_path = format!("{PROJECT}/uploads/{session}");
    let chunk_headers = "X-Chunk-Index: 0\r\nX-Total-Chunks: 3\r\n";
    let big = 5 * 1024 * 1024 * 1024_u64;

    let cases = [
        (
            "bad key",
            expecting("POST", &format!("{PROJECT}/results?buildId=b1"), "ah_nope", 10, ""),
            "401",
            "invalid API key",
        ),
        (
            "viewer",
            expecting("POST", &format!("{PROJECT}/results?buildId=b1"), &viewer, 10, ""),
            "403",
            "missing permission: upload",
        ),
        (
            "unknown environment",
            expecting("POST", "/api/environments/nope/projects/checkout/results?buildId=b1", &s.key, 10, ""),
            "404",
            "environment nope not found",
        ),
        (
            "existing build",
            expecting("POST", &format!("{PROJECT}/results?buildId=taken"), &s.key, 10, ""),
            "409",
            "build taken already exists",
        ),
        (
            "5 GiB declared",
            expecting("POST", &format!("{PROJECT}/results?buildId=b1"), &s.key, big, ""),
            "413",
            "upload exceeds the maximum size of 1000000 bytes",
        ),
        (
            "chunk too large",
            expecting("PUT", &chunk_path, &s.key, 5000, chunk_headers),
            "413",
            "chunk exceeds the maximum size of 1000 bytes",
        ),
        (
            "unknown session",
            expecting("PUT", &format!("{PROJECT}/uploads/01JR8Z3T5V7W9X1Y3Z5A7B9C1D"), &s.key, 10, chunk_headers),
            "404",
            "upload 01JR8Z3T5V7W9X1Y3Z5A7B9C1D not found",
        ),
    ];
    for (name, head, status, message) in cases {
        let base = s.base.clone();
        let (line, body) = tokio::task::spawn_blocking(move || first_answer(&base, &head)).await.unwrap();
        assert!(line.starts_with(&format!("HTTP/1.1 {status} ")), "{name}: {line}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{name}: {body}"));
        assert_eq!(body["error"], message, "{name}");
    }

    // An acceptable upload is invited, then sent and accepted.
    let (base, length) = (s.base.clone(), zip.len() as u64);
    let head = expecting("POST", &format!("{PROJECT}/results?buildId=b1"), &s.key, length, "");
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        let mut invited = [0u8; 25];
        stream.read_exact(&mut invited).unwrap();
        assert_eq!(&invited, b"HTTP/1.1 100 Continue\r\n\r\n");
        stream.write_all(&zip).unwrap();
        let mut answer = [0u8; 12];
        stream.read_exact(&mut answer).unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap();
    assert_eq!(answer, "HTTP/1.1 202");
}

/// The sweep of abandoned chunked uploads runs with the server: a session without a chunk for `STALE_UPLOAD_AFTER`
/// fails with the reason, without waiting for a restart.
#[tokio::test]
async fn an_abandoned_chunked_upload_fails_while_the_server_runs() {
    let s = TestServer::sqlite_with(&[("STALE_UPLOAD_AFTER", "1s")]).await;
    with_project(&s).await;
    let init =
        s.post(&format!("{PROJECT}/uploads"), json!({"buildId": "abandoned", "totalSize": 10, "totalChunks": 1})).await;
    assert_eq!(init.status, StatusCode::CREATED, "{}", init.text);
    let id = init.json()["uploadId"].as_str().unwrap().to_owned();
    // The sweep runs every half `STALE_UPLOAD_AFTER` (at least each second); bounded, so a sweep that never runs fails.
    let mut session = serde_json::Value::Null;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        session = s.get(&format!("{PROJECT}/uploads/{id}")).await.json();
        if session["phase"] == "failed" {
            break;
        }
    }
    assert_eq!(
        (session["phase"].as_str(), session["error"].as_str()),
        (Some("failed"), Some("upload abandoned: no progress for 1s")),
        "{session}"
    );
}
