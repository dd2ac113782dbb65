//! The repository contract suite of `hub-test-support`, run against SQLite and against PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use diesel::prelude::*;
use hub_domain::model::build::BuildSummary;
use hub_test_support::contract::{SeedBuilds, StoreFixture};

use crate::connection::{AnyConnection, DatabaseUrl, DbConfig};
use crate::repos::time::to_db;
use crate::schema::builds;
use crate::store::Store;

#[async_trait]
impl SeedBuilds for Store {
    async fn seed_build(&self, b: &BuildSummary) {
        let b = b.clone();
        self.run(move |conn| {
            diesel::insert_into(builds::table)
                .values((
                    builds::env_id.eq(b.env_id.as_str()),
                    builds::project_id.eq(b.project_id.as_str()),
                    builds::build_id.eq(b.build_id.as_str()),
                    builds::status.eq(b.status.as_str()),
                    builds::created_at.eq(to_db(b.created_at)),
                    builds::completed_at.eq(b.completed_at.map(to_db)),
                    builds::uploaded_by.eq("apikey:test"),
                    builds::stats_total.eq(b.stats.total),
                    builds::stats_passed.eq(b.stats.passed),
                    builds::stats_failed.eq(b.stats.failed),
                    builds::stats_broken.eq(b.stats.broken),
                    builds::stats_skipped.eq(b.stats.skipped),
                    builds::stats_unknown.eq(b.stats.unknown),
                    builds::duration_ms.eq(b.stats.duration_ms),
                ))
                .execute(conn)
                .map(drop)
                .map_err(crate::errors::from_diesel)
        })
        .await
        .expect("seed build");
    }
}

/// A store on `url`, not migrated yet.
async fn open_store(url: DatabaseUrl) -> Arc<Store> {
    let config = DbConfig { url, max_connections: 4, acquire_timeout: Duration::from_secs(10) };
    Arc::new(Store::open(config).await.expect("open store"))
}

async fn fixture(url: DatabaseUrl, guard: Box<dyn std::any::Any + Send>) -> StoreFixture {
    let store = open_store(url).await;
    store.migrate().await.expect("migrate");
    StoreFixture {
        envs: store.clone(),
        keys: store.clone(),
        users: store.clone(),
        projects: store.clone(),
        health: store.clone(),
        uploads: store.clone(),
        builds: store.clone(),
        jobs: store.clone(),
        seeds: store,
        guard,
    }
}

mod sqlite {
    use super::*;

    async fn sqlite_fixture() -> Option<StoreFixture> {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = DatabaseUrl::Sqlite(dir.path().join("nested/dir/allure-hub.db"));
        Some(fixture(url, Box::new(dir)).await)
    }

    hub_test_support::store_contract_tests!(sqlite_fixture);
}

mod postgres {
    use hub_test_support::pg::PgTestDatabase;

    use super::*;

    async fn postgres_fixture() -> Option<StoreFixture> {
        let db = tokio::task::spawn_blocking(PgTestDatabase::create).await.expect("create database")?;
        let url = DatabaseUrl::parse(&db.url).expect("postgres url");
        Some(fixture(url, Box::new(db)).await)
    }

    hub_test_support::store_contract_tests!(postgres_fixture);
}

mod operations;

mod migrations {
    use super::*;

    #[tokio::test]
    async fn migrating_twice_applies_nothing_the_second_time() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("a.db"));
        let store =
            Store::open(DbConfig { url, max_connections: 2, acquire_timeout: Duration::from_secs(5) }).await.unwrap();
        // Every migration folder of the backend, applied once.
        let folders = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../migrations/sqlite"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().join("up.sql").is_file())
            .count();
        assert!(folders >= 4);
        assert_eq!(store.migrate().await.unwrap().len(), folders);
        assert!(store.migrate().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_unreachable_postgres_fails_with_the_drivers_own_message() {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let url = DatabaseUrl::parse("postgres://nobody:secret@127.0.0.1:1/none").unwrap();
        let err = Store::open(DbConfig { url, max_connections: 1, acquire_timeout: Duration::from_secs(1) })
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("127.0.0.1") && !err.contains("secret"), "{err}");
        assert!(!err.contains("multiconnection"), "the real libpq error is kept: {err}");
    }
}

mod sqlite_settings {
    use diesel::sql_types::{BigInt, Text};

    use super::*;

    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = Text)]
        journal_mode: String,
    }

    #[derive(QueryableByName)]
    struct Number {
        #[diesel(sql_type = BigInt)]
        value: i64,
    }

    #[tokio::test]
    async fn every_pooled_sqlite_connection_uses_wal_foreign_keys_and_a_busy_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("a.db"));
        let store =
            Store::open(DbConfig { url, max_connections: 3, acquire_timeout: Duration::from_secs(5) }).await.unwrap();
        // Several connections at once, so more than the first one is checked.
        let checks: Vec<_> = (0..3)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .run(|conn| {
                            let AnyConnection::Sqlite(c) = conn else { panic!("expected SQLite") };
                            let mode: Mode = diesel::sql_query("PRAGMA journal_mode").get_result(c).unwrap();
                            let fk: Number = diesel::sql_query("SELECT foreign_keys AS value FROM pragma_foreign_keys")
                                .get_result(c)
                                .unwrap();
                            let busy: Number = diesel::sql_query("SELECT timeout AS value FROM pragma_busy_timeout")
                                .get_result(c)
                                .unwrap();
                            std::thread::sleep(Duration::from_millis(50));
                            Ok((mode.journal_mode, fk.value, busy.value))
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        for check in checks {
            assert_eq!(check.await.unwrap(), ("wal".to_owned(), 1, 5000));
        }
    }
}
