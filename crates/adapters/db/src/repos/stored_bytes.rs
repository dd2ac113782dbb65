//! The stored bytes kept per build (`builds.stored_bytes`, migration 2026-12-07-100000): written when a build's
//! files change, listed for the start-up pass that measures builds kept before the column existed, and summed per
//! project for the disk usage. The [`BuildRepo`](hub_domain::ports::BuildRepo) methods of the store call these.

use diesel::prelude::*;
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::model::disk::ProjectBytes;
use hub_domain::ports::{BuildRef, StoreError};

use super::builds::Key;
use super::overview::SumBigInt;
use crate::connection::AnyConnection;
use crate::errors::{corrupt, from_diesel};
use crate::schema::builds;

/// Writes a build's stored bytes (NULL: unknown). Whether the build exists.
pub(super) fn set(conn: &mut AnyConnection, k: Key, bytes: Option<i64>) -> Result<bool, StoreError> {
    let n = diesel::update(builds::table.find(k)).set(builds::stored_bytes.eq(bytes)).execute(conn);
    Ok(n.map_err(from_diesel)? > 0)
}

/// Writes a build's stored bytes only while it has none, in one statement, so that a value kept between the
/// caller's measurement and this write stays. Whether it was written.
pub(super) fn fill(conn: &mut AnyConnection, k: Key, bytes: i64) -> Result<bool, StoreError> {
    let unknown = builds::table.find(k).filter(builds::stored_bytes.is_null());
    let n = diesel::update(unknown).set(builds::stored_bytes.eq(bytes)).execute(conn);
    Ok(n.map_err(from_diesel)? > 0)
}

/// Builds without a value after `after`, by key, from the partial index of such builds.
pub(super) fn unmeasured(
    conn: &mut AnyConnection,
    after: Option<BuildRef>,
    limit: i64,
) -> Result<Vec<BuildRef>, StoreError> {
    let mut q = builds::table.filter(builds::stored_bytes.is_null()).into_boxed();
    if let Some(a) = after {
        // (env, project, build) > the last key, spelled out: row values are not portable DSL.
        let (env, project, build) = (a.env.as_str().to_owned(), a.project.as_str().to_owned(), a.build.to_string());
        q = q.filter(builds::env_id.gt(env.clone()).or(builds::env_id.eq(env).and(
            builds::project_id.gt(project.clone()).or(builds::project_id.eq(project).and(builds::build_id.gt(build))),
        )));
    }
    let rows: Vec<Key> = q
        .order((builds::env_id.asc(), builds::project_id.asc(), builds::build_id.asc()))
        .limit(limit)
        .select((builds::env_id, builds::project_id, builds::build_id))
        .load(conn)
        .map_err(from_diesel)?;
    rows.into_iter()
        .map(|(env, project, build)| {
            Ok(BuildRef {
                env: EnvId::parse(&env).map_err(|e| corrupt("build env", e))?,
                project: ProjectId::parse(&project).map_err(|e| corrupt("build project", e))?,
                build: BuildId::parse(&build).map_err(|e| corrupt("build id", e))?,
            })
        })
        .collect()
}

/// The kept values summed per project, in one grouped query.
pub(super) fn by_project(conn: &mut AnyConnection) -> Result<Vec<ProjectBytes>, StoreError> {
    // SUM skips NULL (not measured); asserting the column not null only gives the sum its BIGINT type.
    let rows: Vec<(String, String, i64)> = builds::table
        .group_by((builds::env_id, builds::project_id))
        .select((builds::env_id, builds::project_id, SumBigInt(builds::stored_bytes.assume_not_null())))
        .load(conn)
        .map_err(from_diesel)?;
    rows.into_iter()
        .map(|(env, project, bytes)| {
            Ok(ProjectBytes {
                env: EnvId::parse(&env).map_err(|e| corrupt("build env", e))?,
                project: ProjectId::parse(&project).map_err(|e| corrupt("build project", e))?,
                bytes,
            })
        })
        .collect()
}
