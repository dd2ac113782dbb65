//! This node among those sharing the database (issue 18): its heartbeat, which tells the others it is alive and
//! what it runs, and the list of live nodes that operators read. The rules of liveness are in
//! [`crate::model::node`]; the server's worker calls [`NodeService::beat`] every
//! [`HEARTBEAT_INTERVAL`](crate::model::node::HEARTBEAT_INTERVAL) and [`NodeService::forget`] when it stops.

use std::sync::Arc;

use crate::Timestamp;
use crate::ids::NodeId;
use crate::model::node::{Node, NodeInfo, forgotten_before, live_since};
use crate::ports::{AllureCliManager, Clock, NodeRepo, StoreError};

/// The ports [`NodeService`] works through.
#[derive(Clone)]
pub struct NodePorts {
    /// The heartbeats.
    pub nodes: Arc<dyn NodeRepo>,
    /// The active Allure CLI, whose version each heartbeat carries (it changes when another is activated).
    pub cli: Arc<dyn AllureCliManager>,
    /// Heartbeat times and the liveness window.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for NodePorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodePorts").finish_non_exhaustive()
    }
}

/// This node's identity and heartbeat, and the live nodes.
#[derive(Debug, Clone)]
pub struct NodeService {
    ports: NodePorts,
    id: NodeId,
    version: String,
    started_at: Timestamp,
}

impl NodeService {
    /// This node, `id` running server `version`, started now.
    pub fn new(ports: NodePorts, id: NodeId, version: String) -> Self {
        let started_at = ports.clock.now();
        Self { ports, id, version, started_at }
    }

    /// This node's id.
    pub fn id(&self) -> &NodeId {
        &self.id
    }

    /// Writes this node's heartbeat (its version and its Allure CLI's, as of now), then deletes the rows of nodes
    /// gone for a day: every node does it, so nothing else has to.
    ///
    /// # Errors
    /// A database failure; the heartbeat is then not written.
    pub async fn beat(&self) -> Result<(), StoreError> {
        let info = NodeInfo {
            id: self.id.clone(),
            version: self.version.clone(),
            allure_version: self.ports.cli.active_version().await,
            started_at: self.started_at,
        };
        let now = self.ports.clock.now();
        self.ports.nodes.heartbeat(&info, now).await?;
        self.ports.nodes.prune(forgotten_before(now)).await?;
        Ok(())
    }

    /// The live nodes (a heartbeat within [`LIVE_WITHIN`](crate::model::node::LIVE_WITHIN)), by id.
    ///
    /// # Errors
    /// A database failure.
    pub async fn live(&self) -> Result<Vec<Node>, StoreError> {
        self.ports.nodes.live(live_since(self.ports.clock.now())).await
    }

    /// Deletes this node's row, so that it leaves the list at once rather than when its heartbeat ages out.
    ///
    /// # Errors
    /// A database failure.
    pub async fn forget(&self) -> Result<(), StoreError> {
        self.ports.nodes.forget(&self.id).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::{TimeDelta, TimeZone, Utc};
    use mockall::predicate::eq;

    use super::*;
    use crate::ports::allure_cli::MockAllureCliManager;
    use crate::ports::clock::MockClock;
    use crate::ports::nodes::MockNodeRepo;

    fn at(seconds: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap() + TimeDelta::seconds(seconds)
    }

    /// A clock that reads each of `times` in turn, then stays at the last.
    fn clock(times: &[i64]) -> Arc<dyn Clock> {
        let times = Mutex::new(times.iter().map(|s| at(*s)).collect::<Vec<_>>());
        let mut clock = MockClock::new();
        clock.expect_now().returning(move || {
            let mut times = times.lock().unwrap();
            if times.len() > 1 { times.remove(0) } else { times[0] }
        });
        Arc::new(clock)
    }

    fn service(nodes: MockNodeRepo, cli: MockAllureCliManager, times: &[i64]) -> NodeService {
        let ports = NodePorts { nodes: Arc::new(nodes), cli: Arc::new(cli), clock: clock(times) };
        NodeService::new(ports, NodeId::parse("web-1").unwrap(), "1.2.3".into())
    }

    #[tokio::test]
    async fn a_heartbeat_says_what_the_node_runs_now_and_prunes_nodes_gone_for_a_day() {
        let mut cli = MockAllureCliManager::new();
        let mut versions = vec![None, Some("3.19.1".to_owned())];
        cli.expect_active_version().times(2).returning(move || versions.remove(0));
        let mut nodes = MockNodeRepo::new();
        let info = |allure: Option<&str>| NodeInfo {
            id: NodeId::parse("web-1").unwrap(),
            version: "1.2.3".into(),
            allure_version: allure.map(str::to_owned),
            started_at: at(0),
        };
        // Started at 0, beating at 5 and 10: the start stays, the CLI's version follows an activation.
        nodes.expect_heartbeat().with(eq(info(None)), eq(at(5))).times(1).returning(|_, _| Ok(()));
        nodes.expect_heartbeat().with(eq(info(Some("3.19.1"))), eq(at(10))).times(1).returning(|_, _| Ok(()));
        nodes.expect_prune().with(eq(at(5) - TimeDelta::days(1))).times(1).returning(|_| Ok(0));
        nodes.expect_prune().with(eq(at(10) - TimeDelta::days(1))).times(1).returning(|_| Ok(2));
        let node = service(nodes, cli, &[0, 5, 10]);
        node.beat().await.unwrap();
        node.beat().await.unwrap();
    }

    #[tokio::test]
    async fn a_heartbeat_the_database_refuses_fails_without_pruning() {
        let mut cli = MockAllureCliManager::new();
        cli.expect_active_version().returning(|| None);
        let mut nodes = MockNodeRepo::new();
        nodes.expect_heartbeat().returning(|_, _| Err(StoreError::Unavailable("down".into())));
        nodes.expect_prune().never();
        assert!(matches!(service(nodes, cli, &[0]).beat().await, Err(StoreError::Unavailable(_))));
    }

    #[tokio::test]
    async fn live_nodes_are_those_heard_from_within_three_intervals() {
        let mut nodes = MockNodeRepo::new();
        nodes.expect_live().with(eq(at(100) - TimeDelta::seconds(15))).times(1).returning(|_| Ok(vec![]));
        let node = service(nodes, MockAllureCliManager::new(), &[0, 100]);
        assert_eq!(node.live().await.unwrap(), vec![]);
    }

    #[tokio::test]
    async fn a_stopping_node_deletes_its_own_row() {
        let mut nodes = MockNodeRepo::new();
        nodes.expect_forget().with(eq(NodeId::parse("web-1").unwrap())).times(1).returning(|_| Ok(false));
        let node = service(nodes, MockAllureCliManager::new(), &[0]);
        assert_eq!(node.id().as_str(), "web-1");
        node.forget().await.unwrap();
    }
}
