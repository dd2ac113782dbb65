//! §8.1, §8.4–8.8 through the running server: builds regenerated, listed, filtered, counted and deleted. Jobs
//! stay queued here (no CLI), which is also what the 409 of deletion needs; regenerations run by the real CLI are
//! covered in `generation.rs`, the follow-up of a running job by the store contract cases.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::archives::{result_json, zip_of};
use crate::support::TestServer;

const PROJECT: &str = "/api/environments/staging/projects/checkout";

/// A results zip with `passed`, `failed`, `broken` and `skipped` tests, one file each.
fn zip_with(passed: usize, failed: usize, broken: usize, skipped: usize) -> Vec<u8> {
    let mut files = Vec::new();
    for (status, n) in [("passed", passed), ("failed", failed), ("broken", broken), ("skipped", skipped)] {
        for i in 0..n {
            let name = format!("{status}{i}");
            files.push((format!("{name}-result.json"), result_json(&name, &name, status, 1_000, 2_000 + i as i64)));
        }
    }
    let entries: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    zip_of(&entries)
}

async fn upload(s: &TestServer, build: &str, zip: Vec<u8>) {
    let res = TestServer::read(
        s.request(reqwest::Method::POST, &format!("{PROJECT}/results?buildId={build}"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip")
            .body(zip),
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
}

async fn with_project(s: &TestServer) {
    assert_eq!(s.post("/api/environments", serde_json::json!({"id": "staging", "name": "S"})).await.status, 201);
    let res = s.post("/api/environments/staging/projects", serde_json::json!({"id": "checkout", "name": "C"})).await;
    assert_eq!(res.status, StatusCode::CREATED);
}

fn build_ids(list: &Value) -> Vec<&str> {
    list["items"].as_array().unwrap().iter().map(|b| b["buildId"].as_str().unwrap()).collect()
}

/// (builds, passed, failed, broken, skipped) uploaded in this order.
const BUILDS: [(&str, usize, usize, usize, usize); 4] =
    [("b1", 3, 0, 0, 1), ("b2", 2, 1, 0, 0), ("b3", 0, 0, 0, 0), ("b4", 5, 0, 2, 1)];

async fn reports_are_listed_newest_first_filtered_and_summed(s: TestServer) {
    with_project(&s).await;
    for (build, p, f, b, k) in BUILDS {
        let zip =
            if p + f + b + k == 0 { zip_of(&[("notes.txt", b"no results".as_slice())]) } else { zip_with(p, f, b, k) };
        upload(&s, build, zip).await;
    }
    let all = s.get(&format!("{PROJECT}/reports")).await.json();
    assert_eq!((build_ids(&all), all["total"].as_i64()), (vec!["b4", "b3", "b2", "b1"], Some(4)));
    let b4 = &all["items"][0];
    assert_eq!(
        (b4["status"].as_str(), b4["hasReport"].as_bool(), b4["reportUrl"].as_str(), b4["uploadedBy"].as_str()),
        (Some("pending"), Some(false), Some("/reports/staging/checkout/b4/index.html"), Some("apikey:test-admin"))
    );
    assert_eq!(b4["stats"]["total"], 8);
    assert_eq!(
        (b4["qualityGate"].clone(), b4["error"].clone(), b4["config"].clone()),
        (Value::Null, Value::Null, serde_json::json!({}))
    );
    assert_eq!(build_ids(&s.get(&format!("{PROJECT}/reports?status=passed")).await.json()), vec!["b1"]);
    assert_eq!(build_ids(&s.get(&format!("{PROJECT}/reports?filter=failed")).await.json()), vec!["b4", "b2"]);
    let page = s.get(&format!("{PROJECT}/reports?limit=2&offset=1")).await.json();
    assert_eq!((build_ids(&page), page["total"].as_i64()), (vec!["b3", "b2"], Some(4)));
    let one = s.get(&format!("{PROJECT}/reports/b2")).await;
    assert_eq!((one.status, one.json()), (StatusCode::OK, all["items"][2].clone()));

    // Totals computed here from what was uploaded.
    let passed: usize = BUILDS.iter().map(|b| b.1).sum();
    let failed: usize = BUILDS.iter().map(|b| b.2 + b.3).sum();
    let skipped: usize = BUILDS.iter().map(|b| b.4).sum();
    let rate = ((100.0 * passed as f64 / (passed + failed) as f64) + 0.5).floor() as i64;
    let stats = s.get(&format!("{PROJECT}/reports/stats")).await.json();
    assert_eq!(
        (
            &stats["totalBuilds"],
            &stats["totalPassed"],
            &stats["totalFailed"],
            &stats["totalSkipped"],
            &stats["passRate"]
        ),
        (&Value::from(4), &Value::from(passed), &Value::from(failed), &Value::from(skipped), &Value::from(rate))
    );
    assert_eq!(stats["latest"], all["items"][0]);
    let trend: Vec<(&str, i64)> = stats["trend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["buildId"].as_str().unwrap(), p["failed"].as_i64().unwrap()))
        .collect();
    assert_eq!(trend, vec![("b1", 0), ("b2", 1), ("b3", 0), ("b4", 2)], "oldest first, failed = failed + broken");

    let empty = s.post("/api/environments/staging/projects", serde_json::json!({"id": "empty", "name": "E"})).await;
    assert_eq!(empty.status, StatusCode::CREATED);
    let none = s.get("/api/environments/staging/projects/empty/reports/stats").await.json();
    assert_eq!(
        none,
        serde_json::json!({"totalBuilds": 0, "passRate": 0, "totalPassed": 0, "totalFailed": 0, "totalSkipped": 0,
            "latest": null, "trend": []})
    );
}

async fn bad_report_requests_get_the_contracts_errors(s: TestServer) {
    with_project(&s).await;
    let cases = [
        (format!("{PROJECT}/reports?limit=0"), 400, "invalid limit: must be an integer between 1 and 500"),
        (format!("{PROJECT}/reports?limit=501"), 400, "invalid limit: must be an integer between 1 and 500"),
        (format!("{PROJECT}/reports?offset=-1"), 400, "invalid offset: must be a non-negative integer"),
        (format!("{PROJECT}/reports?status=green"), 400, "invalid status: must be all, passed or failed"),
        (format!("{PROJECT}/reports/bad%20id"), 400, "invalid buildId"),
        ("/api/environments/Bad!/projects/checkout/reports".to_owned(), 400, "invalid envId"),
        ("/api/environments/nope/projects/checkout/reports".to_owned(), 404, "environment nope not found"),
        ("/api/environments/nope/projects/checkout/reports/stats".to_owned(), 404, "environment nope not found"),
        (
            "/api/environments/staging/projects/nope/reports/b1".to_owned(),
            404,
            "project nope not found in environment staging",
        ),
        (format!("{PROJECT}/reports/b1"), 404, "build b1 not found"),
    ];
    for (path, status, message) in cases {
        let res = s.get(&path).await;
        assert_eq!((res.status.as_u16(), res.error()), (status, message.to_owned()), "{path}");
    }
    let res = s.delete(&format!("{PROJECT}/reports/b1")).await;
    assert_eq!((res.status.as_u16(), res.error()), (404, "build b1 not found".to_owned()));
}

async fn a_build_waiting_for_its_report_cannot_be_deleted(s: TestServer) {
    with_project(&s).await;
    upload(&s, "b1", zip_with(1, 0, 0, 0)).await;
    let res = s.delete(&format!("{PROJECT}/reports/b1")).await;
    assert_eq!((res.status, res.error()), (StatusCode::CONFLICT, "build b1 is being generated".to_owned()));
    assert_eq!(s.get(&format!("{PROJECT}/reports/b1")).await.status, StatusCode::OK);
    assert!(s.data_dir.join("envs/staging/checkout/builds/b1/results").is_dir(), "its files stay");
}

async fn regenerate(s: &TestServer, body: Value) -> crate::support::Reply {
    s.post(&format!("{PROJECT}/reports"), body).await
}

/// The upload sessions, newest first.
async fn sessions(s: &TestServer) -> Vec<Value> {
    s.get("/api/uploads").await.json().as_array().unwrap().clone()
}

async fn regenerating_a_queued_build_replaces_its_config(s: TestServer) {
    with_project(&s).await;
    upload(&s, "b1", zip_with(2, 1, 0, 0)).await;
    let upload_id = sessions(&s).await[0]["id"].as_str().unwrap().to_owned();

    let res = regenerate(&s, json!({"buildId": "b1", "reportConfig": {"name": "Renamed", "output": "/etc"}})).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    assert_eq!(
        res.json(),
        json!({"reportUrl": "/reports/staging/checkout/b1/index.html", "buildId": "b1", "uploadId": upload_id,
            "phase": "generating"}),
        "the queued job's own session answers"
    );
    let build = s.get(&format!("{PROJECT}/reports/b1")).await.json();
    assert_eq!((&build["status"], &build["config"]), (&json!("pending"), &json!({"name": "Renamed"})));
    assert_eq!(build["warnings"], json!(["reportConfig.output is controlled by the server and was ignored"]));
    let listed = sessions(&s).await;
    assert_eq!(listed.len(), 1, "no second session, so no second generation: {listed:?}");
    assert_eq!((&listed[0]["kind"], &listed[0]["phase"]), (&json!("stream"), &json!("generating")));

    let res = regenerate(&s, json!({"buildId": "b1"})).await;
    assert_eq!((res.status, res.json()["uploadId"].as_str()), (StatusCode::ACCEPTED, Some(upload_id.as_str())));
    let build = s.get(&format!("{PROJECT}/reports/b1")).await.json();
    assert_eq!(build["config"], json!({}), "without reportConfig the (empty) base config applies");
}

async fn bad_regeneration_requests_get_the_contracts_errors(s: TestServer) {
    with_project(&s).await;
    upload(&s, "b1", zip_with(1, 0, 0, 0)).await;
    let cases = [
        (PROJECT, json!({}), 400, "buildId is required"),
        (PROJECT, json!({"buildId": null, "reportConfig": {}}), 400, "buildId is required"),
        (PROJECT, json!({"buildId": "bad id"}), 400, "invalid buildId"),
        (PROJECT, json!({"buildId": 7}), 400, "invalid buildId"),
        (PROJECT, json!({"buildId": "LATEST"}), 400, "invalid buildId: \"latest\" is reserved"),
        (PROJECT, json!({"buildId": "b1", "reportConfig": []}), 400, "reportConfig must be an object"),
        (PROJECT, json!({"buildId": "b1", "reportConfig": "x"}), 400, "reportConfig must be an object"),
        (
            PROJECT,
            json!({"buildId": "b1", "reportConfig": {"historyLimit": 5}}),
            400,
            "reportConfig.historyLimit is not allowed",
        ),
        (
            PROJECT,
            json!({"buildId": "b1", "reportConfig": {"plugins": {"./evil.js": {}}}}),
            400,
            "reportConfig.plugins../evil.js is not an allowed plugin",
        ),
        (
            PROJECT,
            json!({"buildId": "b1", "reportConfig": {"plugins": {"csv": {"options": {"fileName": "/etc/x"}}}}}),
            400,
            "reportConfig.plugins.csv.options.fileName must not refer to files",
        ),
        ("/api/environments/Bad!/projects/checkout", json!({"buildId": "b1"}), 400, "invalid envId"),
        ("/api/environments/staging/projects/Bad!", json!({"buildId": "b1"}), 400, "invalid projectId"),
        ("/api/environments/nope/projects/checkout", json!({"buildId": "b1"}), 404, "environment nope not found"),
        (
            "/api/environments/staging/projects/nope",
            json!({"buildId": "b1"}),
            404,
            "project nope not found in environment staging",
        ),
        (PROJECT, json!({"buildId": "b9"}), 404, "build b9 not found"),
    ];
    for (project, body, status, message) in cases {
        let res = s.post(&format!("{project}/reports"), body.clone()).await;
        assert_eq!((res.status.as_u16(), res.error()), (status, message.to_owned()), "{project} {body}");
    }
    let raw = |content_type: &str, body: Vec<u8>| {
        s.request(Method::POST, &format!("{PROJECT}/reports"))
            .bearer_auth(&s.key)
            .header("Content-Type", content_type)
            .body(body)
    };
    let res = TestServer::read(raw("application/json", b"{\"buildId\": ".to_vec())).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.error().starts_with("invalid JSON body: "), "{}", res.text);
    let res = TestServer::read(raw("text/plain", br#"{"buildId": "b1"}"#.to_vec())).await;
    assert_eq!(
        (res.status, res.error()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json".into())
    );
    let mut big = br#"{"buildId": "b1", "reportConfig": {"variables": {"x": ""#.to_vec();
    big.extend(std::iter::repeat_n(b'a', 1_100_000));
    big.extend(br#""}}}"#);
    let res = TestServer::read(raw("application/json", big)).await;
    assert_eq!((res.status, res.error()), (StatusCode::PAYLOAD_TOO_LARGE, "request body too large".into()));

    let build = s.get(&format!("{PROJECT}/reports/b1")).await.json();
    assert_eq!(build["config"], json!({}), "refused requests change nothing");
    assert_eq!(sessions(&s).await.len(), 1);
}

async fn regeneration_waits_for_an_unfinished_upload(s: TestServer) {
    with_project(&s).await;
    let init = s.post(&format!("{PROJECT}/uploads"), json!({"buildId": "c1", "totalSize": 10, "totalChunks": 1})).await;
    assert_eq!(init.status, StatusCode::CREATED, "{}", init.text);
    let res = regenerate(&s, json!({"buildId": "c1"})).await;
    assert_eq!((res.status, res.error()), (StatusCode::CONFLICT, "build c1 has an upload in progress".to_owned()));
    assert_eq!(sessions(&s).await.len(), 1, "no regeneration session");
}

crate::on_both_backends!(
    reports_are_listed_newest_first_filtered_and_summed,
    bad_report_requests_get_the_contracts_errors,
    a_build_waiting_for_its_report_cannot_be_deleted,
    regenerating_a_queued_build_replaces_its_config,
    bad_regeneration_requests_get_the_contracts_errors,
    regeneration_waits_for_an_unfinished_upload,
);
