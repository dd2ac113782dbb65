//! [`UploadSessionRepo`] and [`BuildRepo`] on the store: sessions, their chunk records, and the one transaction
//! that turns an extracted upload into a build with its queued generation job.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use hub_domain::Timestamp;
use hub_domain::ids::{BuildId, EnvId, ProjectId, UploadId};
use hub_domain::model::build::{Build, BuildStats};
use hub_domain::model::job::GenerationJob;
use hub_domain::model::upload::{Phase, UploadKind, UploadSession};
use hub_domain::ports::{ChunkRecord, StoreError, UploadFilter, UploadSessionRepo};
use serde_json::json;

use super::time::{from_db, to_db};
use crate::connection::AnyConnection;
use crate::errors::{corrupt, from_diesel};
use crate::schema::{builds, generation_jobs, upload_chunks, upload_sessions};
use crate::store::{Store, transaction};

/// Phases in which a session can still receive bytes or be assembled.
pub(super) const UNFINISHED: [&str; 2] = [Phase::Uploading.as_str(), Phase::Assembling.as_str()];
/// Phases of an upload in flight (the partial unique index of the schema uses the same list).
const ACTIVE: [&str; 3] = [Phase::Uploading.as_str(), Phase::Assembling.as_str(), Phase::Generating.as_str()];

#[derive(Queryable, Insertable, AsChangeset)]
#[diesel(table_name = upload_sessions, treat_none_as_null = true)]
pub(super) struct SessionRow {
    id: String,
    kind: String,
    env_id: String,
    project_id: String,
    build_id: String,
    file_name: Option<String>,
    total_size: Option<i64>,
    total_chunks: i64,
    received_chunks: i64,
    phase: String,
    failed_at_phase: Option<String>,
    error: Option<String>,
    uploaded_by: String,
    owner: String,
    sha256: Option<String>,
    report_config: Option<String>,
    replace_existing: bool,
    started_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    completed_at: Option<NaiveDateTime>,
    report_url: Option<String>,
    stats: Option<String>,
}

fn stats_json(s: &BuildStats) -> String {
    json!({
        "total": s.total, "passed": s.passed, "failed": s.failed, "broken": s.broken,
        "skipped": s.skipped, "unknown": s.unknown, "durationMs": s.duration_ms
    })
    .to_string()
}

fn stats_from_json(text: &str) -> Result<BuildStats, StoreError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| corrupt("session stats", e))?;
    let n = |k: &str| v[k].as_i64().unwrap_or(0);
    Ok(BuildStats {
        total: n("total"),
        passed: n("passed"),
        failed: n("failed"),
        broken: n("broken"),
        skipped: n("skipped"),
        unknown: n("unknown"),
        duration_ms: n("durationMs"),
    })
}

impl SessionRow {
    pub(super) fn from_domain(s: &UploadSession) -> Self {
        Self {
            id: s.id.to_string(),
            kind: s.kind.as_str().to_owned(),
            env_id: s.env_id.as_str().to_owned(),
            project_id: s.project_id.as_str().to_owned(),
            build_id: s.build_id.as_str().to_owned(),
            file_name: s.file_name.clone(),
            total_size: s.total_size,
            total_chunks: s.total_chunks,
            received_chunks: s.received_chunks,
            phase: s.phase.as_str().to_owned(),
            failed_at_phase: s.failed_at_phase.map(|p| p.as_str().to_owned()),
            error: s.error.clone(),
            uploaded_by: s.uploaded_by.clone(),
            owner: s.owner.clone(),
            sha256: s.sha256.clone(),
            report_config: s.report_config.as_ref().map(ToString::to_string),
            replace_existing: s.replace,
            started_at: to_db(s.started_at),
            updated_at: to_db(s.updated_at),
            completed_at: s.completed_at.map(to_db),
            report_url: s.report_url.clone(),
            stats: s.stats.as_ref().map(stats_json),
        }
    }

