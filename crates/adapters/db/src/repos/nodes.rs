//! [`NodeRepo`] on the store: one row per node, written by its heartbeat.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use hub_domain::Timestamp;
use hub_domain::ids::NodeId;
use hub_domain::model::job::JobState;
use hub_domain::model::node::{Node, NodeInfo};
use hub_domain::ports::{NodeRepo, StoreError};

use super::time::{from_db, to_db};
use crate::errors::{corrupt, from_diesel};
use crate::schema::{generation_jobs, nodes};
use crate::store::{Store, read_snapshot, retry_on_conflict};

#[derive(Queryable, Selectable)]
#[diesel(table_name = nodes)]
struct NodeRow {
    id: String,
    version: String,
    allure_version: Option<String>,
    started_at: NaiveDateTime,
    heartbeat_at: NaiveDateTime,
}

impl NodeRow {
    fn into_domain(self, running_jobs: i64) -> Result<Node, StoreError> {
        Ok(Node {
            id: NodeId::parse(&self.id).map_err(|e| corrupt("node id", e))?,
            version: self.version,
            allure_version: self.allure_version,
            started_at: from_db(self.started_at),
            heartbeat_at: from_db(self.heartbeat_at),
            running_jobs,
        })
    }
}

#[async_trait]
impl NodeRepo for Store {
    async fn heartbeat(&self, node: &NodeInfo, now: Timestamp) -> Result<(), StoreError> {
        let (id, version, allure) = (node.id.to_string(), node.version.clone(), node.allure_version.clone());
        let (started_at, heartbeat_at) = (to_db(node.started_at), to_db(now));
        self.run(move |conn| {
            // An upsert without ON CONFLICT, which the two-backend connection cannot express.
            retry_on_conflict(conn, |conn| {
                let values = (
                    nodes::version.eq(&version),
                    nodes::allure_version.eq(&allure),
                    nodes::started_at.eq(started_at),
                    nodes::heartbeat_at.eq(heartbeat_at),
                );
                let updated = diesel::update(nodes::table.find(&id)).set(values).execute(conn).map_err(from_diesel)?;
                if updated == 0 {
                    diesel::insert_into(nodes::table)
                        .values((nodes::id.eq(&id), values))
                        .execute(conn)
                        .map_err(from_diesel)?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn live(&self, since: Timestamp) -> Result<Vec<Node>, StoreError> {
        let since = to_db(since);
        self.run(move |conn| {
            read_snapshot(conn, |conn| {
                let rows: Vec<NodeRow> = nodes::table
                    .filter(nodes::heartbeat_at.ge(since))
                    .order(nodes::id.asc())
                    .select(NodeRow::as_select())
                    .load(conn)
                    .map_err(from_diesel)?;
                // One grouped count of the running jobs of every node, read in the same snapshot.
                let running: std::collections::HashMap<Option<String>, i64> = generation_jobs::table
                    .filter(generation_jobs::state.eq(JobState::Running.as_str()))
                    .group_by(generation_jobs::node_id)
                    .select((generation_jobs::node_id, diesel::dsl::count_star()))
                    .load::<(Option<String>, i64)>(conn)
                    .map_err(from_diesel)?
                    .into_iter()
                    .collect();
                rows.into_iter()
                    .map(|row| {
                        let jobs = running.get(&Some(row.id.clone())).copied().unwrap_or(0);
                        row.into_domain(jobs)
                    })
                    .collect()
            })
        })
        .await
    }

    async fn forget(&self, node: &NodeId) -> Result<bool, StoreError> {
        let id = node.to_string();
        self.run(move |conn| {
            let deleted = diesel::delete(nodes::table.find(&id)).execute(conn).map_err(from_diesel)?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn prune(&self, before: Timestamp) -> Result<u64, StoreError> {
        let before = to_db(before);
        self.run(move |conn| {
            let deleted = diesel::delete(nodes::table.filter(nodes::heartbeat_at.lt(before)))
                .execute(conn)
                .map_err(from_diesel)?;
            Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
        })
        .await
    }
}
