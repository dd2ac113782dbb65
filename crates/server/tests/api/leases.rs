//! Generation jobs held by a node that died: a running job whose lease is still valid is left alone, and once the
//! lease has run out a live node takes the job back (counting an attempt) and generates it. The dead node is
//! played by the database: its job is marked running under another node id, as that node's claim would have left
//! it. Uses the real Allure CLI (skipped without npm unless `ALLURE_HUB_REQUIRE_NODE=1`, as in CI).

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl, SqliteConnection};
use reqwest::{Method, StatusCode};

use crate::archives::results_zip;
use crate::generation::{allure_bin, create_project};
use crate::support::TestServer;

const PROJECT: &str = "/api/environments/staging/projects/checkout";

/// The job's state, holder and attempts, read from the database.
fn job_row(db: &std::path::Path) -> (String, Option<String>, i64) {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        state: String,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        node_id: Option<String>,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        attempts: i64,
    }
    let mut conn = SqliteConnection::establish(db.to_str().unwrap()).unwrap();
    let row: Row = diesel::sql_query("SELECT state, node_id, attempts FROM generation_jobs ORDER BY created_at DESC")
        .get_result(&mut conn)
        .unwrap();
    (row.state, row.node_id, row.attempts)
}

#[tokio::test]
async fn a_job_whose_node_died_is_taken_back_after_its_lease_and_generated_once() {
    let Some(bin) = allure_bin().await else { return };
    let bin = bin.display().to_string();
    // Without the CLI the job waits in the queue (an npm that never finishes "installs" it).
    let s = TestServer::sqlite_with(&[("JOB_LEASE", "2s"), ("NODE_ID", "node-a")]).await;
    create_project(&s).await;
    let req = s
        .request(Method::POST, &format!("{PROJECT}/results?buildId=b1"))
        .bearer_auth(&s.key)
        .header("Content-Type", "application/zip")
        .body(results_zip());
    let res = TestServer::read(req).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
    let db = s.data_dir.join("allure-hub.db");
    assert_eq!(job_row(&db), ("queued".to_owned(), None, 0));

    // Node "dead" claimed it and died: its lease runs out 8 s from now.
    let mut conn = SqliteConnection::establish(db.to_str().unwrap()).unwrap();
    let lease = (chrono::Utc::now() + chrono::TimeDelta::seconds(8)).naive_utc().format("%Y-%m-%d %H:%M:%S%.3f");
    conn.batch_execute(&format!(
        "UPDATE generation_jobs SET state = 'running', node_id = 'dead', lease_until = '{lease}', \
         started_at = created_at; UPDATE builds SET status = 'generating' WHERE build_id = 'b1';"
    ))
    .unwrap();
    drop(conn);

    // A live node with the CLI: it leaves the job alone while the lease runs, then takes it and generates it.
    let started = Instant::now();
    let s = s.restart_with(&[("ALLURE_BIN", bin.as_str()), ("NODE_ID", "node-b")]).await;
    // Two polls of the live node, well within the lease.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(started.elapsed() < Duration::from_secs(7), "the machine is too slow for this check");
    assert_eq!(job_row(&db), ("running".to_owned(), Some("dead".to_owned()), 0), "the lease still runs");
    let mut row = job_row(&db);
    while row.0 != "succeeded" && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        row = job_row(&db);
    }
    assert!(started.elapsed() >= Duration::from_secs(7), "not before the lease ran out");
    assert_eq!(row, ("succeeded".to_owned(), Some("node-b".to_owned()), 1), "taken back once, one attempt counted");
    let build = s.get(&format!("{PROJECT}/reports/b1")).await.json();
    assert_eq!(build["status"], "ready", "{build}");
}
