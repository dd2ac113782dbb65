//! §4 Projects, end to end.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{TestServer, assert_timestamp, ids_of};

on_both_backends!(
    creating_a_project_returns_it_without_builds,
    projects_are_listed_newest_first_and_per_environment,
    create_validates_the_environment_and_fields,
    project_ids_are_unique_per_environment_only,
    deleting_a_project_leaves_its_namesakes_alone,
    deleting_unknown_projects_names_what_is_missing,
);

async fn staging(s: &TestServer) {
    assert_eq!(
        s.post("/api/environments", json!({"id": "staging", "name": "Staging"})).await.status,
        StatusCode::CREATED
    );
}

async fn creating_a_project_returns_it_without_builds(s: TestServer) {
    staging(&s).await;
    let res =
        s.post("/api/environments/staging/projects", json!({"id": "checkout", "name": " Checkout Service "})).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let p = res.json();
    assert_eq!(p.as_object().unwrap().len(), 6, "{p}");
    assert_eq!(p["id"], "checkout");
    assert_eq!(p["envId"], "staging");
    assert_eq!(p["name"], "Checkout Service");
    assert_eq!(p["buildCount"], 0);
    assert!(p["latestBuild"].is_null() && p.as_object().unwrap().contains_key("latestBuild"));
    assert_timestamp(&p["createdAt"]);
    assert_eq!(s.get("/api/environments/staging/projects").await.json(), json!([p]));
    assert_eq!(s.get("/api/environments").await.json()[0]["projectCount"], 1);
}

async fn projects_are_listed_newest_first_and_per_environment(s: TestServer) {
    staging(&s).await;
    for id in ["a", "b", "c"] {
        s.post("/api/environments/staging/projects", json!({"id": id, "name": id})).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    s.post("/api/environments/default/projects", json!({"id": "other", "name": "Other"})).await;
    let ids = ids_of(&s.get("/api/environments/staging/projects").await.json());
    assert_eq!(ids, ["c", "b", "a"]);
}

async fn create_validates_the_environment_and_fields(s: TestServer) {
    let res = s.post("/api/environments/ghost/projects", json!({"id": "x", "name": "X"})).await;
    assert_eq!((res.status, res.error()), (StatusCode::NOT_FOUND, "environment ghost not found".to_owned()));
    let res = s.get("/api/environments/ghost/projects").await;
    assert_eq!((res.status, res.error()), (StatusCode::NOT_FOUND, "environment ghost not found".to_owned()));
    let res = s.post("/api/environments/BAD/projects", json!({"id": "x", "name": "X"})).await;
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, "invalid envId".to_owned()));
    // Body errors come before the missing environment (400 before 404).
    let res = s.post("/api/environments/ghost/projects", json!({"name": "X"})).await;
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, "id is required".to_owned()));
    for (body, message) in [
        (json!({"id": "Has Space", "name": "x"}), "invalid id"),
        (json!({"id": "ok"}), "name is required"),
        (json!({"id": "ok", "name": "n".repeat(81)}), "name must be at most 80 characters"),
    ] {
        let res = s.post("/api/environments/default/projects", body.clone()).await;
        assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, message.to_owned()), "{body}");
    }
}

async fn project_ids_are_unique_per_environment_only(s: TestServer) {
    staging(&s).await;
    let body = json!({"id": "checkout", "name": "Checkout"});
    assert_eq!(s.post("/api/environments/staging/projects", body.clone()).await.status, StatusCode::CREATED);
    let res = s.post("/api/environments/staging/projects", body.clone()).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.error(), "project checkout already exists in environment staging");
    assert_eq!(s.post("/api/environments/default/projects", body).await.status, StatusCode::CREATED);
}

async fn deleting_a_project_leaves_its_namesakes_alone(s: TestServer) {
    staging(&s).await;
    let body = json!({"id": "checkout", "name": "Checkout"});
    s.post("/api/environments/staging/projects", body.clone()).await;
    s.post("/api/environments/default/projects", body).await;
    let kept = s.data_dir.join("envs/default/checkout/history.jsonl");
    let gone = s.data_dir.join("envs/staging/checkout/history.jsonl");
    for file in [&kept, &gone] {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, b"{}\n").unwrap();
    }
    let res = s.delete("/api/environments/staging/projects/checkout").await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert!(!gone.exists() && kept.exists());
    assert_eq!(s.get("/api/environments/staging/projects").await.json(), json!([]));
    assert_eq!(s.get("/api/environments/default/projects").await.json()[0]["id"], "checkout");
}

async fn deleting_unknown_projects_names_what_is_missing(s: TestServer) {
    let res = s.delete("/api/environments/default/projects/ghost").await;
    assert_eq!(
        (res.status, res.error()),
        (StatusCode::NOT_FOUND, "project ghost not found in environment default".to_owned())
    );
    let res = s.delete("/api/environments/nowhere/projects/ghost").await;
    assert_eq!((res.status, res.error()), (StatusCode::NOT_FOUND, "environment nowhere not found".to_owned()));
    let res = s.delete("/api/environments/default/projects/NOPE").await;
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, "invalid projectId".to_owned()));
    let res = s.delete("/api/environments/NOPE/projects/NOPE").await;
    assert_eq!(res.error(), "invalid envId", "the environment segment is checked first");
}
