//! §10, §11, §13.3, §13.4 and §13.6 over HTTP: notifications per principal and live, the overview with its
//! filters, disk usage and the disk warning, retention settings and cleanup runs.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::archives::{empty_zip, results_zip};
use crate::support::TestServer;
use crate::uploads::EventReader;

/// Creates `env` with `project` (names are the ids in upper case).
async fn project(s: &TestServer, env: &str, project: &str) {
    let res = s.post("/api/environments", json!({"id": env, "name": env.to_uppercase()})).await;
    assert!(res.status == StatusCode::CREATED || res.status == StatusCode::CONFLICT, "{}", res.text);
    let res = s
        .post(&format!("/api/environments/{env}/projects"), json!({"id": project, "name": project.to_uppercase()}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
}

/// A streaming upload of `zip` as `build`; returns the status.
async fn upload(s: &TestServer, env: &str, project: &str, build: &str, zip: Vec<u8>) -> StatusCode {
    let path = format!("/api/environments/{env}/projects/{project}/results?buildId={build}");
    let res = TestServer::read(
        s.request(Method::POST, &path).bearer_auth(&s.key).header("Content-Type", "application/zip").body(zip),
    )
    .await;
    res.status
}

async fn get_as(s: &TestServer, key: &str, path: &str) -> (StatusCode, Value) {
    let res = TestServer::read(s.request(Method::GET, path).bearer_auth(key)).await;
    let body = serde_json::from_str(&res.text).unwrap_or(Value::Null);
    (res.status, body)
}

async fn send_as(s: &TestServer, key: &str, method: Method, path: &str) -> StatusCode {
    TestServer::read(s.request(method, path).bearer_auth(key)).await.status
}

/// The principal's notifications once `count` exist (they are created just after the session ends).
async fn notifications_of(s: &TestServer, key: &str, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let (status, list) = get_as(s, key, "/api/notifications").await;
        assert_eq!(status, StatusCode::OK);
        if list.as_array().unwrap().len() >= count {
            return list.as_array().unwrap().clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} notifications");
}

async fn unread(s: &TestServer, key: &str) -> i64 {
    let (status, body) = get_as(s, key, "/api/notifications/unread").await;
    assert_eq!(status, StatusCode::OK);
    body["count"].as_i64().unwrap()
}

async fn per_principal_read_and_deletion(s: TestServer) {
    project(&s, "staging", "checkout").await;
    let viewer = s.key_with_role("viewer", "viewer").await;
    let developer = s.key_with_role("developer", "developer").await;

    // A refused archive fails its session before `generating`: one "Upload failed" notification.
    assert_eq!(upload(&s, "staging", "checkout", "b1", empty_zip()).await, StatusCode::BAD_REQUEST);
    let list = notifications_of(&s, &viewer, 1).await;
    assert_eq!(list.len(), 1, "exactly one per event");
    let n = &list[0];
    assert_eq!(
        (n["title"].as_str(), n["category"].as_str(), n["severity"].as_str(), n["read"].as_bool()),
        (Some("Upload failed: b1"), Some("upload"), Some("error"), Some(false))
    );
    assert_eq!(n["body"], "archive contains no files");
    let payload = &n["payload"];
    assert_eq!((payload["env_id"].as_str(), payload["project_id"].as_str()), (Some("staging"), Some("checkout")));
    assert_eq!((payload["build_id"].as_str(), payload["url"].clone()), (Some("b1"), Value::Null));
    assert!(payload["upload_id"].is_string() && payload["report_url"].is_null(), "{payload}");
    let id = n["id"].as_str().unwrap().to_owned();

    // Read state is the principal's own.
    assert_eq!((unread(&s, &viewer).await, unread(&s, &developer).await), (1, 1));
    assert_eq!(
        send_as(&s, &viewer, Method::PATCH, &format!("/api/notifications/{id}/read")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send_as(&s, &viewer, Method::PATCH, &format!("/api/notifications/{id}/read")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!((unread(&s, &viewer).await, unread(&s, &developer).await), (0, 1));
    let (_, unread_list) = get_as(&s, &viewer, "/api/notifications?unread=true").await;
    assert_eq!(unread_list, json!([]));
    let (_, all) = get_as(&s, &viewer, "/api/notifications").await;
    assert_eq!(all[0]["read"], true);
    let session = TestServer::read(s.as_session(&s.admin, Method::GET, "/api/notifications")).await.json();
    assert_eq!(session[0]["read"], false, "the admin user's own state");

    // So is deletion.
    assert_eq!(
        send_as(&s, &developer, Method::DELETE, &format!("/api/notifications/{id}")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(get_as(&s, &developer, "/api/notifications").await.1, json!([]));
    assert_eq!(unread(&s, &developer).await, 0);
    for method in [Method::DELETE, Method::PATCH] {
        let path = if method == Method::PATCH {
            format!("/api/notifications/{id}/read")
        } else {
            format!("/api/notifications/{id}")
        };
        let res = TestServer::read(s.request(method, &path).bearer_auth(&developer)).await;
        assert_eq!((res.status, res.error()), (StatusCode::NOT_FOUND, format!("notification {id} not found")));
    }
    assert_eq!(notifications_of(&s, &viewer, 1).await.len(), 1, "still there for the others");

    // Newest first, the cap, mark-all.
    assert_eq!(upload(&s, "staging", "checkout", "b2", empty_zip()).await, StatusCode::BAD_REQUEST);
    let list = notifications_of(&s, &viewer, 2).await;
    assert_eq!(list[0]["title"], "Upload failed: b2");
    let (_, capped) = get_as(&s, &viewer, "/api/notifications?limit=1").await;
    assert_eq!(capped.as_array().unwrap().len(), 1);
    assert_eq!(capped[0]["title"], "Upload failed: b2");
    assert_eq!(unread(&s, &viewer).await, 1);
    assert_eq!(send_as(&s, &viewer, Method::POST, "/api/notifications/read").await, StatusCode::NO_CONTENT);
    assert_eq!((unread(&s, &viewer).await, unread(&s, &developer).await), (0, 1));

    // Bad requests.
    for (path, message) in [
        ("/api/notifications?unread=maybe", "invalid unread: must be true or false"),
        ("/api/notifications?limit=-1", "invalid limit: must be a non-negative integer"),
    ] {
        let res = TestServer::read(s.request(Method::GET, path).bearer_auth(&viewer)).await;
        assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, message.to_owned()), "{path}");
    }
    let res = TestServer::read(s.request(Method::DELETE, "/api/notifications/nope").bearer_auth(&viewer)).await;
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, "invalid id".to_owned()));
}

async fn overview_figures_and_filters(s: TestServer) {
    project(&s, "staging", "checkout").await;
    project(&s, "staging", "search").await;
    project(&s, "prod", "checkout").await;
    // Each upload counts passed 1, failed 1, broken 1, skipped 1 (archives::results_zip).
    for (env, project, build) in [
        ("staging", "checkout", "c1"),
        ("staging", "checkout", "c2"),
        ("staging", "search", "s1"),
        ("prod", "checkout", "p1"),
    ] {
        assert_eq!(upload(&s, env, project, build, results_zip()).await, StatusCode::ACCEPTED);
    }
    let (status, all) = get_as(&s, &s.key, "/api/overview").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        all["summary"],
        json!({"totalEnvironments": 3, "totalProjects": 3, "totalBuilds": 4, "totalPassed": 4, "totalFailed": 8,
               "overallPassRate": 33}),
        "every environment counts, the empty `default` one too"
    );
    let days = all["dailyTrends"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    let today = chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string();
    assert_eq!(days[29], json!({"date": today, "passed": 4, "failed": 8, "skipped": 4, "buildCount": 4}));
    assert!(days[..29].iter().all(|d| d["buildCount"] == 0 && d["passed"] == 0), "empty days are zeros");
    let top = all["topFailingProjects"].as_array().unwrap();
    assert_eq!(
        top.iter().map(|p| (p["envId"].as_str().unwrap(), p["projectId"].as_str().unwrap())).collect::<Vec<_>>(),
        [("staging", "checkout"), ("prod", "checkout"), ("staging", "search")],
        "most failures first, then envId, then projectId"
    );
    assert_eq!(
        top[0],
        json!({"envId": "staging", "projectId": "checkout", "projectName": "CHECKOUT",
        "envName": "STAGING", "totalFailed": 4, "totalBuilds": 2, "passRate": 33})
    );
    let recent: Vec<&str> =
        all["recentBuilds"].as_array().unwrap().iter().map(|b| b["buildId"].as_str().unwrap()).collect();
    assert_eq!(recent, ["p1", "s1", "c2", "c1"], "newest first");
    let trend: Vec<&str> =
        all["projectBuildTrend"].as_array().unwrap().iter().map(|b| b["buildId"].as_str().unwrap()).collect();
    assert_eq!(trend, ["c1", "c2", "s1", "p1"], "oldest first");
    assert_eq!(all["projectBuildTrend"][0]["failed"], 2, "failed + broken");

    let (_, staging) = get_as(&s, &s.key, "/api/overview?envId=staging").await;
    assert_eq!(staging["summary"]["totalEnvironments"], 1);
    assert_eq!(
        (staging["summary"]["totalProjects"].as_i64(), staging["summary"]["totalBuilds"].as_i64()),
        (Some(2), Some(3))
    );
    let (_, checkout) = get_as(&s, &s.key, "/api/overview?project_id=checkout").await;
    assert_eq!(checkout["summary"]["totalBuilds"], 3, "a project id in every environment");
    assert_eq!(checkout["summary"]["totalEnvironments"], 3, "a project filter does not narrow environments");
    let (_, one) = get_as(&s, &s.key, "/api/overview?env_id=prod&projectId=checkout").await;
    assert_eq!(one["summary"]["totalBuilds"], 1);
    let (status, none) = get_as(&s, &s.key, "/api/overview?envId=nowhere").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        none["summary"],
        json!({"totalEnvironments": 0, "totalProjects": 0, "totalBuilds": 0,
        "totalPassed": 0, "totalFailed": 0, "overallPassRate": 0})
    );
    assert_eq!(none["dailyTrends"].as_array().unwrap().len(), 30);
    for (query, message) in [
        ("envId=Bad!", "invalid envId"),
        ("projectId=../x", "invalid projectId"),
        ("envId=a&env_id=b", "conflicting envId and env_id"),
        ("projectId=a&project_id=b", "conflicting projectId and project_id"),
    ] {
        let res = TestServer::read(s.request(Method::GET, &format!("/api/overview?{query}")).bearer_auth(&s.key)).await;
        assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, message.to_owned()), "{query}");
    }
}

