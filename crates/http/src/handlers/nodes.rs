//! `/api/nodes`: the server processes sharing the database, as their heartbeats tell.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::Data;
use hub_domain::ids::NodeId;
use hub_domain::model::node::Node;
use serde::Serialize;
use utoipa::ToSchema;

use crate::dto::{format_time, json_response};
use crate::error::ApiError;
use crate::openapi::IN_ROUTE_TABLE;
use crate::state::AppState;

/// A server process sharing the database with the one that answers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Node)]
pub struct NodeDto {
    /// The node's `NODE_ID` (by default its host name and process id, `host:pid`).
    id: String,
    /// The server version it runs.
    version: String,
    /// The version its active Allure CLI prints, as of its last heartbeat; `null` while it has none that works.
    #[schema(required = true)]
    allure_version: Option<String>,
    /// When the process started.
    #[schema(format = DateTime)]
    started_at: String,
    /// Its last heartbeat; nodes write one every 5 s.
    #[schema(format = DateTime)]
    heartbeat_at: String,
    /// Report generations it is running now.
    running_jobs: i64,
    /// Whether it is the node that answers this request.
    #[serde(rename = "self")]
    is_self: bool,
}

impl NodeDto {
    fn of(node: Node, answering: &NodeId) -> Self {
        Self {
            is_self: node.id == *answering,
            id: node.id.to_string(),
            version: node.version,
            allure_version: node.allure_version,
            started_at: format_time(node.started_at),
            heartbeat_at: format_time(node.heartbeat_at),
            running_jobs: node.running_jobs,
        }
    }
}

/// `GET /api/nodes`: the live nodes, those whose last heartbeat is at most 15 s old (three missed heartbeats take
/// a node off the list; one that stops leaves it at once).
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "health",
    responses((status = 200, description = "the live nodes, by id", body = [NodeDto])))]
pub async fn list_nodes(state: Data<AppState>) -> Result<HttpResponse, ApiError> {
    let answering = state.nodes.id();
    let nodes = state.nodes.live().await?;
    Ok(json_response(StatusCode::OK, &nodes.into_iter().map(|n| NodeDto::of(n, answering)).collect::<Vec<_>>()))
}
