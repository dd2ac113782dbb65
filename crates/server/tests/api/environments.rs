//! §3 Environments, end to end.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{TestServer, assert_timestamp, ids_of};

on_both_backends!(
    the_default_environment_is_listed_on_a_new_server,
    creating_returns_the_environment_exactly_as_the_contract_shows,
    environments_are_listed_newest_first,
    create_validates_each_field_with_the_contracts_messages,
    a_duplicate_id_is_a_conflict,
    patch_changes_name_and_icon_independently,
    patch_refuses_a_null_name_and_resets_a_null_icon,
    patch_and_delete_of_unknown_environments_are_not_found,
    the_default_environment_cannot_be_deleted,
    deleting_an_environment_removes_its_projects_records_and_files,
);

async fn the_default_environment_is_listed_on_a_new_server(s: TestServer) {
    let res = s.get("/api/environments").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("content-type"), Some("application/json; charset=utf-8"));
    let list = res.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let default = &list[0];
    assert_eq!(default["id"], "default");
    assert_eq!(default["name"], "Default");
    assert_eq!(default["icon"], "deployed_code");
    assert_eq!(default["projectCount"], 0);
    assert_timestamp(&default["createdAt"]);
}

async fn creating_returns_the_environment_exactly_as_the_contract_shows(s: TestServer) {
    let res = s.post("/api/environments", json!({"id": "staging", "name": "  Staging  ", "icon": "science"})).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let env = res.json();
    let keys: Vec<&String> = env.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 5, "{env}");
    assert_eq!(env["id"], "staging");
    assert_eq!(env["name"], "Staging", "names are stored trimmed");
    assert_eq!(env["icon"], "science");
    assert_eq!(env["projectCount"], 0);
    assert_timestamp(&env["createdAt"]);
    // Read back, it is the same object.
    let listed = s.get("/api/environments").await.json();
    assert_eq!(listed[0], env);
}

async fn environments_are_listed_newest_first(s: TestServer) {
    for id in ["first", "second", "third"] {
        assert_eq!(s.post("/api/environments", json!({"id": id, "name": id})).await.status, StatusCode::CREATED);
        // Distinct milliseconds, so the order is by time and not by the id tie-break.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let ids = ids_of(&s.get("/api/environments").await.json());
    assert_eq!(ids, ["third", "second", "first", "default"]);
}

async fn create_validates_each_field_with_the_contracts_messages(s: TestServer) {
    let cases = [
        (json!({"name": "x"}), "id is required"),
        (json!({"id": null, "name": "x"}), "id is required"),
        (json!({"id": "Bad_Id", "name": "x"}), "invalid id"),
        (json!({"id": "-x", "name": "x"}), "invalid id"),
        (json!({"id": "ok"}), "name is required"),
        (json!({"id": "ok", "name": "   "}), "name is required"),
        (json!({"id": "ok", "name": "x".repeat(81)}), "name must be at most 80 characters"),
        (json!({"id": "ok", "name": "x", "icon": "Not An Icon"}), "invalid icon"),
    ];
    for (body, message) in cases {
        let res = s.post("/api/environments", body.clone()).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(res.error(), message, "{body}");
    }
    // A wrong type is reported by the JSON parser.
    let res = s.post("/api/environments", json!({"id": 5, "name": "x"})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.error().starts_with("invalid JSON body: "), "{}", res.error());
    // Nothing was created by any of them.
    assert_eq!(s.get("/api/environments").await.json().as_array().unwrap().len(), 1);

    // Missing, null and empty icons all mean the default; unknown fields are ignored.
    for (id, icon) in [("a", json!(null)), ("b", json!("")), ("c", json!("deployed_code"))] {
        let res = s.post("/api/environments", json!({"id": id, "name": "x", "icon": icon, "extra": true})).await;
        assert_eq!(res.status, StatusCode::CREATED);
        assert_eq!(res.json()["icon"], "deployed_code");
    }
    let name80 = "é".repeat(80);
    let res = s.post("/api/environments", json!({"id": "long", "name": name80})).await;
    assert_eq!(res.status, StatusCode::CREATED, "80 characters are allowed even when they are multi-byte");
}

async fn a_duplicate_id_is_a_conflict(s: TestServer) {
    assert_eq!(s.post("/api/environments", json!({"id": "staging", "name": "A"})).await.status, StatusCode::CREATED);
    let res = s.post("/api/environments", json!({"id": "staging", "name": "B"})).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.error(), "environment staging already exists");
    let res = s.post("/api/environments", json!({"id": "default", "name": "B"})).await;
    assert_eq!(res.error(), "environment default already exists");
}

