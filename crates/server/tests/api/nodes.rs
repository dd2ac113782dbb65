//! Nodes sharing one PostgreSQL database (issue 18): each lists the others from their heartbeats, says which one
//! answers, and a node that stops leaves the list.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{TestServer, assert_timestamp, ids_of};

/// The live nodes as `s` lists them.
async fn nodes(s: &TestServer) -> Value {
    let res = s.get("/api/nodes").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.json()
}

/// The node that answers `s`'s readiness check.
async fn answering(s: &TestServer) -> String {
    let res = TestServer::read(s.request(Method::GET, "/api/healthz")).await;
    assert_eq!(res.status, StatusCode::OK);
    res.json()["node"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn nodes_on_one_database_list_each_other_until_one_stops() {
    let Some(a) = TestServer::postgres().await else { return };
    // Without NODE_ID a node is named by its host and process id (both servers here share the process, so the
    // second one is named).
    let a_id = answering(&a).await;
    assert!(a_id.ends_with(&format!(":{}", std::process::id())), "{a_id}");
    let b = TestServer::postgres_on(&a.pg.as_ref().unwrap().url, "node-b").await;
    assert_eq!(answering(&b).await, "node-b");

    let mut ids = vec![a_id.clone(), "node-b".to_owned()];
    ids.sort();
    for (s, own) in [(&a, &a_id), (&b, &"node-b".to_owned())] {
        let list = nodes(s).await;
        assert_eq!(ids_of(&list), ids, "both nodes, by id: {list}");
        for node in list.as_array().unwrap() {
            assert_eq!(node.as_object().unwrap().len(), 7, "{node}");
            assert_eq!(node["self"], node["id"] == own.as_str(), "{node}");
            assert_eq!(node["version"], env!("CARGO_PKG_VERSION"));
            // The test servers' npm never finishes installing the CLI: neither has one yet.
            assert_eq!(node["allureVersion"], Value::Null);
            assert_eq!(node["runningJobs"], 0);
            assert_timestamp(&node["startedAt"]);
            assert_timestamp(&node["heartbeatAt"]);
            assert!(node["startedAt"].as_str() <= node["heartbeatAt"].as_str(), "{node}");
        }
    }

    // Manage only: a viewer's key is refused.
    let viewer = a.key_with_role("viewer", "viewer").await;
    let res = TestServer::read(a.request(Method::GET, "/api/nodes").bearer_auth(viewer)).await;
    assert_eq!((res.status, res.error()), (StatusCode::FORBIDDEN, "missing permission: manage".to_owned()));

    // A node that stops deletes its row: it leaves the list at once, not when its heartbeat ages.
    drop(b);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let list = nodes(&a).await;
        if ids_of(&list) == [a_id.clone()] {
            assert_eq!(list[0]["self"], true);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the stopped node is still listed: {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
