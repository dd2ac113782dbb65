//! [`NodeRepo`](hub_domain::ports::NodeRepo): the heartbeats of the nodes sharing the database.

use chrono::TimeDelta;
use hub_domain::Timestamp;
use hub_domain::ids::NodeId;
use hub_domain::model::node::{Node, NodeInfo};

use super::StoreFixture;
use super::fixtures::t;

fn node(id: &str, allure: Option<&str>, started_at: Timestamp) -> NodeInfo {
    NodeInfo {
        id: NodeId::parse(id).unwrap(),
        version: format!("1.0.0-{id}"),
        allure_version: allure.map(str::to_owned),
        started_at,
    }
}

/// What [`NodeRepo::live`](hub_domain::ports::NodeRepo::live) answers for `info` last heard from at `at`, with
/// no job running.
fn listed(info: &NodeInfo, at: Timestamp) -> Node {
    Node {
        id: info.id.clone(),
        version: info.version.clone(),
        allure_version: info.allure_version.clone(),
        started_at: info.started_at,
        heartbeat_at: at,
        running_jobs: 0,
    }
}

/// A heartbeat inserts the node's row or replaces all it says; the live nodes are those heard from at `since` or
/// later, by id, every field round-tripping (milliseconds included).
pub async fn heartbeats_keep_one_row_per_node_listed_by_id(f: &StoreFixture) {
    let ms = TimeDelta::milliseconds(250);
    let (b, a) = (node("web-b", None, t(-60) + ms), node("web-a:4242", Some("3.18.0"), t(-30)));
    f.nodes.heartbeat(&b, t(0)).await.unwrap();
    f.nodes.heartbeat(&a, t(0) + ms).await.unwrap();
    assert_eq!(f.nodes.live(t(0)).await.unwrap(), [listed(&a, t(0) + ms), listed(&b, t(0))]);
    // Restarted under the same id with another Allure CLI: one row, saying what the new process says.
    let b_again = NodeInfo { allure_version: Some("3.19.1".into()), started_at: t(1), ..b.clone() };
    f.nodes.heartbeat(&b_again, t(2)).await.unwrap();
    assert_eq!(f.nodes.live(t(0)).await.unwrap(), [listed(&a, t(0) + ms), listed(&b_again, t(2))]);
    assert_eq!(f.nodes.live(t(2)).await.unwrap(), [listed(&b_again, t(2))], "a heartbeat at `since` counts");
    assert_eq!(f.nodes.live(t(2) + ms).await.unwrap(), []);
}

/// A stopping node deletes its own row; pruning deletes the rows last heard from before a time, and only those.
pub async fn stopped_and_long_gone_nodes_leave_the_table(f: &StoreFixture) {
    let (a, b, c) = (node("a", None, t(0)), node("b", None, t(0)), node("c", None, t(0)));
    f.nodes.heartbeat(&a, t(10)).await.unwrap();
    f.nodes.heartbeat(&b, t(20)).await.unwrap();
    f.nodes.heartbeat(&c, t(30)).await.unwrap();
    assert!(f.nodes.forget(&c.id).await.unwrap());
    assert!(!f.nodes.forget(&c.id).await.unwrap(), "gone already");
    assert_eq!(f.nodes.prune(t(20)).await.unwrap(), 1, "before, not at");
    assert_eq!(f.nodes.live(t(0)).await.unwrap(), [listed(&b, t(20))]);
    assert_eq!(f.nodes.prune(t(20)).await.unwrap(), 0);
}

/// Each live node is listed with the jobs it runs now (not those it finished or gave back).
pub async fn live_nodes_count_the_jobs_they_run(f: &StoreFixture) {
    use hub_domain::model::job::Lease;

    use super::fixtures::{finished, saved_upload, with_project};
    for (minute, project) in [(1, "p"), (2, "q"), (3, "r")] {
        with_project(f, project).await;
        saved_upload(f, project, "b1", minute).await;
    }
    let (a, b) = (node("web-a", None, t(0)), node("web-b", None, t(0)));
    for info in [&a, &b] {
        f.nodes.heartbeat(info, t(5)).await.unwrap();
    }
    let held = |info: &NodeInfo| Lease { node: info.id.clone(), until: t(100) };
    let first = f.jobs.claim_next(4, t(6), &held(&a)).await.unwrap().unwrap();
    f.jobs.claim_next(4, t(6), &held(&a)).await.unwrap().unwrap();
    f.jobs.claim_next(4, t(6), &held(&b)).await.unwrap().unwrap();
    f.jobs.finish(&first, &a.id, &finished(7, Ok(None))).await.unwrap();
    let counts: Vec<(String, i64)> =
        f.nodes.live(t(0)).await.unwrap().into_iter().map(|n| (n.id.to_string(), n.running_jobs)).collect();
    assert_eq!(counts, [("web-a".to_owned(), 1), ("web-b".to_owned(), 1)]);
}