    pub(super) fn into_domain(self) -> Result<UploadSession, StoreError> {
        Ok(UploadSession {
            id: UploadId::parse(&self.id).map_err(|e| corrupt("upload id", e))?,
            kind: self.kind.parse().map_err(|e| corrupt("upload kind", e))?,
            env_id: EnvId::parse(&self.env_id).map_err(|e| corrupt("upload env", e))?,
            project_id: ProjectId::parse(&self.project_id).map_err(|e| corrupt("upload project", e))?,
            build_id: BuildId::parse(&self.build_id).map_err(|e| corrupt("upload build", e))?,
            file_name: self.file_name,
            total_size: self.total_size,
            total_chunks: self.total_chunks,
            received_chunks: self.received_chunks,
            phase: self.phase.parse().map_err(|e| corrupt("upload phase", e))?,
            failed_at_phase: self
                .failed_at_phase
                .map(|p| p.parse::<Phase>())
                .transpose()
                .map_err(|e| corrupt("upload failed phase", e))?,
            error: self.error,
            uploaded_by: self.uploaded_by,
            owner: self.owner,
            sha256: self.sha256,
            report_config: self
                .report_config
                .map(|c| serde_json::from_str(&c))
                .transpose()
                .map_err(|e| corrupt("upload report config", e))?,
            replace: self.replace_existing,
            started_at: from_db(self.started_at),
            updated_at: from_db(self.updated_at),
            completed_at: self.completed_at.map(from_db),
            report_url: self.report_url,
            stats: self.stats.as_deref().map(stats_from_json).transpose()?,
        })
    }
}

fn rows_into(rows: Vec<SessionRow>) -> Result<Vec<UploadSession>, StoreError> {
    rows.into_iter().map(SessionRow::into_domain).collect()
}

fn chunk_count(conn: &mut AnyConnection, id: &str) -> Result<i64, StoreError> {
    upload_chunks::table.filter(upload_chunks::upload_id.eq(id)).count().get_result(conn).map_err(from_diesel)
}

/// Creates the build, or replaces the fields of its results when it exists (a replacing upload).
fn save_build(conn: &mut AnyConnection, build: &Build) -> Result<(), StoreError> {
    let key = (build.env_id.as_str(), build.project_id.as_str(), build.build_id.as_str());
    let s = &build.stats;
    let warnings = serde_json::Value::from(build.warnings.clone()).to_string();
    let config = build.config.to_string();
    let changes = (
        builds::status.eq(build.status.as_str()),
        builds::created_at.eq(to_db(build.created_at)),
        builds::uploaded_by.eq(&build.uploaded_by),
        builds::stats_total.eq(s.total),
        builds::stats_passed.eq(s.passed),
        builds::stats_failed.eq(s.failed),
        builds::stats_broken.eq(s.broken),
        builds::stats_skipped.eq(s.skipped),
        builds::stats_unknown.eq(s.unknown),
        builds::duration_ms.eq(s.duration_ms),
        builds::longest_test_ms.eq(build.longest_test_ms),
        builds::warnings.eq(&warnings),
        builds::error.eq(None::<String>),
        builds::config.eq(&config),
        // New results: what the storage holds now, as measured before saving (NULL when it could not be).
        builds::stored_bytes.eq(build.stored_bytes),
    );
    let exists: bool =
        diesel::select(diesel::dsl::exists(builds::table.find(key))).get_result(conn).map_err(from_diesel)?;
    if !exists {
        // A new build: the key and the columns without a default; the rest is set as for a replacement.
        diesel::insert_into(builds::table)
            .values((
                builds::env_id.eq(key.0),
                builds::project_id.eq(key.1),
                builds::build_id.eq(key.2),
                builds::status.eq(build.status.as_str()),
                builds::created_at.eq(to_db(build.created_at)),
                builds::uploaded_by.eq(&build.uploaded_by),
                builds::has_report.eq(build.has_report),
            ))
            .execute(conn)
            .map_err(from_diesel)?;
    }
    diesel::update(builds::table.find(key)).set(changes).execute(conn).map(drop).map_err(from_diesel)
}

