//! §13.5: the Allure CLI seen and switched through `/api/settings/allure`, with a registry on loopback and an npm
//! script standing in for the real ones (nothing is downloaded).

use std::path::Path;
use std::time::Duration;

use hub_test_support::npm::{FakeRegistry, fake_npm, script};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Reply, TestServer};

const PATH: &str = "/api/settings/allure";

async fn status(s: &TestServer) -> Value {
    let res = TestServer::read(s.as_session(&s.admin, Method::GET, PATH)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.json()
}

async fn put(s: &TestServer, body: Value) -> Reply {
    TestServer::read(s.as_session(&s.admin, Method::PUT, PATH).json(&body)).await
}

/// The status once no installation runs any more (the start-up install of `ALLURE_VERSION` included).
async fn settled(s: &TestServer) -> Value {
    for _ in 0..100 {
        let body = status(s).await;
        if body["installing"].is_null() {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the Allure CLI installation did not finish");
}

/// A server whose npm installs fake CLIs from `registry`, failing for the versions in `failing`; `dir` holds npm.
async fn server(dir: &Path, registry: &FakeRegistry, failing: &[&str]) -> TestServer {
    let npm = fake_npm(dir, &registry.url, failing).display().to_string();
    TestServer::sqlite_with(&[("NPM_BIN", &npm), ("NPM_REGISTRY_URL", &registry.url)]).await
}

fn installed(s: &TestServer) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(s.data_dir.join("allure"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && n != "active")
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_status_shows_the_active_and_the_latest_version() {
    let dir = tempfile::tempdir().unwrap();
    let registry = FakeRegistry::start(&["3.18.0", "3.19.1"]).await;
    let s = server(dir.path(), &registry, &[]).await;
    let first = status(&s).await;
    assert!(first["installing"] == json!("3.18.0") || first["installing"].is_null(), "{first}");
    assert_eq!(
        settled(&s).await,
        json!({"version": "3.18.0", "latest": "3.19.1", "managed": true, "installing": null})
    );
    assert_eq!(registry.hits("/allure/latest"), 1, "a successful answer is reused");
}

#[tokio::test]
async fn latest_is_empty_when_the_registry_does_not_answer() {
    let s = TestServer::sqlite_with(&[("NPM_REGISTRY_URL", "http://127.0.0.1:9/")]).await;
    let body = status(&s).await;
    assert_eq!(body["latest"], "", "{body}");
}

#[tokio::test]
async fn requested_versions_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let registry = FakeRegistry::start(&["3.18.0"]).await;
    let s = server(dir.path(), &registry, &[]).await;
    settled(&s).await;
    let format = "version must be MAJOR.MINOR.PATCH (for example 3.18.0)";
    let cases = [
        (json!({}), "version is required"),
        (json!({"version": null}), "version is required"),
        (json!({"version": ""}), "version is required"),
        (json!({"version": "3.18"}), format),
        (json!({"version": "03.18.0"}), format),
        (json!({"version": "3.19.0-beta.1"}), format),
        (json!({"version": "3.19.0+build.1"}), format),
        (json!({"version": "2.30.0"}), "only Allure 3 versions are supported"),
        (json!({"version": "3.99.0"}), "allure@3.99.0 was not found in the registry"),
    ];
    for (body, message) in cases {
        let res = put(&s, body.clone()).await;
        assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, message.to_owned()), "{body}");
    }
    let res = put(&s, json!({"version": 3})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.error().starts_with("invalid JSON body: "), "{}", res.text);
    assert_eq!(installed(&s), ["3.18.0"], "nothing was installed");
}

#[tokio::test]
async fn a_version_is_activated_without_a_restart_and_kept_across_one() {
    let dir = tempfile::tempdir().unwrap();
    let registry = FakeRegistry::start(&["3.18.0", "3.19.1", "3.20.0"]).await;
    let s = server(dir.path(), &registry, &[]).await;
    assert_eq!(settled(&s).await["version"], "3.18.0");

    let res = put(&s, json!({"version": "3.19.1"})).await;
    assert_eq!((res.status, res.json()), (StatusCode::OK, json!({"version": "3.19.1"})), "{}", res.text);
    assert_eq!(status(&s).await["version"], "3.19.1");
    assert_eq!(std::fs::read_to_string(s.data_dir.join("allure/active")).unwrap().trim(), "3.19.1");

    // The active version again: nothing to do, not even a registry look-up.
    let asked = registry.hits("/allure/3.19.1");
    let res = put(&s, json!({"version": "3.19.1"})).await;
    assert_eq!((res.status, res.json()), (StatusCode::OK, json!({"version": "3.19.1"})));
    assert_eq!(registry.hits("/allure/3.19.1"), asked);

    // The previous version stays for rollback; older ones go.
    let res = put(&s, json!({"version": "3.20.0"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(installed(&s), ["3.19.1", "3.20.0"]);

    let s = s.restart().await;
    assert_eq!(settled(&s).await["version"], "3.20.0", "the activated version survives a restart");

    // Rolling back to the kept version needs no registry.
    let asked = registry.hits("/allure/3.19.1");
    let res = put(&s, json!({"version": "3.19.1"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(registry.hits("/allure/3.19.1"), asked);
    assert_eq!(status(&s).await["version"], "3.19.1");
}

#[tokio::test]
async fn a_failed_install_answers_500_with_npms_words_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let registry = FakeRegistry::start(&["3.18.0", "3.19.0"]).await;
    let s = server(dir.path(), &registry, &["3.19.0"]).await;
    settled(&s).await;
    let res = put(&s, json!({"version": "3.19.0"})).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    let body = res.json();
    assert_eq!(body["error"], "npm install allure@3.19.0 failed");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.starts_with("npm error code E500\nnpm error could not write $DATA_DIR/allure/"), "{detail}");
    assert!(!detail.contains(&s.data_dir.display().to_string()), "{detail}");
    assert_eq!(settled(&s).await["version"], "3.18.0", "the previous CLI stays active");
    assert_eq!(installed(&s), ["3.18.0"]);
}

#[tokio::test]
async fn nothing_else_is_installed_while_an_installation_runs() {
    // The test server's own npm never finishes: the start-up install of ALLURE_VERSION runs for the whole test.
    let registry = FakeRegistry::start(&["3.18.0", "3.19.1"]).await;
    let s = TestServer::sqlite_with(&[("NPM_REGISTRY_URL", &registry.url)]).await;
    assert_eq!(status(&s).await, json!({"version": "", "latest": "3.19.1", "managed": true, "installing": "3.18.0"}));
    let res = put(&s, json!({"version": "3.19.1"})).await;
    assert_eq!(
        (res.status, res.error()),
        (StatusCode::CONFLICT, "an Allure CLI installation is already in progress".to_owned())
    );
}

#[tokio::test]
async fn a_cli_set_by_allure_bin_is_not_managed() {
    let dir = tempfile::tempdir().unwrap();
    let registry = FakeRegistry::start(&["3.18.0", "3.19.1"]).await;
    let bin = script(dir.path(), "allure", "echo 'allure 3.17.2'").display().to_string();
    let s = TestServer::sqlite_with(&[("ALLURE_BIN", &bin), ("NPM_REGISTRY_URL", &registry.url)]).await;
    assert_eq!(
        status(&s).await,
        json!({"version": "3.17.2", "latest": "3.19.1", "managed": false, "installing": null})
    );
    let res = put(&s, json!({"version": "3.19.1"})).await;
    assert_eq!(
        (res.status, res.error()),
        (StatusCode::CONFLICT, "the Allure CLI is set by ALLURE_BIN and cannot be changed here".to_owned())
    );
    assert!(!s.data_dir.join("allure").exists(), "nothing was installed");
}

#[tokio::test]
async fn without_registry_access_nothing_is_looked_up_or_installed() {
    let s = TestServer::sqlite_with(&[("NPM_REGISTRY_URL", "")]).await;
    assert_eq!(status(&s).await, json!({"version": "", "latest": "", "managed": true, "installing": null}));
    let res = put(&s, json!({"version": "3.19.1"})).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        res.json(),
        json!({"error": "npm install allure@3.19.1 failed", "detail": "NPM_REGISTRY_URL is empty, so nothing can be installed"})
    );
}
