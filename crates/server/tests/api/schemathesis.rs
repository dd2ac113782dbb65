//! §15 against the running server: the document passes an independent OpenAPI 3.1 validator, and schemathesis
//! (property-based API testing, from PyPI, pinned) calls every operation with generated requests and checks that
//! no response is a 5xx and every response has a documented status and matches its schema.
//!
//! Both tools are installed once into a virtual environment under the target directory, like the pytest suite of
//! the generation tests; without Python or PyPI the test is skipped with a message, unless
//! `ALLURE_HUB_REQUIRE_NODE=1` (as in CI).
//!
//! The run is bounded (a fixed number of examples per operation and a fixed seed, so a failure reproduces) and
//! split in three passes: with the admin API key everything but deletions, then the deletions (so the seeded
//! environment, project, build and upload stay available to the other operations as long as possible), then the
//! settings routes with the admin's browser session (API keys get 403 there). Left out: the event streams (they
//! never end), and `PUT /api/settings/allure` (it would run a real npm install).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::{Method, StatusCode};

use crate::archives::results_zip;
use crate::support::TestServer;

/// The pinned tools.
const REQUIREMENTS: [&str; 2] = ["schemathesis==4.32.5", "openapi-spec-validator==0.9.0"];
/// Generated requests per operation and generation phase.
const MAX_EXAMPLES: &str = "20";
/// Fixed, so that a failure found in CI reproduces locally with the same command.
const SEED: &str = "20261129";

/// The `bin` directory of a virtual environment with the pinned tools, made once; `None` (skipped) when it
/// cannot be made and the real tools are not required.
fn tools() -> Option<PathBuf> {
    static BIN: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("schemathesis-4.32.5-venv");
        let bin = venv.join("bin");
        let run = |cmd: &mut Command| -> Result<(), String> {
            let out = cmd.output().map_err(|e| e.to_string())?;
            if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
        };
        let made = bin.join("schemathesis").exists()
            || (|| {
                run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
                run(Command::new(bin.join("pip")).args(["install", "-q"]).args(REQUIREMENTS))
            })()
            .map_err(|e| {
                let _ = std::fs::remove_dir_all(&venv);
                assert!(!crate::support::node_required(), "schemathesis is required: {e}");
                let _ = writeln!(std::io::stderr(), "\n*** schemathesis test SKIPPED: {e} ***\n");
            })
            .is_ok();
        made.then_some(bin)
    })
    .clone()
}

/// Runs a command off the runtime's thread (the server's background tasks share it) and returns whether it
/// succeeded with its output.
async fn run(program: PathBuf, args: Vec<String>, dir: &Path) -> (bool, String) {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(&program).args(&args).current_dir(&dir).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    })
    .await
    .unwrap()
}

/// The end of a long output, for an assertion message.
fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(12_000);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// The number of cases in schemathesis' summary line (`1498 generated, 1498 passed`).
fn generated_cases(out: &str) -> Option<u64> {
    let line = out.lines().find(|l| l.contains(" generated, "))?;
    line.split_whitespace().next()?.parse().ok()
}

/// An environment, a project, a build (from a real upload) and an open chunked upload, so generated requests
/// can reach existing resources; their ids are offered to schemathesis half of the time.
async fn seed(s: &TestServer) -> String {
    let res = s.post("/api/environments", serde_json::json!({"id": "staging", "name": "Staging"})).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let project = serde_json::json!({"id": "checkout", "name": "Checkout"});
    assert_eq!(s.post("/api/environments/staging/projects", project).await.status, StatusCode::CREATED);
    let upload = TestServer::read(
        s.request(Method::POST, "/api/environments/staging/projects/checkout/results?buildId=b1")
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip")
            .body(results_zip()),
    )
    .await;
    assert_eq!(upload.status, StatusCode::ACCEPTED, "{}", upload.text);
    let init = serde_json::json!({"buildId": "b2", "totalSize": 100, "totalChunks": 2});
    let chunked = s.post("/api/environments/staging/projects/checkout/uploads", init).await;
    assert_eq!(chunked.status, StatusCode::CREATED, "{}", chunked.text);
    let upload_id = chunked.json()["uploadId"].as_str().unwrap().to_owned();
    format!(
        r#"[dictionaries.envs]
values = ["staging"]
[dictionaries.projects]
values = ["checkout"]
[dictionaries.builds]
values = ["b1"]
[dictionaries.uploads]
values = ["{upload_id}"]

[parameters]
"path.envId" = {{ dictionary = "envs", probability = 0.5 }}
"path.projectId" = {{ dictionary = "projects", probability = 0.5 }}
"path.buildId" = {{ dictionary = "builds", probability = 0.5 }}
"path.uploadId" = {{ dictionary = "uploads", probability = 0.5 }}
"path.id" = {{ dictionary = "uploads", probability = 0.3 }}
"#
    )
}

