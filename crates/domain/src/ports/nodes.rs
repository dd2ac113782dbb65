//! The nodes sharing the database, as the database records them: each node's heartbeat, and the list of live ones
//! (issue 18). The database is the only place every node sees, so liveness is a row per node rather than a
//! protocol between them.

use async_trait::async_trait;

use crate::Timestamp;
use crate::ids::NodeId;
use crate::model::node::{Node, NodeInfo};
use crate::ports::errors::StoreError;

/// The nodes' heartbeats.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait NodeRepo: Send + Sync + 'static {
    /// Records that `node` is alive at `now`: inserts its row, or replaces what the row says (a node restarted
    /// under the same id starts afresh).
    async fn heartbeat(&self, node: &NodeInfo, now: Timestamp) -> Result<(), StoreError>;

    /// The nodes whose last heartbeat is at `since` or later, by id, each with the generation jobs it is running.
    async fn live(&self, since: Timestamp) -> Result<Vec<Node>, StoreError>;

    /// Deletes the node's row (it is stopping). Whether there was one.
    async fn forget(&self, node: &NodeId) -> Result<bool, StoreError>;

    /// Deletes the rows whose last heartbeat is before `before` (nodes that vanished without stopping); how many.
    async fn prune(&self, before: Timestamp) -> Result<u64, StoreError>;
}
