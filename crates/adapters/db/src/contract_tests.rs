//! The store contract suite of `hub-test-support`, run unchanged against SQLite and against PostgreSQL, each case
//! on a fresh database; then this store's own checks below the ports: migrations, the rollup tables the overview
//! reads, and SQLite's connection settings.

use std::sync::Arc;
use std::time::Duration;

use hub_test_support::contract::StoreFixture;
use hub_test_support::pg::PgTestDatabase;

use crate::connection::{AnyConnection, DatabaseUrl, DbConfig};
use crate::store::Store;

mod rollups;

/// A store on `url`, not migrated yet.
async fn open_store(url: DatabaseUrl) -> Arc<Store> {
    let config = DbConfig { url, max_connections: 4, acquire_timeout: Duration::from_secs(10) };
    Arc::new(Store::open(config).await.expect("open store"))
}

/// A migrated store on `url`.
async fn migrated(url: DatabaseUrl) -> Arc<Store> {
    let store = open_store(url).await;
    store.migrate().await.expect("migrate");
    store
}

/// A fresh SQLite database (in a directory that does not exist yet), kept while the directory lives.
fn sqlite_database() -> (DatabaseUrl, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    (DatabaseUrl::Sqlite(dir.path().join("nested/dir/allure-hub.db")), dir)
}

/// A fresh PostgreSQL database, dropped with the guard; `None` when no server answers and none is required.
async fn postgres_database() -> Option<(DatabaseUrl, PgTestDatabase)> {
    let db = tokio::task::spawn_blocking(PgTestDatabase::create).await.expect("create database")?;
    Some((DatabaseUrl::parse(&db.url).expect("postgres url"), db))
}

mod sqlite {
    use super::*;

    async fn sqlite_fixture() -> Option<StoreFixture> {
        let (url, dir) = sqlite_database();
        Some(StoreFixture::of(migrated(url).await, Box::new(dir)))
    }

    hub_test_support::store_contract_tests!(sqlite_fixture);

    #[tokio::test]
    async fn rollup_rows_follow_deletions_and_replaced_results() {
        let (url, _dir) = sqlite_database();
        rollups::rows_follow_deletions_and_replaced_results(url).await;
    }

    #[tokio::test]
    async fn totals_are_built_from_builds_saved_before_the_migration() {
        let (url, _dir) = sqlite_database();
        rollups::totals_are_built_from_builds_saved_before_the_migration(url).await;
    }
}

mod postgres {
    use super::*;

    async fn postgres_fixture() -> Option<StoreFixture> {
        let (url, db) = postgres_database().await?;
        Some(StoreFixture::of(migrated(url).await, Box::new(db)))
    }

    hub_test_support::store_contract_tests!(postgres_fixture);

    #[tokio::test]
    async fn rollup_rows_follow_deletions_and_replaced_results() {
        let Some((url, _db)) = postgres_database().await else { return };
        rollups::rows_follow_deletions_and_replaced_results(url).await;
    }

    #[tokio::test]
    async fn totals_are_built_from_builds_saved_before_the_migration() {
        let Some((url, _db)) = postgres_database().await else { return };
        rollups::totals_are_built_from_builds_saved_before_the_migration(url).await;
    }
}

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
    use diesel::prelude::*;
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