/// Stores a new job: the one an upload queues, or a regeneration's.
pub(super) fn insert_job(conn: &mut AnyConnection, job: &GenerationJob) -> Result<(), StoreError> {
    diesel::insert_into(generation_jobs::table)
        .values((
            generation_jobs::id.eq(job.id.to_string()),
            generation_jobs::env_id.eq(job.env_id.as_str()),
            generation_jobs::project_id.eq(job.project_id.as_str()),
            generation_jobs::build_id.eq(job.build_id.as_str()),
            generation_jobs::upload_id.eq(job.upload_id.map(|u| u.to_string())),
            generation_jobs::state.eq(job.state.as_str()),
            generation_jobs::config.eq(job.config.to_string()),
            generation_jobs::attempts.eq(job.attempts),
            generation_jobs::created_at.eq(to_db(job.created_at)),
        ))
        .execute(conn)
        .map(drop)
        .map_err(from_diesel)
}

#[async_trait]
impl UploadSessionRepo for Store {
    async fn insert(&self, session: &UploadSession) -> Result<(), StoreError> {
        let row = SessionRow::from_domain(session);
        self.run(move |conn| {
            diesel::insert_into(upload_sessions::table).values(&row).execute(conn).map(drop).map_err(from_diesel)
        })
        .await
    }

    async fn get(&self, id: UploadId) -> Result<Option<UploadSession>, StoreError> {
        self.run(move |conn| {
            upload_sessions::table
                .find(id.to_string())
                .first::<SessionRow>(conn)
                .optional()
                .map_err(from_diesel)?
                .map(SessionRow::into_domain)
                .transpose()
        })
        .await
    }

    async fn update(&self, session: &UploadSession) -> Result<bool, StoreError> {
        let row = SessionRow::from_domain(session);
        self.run(move |conn| {
            let n = diesel::update(upload_sessions::table.find(row.id.clone()))
                .set(&row)
                .execute(conn)
                .map_err(from_diesel)?;
            Ok(n > 0)
        })
        .await
    }

    async fn has_active(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> Result<bool, StoreError> {
        let (env, project, build) = (env.as_str().to_owned(), project.as_str().to_owned(), build.as_str().to_owned());
        self.run(move |conn| {
            diesel::select(diesel::dsl::exists(
                upload_sessions::table
                    .filter(upload_sessions::env_id.eq(env))
                    .filter(upload_sessions::project_id.eq(project))
                    .filter(upload_sessions::build_id.eq(build))
                    .filter(upload_sessions::kind.ne(UploadKind::Regenerate.as_str()))
                    .filter(upload_sessions::phase.eq_any(ACTIVE)),
            ))
            .get_result(conn)
            .map_err(from_diesel)
        })
        .await
    }

    async fn list(&self, filter: UploadFilter, limit: i64) -> Result<Vec<UploadSession>, StoreError> {
        self.run(move |conn| {
            let mut q = upload_sessions::table.into_boxed();
            if let Some(env) = &filter.env {
                q = q.filter(upload_sessions::env_id.eq(env.as_str().to_owned()));
            }
            if let Some(project) = &filter.project {
                q = q.filter(upload_sessions::project_id.eq(project.as_str().to_owned()));
            }
            let rows = q
                .order((upload_sessions::started_at.desc(), upload_sessions::id.desc()))
                .limit(limit)
                .load::<SessionRow>(conn)
                .map_err(from_diesel)?;
            rows_into(rows)
        })
        .await
    }

    async fn unfinished(&self) -> Result<Vec<UploadSession>, StoreError> {
        self.run(move |conn| {
            let rows = upload_sessions::table
                .filter(upload_sessions::phase.eq_any(UNFINISHED))
                .load::<SessionRow>(conn)
                .map_err(from_diesel)?;
            rows_into(rows)
        })
        .await
    }

    async fn delete(&self, id: UploadId) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.run(move |conn| {
            transaction(conn, |conn| {
                diesel::delete(upload_chunks::table.filter(upload_chunks::upload_id.eq(&id)))
                    .execute(conn)
                    .map_err(from_diesel)?;
                let n = diesel::delete(upload_sessions::table.find(&id)).execute(conn).map_err(from_diesel)?;
                Ok(n > 0)
            })
        })
        .await
    }

