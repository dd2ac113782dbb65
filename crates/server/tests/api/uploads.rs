//! §5–7, §9 and §17: uploads end to end, streaming and chunked, with the archive rules, duplicates, the live
//! stream and restarts.

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use hub_domain::model::secret::hex;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest;

use crate::archives::{
    Forged, corrupt_first_entry, empty_zip, forge, mark_encrypted, overstated_bomb, results_zip, stored_zip_of, zip_of,
    zip_with_symlink,
};
use crate::support::{Reply, TestServer, assert_timestamp};

const PROJECT: &str = "/api/environments/staging/projects/checkout";

async fn with_project(s: &TestServer) {
    assert_eq!(
        s.post("/api/environments", json!({"id": "staging", "name": "Staging"})).await.status,
        StatusCode::CREATED
    );
    let res = s.post("/api/environments/staging/projects", json!({"id": "checkout", "name": "Checkout"})).await;
    assert_eq!(res.status, StatusCode::CREATED);
}

/// `POST …/results` with `key`, a zip body and extra query parameters.
async fn upload_as(s: &TestServer, key: &str, build: &str, query: &str, body: Vec<u8>) -> Reply {
    TestServer::read(
        s.request(Method::POST, &format!("{PROJECT}/results?buildId={build}{query}"))
            .bearer_auth(key)
            .header("Content-Type", "application/zip")
            .body(body),
    )
    .await
}

async fn upload(s: &TestServer, build: &str, body: Vec<u8>) -> Reply {
    upload_as(s, &s.key, build, "", body).await
}

