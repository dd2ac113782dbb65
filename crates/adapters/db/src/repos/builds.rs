//! [`BuildRepo`] on the store: reading, listing, aggregating and deleting builds (contract §8.4–8.8).

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use hub_domain::Timestamp;
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::model::build::{
    Build, BuildNeighbours, BuildStats, BuildStatus, OutcomeFilter, ProjectStats, QualityGateFailure,
    QualityGateResult, TREND_BUILDS, TrendPoint,
};
use hub_domain::model::disk::ProjectBytes;
use hub_domain::model::job::JobState;
use hub_domain::model::page::{Page, PageRequest};
use hub_domain::ports::{BuildDeletion, BuildKey, BuildRef, BuildRepo, StoreError};
use serde_json::{Value, json};

use super::stored_bytes;
use super::time::{from_db, to_db};
use super::uploads::UNFINISHED;
use crate::connection::AnyConnection;
use crate::errors::{corrupt, from_diesel};
use crate::schema::{build_totals, builds, generation_jobs, upload_sessions};
use crate::store::{Store, read_snapshot, transaction};

/// A build's primary key: environment, project and build id.
pub(super) type Key = (String, String, String);

fn key(env: &EnvId, project: &ProjectId, build: &BuildId) -> Key {
    (env.as_str().to_owned(), project.as_str().to_owned(), build.as_str().to_owned())
}

/// Every column of `builds` but `history_entry`, selected by name.
#[derive(Queryable, Selectable)]
#[diesel(table_name = builds)]
pub(super) struct BuildRow {
    env_id: String,
    project_id: String,
    build_id: String,
    status: String,
    created_at: NaiveDateTime,
    completed_at: Option<NaiveDateTime>,
    uploaded_by: String,
    has_report: bool,
    stats_total: i64,
    stats_passed: i64,
    stats_failed: i64,
    stats_broken: i64,
    stats_skipped: i64,
    stats_unknown: i64,
    duration_ms: i64,
    quality_gate: Option<String>,
    warnings: String,
    error: Option<String>,
    config: String,
    longest_test_ms: i64,
    report_key: Option<String>,
    stored_bytes: Option<i64>,
}

/// The stored form of a quality gate result: the contract's JSON shape.
pub(super) fn gate_json(gate: &QualityGateResult) -> String {
    let failures: Vec<Value> = gate
        .failures
        .iter()
        .map(|f| json!({"rule": f.rule, "expected": f.expected, "actual": f.actual, "message": f.message}))
        .collect();
    json!({"passed": gate.passed, "failures": failures}).to_string()
}

