//! §8.3 and §17.3: uploads turned into reports by the real Allure 3 CLI (installed with npm into a cache under the
//! target directory on first use), with trend history, and failures that leave the previous state in place.
//! Without npm the tests are skipped with a message, unless `ALLURE_HUB_REQUIRE_NODE=1` (as in CI).

use std::io::Write;
use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::OnceCell;

use hub_http::report_files::ReportPolicy;

use crate::archives::results_zip;
use crate::support::TestServer;

const PROJECT: &str = "/api/environments/staging/projects/checkout";

/// The pinned CLI, installed once per test process; `None` (test skipped) when npm is unusable.
pub(crate) async fn allure_bin() -> Option<PathBuf> {
    static BIN: OnceCell<Option<PathBuf>> = OnceCell::const_new();
    BIN.get_or_init(|| async {
        let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("allure-cli");
        let installer = hub_allure_cli::Installer::new(cache, PathBuf::from("npm"), None);
        match installer.ensure("3.18.0").await {
            Ok(bin) => Some(bin),
            Err(e) if !crate::support::node_required() => {
                let _ = writeln!(std::io::stderr(), "\n*** generation tests SKIPPED: {e} ***\n");
                None
            }
            Err(e) => panic!("the Allure CLI is required but cannot be installed: {e}"),
        }
    })
    .await
    .clone()
}

pub(crate) async fn server(extra: &[(&str, &str)]) -> Option<TestServer> {
    let bin = allure_bin().await?;
    let bin = bin.display().to_string();
    let mut vars = vec![("ALLURE_BIN", bin.as_str())];
    vars.extend_from_slice(extra);
    let s = TestServer::sqlite_with(&vars).await;
    create_project(&s).await;
    Some(s)
}

/// Creates the `staging/checkout` project the generation tests upload to.
pub(crate) async fn create_project(s: &TestServer) {
    let res = s.post("/api/environments", serde_json::json!({"id": "staging", "name": "Staging"})).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let res =
        s.post("/api/environments/staging/projects", serde_json::json!({"id": "checkout", "name": "Checkout"})).await;
    assert_eq!(res.status, StatusCode::CREATED);
}