    async fn put_chunk(
        &self,
        id: UploadId,
        chunk: ChunkRecord,
        at: Timestamp,
    ) -> Result<Option<UploadSession>, StoreError> {
        let id = id.to_string();
        self.run(move |conn| {
            transaction(conn, |conn| {
                let Some(row) =
                    upload_sessions::table.find(&id).first::<SessionRow>(conn).optional().map_err(from_diesel)?
                else {
                    return Ok(None);
                };
                let key = upload_chunks::table.find((id.clone(), chunk.index));
                let updated = diesel::update(key)
                    .set((upload_chunks::size.eq(chunk.size), upload_chunks::stored_at.eq(to_db(at))))
                    .execute(conn)
                    .map_err(from_diesel)?;
                if updated == 0 {
                    diesel::insert_into(upload_chunks::table)
                        .values((
                            upload_chunks::upload_id.eq(&id),
                            upload_chunks::chunk_index.eq(chunk.index),
                            upload_chunks::size.eq(chunk.size),
                            upload_chunks::stored_at.eq(to_db(at)),
                        ))
                        .execute(conn)
                        .map_err(from_diesel)?;
                }
                let received = chunk_count(conn, &id)?;
                diesel::update(upload_sessions::table.find(&id))
                    .set((upload_sessions::received_chunks.eq(received), upload_sessions::updated_at.eq(to_db(at))))
                    .execute(conn)
                    .map_err(from_diesel)?;
                let mut session = row.into_domain()?;
                session.received_chunks = received;
                session.updated_at = hub_domain::model::time::truncate_to_millis(at);
                Ok(Some(session))
            })
        })
        .await
    }

    async fn chunks(&self, id: UploadId) -> Result<Vec<ChunkRecord>, StoreError> {
        let id = id.to_string();
        self.run(move |conn| {
            let rows: Vec<(i64, i64)> = upload_chunks::table
                .filter(upload_chunks::upload_id.eq(id))
                .order(upload_chunks::chunk_index)
                .select((upload_chunks::chunk_index, upload_chunks::size))
                .load(conn)
                .map_err(from_diesel)?;
            Ok(rows.into_iter().map(|(index, size)| ChunkRecord { index, size }).collect())
        })
        .await
    }

    async fn stored_bytes(&self, id: UploadId, except_index: i64) -> Result<i64, StoreError> {
        let id = id.to_string();
        self.run(move |conn| {
            // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back so both databases answer the same type.
            let total: Option<i64> = upload_chunks::table
                .filter(upload_chunks::upload_id.eq(id))
                .filter(upload_chunks::chunk_index.ne(except_index))
                .select(diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>(
                    "CAST(SUM(size) AS BIGINT)",
                ))
                .first(conn)
                .map_err(from_diesel)?;
            Ok(total.unwrap_or(0))
        })
        .await
    }

    async fn save_results(
        &self,
        session: &UploadSession,
        build: &Build,
        job: &GenerationJob,
    ) -> Result<(), StoreError> {
        let row = SessionRow::from_domain(session);
        let (build, job) = (build.clone(), job.clone());
        self.run(move |conn| {
            transaction(conn, |conn| {
                save_build(conn, &build)?;
                insert_job(conn, &job)?;
                diesel::update(upload_sessions::table.find(row.id.clone()))
                    .set(&row)
                    .execute(conn)
                    .map_err(from_diesel)?;
                diesel::delete(upload_chunks::table.filter(upload_chunks::upload_id.eq(&row.id)))
                    .execute(conn)
                    .map(drop)
                    .map_err(from_diesel)
            })
        })
        .await
    }

    async fn prune_finished(&self, before: Timestamp) -> Result<u64, StoreError> {
        let before = to_db(before);
        self.run(move |conn| {
            transaction(conn, |conn| {
                let finished = || {
                    upload_sessions::table
                        .filter(upload_sessions::phase.eq_any([Phase::Done.as_str(), Phase::Failed.as_str()]))
                        .filter(upload_sessions::completed_at.lt(before))
                };
                // Chunk records normally go when results are saved; any left over go with their session.
                diesel::delete(
                    upload_chunks::table
                        .filter(upload_chunks::upload_id.eq_any(finished().select(upload_sessions::id))),
                )
                .execute(conn)
                .map_err(from_diesel)?;
                let n = diesel::delete(finished()).execute(conn).map_err(from_diesel)?;
                Ok(u64::try_from(n).unwrap_or_default())
            })
        })
        .await
    }
}