#[tokio::test]
async fn the_api_answers_as_its_openapi_document_says() {
    let Some(bin) = tools() else { return };
    // A `wait=true` upload that gets through must not hold its response for the default 30 minutes (reports are
    // never generated here: the test server's npm never finishes installing the CLI). The registry is a closed
    // local port, so `GET /api/settings/allure` looks up nothing on the internet.
    let s =
        TestServer::sqlite_with(&[("UPLOAD_WAIT_TIMEOUT", "2s"), ("NPM_REGISTRY_URL", "http://127.0.0.1:9/")]).await;
    let work = tempfile::tempdir().unwrap();

    // An independent validator accepts the document as OpenAPI 3.1.
    let doc = TestServer::read(s.request(Method::GET, "/api/openapi.json")).await;
    assert_eq!(doc.status, StatusCode::OK);
    let doc_file = work.path().join("openapi.json");
    std::fs::write(&doc_file, &doc.text).unwrap();
    let (valid, out) = run(bin.join("openapi-spec-validator"), vec![doc_file.display().to_string()], work.path()).await;
    assert!(valid, "the document is not valid OpenAPI:\n{out}");

    let config = work.path().join("schemathesis.toml");
    std::fs::write(&config, seed(&s).await).unwrap();
    let session = [
        "-H".to_owned(),
        format!("Cookie: allure_hub_session={}", s.admin.cookie),
        "-H".to_owned(),
        format!("X-CSRF-Token: {}", s.admin.csrf),
    ];
    let key = ["-H".to_owned(), format!("Authorization: Bearer {}", s.key)];
    let passes: [(&str, Vec<String>); 3] = [
        (
            "API key, everything but deletions",
            [
                &key[..],
                &["--exclude-path-regex", "^/api/settings|/stream$", "--exclude-method", "DELETE"].map(String::from),
            ]
            .concat(),
        ),
        (
            "API key, deletions",
            [&key[..], &["--exclude-path-regex", "^/api/settings", "--include-method", "DELETE"].map(String::from)]
                .concat(),
        ),
        (
            "browser session, settings",
            [
                &session[..],
                &["--include-path-regex", "^/api/settings|^/auth/me$", "--exclude-operation-id", "put_allure"]
                    .map(String::from),
            ]
            .concat(),
        ),
    ];
    for (what, filters) in passes {
        let mut args: Vec<String> = vec![
            "--config-file".into(),
            config.display().to_string(),
            "run".into(),
            format!("{}/api/openapi.json", s.base),
            "--url".into(),
            s.base.clone(),
            "--checks".into(),
            "not_a_server_error,status_code_conformance,response_schema_conformance".into(),
            "--max-examples".into(),
            MAX_EXAMPLES.into(),
            "--seed".into(),
            SEED.into(),
            "--workers".into(),
            "1".into(),
            "--request-timeout".into(),
            "30".into(),
        ];
        args.extend(filters);
        let (passed, out) = run(bin.join("schemathesis"), args, work.path()).await;
        assert!(passed, "schemathesis ({what}) found problems:\n{}", tail(&out));
        let cases = generated_cases(&out).unwrap_or_else(|| panic!("no summary from schemathesis ({what}):\n{out}"));
        assert!(cases >= 100, "schemathesis ({what}) generated only {cases} cases:\n{out}");
        let _ = writeln!(std::io::stderr(), "schemathesis ({what}): {cases} cases passed");
    }
    // The session survived (nothing signed it out), so the settings pass really ran as the admin.
    let me = TestServer::read(s.as_session(&s.admin, Method::GET, "/auth/me")).await;
    assert_eq!(me.status, StatusCode::OK);
}
