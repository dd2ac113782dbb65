//! §8.4–8.8 through the running server: builds listed, filtered, counted and deleted. Jobs stay queued here
//! (no CLI), which is also what the 409 of deletion needs; generated reports are covered in `generation.rs`.

use reqwest::StatusCode;
use serde_json::Value;

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

crate::on_both_backends!(
    reports_are_listed_newest_first_filtered_and_summed,
    bad_report_requests_get_the_contracts_errors,
    a_build_waiting_for_its_report_cannot_be_deleted,
);