/// Uploads the test results as `build` of `staging/checkout` and waits for the session to end.
pub(crate) async fn upload_and_wait(s: &TestServer, build: &str) -> Value {
    let res = TestServer::read(
        s.request(Method::POST, &format!("{PROJECT}/results?buildId={build}&wait=true"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip")
            .body(results_zip()),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    serde_json::from_str(res.text.trim_start()).unwrap()
}

fn history_lines(s: &TestServer) -> Vec<Value> {
    std::fs::read_to_string(s.data_dir.join("envs/staging/checkout/history.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn uploads_become_reports_with_one_trend_point_each() {
    let Some(s) = server(&[]).await else { return };
    let session = upload_and_wait(&s, "b1").await;
    assert_eq!((session["phase"].as_str(), session["error"].as_str()), (Some("done"), None), "{session}");
    assert!(session["completedAt"].is_string());
    let report = s.data_dir.join("envs/staging/checkout/builds/b1/report");
    assert!(report.join("index.html").is_file(), "the report is published");
    assert_eq!(history_lines(&s).len(), 1);
    let ready = notification(&s, "Report ready: b1").await;
    assert_eq!((ready["category"].as_str(), ready["severity"].as_str()), (Some("upload"), Some("success")));
    assert_eq!(ready["body"], "Checkout in Staging: 1 passed, 2 failed, 1 skipped.");
    let payload = &ready["payload"];
    assert_eq!(payload["url"], "/reports/staging/checkout/b1/index.html");
    assert_eq!(
        (payload["url"].clone(), payload["upload_id"].clone()),
        (payload["report_url"].clone(), session["uploadId"].clone())
    );
    assert_eq!(
        [&payload["total"], &payload["passed"], &payload["failed"], &payload["broken"], &payload["skipped"]],
        [4, 1, 1, 1, 1]
    );

    let session = upload_and_wait(&s, "b2").await;
    assert_eq!(session["phase"], "done", "{session}");
    assert_eq!(history_lines(&s).len(), 2, "each build adds its point");
    let projects = s.get("/api/environments/staging/projects").await.json();
    assert_eq!(
        (projects[0]["latestBuild"]["buildId"].as_str(), projects[0]["latestBuild"]["status"].as_str()),
        (Some("b2"), Some("ready"))
    );
    let tmp: Vec<_> = std::fs::read_dir(s.data_dir.join("tmp")).unwrap().collect();
    assert!(tmp.len() <= 2, "job directories are removed (trash may still be going): {tmp:?}");
}

#[tokio::test]
async fn a_generation_past_its_time_limit_fails_the_build_and_keeps_the_history() {
    let Some(s) = server(&[("ALLURE_TIMEOUT", "1ms")]).await else { return };
    let session = upload_and_wait(&s, "slow").await;
    assert_eq!(
        (session["phase"].as_str(), session["failedAtPhase"].as_str(), session["error"].as_str()),
        (Some("failed"), Some("generating"), Some("allure generate timed out after 1ms")),
        "{session}"
    );
    let failed = notification(&s, "Report failed: slow").await;
    assert_eq!(
        (failed["severity"].as_str(), failed["body"].as_str()),
        (Some("error"), Some("allure generate timed out after 1ms"))
    );
    let payload = &failed["payload"];
    assert_eq!((payload["phase"].as_str(), payload["failed_at_phase"].as_str()), (Some("failed"), Some("generating")));
    assert_eq!(
        (payload["url"].clone(), payload["error"].as_str()),
        (Value::Null, Some("allure generate timed out after 1ms"))
    );
    assert!(!s.data_dir.join("envs/staging/checkout/builds/slow/report").exists());
    assert!(s.data_dir.join("envs/staging/checkout/builds/slow/results").exists(), "results stay for a retry");
    assert!(history_lines(&s).is_empty());
    let projects = s.get("/api/environments/staging/projects").await.json();
    assert_eq!(projects[0]["latestBuild"]["status"], "failed");
}

/// The notification titled `title` (§10.7), once it exists: it is created just after its session ends.
async fn notification(s: &TestServer, title: &str) -> Value {
    for _ in 0..100 {
        let list = s.get("/api/notifications").await.json();
        let found: Vec<&Value> = list.as_array().unwrap().iter().filter(|n| n["title"] == title).collect();
        assert!(found.len() <= 1, "one notification per event: {list}");
        if let Some(n) = found.first() {
            return (*n).clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no notification {title:?}");
}

/// The `allure_hub_report` cookie a report-origin response sets, as a `Cookie` header value.
fn report_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("allure_hub_report="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn reports_are_served_only_from_the_report_origin_to_granted_viewers() {
    let Some(s) = server(&[]).await else { return };
    assert_eq!(upload_and_wait(&s, "b1").await["phase"], "done");
    let page = "/reports/staging/checkout/b1/index.html";

    // Main origin: an API key is checked and handed over with a grant; nothing is served here.
    let res = s.client.get(format!("{}{page}?lang=en", s.base)).bearer_auth(&s.key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = location(&res);
    assert!(to.starts_with(&format!("{}{page}?grant=", s.reports)) && to.ends_with("&lang=en"), "{to}");
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    let res = s.client.get(format!("{}{page}", s.base)).header("Accept", "text/html").send().await.unwrap();
    assert_eq!(
        (res.status(), location(&res)),
        (StatusCode::FOUND, "/login?next=%2Freports%2Fstaging%2Fcheckout%2Fb1%2Findex.html".to_owned()),
        "a browser without a session signs in first"
    );
    assert_eq!(s.client.get(format!("{}{page}", s.base)).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // Report origin: the grant serves the file and leaves the report cookie.
    let res = s.client.get(&to).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = report_cookie(&res).expect("report cookie");
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("Path=/reports/"), "{set_cookie}");
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert_eq!(csp, format!("{}; frame-ancestors 'self' {}", ReportPolicy::DEFAULT, s.base));
    assert!(res.text().await.unwrap().contains("<html"), "the report itself");

    let with_cookie = |path: &str| s.client.get(format!("{}{path}", s.reports)).header("Cookie", cookie.clone());
    assert_eq!(with_cookie(page).send().await.unwrap().status(), StatusCode::OK, "the cookie is enough afterwards");
    let latest = with_cookie("/reports/staging/checkout/latest/index.html").send().await.unwrap();
    assert_eq!((latest.status(), location(&latest)), (StatusCode::FOUND, page.to_owned()));
    let escape = with_cookie("/reports/staging/checkout/b1/..%2F..%2Fresults/cart-result.json").send().await.unwrap();
    assert_eq!(escape.status(), StatusCode::BAD_REQUEST);
    // Names longer than the filesystem allows name nothing: a 404 in the contract's form, never the filesystem's
    // "name too long" as a 500 (the path is the client's choice).
    let long = "a".repeat(256);
    for path in [format!("{long}.html"), format!("{long}/index.html"), format!("data/{long}"), format!("{long}/")] {
        let res = with_cookie(&format!("/reports/staging/checkout/b1/{path}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.headers()["content-security-policy"], csp.as_str(), "errors carry the policy too: {path}");
        assert_eq!(res.text().await.unwrap(), r#"{"error":"not found"}"#, "{path}");
    }
    let res = with_cookie(&format!("/reports/staging/checkout/{long}/index.html")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "a build id no build can have");
    let post = s.client.post(format!("{}{page}", s.reports)).header("Cookie", cookie.clone()).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);

    // Without valid credentials: back to the main origin for a browser, 401 otherwise; the main session cookie,
    // a reused link grant as a cookie, and a forged grant count for nothing.
    let anonymous = s.client.get(format!("{}{page}", s.reports)).header("Accept", "text/html").send().await.unwrap();
    assert_eq!((anonymous.status(), location(&anonymous)), (StatusCode::FOUND, format!("{}{page}", s.base)));
    let session = format!("allure_hub_session={}", s.admin.cookie);
    let grant = to.split("grant=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    for cookie in [session, format!("allure_hub_report={grant}")] {
        let res = s.client.get(format!("{}{page}", s.reports)).header("Cookie", cookie).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let forged = to.replace("grant=g.", "grant=g.x");
    assert_eq!(s.client.get(&forged).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // A grant names its principal: once the key is revoked, its grant opens nothing.
    let viewer = s.key_with_role("viewer-ci", "viewer").await;
    let res = s.client.get(format!("{}{page}", s.base)).bearer_auth(&viewer).send().await.unwrap();
    let viewer_link = location(&res);
    let keys = TestServer::read(s.as_session(&s.admin, Method::GET, "/api/settings/apikeys")).await;
    assert_eq!(keys.status, StatusCode::OK);
    let id = keys.json()["items"].as_array().unwrap().iter().find(|k| k["name"] == "viewer-ci").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted =
        TestServer::read(s.as_session(&s.admin, Method::DELETE, &format!("/api/settings/apikeys/{id}"))).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(s.client.get(&viewer_link).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // Deleting the build takes its report offline at once.
    assert_eq!(s.delete("/api/environments/staging/projects/checkout/reports/b1").await.status, StatusCode::NO_CONTENT);
    assert_eq!(with_cookie(page).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let res = s.client.get(format!("{}{page}", s.base)).bearer_auth(&s.key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn report_csp_replaces_the_policy_of_every_report_origin_response_but_not_its_framing() {
    let policy = "default-src 'self' https://cdn.example.com; img-src * data:";
    let Some(s) = server(&[("REPORT_CSP", policy)]).await else { return };
    assert_eq!(upload_and_wait(&s, "b1").await["phase"], "done");
    let expected = format!("{policy}; frame-ancestors 'self' {}", s.base);
    let on_reports = |path: &str| s.client.get(format!("{}{path}", s.reports)).bearer_auth(&s.key);
    for (path, status) in [
        ("/reports/staging/checkout/b1/index.html", StatusCode::OK),
        ("/reports/staging/checkout/b1/nope.js", StatusCode::NOT_FOUND),
        ("/reports/staging/checkout/nope/index.html", StatusCode::NOT_FOUND),
        ("/reports/staging/checkout/b1", StatusCode::MOVED_PERMANENTLY),
        ("/api/environments", StatusCode::NOT_FOUND),
    ] {
        let res = on_reports(path).send().await.unwrap();
        assert_eq!(res.status(), status, "{path}");
        assert_eq!(res.headers()["content-security-policy"], expected.as_str(), "{path}");
    }
    let anonymous = s.client.get(format!("{}/reports/staging/checkout/b1/index.html", s.reports)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()["content-security-policy"], expected.as_str());
    // The main origin keeps its own policy.
    let page = s.client.get(format!("{}/login", s.base)).send().await.unwrap();
    let main = page.headers().get("content-security-policy").map(|v| v.to_str().unwrap().to_owned());
    assert!(main.is_some_and(|csp| !csp.contains("cdn.example.com")));
}

#[tokio::test]
async fn one_listener_serves_both_origins_told_apart_by_host_name() {
    // `REPORTS_ADDR` empty: the main listener answers the report origin's host name with report files only.
    let vars = [("REPORTS_ADDR", ""), ("REPORTS_BASE_URL", "http://reports.test")];
    let Some(s) = server(&vars).await else { return };
    assert!(s.reports.is_empty(), "no second listener");
    assert_eq!(upload_and_wait(&s, "b1").await["phase"], "done");
    let page = "/reports/staging/checkout/b1/index.html";

    let res = s.client.get(format!("{}{page}", s.base)).bearer_auth(&s.key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND, "the main host name never serves report files");
    let to = location(&res);
    assert!(to.starts_with(&format!("http://reports.test{page}?grant=")), "{to}");
    let on_report_host =
        |path_and_query: &str| s.client.get(format!("{}{path_and_query}", s.base)).header("Host", "reports.test");
    let grant_path = to.trim_start_matches("http://reports.test");
    let res = on_report_host(grant_path).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = report_cookie(&res).expect("report cookie");
    assert!(res.text().await.unwrap().contains("<html"), "the report itself");
    let again = on_report_host(page).header("Cookie", cookie.clone()).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);

    // The report host name is not the API: uploaded scripts running there cannot reach it with any cookie.
    let session = format!("allure_hub_session={}", s.admin.cookie);
    let api = on_report_host("/api/environments").header("Cookie", session.clone()).send().await.unwrap();
    assert_ne!(api.status(), StatusCode::OK);
    let api = on_report_host("/auth/me").header("Cookie", session).send().await.unwrap();
    assert_ne!(api.status(), StatusCode::OK);
    assert_eq!(s.get("/api/environments").await.status, StatusCode::OK, "while the main host name serves the API");
}

#[tokio::test]
async fn deleting_a_build_removes_exactly_its_trend_point() {
    let Some(s) = server(&[]).await else { return };
    for build in ["b1", "b2", "b3"] {
        assert_eq!(upload_and_wait(&s, build).await["phase"], "done");
    }
    let points: Vec<Value> = history_lines(&s);
    assert_eq!(points.len(), 3);
    assert_eq!(s.delete(&format!("{PROJECT}/reports/b2")).await.status, StatusCode::NO_CONTENT);
    let left: Vec<Value> = history_lines(&s);
    assert_eq!(left, vec![points[0].clone(), points[2].clone()], "b1's and b3's points, untouched");
    assert!(!s.data_dir.join("envs/staging/checkout/builds/b2").exists());
    assert_eq!(s.get(&format!("{PROJECT}/reports/b2")).await.status, StatusCode::NOT_FOUND);
    // A regeneration-free re-upload of b3 replaces its own point and keeps b1's.
    let res = TestServer::read(
        s.request(Method::POST, &format!("{PROJECT}/results?buildId=b3&replace=true&wait=true"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip")
            .body(results_zip()),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let now: Vec<Value> = history_lines(&s);
    assert_eq!((now.len(), &now[0]), (2, &points[0]), "{now:?}");
    assert_ne!(now[1], points[2], "b3's point was replaced by its new run");
}

/// Polls a session until it leaves `generating` (the real CLI needs a few seconds).
pub(crate) async fn finished_session(s: &TestServer, id: &str) -> Value {
    for _ in 0..600 {
        let session = s.get(&format!("{PROJECT}/uploads/{id}")).await.json();
        if session["phase"] != "generating" {
            return session;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("session {id} still generating after a minute");
}

#[tokio::test]
async fn a_regeneration_applies_its_config_and_evaluates_the_quality_gate() {
    let Some(s) = server(&[]).await else { return };
    assert_eq!(upload_and_wait(&s, "b1").await["phase"], "done");
    let before = s.get(&format!("{PROJECT}/reports/b1")).await.json();
    assert_eq!(before["qualityGate"], Value::Null, "no rules, no gate");

    // results_zip: passed 1, failed 1, broken 1, skipped 1; the longest test (cart) took 7500 ms.
    let config = serde_json::json!({
        "name": "Checkout nightly",
        "qualityGate": {"rules": [
            {"maxFailures": 1, "fastFail": true},
            {"id": "speed", "maxDuration": 10000, "minTestsCount": 10}
        ]}
    });
    let res = s.post(&format!("{PROJECT}/reports"), serde_json::json!({"buildId": "b1", "reportConfig": config})).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    let accepted = res.json();
    assert_eq!(accepted["reportUrl"], "/reports/staging/checkout/b1/index.html");
    let session = finished_session(&s, accepted["uploadId"].as_str().unwrap()).await;
    assert_eq!((session["kind"].as_str(), session["phase"].as_str()), (Some("regenerate"), Some("done")), "{session}");

    let build = s.get(&format!("{PROJECT}/reports/b1")).await.json();
    assert_eq!((build["status"].as_str(), build["config"].clone()), (Some("ready"), config));
    assert_eq!(
        build["qualityGate"],
        serde_json::json!({"passed": false, "failures": [{
            "rule": "maxFailures", "expected": 1, "actual": 2,
            "message": "The number of failed tests 2 exceeds the allowed threshold value 1"
        }]}),
        "fastFail stops at the first failure and skips the speed ruleset"
    );
    let gate = notification(&s, "Quality gate failed: b1").await;
    assert_eq!(gate["severity"], "warning");
    assert_eq!(gate["body"], "The number of failed tests 2 exceeds the allowed threshold value 1");
    assert_eq!(
        gate["payload"]["quality_gate_failures"],
        serde_json::json!(["The number of failed tests 2 exceeds the allowed threshold value 1"])
    );
    assert_eq!(history_lines(&s).len(), 1, "a regeneration replaces the build's trend point");
    let title = std::fs::read_to_string(s.data_dir.join("envs/staging/checkout/builds/b1/report/index.html")).unwrap();
    assert!(title.contains("Checkout nightly"), "the report was generated with the new name");
}

#[tokio::test]
async fn a_failed_regeneration_of_a_replaced_build_keeps_its_previous_report_online() {
    let Some(s) = server(&[]).await else { return };
    assert_eq!(upload_and_wait(&s, "b1").await["phase"], "done");
    let report = s.data_dir.join("envs/staging/checkout/builds/b1/report/index.html");
    let served_before = std::fs::read(&report).unwrap();

    let s = s.restart_with(&[("ALLURE_TIMEOUT", "1ms")]).await;
    let res = TestServer::read(
        s.request(Method::POST, &format!("{PROJECT}/results?buildId=b1&replace=true&wait=true"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip")
            .body(results_zip()),
    )
    .await;
    let session: Value = serde_json::from_str(res.text.trim_start()).unwrap();
    assert_eq!(session["error"], "allure generate timed out after 1ms", "{session}");
    let build = s.get(&format!("{PROJECT}/reports/b1")).await.json();
    assert_eq!((build["status"].as_str(), build["hasReport"].as_bool()), (Some("failed"), Some(true)), "{build}");

    // The previous report is still what the report origin serves.
    let res = s.client.get(format!("{}/reports/staging/checkout/b1/index.html", s.base)).bearer_auth(&s.key).send();
    let grant_url = location(&res.await.unwrap());
    let served = s.client.get(&grant_url).send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().await.unwrap().to_vec(), served_before);
}

#[tokio::test]
async fn projects_generate_in_parallel_and_builds_of_one_project_in_turn() {
    let Some(s) = server(&[("ALLURE_MAX_CONCURRENCY", "2")]).await else { return };
    let res = s.post("/api/environments/staging/projects", serde_json::json!({"id": "billing", "name": "B"})).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let builds = [("checkout", "b1"), ("billing", "c1"), ("checkout", "b2")];
    for (project, build) in builds {
        let res = TestServer::read(
            s.request(Method::POST, &format!("/api/environments/staging/projects/{project}/results?buildId={build}"))
                .bearer_auth(&s.key)
                .header("Content-Type", "application/zip")
                .body(results_zip()),
        )
        .await;
        assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    }
    let (mut across_projects, mut within_project) = (false, false);
    for _ in 0..1200 {
        // One list per project: its builds' statuses come from one query, so two of them are seen at one instant
        // (three separate reads could see b1 still running and b2 already started).
        let status_of = |list: &Value, build: &str| {
            let items = list["items"].as_array().cloned().unwrap_or_default();
            let found = items.into_iter().find(|b| b["buildId"] == build);
            found.and_then(|b| b["status"].as_str().map(str::to_owned)).unwrap_or_default()
        };
        let checkout = s.get("/api/environments/staging/projects/checkout/reports").await.json();
        let billing = s.get("/api/environments/staging/projects/billing/reports").await.json();
        let states = [status_of(&checkout, "b1"), status_of(&billing, "c1"), status_of(&checkout, "b2")];
        across_projects |= states[1] == "generating" && (states[0] == "generating" || states[2] == "generating");
        within_project |= states[0] == "generating" && states[2] == "generating";
        if states.iter().all(|st| st == "ready") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(across_projects, "billing ran while a checkout build ran");
    assert!(!within_project, "checkout's builds never ran at the same time");
    assert_eq!(history_lines(&s).len(), 2, "both checkout builds added their point");
}

const PYTEST_SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pytest-suite");

/// A virtual environment with pytest and allure-pytest (from PyPI, pinned), made once; `None` (skipped) when it
/// cannot be made and the real tools are not required.
fn pytest_bin() -> Option<PathBuf> {
    static BIN: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pytest-venv");
        let pytest = venv.join("bin/pytest");
        let run = |cmd: &mut std::process::Command| -> Result<(), String> {
            let out = cmd.output().map_err(|e| e.to_string())?;
            if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
        };
        let made = pytest.exists()
            || (|| {
                run(std::process::Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
                run(std::process::Command::new(venv.join("bin/pip"))
                    .args(["install", "-q", "-r"])
                    .arg(format!("{PYTEST_SUITE}/requirements.txt")))
            })()
            .map_err(|e| {
                let _ = std::fs::remove_dir_all(&venv);
                assert!(!crate::support::node_required(), "pytest and allure-pytest are required: {e}");
                let _ = writeln!(std::io::stderr(), "\n*** pytest end-to-end test SKIPPED: {e} ***\n");
            })
            .is_ok();
        made.then_some(pytest)
    })
    .clone()
}

/// Runs the suite and zips its allure-results; also returns each result file's status, read here.
fn real_results(pytest: &std::path::Path) -> (Vec<u8>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("allure-results");
    let out = std::process::Command::new(pytest)
        .args(["-q", "-p", "no:cacheprovider", "--alluredir"])
        .arg(&results)
        .arg(format!("{PYTEST_SUITE}/test_shop.py"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "pytest ran and reported its failures: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mut files = Vec::new();
    let mut statuses = Vec::new();
    for entry in std::fs::read_dir(&results).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let bytes = std::fs::read(&path).unwrap();
        if name.ends_with("-result.json") {
            let result: Value = serde_json::from_slice(&bytes).unwrap();
            statuses.push(result["status"].as_str().unwrap().to_owned());
        }
        files.push((format!("allure-results/{name}"), bytes));
    }
    let entries: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    (crate::archives::zip_of(&entries), statuses)
}

async fn upload_zip_and_wait(s: &TestServer, build: &str, zip: Vec<u8>) -> Value {
    let res = TestServer::read(
        s.request(Method::POST, &format!("{PROJECT}/results?buildId={build}&wait=true"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip")
            .body(zip),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    serde_json::from_str(res.text.trim_start()).unwrap()
}

#[tokio::test]
async fn a_real_test_run_becomes_a_browsable_report_with_a_trend() {
    let Some(pytest) = pytest_bin() else { return };
    let Some(s) = server(&[]).await else { return };
    let (zip, statuses) = real_results(&pytest);
    let count = |status: &str| statuses.iter().filter(|s| *s == status).count();
    assert_eq!(statuses.len(), 8, "{statuses:?}");
    let session = upload_zip_and_wait(&s, "run-1", zip).await;
    assert_eq!(session["phase"], "done", "{session}");
    let expected = serde_json::json!({
        "total": statuses.len(), "passed": count("passed"), "failed": count("failed"), "broken": count("broken"),
        "skipped": count("skipped"), "unknown": 0
    });
    let build = s.get(&format!("{PROJECT}/reports/run-1")).await.json();
    let mut stats = build["stats"].clone();
    assert!(stats["durationMs"].as_i64().unwrap() >= 0);
    stats.as_object_mut().unwrap().remove("durationMs");
    assert_eq!(stats, expected, "{build}");

    // The report and every asset its page names load from the report origin.
    let res = s.client.get(format!("{}{}", s.base, build["reportUrl"].as_str().unwrap())).bearer_auth(&s.key).send();
    let res = s.client.get(location(&res.await.unwrap())).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = report_cookie(&res).unwrap();
    let page = res.text().await.unwrap();
    let assets: Vec<&str> = page
        .split(['"', '\''])
        .filter(|part| {
            !part.contains("://")
                && !part.starts_with('#')
                && [".js", ".css", ".json", ".ico", ".svg"].iter().any(|e| part.ends_with(e))
        })
        .collect();
    assert!(!assets.is_empty(), "the page names its scripts and styles: {page}");
    for asset in assets {
        let url = format!("{}/reports/staging/checkout/run-1/{}", s.reports, asset.trim_start_matches("./"));
        let res = s.client.get(&url).header("Cookie", &cookie).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{url}");
    }

    // A second run: the history file grows and the trend holds both builds.
    let (zip, _) = real_results(&pytest);
    assert_eq!(upload_zip_and_wait(&s, "run-2", zip).await["phase"], "done");
    assert_eq!(history_lines(&s).len(), 2);
    let trend = s.get(&format!("{PROJECT}/reports/stats")).await.json()["trend"].clone();
    let ids: Vec<&str> = trend.as_array().unwrap().iter().map(|p| p["buildId"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["run-1", "run-2"]);
    assert_eq!(trend[1]["failed"], count("failed") + count("broken"));
}
