//! [`StaleReports`] on the store (`stale_reports`, migration 2026-12-07-300000): the builds that may hold reports
//! besides the one they name. The finish and the recovery of jobs record builds inside their own transactions
//! through [`record_stale`]; a build's deletion takes its row with it (`ON DELETE CASCADE`).

use async_trait::async_trait;
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::ports::{BuildRef, StaleReports, StoreError};

use super::builds::Key;
use crate::connection::AnyConnection;
use crate::errors::{corrupt, from_diesel};
use crate::schema::{builds, stale_reports};
use crate::store::{Store, transaction};

fn key_of(build: &BuildRef) -> Key {
    (build.env.as_str().to_owned(), build.project.as_str().to_owned(), build.build.to_string())
}

/// Records the build unless it is recorded already or does not exist, in one statement. In a savepoint when the
/// caller's transaction is open: a writer that recorded the same build at the same moment makes PostgreSQL report
/// a unique violation, which only means the row is there, and must not undo the caller's work.
pub(super) fn record_stale(conn: &mut AnyConnection, key: &Key) -> Result<(), StoreError> {
    let inserted = transaction(conn, |conn| {
        let source = builds::table
            .find(key.clone())
            .filter(not(exists(stale_reports::table.find(key.clone()))))
            .select((builds::env_id, builds::project_id, builds::build_id));
        diesel::insert_into(stale_reports::table)
            .values(source)
            .into_columns((stale_reports::env_id, stale_reports::project_id, stale_reports::build_id))
            .execute(conn)
            .map(drop)
            .map_err(from_diesel)
    });
    match inserted {
        Err(StoreError::Conflict) => Ok(()),
        other => other,
    }
}

/// Recorded builds after `after`, by key.
fn stale(conn: &mut AnyConnection, after: Option<BuildRef>, limit: i64) -> Result<Vec<BuildRef>, StoreError> {
    let mut q = stale_reports::table.into_boxed();
    if let Some(a) = after {
        // (env, project, build) > the last key, spelled out: row values are not portable DSL.
        let (env, project, build) = key_of(&a);
        q = q.filter(
            stale_reports::env_id.gt(env.clone()).or(stale_reports::env_id.eq(env).and(
                stale_reports::project_id
                    .gt(project.clone())
                    .or(stale_reports::project_id.eq(project).and(stale_reports::build_id.gt(build))),
            )),
        );
    }
    let rows: Vec<Key> = q
        .order((stale_reports::env_id.asc(), stale_reports::project_id.asc(), stale_reports::build_id.asc()))
        .limit(limit)
        .load(conn)
        .map_err(from_diesel)?;
    rows.into_iter()
        .map(|(env, project, build)| {
            Ok(BuildRef {
                env: EnvId::parse(&env).map_err(|e| corrupt("stale report env", e))?,
                project: ProjectId::parse(&project).map_err(|e| corrupt("stale report project", e))?,
                build: BuildId::parse(&build).map_err(|e| corrupt("stale report build", e))?,
            })
        })
        .collect()
}

/// Deletes the build's row while the build names `kept`, in one statement, so that a switch to a newer report
/// committed before it keeps the row that switch needs.
fn forget(conn: &mut AnyConnection, key: Key, kept: Option<String>) -> Result<bool, StoreError> {
    let build = builds::table.find(key.clone()).select(builds::build_id);
    let row = stale_reports::table.find(key);
    // Two statements of one shape: a boxed condition would tie the query to one backend.
    let n = match kept {
        Some(kept) => diesel::delete(row.filter(exists(build.filter(builds::report_key.eq(kept))))).execute(conn),
        None => diesel::delete(row.filter(exists(build.filter(builds::report_key.is_null())))).execute(conn),
    };
    Ok(n.map_err(from_diesel)? > 0)
}

#[async_trait]
impl StaleReports for Store {
    async fn record(&self, build: &BuildRef) -> Result<(), StoreError> {
        let key = key_of(build);
        self.run(move |conn| record_stale(conn, &key)).await
    }

    async fn stale(&self, after: Option<BuildRef>, limit: i64) -> Result<Vec<BuildRef>, StoreError> {
        self.run(move |conn| stale(conn, after, limit)).await
    }

    async fn forget(&self, build: &BuildRef, kept: Option<String>) -> Result<bool, StoreError> {
        let key = key_of(build);
        self.run(move |conn| forget(conn, key, kept)).await
    }
}
