//! This store's running totals (`build_totals`, `build_days`, `build_env_days`, kept by triggers) seen from below
//! the ports: the contract suite checks every figure the overview shows, but not that the tables hold no rows at
//! zero or for deleted scopes, nor that the migrations adding them count builds saved before. The data is written
//! through the ports, with the contract suite's own dataset.

use diesel::prelude::*;
use hub_domain::ports::StoreError;
use hub_test_support::contract::StoreFixture;
use hub_test_support::contract::overview::{assert_overview, assert_scopes_add_up, seed_and_change};
use hub_test_support::contract::overview_dataset::{PROJECTS, all_envs, overview_seed, seed_overview};

use super::{migrated, open_store};
use crate::connection::DatabaseUrl;
use crate::errors::from_diesel;
use crate::schema::{build_days, build_env_days, build_totals};
use crate::store::Store;

/// Deleted scopes leave no rows behind, no row stays at zero builds, and the per-environment days are the sums of
/// the per-project days, after every kind of change to builds.
pub(super) async fn rows_follow_deletions_and_replaced_results(url: DatabaseUrl) {
    let store = migrated(url).await;
    seed_and_change(&StoreFixture::of(store.clone(), Box::new(()))).await;
    let (totals, days, env_days): (i64, i64, i64) = store
        .run(|conn| {
            let totals = build_totals::table
                .filter(
                    build_totals::env_id
                        .eq("gamma")
                        .or(build_totals::project_id.eq("web").and(build_totals::env_id.eq("beta"))),
                )
                .count()
                .get_result(conn)
                .map_err(from_diesel)?;
            let days = build_days::table
                .filter(build_days::build_count.le(0))
                .count()
                .get_result(conn)
                .map_err(from_diesel)?;
            let env_days = build_env_days::table
                .filter(build_env_days::build_count.le(0).or(build_env_days::env_id.eq("gamma")))
                .count()
                .get_result(conn)
                .map_err(from_diesel)?;
            Ok((totals, days, env_days))
        })
        .await
        .unwrap();
    assert_eq!((totals, days, env_days), (0, 0, 0));
    assert_env_days_sum_project_days(&store).await;
}

/// Builds saved before the totals existed are counted by the migration that adds them.
pub(super) async fn totals_are_built_from_builds_saved_before_the_migration(url: DatabaseUrl) {
    let old = open_store(url).await;
    old.run(|conn| crate::migrations::run_first(conn, 2).map_err(|e| StoreError::Internal(e.0))).await.unwrap();
    // Today's ports also read and write the columns that later migrations added (the report key, the stored bytes,
    // the job leases): they are there while seeding, and gone again before the migrations under test run on the
    // older schema.
    let later_columns =
        |sql: &'static str| old.run(move |conn| diesel::sql_query(sql).execute(conn).map(drop).map_err(from_diesel));
    later_columns("ALTER TABLE builds ADD COLUMN report_key TEXT").await.unwrap();
    later_columns("ALTER TABLE builds ADD COLUMN stored_bytes BIGINT").await.unwrap();
    later_columns("ALTER TABLE generation_jobs ADD COLUMN node_id TEXT").await.unwrap();
    later_columns("ALTER TABLE generation_jobs ADD COLUMN lease_until TIMESTAMP").await.unwrap();
    let fixture = StoreFixture::of(old.clone(), Box::new(()));
    let seeds = overview_seed();
    seed_overview(&fixture, &seeds).await;
    later_columns("ALTER TABLE builds DROP COLUMN report_key").await.unwrap();
    later_columns("ALTER TABLE builds DROP COLUMN stored_bytes").await.unwrap();
    later_columns("ALTER TABLE generation_jobs DROP COLUMN lease_until").await.unwrap();
    later_columns("ALTER TABLE generation_jobs DROP COLUMN node_id").await.unwrap();
    // The overview's totals, the per-environment days, the report key, the stored bytes, the stale reports
    // (seeding generates each build once, so it never records one before that table exists), the nodes and the
    // job leases.
    assert_eq!(old.migrate().await.unwrap().len(), 7);
    // Reports published before keys were recorded have none; the dataset's expectations name the seeded key.
    later_columns("UPDATE builds SET report_key = 'seeded' WHERE has_report").await.unwrap();
    for scope in [(None, None), (Some("beta"), None), (None, Some("web"))] {
        assert_overview(&fixture, &seeds, &all_envs(), &PROJECTS, scope).await;
    }
    assert_scopes_add_up(&fixture, &all_envs(), &PROJECTS).await;
    assert_env_days_sum_project_days(&old).await;
}

/// Every row of the per-environment rollup equals the sum of its environment's per-project rows of that day, and
/// no day is missing from either side (beyond the 30 days the overview shows).
async fn assert_env_days_sum_project_days(store: &Store) {
    type Day = (String, String, i64, i64, i64, i64);
    let (mut rollup, projects): (Vec<Day>, Vec<Day>) = store
        .run(|conn| {
            let rollup = build_env_days::table
                .select((
                    build_env_days::env_id,
                    build_env_days::day,
                    build_env_days::build_count,
                    build_env_days::passed,
                    build_env_days::failed,
                    build_env_days::skipped,
                ))
                .load(conn)
                .map_err(from_diesel)?;
            let projects = build_days::table
                .select((
                    build_days::env_id,
                    build_days::day,
                    build_days::build_count,
                    build_days::passed,
                    build_days::failed,
                    build_days::skipped,
                ))
                .load(conn)
                .map_err(from_diesel)?;
            Ok((rollup, projects))
        })
        .await
        .unwrap();
    let mut summed: std::collections::BTreeMap<(String, String), (i64, i64, i64, i64)> = Default::default();
    for (env, day, builds, passed, failed, skipped) in projects {
        let entry = summed.entry((env, day)).or_default();
        *entry = (entry.0 + builds, entry.1 + passed, entry.2 + failed, entry.3 + skipped);
    }
    let summed: Vec<Day> = summed.into_iter().map(|((env, day), (b, p, f, s))| (env, day, b, p, f, s)).collect();
    rollup.sort();
    assert!(!summed.is_empty());
    assert_eq!(rollup, summed);
}