fn gate_from_json(text: &str) -> Result<QualityGateResult, StoreError> {
    let v: Value = serde_json::from_str(text).map_err(|e| corrupt("quality gate", e))?;
    let failures = v["failures"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|f| QualityGateFailure {
                    rule: f["rule"].as_str().unwrap_or_default().to_owned(),
                    expected: f["expected"].clone(),
                    actual: f["actual"].clone(),
                    message: f["message"].as_str().unwrap_or_default().to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(QualityGateResult { passed: v["passed"].as_bool().unwrap_or(false), failures })
}

impl BuildRow {
    pub(super) fn into_domain(self) -> Result<Build, StoreError> {
        Ok(Build {
            env_id: EnvId::parse(&self.env_id).map_err(|e| corrupt("build env", e))?,
            project_id: ProjectId::parse(&self.project_id).map_err(|e| corrupt("build project", e))?,
            build_id: BuildId::parse(&self.build_id).map_err(|e| corrupt("build id", e))?,
            status: self.status.parse().map_err(|e| corrupt("build status", e))?,
            created_at: from_db(self.created_at),
            completed_at: self.completed_at.map(from_db),
            uploaded_by: self.uploaded_by,
            has_report: self.has_report,
            report_key: self.report_key,
            stored_bytes: self.stored_bytes,
            stats: BuildStats {
                total: self.stats_total,
                passed: self.stats_passed,
                failed: self.stats_failed,
                broken: self.stats_broken,
                skipped: self.stats_skipped,
                unknown: self.stats_unknown,
                duration_ms: self.duration_ms,
            },
            longest_test_ms: self.longest_test_ms,
            quality_gate: self.quality_gate.as_deref().map(gate_from_json).transpose()?,
            warnings: serde_json::from_str(&self.warnings).map_err(|e| corrupt("build warnings", e))?,
            error: self.error,
            config: serde_json::from_str(&self.config).map_err(|e| corrupt("build config", e))?,
        })
    }
}

pub(super) fn rows_into(rows: Vec<BuildRow>) -> Result<Vec<Build>, StoreError> {
    rows.into_iter().map(BuildRow::into_domain).collect()
}

/// The oldest-first trend of the newest builds, and the newest build, of a project.
fn trend_and_latest(
    conn: &mut AnyConnection,
    env: &str,
    project: &str,
) -> Result<(Vec<TrendPoint>, Option<Build>), StoreError> {
    let newest: Vec<BuildRow> = builds::table
        .filter(builds::env_id.eq(env))
        .filter(builds::project_id.eq(project))
        .order((builds::created_at.desc(), builds::build_id.desc()))
        .limit(TREND_BUILDS)
        .select(BuildRow::as_select())
        .load(conn)
        .map_err(from_diesel)?;
    let mut builds = rows_into(newest)?;
    let trend = builds
        .iter()
        .rev()
        .map(|b| TrendPoint {
            build_id: b.build_id.clone(),
            created_at: b.created_at,
            passed: b.stats.passed,
            failed: b.stats.failed + b.stats.broken,
            skipped: b.stats.skipped,
        })
        .collect();
    let latest = if builds.is_empty() { None } else { Some(builds.swap_remove(0)) };
    Ok((trend, latest))
}

/// Whether a job of the build is queued or running.
fn has_pending_job(conn: &mut AnyConnection, k: &Key) -> Result<bool, StoreError> {
    diesel::select(diesel::dsl::exists(
        generation_jobs::table
            .filter(generation_jobs::env_id.eq(&k.0))
            .filter(generation_jobs::project_id.eq(&k.1))
            .filter(generation_jobs::build_id.eq(&k.2))
            .filter(generation_jobs::state.eq_any([JobState::Queued.as_str(), JobState::Running.as_str()])),
    ))
    .get_result(conn)
    .map_err(from_diesel)
}

/// Whether an upload of the build is still receiving or assembling.
pub(super) fn has_unfinished_upload(conn: &mut AnyConnection, k: &Key) -> Result<bool, StoreError> {
    diesel::select(diesel::dsl::exists(
        upload_sessions::table
            .filter(upload_sessions::env_id.eq(&k.0))
            .filter(upload_sessions::project_id.eq(&k.1))
            .filter(upload_sessions::build_id.eq(&k.2))
            .filter(upload_sessions::phase.eq_any(UNFINISHED)),
    ))
    .get_result(conn)
    .map_err(from_diesel)
}

/// One build, read inside the caller's transaction.
pub(super) fn find(conn: &mut AnyConnection, k: &Key) -> Result<Option<Build>, StoreError> {
    builds::table
        .find(k.clone())
        .select(BuildRow::as_select())
        .first::<BuildRow>(conn)
        .optional()
        .map_err(from_diesel)?
        .map(BuildRow::into_domain)
        .transpose()
}

#[async_trait]
impl BuildRepo for Store {
    async fn status(
        &self,
        env: &EnvId,
        project: &ProjectId,
        build: &BuildId,
    ) -> Result<Option<BuildStatus>, StoreError> {
        let k = key(env, project, build);
        self.run(move |conn| {
            builds::table
                .find(k)
                .select(builds::status)
                .first::<String>(conn)
                .optional()
                .map_err(from_diesel)?
                .map(|s| s.parse().map_err(|e| corrupt("build status", e)))
                .transpose()
        })
        .await
    }

    async fn get(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> Result<Option<Build>, StoreError> {
        let k = key(env, project, build);
        self.run(move |conn| find(conn, &k)).await
    }

    async fn list(
        &self,
        env: &EnvId,
        project: &ProjectId,
        filter: OutcomeFilter,
        page: PageRequest,
    ) -> Result<Page<Build>, StoreError> {
        let (env, project) = (env.as_str().to_owned(), project.as_str().to_owned());
        self.run(move |conn| {
            read_snapshot(conn, |conn| {
                let filtered = || {
                    let q = builds::table
                        .filter(builds::env_id.eq(env.clone()))
                        .filter(builds::project_id.eq(project.clone()))
                        .into_boxed();
                    match filter {
                        OutcomeFilter::All => q,
                        OutcomeFilter::Passed => q
                            .filter(builds::stats_total.gt(0))
                            .filter((builds::stats_failed + builds::stats_broken).eq(0)),
                        OutcomeFilter::Failed => q.filter((builds::stats_failed + builds::stats_broken).gt(0)),
                    }
                };
                let total = filtered().count().get_result(conn).map_err(from_diesel)?;
                let rows: Vec<BuildRow> = filtered()
                    .order((builds::created_at.desc(), builds::build_id.desc()))
                    .limit(page.limit)
                    .offset(page.offset)
                    .select(BuildRow::as_select())
                    .load(conn)
                    .map_err(from_diesel)?;
                Ok(Page { items: rows_into(rows)?, total })
            })
        })
        .await
    }

    async fn stats(&self, env: &EnvId, project: &ProjectId) -> Result<ProjectStats, StoreError> {
        let (env, project) = (env.as_str().to_owned(), project.as_str().to_owned());
        self.run(move |conn| {
            read_snapshot(conn, |conn| {
                // The running totals the builds triggers keep (migration 2026-11-30): one row, not a sum.
                let (total_builds, total_passed, total_failed, total_skipped): (i64, i64, i64, i64) =
                    build_totals::table
                        .find((&env, &project))
                        .select((
                            build_totals::build_count,
                            build_totals::passed,
                            build_totals::failed,
                            build_totals::skipped,
                        ))
                        .first(conn)
                        .optional()
                        .map_err(from_diesel)?
                        .unwrap_or_default();
                let (trend, latest) = trend_and_latest(conn, &env, &project)?;
                Ok(ProjectStats { total_builds, total_passed, total_failed, total_skipped, latest, trend })
            })
        })
        .await
    }

    async fn neighbours(
        &self,
        env: &EnvId,
        project: &ProjectId,
        build: &BuildId,
    ) -> Result<BuildNeighbours, StoreError> {
        let k = key(env, project, build);
        self.run(move |conn| {
            read_snapshot(conn, |conn| {
                let Some(created) = builds::table
                    .find(k.clone())
                    .select(builds::created_at)
                    .first::<NaiveDateTime>(conn)
                    .optional()
                    .map_err(from_diesel)?
                else {
                    return Ok(BuildNeighbours::default());
                };
                let (env, project, id) = k;
                // The list is (created_at, build_id) descending: the newer neighbour is the smallest key above
                // this one, the older the largest below; each is one step of the project's index.
                let in_project = || {
                    builds::table
                        .filter(builds::env_id.eq(env.clone()))
                        .filter(builds::project_id.eq(project.clone()))
                        .select(builds::build_id)
                };
                let newer = in_project()
                    .filter(
                        builds::created_at
                            .gt(created)
                            .or(builds::created_at.eq(created).and(builds::build_id.gt(id.clone()))),
                    )
                    .order((builds::created_at.asc(), builds::build_id.asc()))
                    .first::<String>(conn)
                    .optional()
                    .map_err(from_diesel)?;
                let older = in_project()
                    .filter(
                        builds::created_at
                            .lt(created)
                            .or(builds::created_at.eq(created).and(builds::build_id.lt(id.clone()))),
                    )
                    .order((builds::created_at.desc(), builds::build_id.desc()))
                    .first::<String>(conn)
                    .optional()
                    .map_err(from_diesel)?;
                let parse =
                    |b: Option<String>| b.map(|b| BuildId::parse(&b).map_err(|e| corrupt("build id", e))).transpose();
                Ok(BuildNeighbours { newer: parse(newer)?, older: parse(older)? })
            })
        })
        .await
    }

    async fn latest_ready(&self, env: &EnvId, project: &ProjectId) -> Result<Option<BuildId>, StoreError> {
        let (env, project) = (env.as_str().to_owned(), project.as_str().to_owned());
        self.run(move |conn| {
            builds::table
                .filter(builds::env_id.eq(env))
                .filter(builds::project_id.eq(project))
                .filter(builds::status.eq(BuildStatus::Ready.as_str()))
                .order((builds::created_at.desc(), builds::build_id.desc()))
                .select(builds::build_id)
                .first::<String>(conn)
                .optional()
                .map_err(from_diesel)?
                .map(|b| BuildId::parse(&b).map_err(|e| corrupt("build id", e)))
                .transpose()
        })
        .await
    }

    async fn delete(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> Result<BuildDeletion, StoreError> {
        let k = key(env, project, build);
        self.run(move |conn| {
            transaction(conn, |conn| {
                let Some(history_entry) = builds::table
                    .find(k.clone())
                    .select(builds::history_entry)
                    .first::<Option<String>>(conn)
                    .optional()
                    .map_err(from_diesel)?
                else {
                    return Ok(BuildDeletion::NotFound);
                };
                if has_pending_job(conn, &k)? {
                    return Ok(BuildDeletion::Generating);
                }
                if has_unfinished_upload(conn, &k)? {
                    return Ok(BuildDeletion::UploadInProgress);
                }
                // Finished jobs go with the build (ON DELETE CASCADE); upload sessions are kept.
                diesel::delete(builds::table.find(k)).execute(conn).map_err(from_diesel)?;
                Ok(BuildDeletion::Deleted { history_entry })
            })
        })
        .await
    }

    async fn expired(&self, cutoff: Timestamp, after: Option<BuildKey>, limit: i64) -> Result<Vec<Build>, StoreError> {
        let cutoff = to_db(cutoff);
        self.run(move |conn| {
            let mut q = builds::table
                .filter(builds::created_at.lt(cutoff))
                .filter(builds::status.eq_any([BuildStatus::Ready.as_str(), BuildStatus::Failed.as_str()]))
                .into_boxed();
            if let Some(a) = after {
                // (created_at, env, project, build) > the last key, spelled out: row values are not portable DSL.
                let (at, env, project, build) = (
                    to_db(a.created_at),
                    a.env.as_str().to_owned(),
                    a.project.as_str().to_owned(),
                    a.build.to_string(),
                );
                q = q.filter(
                    builds::created_at.gt(at).or(builds::created_at.eq(at).and(
                        builds::env_id.gt(env.clone()).or(builds::env_id.eq(env).and(
                            builds::project_id
                                .gt(project.clone())
                                .or(builds::project_id.eq(project).and(builds::build_id.gt(build))),
                        )),
                    )),
                );
            }
            let rows: Vec<BuildRow> = q
                .order((
                    builds::created_at.asc(),
                    builds::env_id.asc(),
                    builds::project_id.asc(),
                    builds::build_id.asc(),
                ))
                .limit(limit)
                .select(BuildRow::as_select())
                .load(conn)
                .map_err(from_diesel)?;
            rows_into(rows)
        })
        .await
    }

    async fn set_stored_bytes(
        &self,
        env: &EnvId,
        project: &ProjectId,
        build: &BuildId,
        bytes: Option<i64>,
    ) -> Result<bool, StoreError> {
        let k = key(env, project, build);
        self.run(move |conn| stored_bytes::set(conn, k, bytes)).await
    }

    async fn fill_stored_bytes(
        &self,
        env: &EnvId,
        project: &ProjectId,
        build: &BuildId,
        bytes: i64,
    ) -> Result<bool, StoreError> {
        let k = key(env, project, build);
        self.run(move |conn| stored_bytes::fill(conn, k, bytes)).await
    }

    async fn unmeasured(&self, after: Option<BuildRef>, limit: i64) -> Result<Vec<BuildRef>, StoreError> {
        self.run(move |conn| stored_bytes::unmeasured(conn, after, limit)).await
    }

    async fn stored_bytes_by_project(&self) -> Result<Vec<ProjectBytes>, StoreError> {
        self.run(stored_bytes::by_project).await
    }
}