crate::on_both_backends!(per_principal_read_and_deletion, overview_figures_and_filters);

#[tokio::test]
async fn new_notifications_stream_live_within_the_audience() {
    let s = TestServer::sqlite().await;
    project(&s, "staging", "checkout").await;
    let viewer = s.key_with_role("viewer", "viewer").await;
    let mut stream = EventReader::open_at(&s, "/api/notifications/stream", &viewer).await;
    assert_eq!(upload(&s, "staging", "checkout", "b1", empty_zip()).await, StatusCode::BAD_REQUEST);
    let (name, data) = stream.event().await;
    assert_eq!(name, "notification");
    assert_eq!((data["title"].as_str(), data["read"].as_bool()), (Some("Upload failed: b1"), Some(false)));
    let listed = notifications_of(&s, &viewer, 1).await;
    assert_eq!(data["id"], listed[0]["id"], "the stream shows what the list has");
}

async fn disk_notifications(s: &TestServer, key: &str) -> Vec<Value> {
    let (_, list) = get_as(s, key, "/api/notifications").await;
    list.as_array().unwrap().iter().filter(|n| n["category"] == "disk").cloned().collect()
}

async fn set_threshold(s: &TestServer, body: Value) -> crate::support::Reply {
    let req = s.as_session(&s.admin, Method::PUT, "/api/settings/disk/notification-threshold").json(&body);
    TestServer::read(req).await
}

