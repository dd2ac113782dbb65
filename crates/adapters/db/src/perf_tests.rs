//! Timing of the dashboard and stats queries on 100,000 builds (5 environments × 10 projects), on both backends.
//! Ignored by default (seeding takes a while): `cargo test -p hub-db --release perf -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use hub_domain::ids::{EnvId, ProjectId};
use hub_domain::model::overview::OverviewFilter;
use hub_domain::ports::{BuildRepo, OverviewQueries};

use crate::connection::{AnyConnection, DatabaseUrl, DbConfig};
use crate::store::Store;

/// Days the seeded builds span, ending now.
const SPAN_DAYS: i64 = 45;

fn seed_sql(backend_sqlite: bool) -> String {
    let mut sql = String::new();
    for e in 0..5 {
        sql += &format!(
            "INSERT INTO environments (id, name, icon, created_at) VALUES ('env{e}', 'Env {e}', 'x', '2026-01-01 00:00:00');"
        );
        for p in 0..10 {
            sql += &format!(
                "INSERT INTO projects (env_id, id, name, created_at) VALUES ('env{e}', 'proj{p}', 'Project {p}', '2026-01-01 00:00:00');"
            );
        }
    }
    // 2,000 builds per project, spread evenly over SPAN_DAYS ending at the current time.
    let series = if backend_sqlite {
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999) SELECT i FROM n"
    } else {
        "SELECT generate_series(0, 99999) AS i"
    };
    let at = if backend_sqlite {
        format!("strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || ((i * {SPAN_DAYS} * 86400) / 100000) || ' seconds')")
    } else {
        format!(
            "date_trunc('milliseconds', timezone('UTC', now())) - make_interval(secs => (i::bigint * {SPAN_DAYS} * 86400) / 100000)"
        )
    };
    sql += &format!(
        "INSERT INTO builds (env_id, project_id, build_id, status, created_at, uploaded_by, stats_total, stats_passed, \
         stats_failed, stats_broken, stats_skipped, config, warnings) \
         SELECT 'env' || (i % 5), 'proj' || ((i / 5) % 10), 'b' || i, 'ready', {at}, 'apikey:x', 120, 100 + (i % 7), \
         i % 5, i % 3, 3, '{{\"name\":\"x\"}}', '[]' FROM ({series}) AS s;"
    );
    sql
}

async fn time<F, Fut>(label: &str, runs: usize, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f().await;
        samples.push(started.elapsed());
    }
    samples.sort();
    let p = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!("{label:<40} p50 {:>8.2?}  p99 {:>8.2?}", p(0.5), p(0.99));
}

async fn measure(url: DatabaseUrl) {
    let sqlite = url.backend() == crate::Backend::Sqlite;
    let store = Arc::new(
        Store::open(DbConfig { url, max_connections: 4, acquire_timeout: Duration::from_secs(30) }).await.unwrap(),
    );
    store.migrate().await.unwrap();
    let sql = seed_sql(sqlite);
    let started = Instant::now();
    store
        .run(move |conn| {
            conn.batch_execute(&sql).map_err(crate::errors::from_diesel)?;
            conn.batch_execute(if sqlite { "ANALYZE" } else { "VACUUM ANALYZE" }).map_err(crate::errors::from_diesel)
        })
        .await
        .unwrap();
    println!("seeded in {:?}", started.elapsed());
    // The overview's queries on `builds` (the rest read the small totals tables), as the DSL writes them: each must
    // be read in index order, stopping after its limit, never sorting a scope's builds.
    let newest = "ORDER BY created_at DESC, env_id DESC, project_id DESC, build_id DESC LIMIT 30";
    let queries = [
        format!("SELECT * FROM builds {newest}"),
        format!("SELECT * FROM builds WHERE env_id = 'env2' {newest}"),
        format!("SELECT * FROM builds WHERE env_id = 'env2' AND project_id = 'proj7' {newest}"),
        format!("SELECT * FROM builds WHERE project_id = 'proj7' {newest}"),
        "SELECT * FROM builds WHERE created_at < '2026-01-01' AND status IN ('ready', 'failed') \
         ORDER BY created_at, env_id, project_id, build_id LIMIT 100"
            .to_owned(),
    ];
    store
        .run(move |conn| {
            for q in &queries {
                let steps = plan(conn, q);
                println!("{q}\n    {}", steps.join("\n    "));
                let text = steps.join("\n");
                let indexed = if sqlite {
                    text.contains("USING INDEX") && !text.contains("TEMP B-TREE")
                } else {
                    text.contains("Index Scan") && !text.contains("Sort")
                };
                assert!(indexed, "{q} is not read in index order:\n{text}");
            }
            Ok(())
        })
        .await
        .unwrap();
    let today = chrono::Utc::now().date_naive();
    let env = EnvId::parse("env2").unwrap();
    let project = ProjectId::parse("proj7").unwrap();
    let filters = [
        ("overview unfiltered", OverviewFilter::default()),
        ("overview env", OverviewFilter { env_id: Some(env.clone()), project_id: None }),
        ("overview env+project", OverviewFilter { env_id: Some(env.clone()), project_id: Some(project.clone()) }),
        ("overview project only", OverviewFilter { env_id: None, project_id: Some(project.clone()) }),
    ];
    for (label, filter) in filters {
        let o = store.overview(&filter, today).await.unwrap();
        assert!(o.summary.total_builds > 0);
        time(label, 50, || async { drop(store.overview(&filter, today).await.unwrap()) }).await;
    }
    time("stats env+project", 50, || async { drop(store.stats(&env, &project).await.unwrap()) }).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "seeds 100,000 builds"]
async fn perf_overview_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    measure(DatabaseUrl::Sqlite(dir.path().join("perf.db"))).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "seeds 100,000 builds"]
async fn perf_overview_postgres() {
    let Some(db) = tokio::task::spawn_blocking(hub_test_support::pg::PgTestDatabase::create).await.unwrap() else {
        return;
    };
    measure(DatabaseUrl::parse(&db.url).unwrap()).await;
}

/// The plan of `sql` as the database reports it, one line per step, for review.
fn plan(conn: &mut AnyConnection, sql: &str) -> Vec<String> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct SqlitePlan {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    #[derive(diesel::QueryableByName)]
    struct PgPlan {
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[diesel(column_name = "QUERY PLAN")]
        line: String,
    }
    match conn {
        AnyConnection::Sqlite(c) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load::<SqlitePlan>(c)
            .unwrap()
            .into_iter()
            .map(|p| p.detail)
            .collect(),
        AnyConnection::Postgresql(c) => {
            diesel::sql_query(format!("EXPLAIN {sql}")).load::<PgPlan>(c).unwrap().into_iter().map(|p| p.line).collect()
        }
    }
}