async fn patch_changes_name_and_icon_independently(s: TestServer) {
    let created =
        s.post("/api/environments", json!({"id": "staging", "name": "Staging", "icon": "science"})).await.json();
    let res = s.patch("/api/environments/staging", json!({"name": " Staging (EU) ", "id": "ignored"})).await;
    assert_eq!(res.status, StatusCode::OK);
    let updated = res.json();
    assert_eq!(updated["id"], "staging");
    assert_eq!(updated["name"], "Staging (EU)");
    assert_eq!(updated["icon"], "science");
    assert_eq!(updated["createdAt"], created["createdAt"]);

    let updated = s.patch("/api/environments/staging", json!({"icon": "public"})).await.json();
    assert_eq!((updated["name"].as_str(), updated["icon"].as_str()), (Some("Staging (EU)"), Some("public")));

    let res = s.patch("/api/environments/staging", json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "an empty patch changes nothing and succeeds");
    assert_eq!(res.json(), updated);
}

async fn patch_refuses_a_null_name_and_resets_a_null_icon(s: TestServer) {
    s.post("/api/environments", json!({"id": "staging", "name": "Staging", "icon": "science"})).await;
    let res = s.patch("/api/environments/staging", json!({"name": null})).await;
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, "name is required".to_owned()));
    let res = s.patch("/api/environments/staging", json!({"name": "y".repeat(81)})).await;
    assert_eq!(res.error(), "name must be at most 80 characters");
    let res = s.patch("/api/environments/staging", json!({"icon": "Bad!"})).await;
    assert_eq!(res.error(), "invalid icon");
    let res = s.patch("/api/environments/staging", json!({"icon": null})).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["icon"], "deployed_code");
}

async fn patch_and_delete_of_unknown_environments_are_not_found(s: TestServer) {
    let res = s.patch("/api/environments/ghost", json!({"name": "x"})).await;
    assert_eq!((res.status, res.error()), (StatusCode::NOT_FOUND, "environment ghost not found".to_owned()));
    let res = s.delete("/api/environments/ghost").await;
    assert_eq!((res.status, res.error()), (StatusCode::NOT_FOUND, "environment ghost not found".to_owned()));
    let res = s.patch("/api/environments/Not_Valid", json!({"name": "x"})).await;
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, "invalid envId".to_owned()));
    let res = s.delete("/api/environments/Not_Valid").await;
    assert_eq!((res.status, res.error()), (StatusCode::BAD_REQUEST, "invalid envId".to_owned()));
}

async fn the_default_environment_cannot_be_deleted(s: TestServer) {
    let res = s.delete("/api/environments/default").await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.error(), "the default environment cannot be deleted");
    assert_eq!(s.get("/api/environments").await.json()[0]["id"], "default");
}

async fn deleting_an_environment_removes_its_projects_records_and_files(s: TestServer) {
    s.post("/api/environments", json!({"id": "staging", "name": "Staging"})).await;
    s.post("/api/environments", json!({"id": "prod", "name": "Prod"})).await;
    s.post("/api/environments/staging/projects", json!({"id": "checkout", "name": "Checkout"})).await;
    s.post("/api/environments/prod/projects", json!({"id": "checkout", "name": "Checkout"})).await;
    assert_eq!(s.get("/api/environments").await.json()[1]["projectCount"], 1);
    // Files as later uploads will lay them out.
    let staging_file = s.data_dir.join("envs/staging/checkout/builds/1/results/r.json");
    let prod_file = s.data_dir.join("envs/prod/checkout/builds/1/results/r.json");
    for file in [&staging_file, &prod_file] {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, b"{}").unwrap();
    }

    let res = s.delete("/api/environments/staging").await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert!(res.text.is_empty());
    assert!(!s.data_dir.join("envs/staging").exists(), "the directory is unreachable once the response is sent");
    assert!(prod_file.exists(), "other environments keep their files");

    let ids = ids_of(&s.get("/api/environments").await.json());
    assert_eq!(ids, ["prod", "default"]);
    let res = s.get("/api/environments/staging/projects").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // Re-created, it starts empty: no project survived the deletion.
    s.post("/api/environments", json!({"id": "staging", "name": "Staging"})).await;
    assert_eq!(s.get("/api/environments/staging/projects").await.json(), json!([]));
}