#[tokio::test]
async fn the_disk_warning_fires_once_per_crossing() {
    let s = TestServer::sqlite_with(&[("DISK_CHECK_INTERVAL", "200ms")]).await;
    let viewer = s.key_with_role("viewer", "viewer").await;
    let usage = TestServer::read(s.as_session(&s.admin, Method::GET, "/api/settings/disk")).await;
    assert_eq!(usage.status, StatusCode::OK);
    let usage = usage.json();
    assert!(usage["usedBytes"].as_i64().unwrap() > 0, "the SQLite database lives in DATA_DIR: {usage}");
    assert_eq!(usage["storage"], "filesystem");
    assert!(usage["totalBytes"].as_i64().unwrap() >= usage["freeBytes"].as_i64().unwrap());
    let total = usage["totalBytes"].as_i64().unwrap();
    let used_percent = 100 * (total - usage["freeBytes"].as_i64().unwrap()) / total;
    assert!(used_percent >= 1, "this test needs a filesystem at least 1% full");

    let threshold = TestServer::read(s.as_session(&s.admin, Method::GET, "/api/settings/disk/notification-threshold"));
    assert_eq!(threshold.await.json(), json!({"thresholdPercent": 85}));
    for bad in [
        json!({"thresholdPercent": 101}),
        json!({"thresholdPercent": "5"}),
        json!({}),
        json!({"thresholdPercent": 1.5}),
    ] {
        let res = set_threshold(&s, bad.clone()).await;
        assert_eq!(
            (res.status, res.error()),
            (StatusCode::BAD_REQUEST, "thresholdPercent must be an integer between 0 and 100".to_owned()),
            "{bad}"
        );
    }
    // Whether the default 85% already fired depends on this machine's disk: count from here. 100% is never
    // reached here, so nothing fires while it is set.
    assert_eq!(set_threshold(&s, json!({"thresholdPercent": 100})).await.status, StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let before = disk_notifications(&s, &s.key).await.len();

    // Crossing: usage is surely above 1%.
    assert_eq!(set_threshold(&s, json!({"thresholdPercent": 1})).await.status, StatusCode::NO_CONTENT);
    let warnings = wait_for_disk_notifications(&s, before + 1).await;
    assert!(warnings[0]["title"].as_str().unwrap().starts_with("Disk usage at "), "{}", warnings[0]);
    assert_eq!(warnings[0]["payload"]["threshold_percent"], 1);
    assert_eq!(warnings[0]["severity"], "warning");
    // Later checks (every 200 ms) while still above: nothing new.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(disk_notifications(&s, &s.key).await.len(), before + 1, "once per crossing");
    assert!(disk_notifications(&s, &viewer).await.is_empty(), "operational notifications need manage");
    // A changed threshold re-arms it; 0 turns it off.
    assert_eq!(set_threshold(&s, json!({"thresholdPercent": 2})).await.status, StatusCode::NO_CONTENT);
    wait_for_disk_notifications(&s, before + 2).await;
    assert_eq!(set_threshold(&s, json!({"thresholdPercent": 0})).await.status, StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(disk_notifications(&s, &s.key).await.len(), before + 2, "0 turns the warning off");
    // The flag is stored: a restart at the same threshold does not repeat it.
    assert_eq!(set_threshold(&s, json!({"thresholdPercent": 1})).await.status, StatusCode::NO_CONTENT);
    wait_for_disk_notifications(&s, before + 3).await;
    let s = s.restart().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(disk_notifications(&s, &s.key).await.len(), before + 3, "no repeat after a restart");
}

/// The admin key's disk notifications once there are exactly `count` (newest first).
async fn wait_for_disk_notifications(s: &TestServer, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let found = disk_notifications(s, &s.key).await;
        if found.len() >= count {
            assert_eq!(found.len(), count, "{found:?}");
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} disk notifications");
}

pub(crate) async fn retention_call(
    s: &TestServer,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> crate::support::Reply {
    let mut req = s.as_session(&s.admin, method, path);
    if let Some(body) = body {
        req = req.json(&body);
    }
    TestServer::read(req).await
}

#[tokio::test]
async fn retention_settings_and_manual_runs() {
    let s = TestServer::sqlite_with(&[("CLEANUP_RETENTION_DAYS", "30"), ("CLEANUP_DRY_RUN", "true")]).await;
    let settings = retention_call(&s, Method::GET, "/api/settings/retention", None).await.json();
    assert_eq!((settings["retentionDays"].as_i64(), settings["intervalHours"].as_i64()), (Some(30), Some(6)));
    assert_eq!(settings["dryRun"], true, "seeded from CLEANUP_* on the first start");
    let next = chrono::DateTime::parse_from_rfc3339(settings["nextRunAt"].as_str().unwrap()).unwrap();
    let from_now = next.to_utc() - chrono::Utc::now();
    assert!(from_now <= chrono::TimeDelta::seconds(31), "30 s after start-up: {next}");

    for (body, message) in [
        (json!({"intervalHours": 1, "dryRun": false}), "retentionDays is required"),
        (
            json!({"retentionDays": 0, "intervalHours": 1, "dryRun": false}),
            "retentionDays must be an integer between 1 and 36500",
        ),
        (
            json!({"retentionDays": 1, "intervalHours": 8761, "dryRun": false}),
            "intervalHours must be an integer between 1 and 8760",
        ),
        (json!({"retentionDays": 1, "intervalHours": 1}), "dryRun is required"),
        (json!({"retentionDays": 1, "intervalHours": 1, "dryRun": "no"}), "dryRun must be a boolean"),
    ] {
        let res = retention_call(&s, Method::PUT, "/api/settings/retention", Some(body.clone())).await;
        assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, message.to_owned()), "{body}");
    }
    let body = json!({"retentionDays": 7, "intervalHours": 12, "dryRun": false, "nextRunAt": "ignored"});
    assert_eq!(
        retention_call(&s, Method::PUT, "/api/settings/retention", Some(body)).await.status,
        StatusCode::NO_CONTENT
    );
    let settings = retention_call(&s, Method::GET, "/api/settings/retention", None).await.json();
    assert_eq!((settings["retentionDays"].as_i64(), settings["intervalHours"].as_i64()), (Some(7), Some(12)));
    assert_eq!(settings["dryRun"], false);

    // Manual sweeps: recorded, the stored dryRun unless the body says otherwise, the 5 newest kept.
    let run = retention_call(&s, Method::POST, "/api/settings/retention/run", None).await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    let run = run.json();
    assert_eq!(
        (run["trigger"].as_str(), run["status"].as_str(), run["dryRun"].as_bool()),
        (Some("manual"), Some("success"), Some(false))
    );
    assert_eq!(
        (run["deletedCount"].as_i64(), run["skippedCount"].as_i64(), run["freedBytes"].as_i64()),
        (Some(0), Some(0), Some(0))
    );
    assert!(run.get("errorMessage").is_none(), "only on failed runs");
    let dry =
        retention_call(&s, Method::POST, "/api/settings/retention/run", Some(json!({"dryRun": true}))).await.json();
    assert_eq!(dry["dryRun"], true);
    let res = retention_call(&s, Method::POST, "/api/settings/retention/run", Some(json!({"dryRun": 1}))).await;
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, "dryRun must be a boolean".to_owned()));
    for _ in 0..4 {
        assert_eq!(
            retention_call(&s, Method::POST, "/api/settings/retention/run", Some(json!({}))).await.status,
            StatusCode::OK
        );
    }
    let runs = retention_call(&s, Method::GET, "/api/settings/retention/runs?limit=50", None).await.json();
    assert_eq!(runs.as_array().unwrap().len(), 5, "only the 5 newest are kept");
    let started: Vec<&str> = runs.as_array().unwrap().iter().map(|r| r["startedAt"].as_str().unwrap()).collect();
    assert!(started.windows(2).all(|w| w[0] >= w[1]), "newest first: {started:?}");
    let two = retention_call(&s, Method::GET, "/api/settings/retention/runs?limit=2", None).await.json();
    assert_eq!(two.as_array().unwrap().len(), 2);
    let default = retention_call(&s, Method::GET, "/api/settings/retention/runs", None).await.json();
    assert_eq!(default.as_array().unwrap().len(), 5);
    let res = retention_call(&s, Method::GET, "/api/settings/retention/runs?limit=51", None).await;
    assert_eq!(
        (res.status, res.error()),
        (StatusCode::BAD_REQUEST, "invalid limit: must be an integer between 1 and 50".to_owned())
    );

    // Scheduling off: no next run, manual runs still work.
    let s = s.restart_with(&[("CLEANUP_ENABLED", "false")]).await;
    let settings = retention_call(&s, Method::GET, "/api/settings/retention", None).await.json();
    assert_eq!((settings["nextRunAt"].clone(), settings["retentionDays"].as_i64()), (Value::Null, Some(7)));
    assert_eq!(retention_call(&s, Method::POST, "/api/settings/retention/run", None).await.status, StatusCode::OK);
}