fn results_dir(s: &TestServer, build: &str) -> std::path::PathBuf {
    s.data_dir.join("envs/staging/checkout/builds").join(build).join("results")
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.map(Result::unwrap) {
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                found.push(entry.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

/// Waits (briefly) for `DATA_DIR/tmp` to be empty: removals finish in the background.
async fn assert_tmp_empties(s: &TestServer) {
    for _ in 0..50 {
        if files_under(&s.data_dir.join("tmp")).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("DATA_DIR/tmp still holds {:?}", files_under(&s.data_dir.join("tmp")));
}

/// Reads an SSE response into `(event, data)` pairs as they arrive.
pub(crate) struct EventReader {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl EventReader {
    async fn open(s: &TestServer, query: &str) -> Self {
        Self::open_at(s, &format!("/api/uploads/stream{query}"), &s.key).await
    }

    /// Opens the event stream at `path` with API key `key`, past its opening lines.
    pub(crate) async fn open_at(s: &TestServer, path: &str, key: &str) -> Self {
        let res = s.request(Method::GET, path).bearer_auth(key).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        assert_eq!(res.headers()["cache-control"], "no-cache");
        let mut reader = Self { body: Box::pin(res.bytes_stream()), buffer: String::new() };
        assert_eq!(reader.frame().await, "retry: 5000");
        assert_eq!(reader.frame().await, ": connected");
        reader
    }

    pub(crate) async fn frame(&mut self) -> String {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame = self.buffer[..end].to_owned();
                self.buffer.drain(..end + 2);
                return frame;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.body.next())
                .await
                .expect("an event within 10 s")
                .expect("the stream stays open")
                .unwrap();
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event (comments skipped).
    pub(crate) async fn event(&mut self) -> (String, Value) {
        loop {
            let frame = self.frame().await;
            if frame.starts_with(':') {
                continue;
            }
            let (name, data) = frame.split_once('\n').unwrap();
            let name = name.strip_prefix("event: ").unwrap().to_owned();
            return (name, serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap());
        }
    }
}

async fn a_streaming_upload_saves_results_stats_and_a_queued_build(s: TestServer) {
    with_project(&s).await;
    let mut events = EventReader::open(&s, "?envId=staging").await;

    let res = TestServer::read(
        s.request(Method::POST, &format!("{PROJECT}/results?buildId=2026-04-07-042&reportName=Nightly"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip; charset=binary")
            .header("X-Filename", "nightly.zip")
            .body(results_zip()),
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    let body = res.json();
    let id = body["uploadId"].as_str().unwrap().to_owned();
    assert_eq!(
        (body["buildId"].as_str(), body["phase"].as_str(), body["reportUrl"].as_str()),
        (Some("2026-04-07-042"), Some("generating"), Some("/reports/staging/checkout/2026-04-07-042/index.html"))
    );
    assert_eq!(res.header("location"), Some(format!("{PROJECT}/uploads/{id}").as_str()));

    // Every phase, in order, on the live stream.
    let mut phases = Vec::new();
    while phases.last().map(String::as_str) != Some("generating") {
        let (name, session) = events.event().await;
        assert_eq!((name.as_str(), session["id"].as_str()), ("update", Some(id.as_str())));
        phases.push(session["phase"].as_str().unwrap().to_owned());
    }
    assert_eq!(phases, ["uploading", "assembling", "generating"]);

    let status = s.get(&format!("{PROJECT}/uploads/{id}")).await;
    assert_eq!(status.status, StatusCode::OK);
    let session = status.json();
    assert_eq!(session["uploadId"], session["id"]);
    assert_eq!(
        (session["kind"].as_str(), session["fileName"].as_str(), session["uploadedBy"].as_str()),
        (Some("stream"), Some("nightly.zip"), Some("apikey:test-admin"))
    );
    assert_eq!((session["totalChunks"].as_i64(), session["receivedChunks"].as_i64()), (Some(1), Some(1)));
    assert_eq!(session["totalSize"].as_u64(), Some(results_zip().len() as u64));
    assert_eq!(session["missingChunks"], json!([]));
    assert!(session["completedAt"].is_null() && session["error"].is_null());
    assert_timestamp(&session["startedAt"]);
    // Counted independently in `results_zip`'s documentation.
    assert_eq!(
        session["stats"],
        json!({"total": 4, "passed": 1, "failed": 1, "broken": 1, "skipped": 1, "unknown": 0, "durationMs": 7500})
    );

    // The top-level folder is stripped, the clutter dropped, sub-folders kept.
    let files = files_under(&results_dir(&s, "2026-04-07-042"));
    assert_eq!(
        files,
        [
            "abc-container.json",
            "broken-result.json",
            "cart-result.json",
            "data/login1-attachment.txt",
            "login1-result.json",
            "login2-result.json",
            "pay-result.json",
            "search-result.json"
        ]
    );
    assert_tmp_empties(&s).await;

    let list = s.get("/api/uploads?envId=staging&projectId=checkout").await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["phase"], "generating");
    assert_eq!(s.get("/api/uploads?envId=other").await.json(), json!([]));
    let projects = s.get("/api/environments/staging/projects").await.json();
    assert_eq!(projects[0]["buildCount"], 1);
    assert_eq!(projects[0]["latestBuild"]["status"], "pending");
}

async fn duplicate_build_ids_are_refused_by_rule(s: TestServer) {
    with_project(&s).await;
    assert_eq!(upload(&s, "b1", results_zip()).await.status, StatusCode::ACCEPTED);
    let again = upload(&s, "b1", results_zip()).await;
    assert_eq!((again.status, again.error()), (StatusCode::CONFLICT, "build b1 already exists".to_owned()));
    // The first upload is still generating (no generator runs yet), so replacing is refused too.
    let replace = upload_as(&s, &s.key, "b1", "&replace=true", results_zip()).await;
    assert_eq!(
        (replace.status, replace.error()),
        (StatusCode::CONFLICT, "build b1 has an upload in progress".to_owned())
    );
    // Nothing of the refused uploads was recorded.
    assert_eq!(s.get("/api/uploads").await.json().as_array().unwrap().len(), 1);
}

async fn chunked_uploads_accept_any_order_resends_and_resume(s: TestServer) {
    with_project(&s).await;
    let zip = results_zip();
    let parts: Vec<Vec<u8>> = zip.chunks(zip.len() / 3 + 1).map(<[u8]>::to_vec).collect();
    assert_eq!(parts.len(), 3);
    let sha = hex(&sha2::Sha256::digest(&zip));
    let init = s
        .post(
            &format!("{PROJECT}/uploads"),
            json!({"buildId": "c1", "fileName": "big.zip", "totalSize": zip.len(), "totalChunks": 3, "sha256": sha}),
        )
        .await;
    assert_eq!(init.status, StatusCode::CREATED, "{}", init.text);
    let id = init.json()["uploadId"].as_str().unwrap().to_owned();
    assert_eq!(init.header("location"), Some(format!("{PROJECT}/uploads/{id}").as_str()));
    let chunk_path = format!("{PROJECT}/uploads/{id}");

    let put = |s: &TestServer, index: usize, body: Vec<u8>, sha: Option<String>| {
        let mut req = s
            .request(Method::PUT, &chunk_path)
            .bearer_auth(&s.key)
            .header("X-Chunk-Index", index.to_string())
            .header("X-Total-Chunks", "3")
            .header("Content-Type", "application/octet-stream")
            .body(body);
        if let Some(sha) = sha {
            req = req.header("X-Chunk-Sha256", sha);
        }
        TestServer::read(req)
    };

    // Out of order, with a checksum, then the same index again: counted once.
    let res = put(&s, 2, parts[2].clone(), Some(hex(&sha2::Sha256::digest(&parts[2])))).await;
    assert_eq!((res.status, res.json()["receivedChunks"].as_i64()), (StatusCode::OK, Some(1)), "{}", res.text);
    let res = put(&s, 2, parts[2].clone(), None).await;
    assert_eq!(res.json()["receivedChunks"].as_i64(), Some(1));
    // A wrong checksum is refused and the stored copy stays.
    let res = put(&s, 2, b"garbage".to_vec(), Some("0".repeat(64))).await;
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, "chunk checksum mismatch".to_owned()));
    let res = put(&s, 3, parts[0].clone(), None).await;
    assert_eq!(res.error(), "X-Chunk-Index must be an integer between 0 and 2");
    let res = put(&s, 0, parts[0].clone(), None).await;
    assert_eq!(res.json()["receivedChunks"].as_i64(), Some(2));

    // Complete with a chunk missing: 400 listing it, and the session stays open.
    let complete = format!("{chunk_path}/complete");
    let res = s.post(&complete, json!({})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json(), json!({"error": format!("upload {id} is missing chunks: 1"), "missingChunks": [1]}));

    // The server restarts; the client asks what is missing and resumes.
    let s = s.restart().await;
    let status = s.get(&chunk_path).await.json();
    assert_eq!((status["phase"].as_str(), &status["missingChunks"]), (Some("uploading"), &json!([1])));
    let res = put(&s, 1, parts[1].clone(), None).await;
    assert_eq!(res.json(), json!({"uploadId": id, "receivedChunks": 3, "totalChunks": 3}));
    let res = s.post(&complete, json!({})).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    assert_eq!(res.json()["phase"], "generating");
    // A retried complete whose answer was lost changes nothing.
    let res = s.post(&complete, json!({})).await;
    assert_eq!((res.status, res.json()["phase"].as_str()), (StatusCode::ACCEPTED, Some("generating")));

    assert!(files_under(&results_dir(&s, "c1")).contains(&"cart-result.json".to_owned()));
    assert!(!s.data_dir.join("envs/staging/checkout/uploads").join(&id).exists(), "chunks are removed");
    let session = s.get(&chunk_path).await.json();
    assert_eq!((session["stats"]["total"].as_i64(), &session["missingChunks"]), (Some(4), &json!([])));
}

async fn a_chunked_upload_that_does_not_add_up_fails_and_leaves_nothing(s: TestServer) {
    with_project(&s).await;
    let zip = results_zip();
    let init = s
        .post(
            &format!("{PROJECT}/uploads"),
            json!({"buildId": "c2", "totalSize": zip.len(), "totalChunks": 1, "sha256": "ab".repeat(32)}),
        )
        .await;
    let id = init.json()["uploadId"].as_str().unwrap().to_owned();
    let res = TestServer::read(
        s.request(Method::PUT, &format!("{PROJECT}/uploads/{id}"))
            .bearer_auth(&s.key)
            .header("X-Chunk-Index", "0")
            .header("X-Total-Chunks", "1")
            .body(zip.clone()),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = s.post(&format!("{PROJECT}/uploads/{id}/complete"), json!({})).await;
    let expected = format!("checksum mismatch: expected {}, got {}", "ab".repeat(32), hex(&sha2::Sha256::digest(&zip)));
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, expected.clone()));
    let session = s.get(&format!("{PROJECT}/uploads/{id}")).await.json();
    assert_eq!(
        (session["phase"].as_str(), session["failedAtPhase"].as_str(), session["error"].as_str()),
        (Some("failed"), Some("assembling"), Some(expected.as_str()))
    );
    assert!(!s.data_dir.join("envs/staging/checkout/uploads").join(&id).exists());
    assert!(!results_dir(&s, "c2").exists());
    let res = s.post(&format!("{PROJECT}/uploads/{id}/complete"), json!({})).await;
    assert_eq!((res.status, res.error()), (StatusCode::CONFLICT, format!("upload {id} has failed")));
    // The failed session no longer blocks the build id.
    assert_eq!(upload(&s, "c2", results_zip()).await.status, StatusCode::ACCEPTED);
}

async fn upload_sessions_are_deleted_only_when_settled(s: TestServer) {
    with_project(&s).await;
    let generating = upload(&s, "d1", results_zip()).await.json()["uploadId"].as_str().unwrap().to_owned();
    let res = s.delete(&format!("/api/uploads/{generating}")).await;
    assert_eq!(
        (res.status, res.error()),
        (StatusCode::CONFLICT, format!("upload {generating} cannot be deleted while generating"))
    );
    let failed = upload(&s, "d2", b"not a zip".to_vec()).await;
    assert_eq!(failed.status, StatusCode::BAD_REQUEST);
    let list = s.get("/api/uploads").await.json();
    let failed_id =
        list.as_array().unwrap().iter().find(|u| u["buildId"] == "d2").unwrap()["id"].as_str().unwrap().to_owned();
    let mut events = EventReader::open(&s, "").await;
    assert_eq!(s.delete(&format!("/api/uploads/{failed_id}")).await.status, StatusCode::NO_CONTENT);
    let (name, session) = events.event().await;
    assert_eq!((name.as_str(), session["id"].as_str()), ("deleted", Some(failed_id.as_str())));
    assert_eq!(s.delete(&format!("/api/uploads/{failed_id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(s.delete("/api/uploads/nope").await.error(), "invalid id");
}

crate::on_both_backends!(
    a_streaming_upload_saves_results_stats_and_a_queued_build,
    duplicate_build_ids_are_refused_by_rule,
    chunked_uploads_accept_any_order_resends_and_resume,
    a_chunked_upload_that_does_not_add_up_fails_and_leaves_nothing,
    upload_sessions_are_deleted_only_when_settled,
    twenty_racing_uploads_of_one_build_have_one_winner,
    auto_create_keys_create_missing_targets_and_others_get_404,
);

#[tokio::test]
async fn hostile_archives_are_refused_and_leave_nothing_behind() {
    let s = TestServer::sqlite_with(&[
        ("MAX_COMPRESSION_RATIO", "100"),
        ("MAX_DECOMPRESSED_BYTES", "3000000"),
        ("MAX_ZIP_ENTRIES", "20"),
    ])
    .await;
    with_project(&s).await;
    let incompressible: Vec<u8> = (0..4_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let many: Vec<(String, Vec<u8>)> = (0..21).map(|i| (format!("f{i}.txt"), b"x".to_vec())).collect();
    let many: Vec<(&str, &[u8])> = many.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    let valid = results_zip();
    let cases: Vec<(&str, Vec<u8>, StatusCode, String)> = vec![
        (
            "slip",
            zip_of(&[("ok.txt", b"x"), ("../evil.txt", b"x")]),
            StatusCode::BAD_REQUEST,
            "unsafe archive entry \"../evil.txt\": parent directory reference".into(),
        ),
        (
            "absolute",
            zip_of(&[("/tmp/evil.txt", b"x")]),
            StatusCode::BAD_REQUEST,
            "unsafe archive entry \"/tmp/evil.txt\": absolute path".into(),
        ),
        ("symlink", zip_with_symlink(), StatusCode::BAD_REQUEST, "unsafe archive entry \"link\": symbolic link".into()),
        (
            "bomb",
            zip_of(&[("zeros.bin", &vec![0u8; 20 * 1024 * 1024])]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "archive entry \"zeros.bin\" exceeds the compression ratio limit".into(),
        ),
        (
            "expands",
            stored_zip_of(&[("big.bin", &incompressible)]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "archive expands beyond 3000000 bytes".into(),
        ),
        ("entries", zip_of(&many), StatusCode::PAYLOAD_TOO_LARGE, "archive has more than 20 entries".into()),
        ("truncated", valid[..valid.len() / 2].to_vec(), StatusCode::BAD_REQUEST, "invalid zip archive:".into()),
        (
            "encrypted",
            mark_encrypted(stored_zip_of(&[("secret.txt", b"x")])),
            StatusCode::BAD_REQUEST,
            "unsafe archive entry \"secret.txt\": encrypted entry".into(),
        ),
        (
            "crc",
            corrupt_first_entry(stored_zip_of(&[("a.txt", b"hello world")])),
            StatusCode::BAD_REQUEST,
            "invalid zip archive: CRC mismatch in \"a.txt\"".into(),
        ),
        ("notzip", b"hello, I am not a zip".to_vec(), StatusCode::BAD_REQUEST, "invalid zip archive:".into()),
        ("empty", empty_zip(), StatusCode::BAD_REQUEST, "archive contains no files".into()),
        (
            "dup",
            zip_of(&[("a.txt", b"1"), ("./a.txt", b"2")]),
            StatusCode::BAD_REQUEST,
            "duplicate archive entry \"./a.txt\"".into(),
        ),
        (
            "filedir",
            zip_of(&[("x", b"1"), ("x/y.txt", b"2")]),
            StatusCode::BAD_REQUEST,
            "duplicate archive entry \"x\"".into(),
        ),
        (
            "nofiles",
            zip_of(&[("__MACOSX/._a", b"1"), (".DS_Store", b"2")]),
            StatusCode::BAD_REQUEST,
            "archive contains no files".into(),
        ),
        // The ratio is measured on the compressed bytes consumed, not on the size the record declares.
        (
            "overstated",
            forge(&[overstated_bomb()]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "archive entry \"zeros.bin\" exceeds the compression ratio limit".into(),
        ),
        (
            "overstated64",
            forge(&[overstated_bomb().zip64()]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "archive entry \"zeros.bin\" exceeds the compression ratio limit".into(),
        ),
        (
            "unfit",
            forge(&[Forged::deflated("a.txt", b"hello").declaring(100_000)]),
            StatusCode::BAD_REQUEST,
            "invalid zip archive: data of \"a.txt\" runs past the end of the archive".into(),
        ),
        (
            "unfit64",
            forge(&[Forged::deflated("a.txt", b"hello").declaring(1 << 40).zip64()]),
            StatusCode::BAD_REQUEST,
            "invalid zip archive: data of \"a.txt\" runs past the end of the archive".into(),
        ),
        (
            "shared",
            forge(&[Forged::stored("a.txt", b"hello"), Forged::stored("b.txt", b"").record_of(0)]),
            StatusCode::BAD_REQUEST,
            "invalid zip archive: entries \"a.txt\" and \"b.txt\" overlap".into(),
        ),
        // Duplicates in every form: stored twice (which the zip reader would merge, keeping the last), and equal
        // once normalised.
        (
            "twice",
            forge(&[Forged::stored("a.txt", b"1"), Forged::stored("a.txt", b"2")]),
            StatusCode::BAD_REQUEST,
            "duplicate archive entry \"a.txt\"".into(),
        ),
        (
            "backslash",
            forge(&[Forged::stored("a\\b.txt", b"1"), Forged::stored("a/b.txt", b"2")]),
            StatusCode::BAD_REQUEST,
            "duplicate archive entry \"a/b.txt\"".into(),
        ),
        (
            "stripped",
            forge(&[Forged::stored("allure-results/x", b"1"), Forged::stored("allure-results//x", b"2")]),
            StatusCode::BAD_REQUEST,
            "duplicate archive entry \"allure-results//x\"".into(),
        ),
        (
            "direntry",
            forge(&[Forged::stored("x", b"1"), Forged::stored("x/", b"")]),
            StatusCode::BAD_REQUEST,
            "duplicate archive entry \"x\"".into(),
        ),
    ];
    for (build, body, status, message) in cases {
        let res = upload(&s, build, body).await;
        assert_eq!(res.status, status, "{build}: {}", res.text);
        assert!(res.error().starts_with(&message), "{build}: {} does not start with {message}", res.error());
        let sessions = s.get("/api/uploads").await.json();
        let session = sessions.as_array().unwrap().iter().find(|u| u["buildId"] == build).unwrap();
        assert_eq!(
            (session["phase"].as_str(), session["failedAtPhase"].as_str(), session["error"].as_str()),
            (Some("failed"), Some("assembling"), Some(res.error().as_str())),
            "{build}"
        );
        assert!(session["completedAt"].is_string());
    }
    // Nothing escaped, nothing was published, nothing stays in the temporary area.
    for escaped in ["evil.txt", "../evil.txt", "envs/evil.txt", "envs/staging/evil.txt"] {
        assert!(!s.data_dir.join(escaped).exists(), "{escaped}");
    }
    assert!(!Path::new("/tmp/evil.txt").exists());
    assert!(!s.data_dir.join("envs/staging/checkout/builds").exists());
    assert_tmp_empties(&s).await;
}

/// Sends `body` as a chunked upload of three chunks and completes it.
async fn upload_in_chunks(s: &TestServer, build: &str, body: &[u8]) -> (String, Reply) {
    let parts: Vec<&[u8]> = body.chunks(body.len() / 3 + 1).collect();
    let init = s
        .post(
            &format!("{PROJECT}/uploads"),
            json!({"buildId": build, "totalSize": body.len(), "totalChunks": parts.len()}),
        )
        .await;
    assert_eq!(init.status, StatusCode::CREATED, "{build}: {}", init.text);
    let id = init.json()["uploadId"].as_str().unwrap().to_owned();
    for (index, part) in parts.iter().enumerate() {
        let res = TestServer::read(
            s.request(Method::PUT, &format!("{PROJECT}/uploads/{id}"))
                .bearer_auth(&s.key)
                .header("X-Chunk-Index", index.to_string())
                .header("X-Total-Chunks", parts.len().to_string())
                .body(part.to_vec()),
        )
        .await;
        assert_eq!(res.status, StatusCode::OK, "{build}: {}", res.text);
    }
    (id.clone(), s.post(&format!("{PROJECT}/uploads/{id}/complete"), json!({})).await)
}

/// The archive of a chunked upload is read in place across its chunks: the same hostile archives are refused.
#[tokio::test]
async fn hostile_archives_sent_in_chunks_are_refused_and_leave_nothing_behind() {
    let s = TestServer::sqlite_with(&[
        ("MAX_COMPRESSION_RATIO", "100"),
        ("MAX_DECOMPRESSED_BYTES", "3000000"),
        ("MAX_ZIP_ENTRIES", "20"),
    ])
    .await;
    with_project(&s).await;
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "overstated",
            forge(&[overstated_bomb().zip64()]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "archive entry \"zeros.bin\" exceeds the compression ratio limit",
        ),
        (
            "shared",
            forge(&[Forged::stored("a.txt", b"hello"), Forged::stored("b.txt", b"").record_of(0)]),
            StatusCode::BAD_REQUEST,
            "invalid zip archive: entries \"a.txt\" and \"b.txt\" overlap",
        ),
        (
            "twice",
            forge(&[Forged::stored("a.txt", b"1"), Forged::stored("a.txt", b"2")]),
            StatusCode::BAD_REQUEST,
            "duplicate archive entry \"a.txt\"",
        ),
    ];
    for (build, body, status, message) in cases {
        let (id, res) = upload_in_chunks(&s, build, &body).await;
        assert_eq!((res.status, res.error().as_str()), (status, message), "{build}");
        let session = s.get(&format!("{PROJECT}/uploads/{id}")).await.json();
        assert_eq!((session["phase"].as_str(), session["error"].as_str()), (Some("failed"), Some(message)), "{build}");
        assert!(!s.data_dir.join("envs/staging/checkout/uploads").join(&id).exists(), "{build}: chunks are removed");
    }
    assert!(!s.data_dir.join("envs/staging/checkout/builds").exists());
    assert_tmp_empties(&s).await;
}

#[tokio::test]
async fn bodies_are_checked_before_and_while_they_are_read() {
    let s = TestServer::sqlite_with(&[("MAX_UPLOAD_BYTES", "1000")]).await;
    with_project(&s).await;
    let res = TestServer::read(
        s.request(Method::POST, &format!("{PROJECT}/results?buildId=b1"))
            .bearer_auth(&s.key)
            .header("Content-Type", "text/plain")
            .body("x"),
    )
    .await;
    assert_eq!(
        (res.status, res.error()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/zip or application/octet-stream".to_owned()
        )
    );
    for (query, message) in [
        ("", "buildId is required"),
        ("?buildId=latest", "invalid buildId: \"latest\" is reserved"),
        ("?buildId=a/b", "invalid buildId"),
        ("?buildId=ok&wait=maybe", "invalid wait: must be true or false"),
        ("?buildId=&wait=true", "buildId is required"),
    ] {
        let res = TestServer::read(
            s.request(Method::POST, &format!("{PROJECT}/results{query}"))
                .bearer_auth(&s.key)
                .header("Content-Type", "application/zip")
                .body("x"),
        )
        .await;
        assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, message.to_owned()), "{query}");
    }
    let long_name = format!("?buildId=ok&reportName={}", "n".repeat(201));
    let res = TestServer::read(
        s.request(Method::POST, &format!("{PROJECT}/results{long_name}"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip")
            .body("x"),
    )
    .await;
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, "invalid reportName".to_owned()));
    // Declared too large: refused before reading; streamed too large (no length): refused while reading.
    let res = upload(&s, "big", vec![0u8; 1001]).await;
    assert_eq!(
        (res.status, res.error()),
        (StatusCode::PAYLOAD_TOO_LARGE, "upload exceeds the maximum size of 1000 bytes".to_owned())
    );
    let chunks = futures_util::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(vec![0u8; 400])));
    let res = TestServer::read(
        s.request(Method::POST, &format!("{PROJECT}/results?buildId=streamed"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/octet-stream")
            .body(reqwest::Body::wrap_stream(chunks)),
    )
    .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    let res = upload(&s, "empty", Vec::new()).await;
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, "request body is empty".to_owned()));
    let failed = s.get("/api/uploads").await.json();
    let streamed = failed.as_array().unwrap().iter().find(|u| u["buildId"] == "streamed").unwrap();
    assert_eq!((streamed["failedAtPhase"].as_str(), streamed["phase"].as_str()), (Some("uploading"), Some("failed")));
    assert_tmp_empties(&s).await;
}

#[tokio::test]
async fn a_stalled_body_fails_the_session_with_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::sqlite_with(&[("UPLOAD_IDLE_TIMEOUT", "1s")]).await;
    with_project(&s).await;
    let addr = s.base.strip_prefix("http://").unwrap().to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST {PROJECT}/results?buildId=slow HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/zip\r\nContent-Length: 1000\r\n\r\nPK",
        s.key
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("upload stalled: no data received for 1s"), "{answer}");
    let sessions = s.get("/api/uploads").await.json();
    assert_eq!(sessions[0]["error"], "upload stalled: no data received for 1s");
    assert_tmp_empties(&s).await;
}

async fn twenty_racing_uploads_of_one_build_have_one_winner(s: TestServer) {
    with_project(&s).await;
    let zip = results_zip();
    let mut racers = Vec::new();
    for _ in 0..20 {
        let req = s
            .request(Method::POST, &format!("{PROJECT}/results?buildId=race"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip")
            .body(zip.clone());
        racers.push(tokio::spawn(async move { req.send().await.unwrap().status() }));
    }
    let mut statuses = Vec::new();
    for racer in racers {
        statuses.push(racer.await.unwrap());
    }
    let won = statuses.iter().filter(|s| **s == StatusCode::ACCEPTED).count();
    let lost = statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count();
    assert_eq!((won, lost), (1, 19), "{statuses:?}");
    assert_eq!(files_under(&s.data_dir.join("envs/staging/checkout/builds")).len(), 8, "one build's files");
    assert_eq!(s.get("/api/uploads").await.json().as_array().unwrap().len(), 1, "losers leave no session");
}

async fn auto_create_keys_create_missing_targets_and_others_get_404(s: TestServer) {
    let plain = TestServer::read(
        s.request(Method::POST, "/api/environments/nightly/projects/api/results?buildId=1")
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip")
            .body(results_zip()),
    )
    .await;
    assert_eq!((plain.status, plain.error()), (StatusCode::NOT_FOUND, "environment nightly not found".to_owned()));
    let minted = TestServer::read(
        s.as_session(&s.admin, Method::POST, "/api/settings/apikeys")
            .json(&json!({"name": "ci", "role": "developer", "autoCreate": true})),
    )
    .await;
    assert_eq!(minted.status, StatusCode::CREATED, "{}", minted.text);
    let key = minted.json()["key"].as_str().unwrap().to_owned();
    let mut racers = Vec::new();
    for build in ["1", "2", "3"] {
        let req = s
            .request(Method::POST, &format!("/api/environments/nightly/projects/api/results?buildId={build}"))
            .bearer_auth(&key)
            .header("Content-Type", "application/zip")
            .body(results_zip());
        racers.push(tokio::spawn(async move { req.send().await.unwrap().status() }));
    }
    for racer in racers {
        assert_eq!(racer.await.unwrap(), StatusCode::ACCEPTED, "concurrent creators do not fail");
    }
    let projects = s.get("/api/environments/nightly/projects").await.json();
    assert_eq!((projects[0]["id"].as_str(), projects[0]["buildCount"].as_i64()), (Some("api"), Some(3)));
    assert_eq!(s.get("/api/uploads").await.json()[0]["uploadedBy"], "apikey:ci");
}

#[tokio::test]
async fn waiting_uploads_answer_with_the_session_when_the_wait_ends() {
    let s = TestServer::sqlite_with(&[("UPLOAD_WAIT_TIMEOUT", "1s")]).await;
    with_project(&s).await;
    let res = upload_as(&s, &s.key, "w1", "&wait=true", results_zip()).await;
    // No generator runs yet, so the wait times out and the session is still generating (§5.2).
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let session: Value = serde_json::from_str(res.text.trim_start()).unwrap();
    assert_eq!((session["phase"].as_str(), session["buildId"].as_str()), (Some("generating"), Some("w1")));
    assert_eq!(session["stats"]["total"], 4);
}

/// Settles a build directly in the SQLite database as report generation (not built yet) will: its job finished,
/// its upload sessions done, the build `status`.
fn settle(s: &TestServer, build: &str, status: &str) {
    use diesel::{Connection, RunQueryDsl};
    let mut conn =
        diesel::SqliteConnection::establish(&s.data_dir.join("allure-hub.db").display().to_string()).unwrap();
    let job = if status == "ready" { "succeeded" } else { "failed" };
    for statement in [
        format!("UPDATE generation_jobs SET state = '{job}' WHERE build_id = '{build}'"),
        format!("UPDATE upload_sessions SET phase = 'done' WHERE build_id = '{build}' AND phase = 'generating'"),
        format!("UPDATE builds SET status = '{status}' WHERE build_id = '{build}'"),
    ] {
        diesel::sql_query(statement).execute(&mut conn).unwrap();
    }
}

#[tokio::test]
async fn replace_swaps_the_results_of_a_settled_build_only() {
    let s = TestServer::sqlite().await;
    with_project(&s).await;
    let first = zip_of(&[("old-result.json", &crate::archives::result_json("old", "old", "passed", 1, 2))]);
    assert_eq!(upload(&s, "r1", first).await.status, StatusCode::ACCEPTED);
    // While its first upload is generating, the build cannot be replaced.
    let res = upload_as(&s, &s.key, "r1", "&replace=true", results_zip()).await;
    assert_eq!((res.status, res.error()), (StatusCode::CONFLICT, "build r1 has an upload in progress".to_owned()));
    settle(&s, "r1", "ready");
    let res = upload(&s, "r1", results_zip()).await;
    assert_eq!((res.status, res.error()), (StatusCode::CONFLICT, "build r1 already exists".to_owned()));

    let res = upload_as(&s, &s.key, "r1", "&replace=true", results_zip()).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    let files = files_under(&results_dir(&s, "r1"));
    assert!(
        files.contains(&"cart-result.json".to_owned()) && !files.contains(&"old-result.json".to_owned()),
        "{files:?}"
    );
    let projects = s.get("/api/environments/staging/projects").await.json();
    assert_eq!(
        (projects[0]["buildCount"].as_i64(), projects[0]["latestBuild"]["status"].as_str()),
        (Some(1), Some("pending"))
    );
    assert_eq!(projects[0]["latestBuild"]["stats"]["total"], 4, "the new results' statistics");

    // A build waiting for generation (no upload in flight) cannot be replaced either.
    {
        use diesel::{Connection, RunQueryDsl};
        let url = s.data_dir.join("allure-hub.db").display().to_string();
        let mut conn = diesel::SqliteConnection::establish(&url).unwrap();
        diesel::sql_query("UPDATE upload_sessions SET phase = 'done'").execute(&mut conn).unwrap();
    }
    let res = upload_as(&s, &s.key, "r1", "&replace=true", results_zip()).await;
    assert_eq!((res.status, res.error()), (StatusCode::CONFLICT, "build r1 is being generated".to_owned()));

    // A refused replacement (a bad archive) leaves the build and its results as they were.
    settle(&s, "r1", "failed");
    let res = upload_as(&s, &s.key, "r1", "&replace=true", b"not a zip".to_vec()).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(files_under(&results_dir(&s, "r1")).contains(&"cart-result.json".to_owned()));
    let projects = s.get("/api/environments/staging/projects").await.json();
    assert_eq!(projects[0]["latestBuild"]["status"], "failed");
}

#[tokio::test]
async fn report_config_overrides_that_could_run_code_or_read_files_are_refused() {
    let s = TestServer::sqlite().await;
    with_project(&s).await;
    for (config, message) in [
        (json!({"plugins": {"/tmp/evil.mjs": {}}}), "reportConfig.plugins./tmp/evil.mjs is not an allowed plugin"),
        (
            json!({"plugins": {"awesome": {"import": "/tmp/evil.mjs"}}}),
            "reportConfig.plugins.awesome.import is not allowed",
        ),
        (json!({"knownIssuesPath": "/etc/passwd"}), "reportConfig.knownIssuesPath is not allowed"),
        (
            json!({"plugins": {"csv": {"options": {"fileName": "../../../x"}}}}),
            "reportConfig.plugins.csv.options.fileName must not refer to files",
        ),
        (json!("name"), "reportConfig must be an object"),
    ] {
        let body = json!({"buildId": "cfg", "totalSize": 100, "totalChunks": 1, "reportConfig": config});
        let res = s.post(&format!("{PROJECT}/uploads"), body).await;
        assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, message.to_owned()));
    }
    let fine = json!({"buildId": "cfg", "totalSize": 100, "totalChunks": 1,
                      "reportConfig": {"name": "Nightly", "output": "/etc", "plugins": {"awesome": {"options": {"singleFile": false}}}}});
    assert_eq!(s.post(&format!("{PROJECT}/uploads"), fine).await.status, StatusCode::CREATED);
}
