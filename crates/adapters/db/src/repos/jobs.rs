//! [`JobQueue`] on the store: claiming, finishing and recovering generation jobs, and queueing regenerations, each
//! with its build and session in one transaction (contract §8.1, §8.3, §17.3).

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use hub_domain::Timestamp;
use hub_domain::ids::{BuildId, EnvId, JobId, ProjectId, UploadId};
use hub_domain::model::job::GenerationJob;
use hub_domain::model::upload::{Phase, UploadSession};
use hub_domain::ports::{JobCounts, JobOutcome, JobQueue, Regeneration, RegenerationRequest, StoreError};

use super::builds::{Key, find, has_unfinished_upload};
use super::time::{from_db, to_db};
use super::uploads::{SessionRow, insert_job};
use crate::connection::AnyConnection;
use crate::errors::{corrupt, from_diesel};
use crate::schema::{builds, generation_jobs, upload_sessions};
use crate::store::{Store, transaction};

/// The failure text of a job interrupted too often.
const INTERRUPTED: &str = "generation interrupted by server restarts";

#[derive(Queryable)]
struct JobRow {
    id: String,
    env_id: String,
    project_id: String,
    build_id: String,
    upload_id: Option<String>,
    state: String,
    config: String,
    attempts: i64,
    created_at: NaiveDateTime,
    started_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
    error: Option<String>,
}

impl JobRow {
    fn into_domain(self) -> Result<GenerationJob, StoreError> {
        Ok(GenerationJob {
            id: JobId::parse(&self.id).map_err(|e| corrupt("job id", e))?,
            env_id: EnvId::parse(&self.env_id).map_err(|e| corrupt("job env", e))?,
            project_id: ProjectId::parse(&self.project_id).map_err(|e| corrupt("job project", e))?,
            build_id: BuildId::parse(&self.build_id).map_err(|e| corrupt("job build", e))?,
            upload_id: self.upload_id.map(|u| UploadId::parse(&u)).transpose().map_err(|e| corrupt("job upload", e))?,
            state: self.state.parse().map_err(|e| corrupt("job state", e))?,
            config: serde_json::from_str(&self.config).map_err(|e| corrupt("job config", e))?,
            attempts: self.attempts,
            created_at: from_db(self.created_at),
            started_at: self.started_at.map(from_db),
            finished_at: self.finished_at.map(from_db),
            error: self.error,
        })
    }
}

fn build_key(job: &GenerationJob) -> Key {
    (job.env_id.as_str().to_owned(), job.project_id.as_str().to_owned(), job.build_id.as_str().to_owned())
}

/// Ends the job's session, if it has one still generating, and returns it as stored.
fn finish_session(
    conn: &mut AnyConnection,
    job: &GenerationJob,
    error: Option<&str>,
    at: Timestamp,
) -> Result<Option<UploadSession>, StoreError> {
    let Some(id) = job.upload_id else { return Ok(None) };
    let Some(row) =
        upload_sessions::table.find(id.to_string()).first::<SessionRow>(conn).optional().map_err(from_diesel)?
    else {
        return Ok(None);
    };
    let mut session = row.into_domain()?;
    if session.phase != Phase::Generating {
        return Ok(None);
    }
    session.phase = if error.is_some() { Phase::Failed } else { Phase::Done };
    session.failed_at_phase = error.map(|_| Phase::Generating);
    session.error = error.map(str::to_owned);
    session.updated_at = hub_domain::model::time::truncate_to_millis(at);
    session.completed_at = Some(session.updated_at);
    diesel::update(upload_sessions::table.find(id.to_string()))
        .set(&SessionRow::from_domain(&session))
        .execute(conn)
        .map_err(from_diesel)?;
    Ok(Some(session))
}

/// Whether another job of the build waits (a follow-up queued while this one ran).
fn follow_up_queued(conn: &mut AnyConnection, job: &GenerationJob) -> Result<bool, StoreError> {
    diesel::select(diesel::dsl::exists(
        build_jobs(&build_key(job), "queued").filter(generation_jobs::id.ne(job.id.to_string())),
    ))
    .get_result(conn)
    .map_err(from_diesel)
}

/// The stored form of a build's warnings with `extra` added (each remark once).
fn merged_warnings(mut warnings: Vec<String>, extra: &[String]) -> String {
    for w in extra {
        if !warnings.contains(w) {
            warnings.push(w.clone());
        }
    }
    serde_json::Value::from(warnings).to_string()
}

/// The query of [`build_jobs`]; `auto_type` names its type, which a plain function could not spell.
#[diesel::dsl::auto_type]
fn jobs_in_state(env: String, project: String, build: String, state: &'static str) -> _ {
    generation_jobs::table
        .filter(generation_jobs::env_id.eq(env))
        .filter(generation_jobs::project_id.eq(project))
        .filter(generation_jobs::build_id.eq(build))
        .filter(generation_jobs::state.eq(state))
}

/// The jobs of one build in one state, as a query that reads, counts and updates alike.
fn build_jobs(key: &Key, state: &'static str) -> jobs_in_state {
    let (env, project, build) = key.clone();
    jobs_in_state(env, project, build, state)
}

/// §8.1 inside one transaction; see [`JobQueue::queue_regeneration`].
fn regenerate(conn: &mut AnyConnection, request: &RegenerationRequest) -> Result<Regeneration, StoreError> {
    let key = build_key(&request.job);
    if has_unfinished_upload(conn, &key)? {
        return Ok(Regeneration::UploadInProgress);
    }
    let Some(build) = find(conn, &key)? else { return Ok(Regeneration::BuildNotFound) };
    let mut session = request.session.clone();
    session.stats = Some(build.stats);
    // The update is the check: it locks a still-queued job, so one claimed meanwhile is followed up instead of
    // being reconfigured after it started.
    let reconfigured = diesel::update(build_jobs(&key, "queued"))
        .set(generation_jobs::config.eq(request.config.to_string()))
        .execute(conn)
        .map_err(from_diesel)?;
    let outcome = if reconfigured > 0 {
        reconfigure_session(conn, &key, session)?
    } else {
        queue_job(conn, &key, &request.job, session)?
    };
    diesel::update(builds::table.find(key))
        .set((
            builds::config.eq(request.config.to_string()),
            builds::warnings.eq(merged_warnings(build.warnings, &request.warnings)),
        ))
        .execute(conn)
        .map_err(from_diesel)?;
    Ok(outcome)
}

/// The session of the build's reconfigured queued job; `session` is stored and attached when it has none (its
/// upload session was deleted).
fn reconfigure_session(
    conn: &mut AnyConnection,
    key: &Key,
    session: UploadSession,
) -> Result<Regeneration, StoreError> {
    let (job_id, upload_id): (String, Option<String>) = build_jobs(key, "queued")
        .select((generation_jobs::id, generation_jobs::upload_id))
        .first(conn)
        .map_err(from_diesel)?;
    if let Some(upload_id) = upload_id
        && let Some(row) =
            upload_sessions::table.find(upload_id).first::<SessionRow>(conn).optional().map_err(from_diesel)?
    {
        return Ok(Regeneration::Reconfigured(row.into_domain()?));
    }
    insert_session(conn, &session)?;
    diesel::update(generation_jobs::table.find(job_id))
        .set(generation_jobs::upload_id.eq(Some(session.id.to_string())))
        .execute(conn)
        .map_err(from_diesel)?;
    Ok(Regeneration::Started(session))
}

/// Queues `job` with its new `session`: after the running job (a follow-up), or on an idle build, which becomes
/// `pending` without its old error (§17.3); a generating build becomes `pending` when its running job finishes.
fn queue_job(
    conn: &mut AnyConnection,
    key: &Key,
    job: &GenerationJob,
    session: UploadSession,
) -> Result<Regeneration, StoreError> {
    let running: i64 = build_jobs(key, "running").count().get_result(conn).map_err(from_diesel)?;
    insert_session(conn, &session)?;
    insert_job(conn, job)?;
    if running == 0 {
        diesel::update(builds::table.find(key.clone()))
            .set((builds::status.eq("pending"), builds::error.eq(None::<String>)))
            .execute(conn)
            .map_err(from_diesel)?;
    }
    Ok(Regeneration::Started(session))
}

/// Stores a new regeneration session.
fn insert_session(conn: &mut AnyConnection, session: &UploadSession) -> Result<(), StoreError> {
    diesel::insert_into(upload_sessions::table)
        .values(&SessionRow::from_domain(session))
        .execute(conn)
        .map(drop)
        .map_err(from_diesel)
}

#[async_trait]
impl JobQueue for Store {
    async fn claim_next(&self, max_running: i64, now: Timestamp) -> Result<Option<GenerationJob>, StoreError> {
        self.run(move |conn| {
            transaction(conn, |conn| {
                let running: Vec<(String, String)> = generation_jobs::table
                    .filter(generation_jobs::state.eq("running"))
                    .select((generation_jobs::env_id, generation_jobs::project_id))
                    .load(conn)
                    .map_err(from_diesel)?;
                if i64::try_from(running.len()).unwrap_or(i64::MAX) >= max_running {
                    return Ok(None);
                }
                // One job per project at a time: the project's history file is shared. The busy projects are at most
                // `max_running`, so they are excluded in the query rather than by loading the whole backlog.
                let mut query = generation_jobs::table.filter(generation_jobs::state.eq("queued")).into_boxed();
                for (env, project) in running {
                    query = query.filter(generation_jobs::env_id.ne(env).or(generation_jobs::project_id.ne(project)));
                }
                let Some(next) = query
                    .order((generation_jobs::created_at, generation_jobs::id))
                    .first::<JobRow>(conn)
                    .optional()
                    .map_err(from_diesel)?
                else {
                    return Ok(None);
                };
                let claimed =
                    diesel::update(generation_jobs::table.find(&next.id).filter(generation_jobs::state.eq("queued")))
                        .set((generation_jobs::state.eq("running"), generation_jobs::started_at.eq(Some(to_db(now)))))
                        .execute(conn)
                        .map_err(from_diesel)?;
                if claimed == 0 {
                    return Ok(None);
                }
                // Read again after the claim: a regeneration may have replaced the config since the first read.
                let job = generation_jobs::table.find(&next.id).first::<JobRow>(conn).map_err(from_diesel)?;
                let job = job.into_domain()?;
                diesel::update(builds::table.find(build_key(&job)))
                    .set(builds::status.eq("generating"))
                    .execute(conn)
                    .map_err(from_diesel)?;
                Ok(Some(job))
            })
        })
        .await
    }

    async fn history_entry(&self, job: &GenerationJob) -> Result<Option<String>, StoreError> {
        let key = build_key(job);
        self.run(move |conn| {
            Ok(builds::table
                .find(key)
                .select(builds::history_entry)
                .first::<Option<String>>(conn)
                .optional()
                .map_err(from_diesel)?
                .flatten())
        })
        .await
    }

    async fn finish(&self, job: &GenerationJob, outcome: &JobOutcome) -> Result<Option<UploadSession>, StoreError> {
        let (job, outcome) = (job.clone(), outcome.clone());
        self.run(move |conn| {
            transaction(conn, |conn| {
                let at = to_db(outcome.finished_at);
                let error = outcome.result.as_ref().err().cloned();
                diesel::update(generation_jobs::table.find(job.id.to_string()))
                    .set((
                        generation_jobs::state.eq(if error.is_some() { "failed" } else { "succeeded" }),
                        generation_jobs::finished_at.eq(Some(at)),
                        generation_jobs::error.eq(error.clone()),
                    ))
                    .execute(conn)
                    .map_err(from_diesel)?;
                let status = match (&error, follow_up_queued(conn, &job)?) {
                    (_, true) => "pending",
                    (None, false) => "ready",
                    (Some(_), false) => "failed",
                };
                let key = build_key(&job);
                let stored: Option<String> = builds::table
                    .find(key.clone())
                    .select(builds::warnings)
                    .first(conn)
                    .optional()
                    .map_err(from_diesel)?;
                let stored: Vec<String> = stored.and_then(|w| serde_json::from_str(&w).ok()).unwrap_or_default();
                let warnings = merged_warnings(stored, &outcome.warnings);
                let target = builds::table.find(key);
                match &outcome.result {
                    Ok(entry) => diesel::update(target)
                        .set((
                            builds::status.eq(status),
                            builds::completed_at.eq(Some(at)),
                            builds::has_report.eq(true),
                            builds::error.eq(None::<String>),
                            builds::warnings.eq(warnings),
                            builds::history_entry.eq(entry.clone()),
                            builds::quality_gate.eq(outcome.quality_gate.as_ref().map(super::builds::gate_json)),
                        ))
                        .execute(conn),
                    Err(e) => diesel::update(target)
                        .set((
                            builds::status.eq(status),
                            builds::completed_at.eq(Some(at)),
                            builds::error.eq(Some(e.clone())),
                            builds::warnings.eq(warnings),
                        ))
                        .execute(conn),
                }
                .map_err(from_diesel)?;
                finish_session(conn, &job, error.as_deref(), outcome.finished_at)
            })
        })
        .await
    }

    async fn release(&self, job: &GenerationJob) -> Result<(), StoreError> {
        let job = job.clone();
        self.run(move |conn| {
            transaction(conn, |conn| {
                let released = diesel::update(
                    generation_jobs::table.find(job.id.to_string()).filter(generation_jobs::state.eq("running")),
                )
                .set((generation_jobs::state.eq("queued"), generation_jobs::started_at.eq(None::<NaiveDateTime>)))
                .execute(conn)
                .map_err(from_diesel)?;
                if released > 0 {
                    diesel::update(builds::table.find(build_key(&job)))
                        .set(builds::status.eq("pending"))
                        .execute(conn)
                        .map_err(from_diesel)?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn requeue_running(&self, max_attempts: i64, now: Timestamp) -> Result<Vec<UploadSession>, StoreError> {
        self.run(move |conn| {
            transaction(conn, |conn| {
                let running: Vec<JobRow> = generation_jobs::table
                    .filter(generation_jobs::state.eq("running"))
                    .load(conn)
                    .map_err(from_diesel)?;
                let mut failed = Vec::new();
                for row in running {
                    let job = row.into_domain()?;
                    let attempts = job.attempts + 1;
                    let target = generation_jobs::table.find(job.id.to_string());
                    if attempts >= max_attempts {
                        diesel::update(target)
                            .set((
                                generation_jobs::state.eq("failed"),
                                generation_jobs::attempts.eq(attempts),
                                generation_jobs::finished_at.eq(Some(to_db(now))),
                                generation_jobs::error.eq(Some(INTERRUPTED)),
                            ))
                            .execute(conn)
                            .map_err(from_diesel)?;
                        diesel::update(builds::table.find(build_key(&job)))
                            .set((
                                builds::status.eq("failed"),
                                builds::completed_at.eq(Some(to_db(now))),
                                builds::error.eq(Some(INTERRUPTED)),
                            ))
                            .execute(conn)
                            .map_err(from_diesel)?;
                        failed.extend(finish_session(conn, &job, Some(INTERRUPTED), now)?);
                    } else {
                        diesel::update(target)
                            .set((
                                generation_jobs::state.eq("queued"),
                                generation_jobs::attempts.eq(attempts),
                                generation_jobs::started_at.eq(None::<NaiveDateTime>),
                            ))
                            .execute(conn)
                            .map_err(from_diesel)?;
                        diesel::update(builds::table.find(build_key(&job)))
                            .set(builds::status.eq("pending"))
                            .execute(conn)
                            .map_err(from_diesel)?;
                    }
                }
                Ok(failed)
            })
        })
        .await
    }

    async fn queue_regeneration(&self, request: &RegenerationRequest) -> Result<Regeneration, StoreError> {
        let request = request.clone();
        self.run(move |conn| transaction(conn, |conn| regenerate(conn, &request))).await
    }

    async fn counts(&self) -> Result<JobCounts, StoreError> {
        self.run(|conn| {
            // One grouped count over the (state, created_at) index instead of a query per state.
            let rows: Vec<(String, i64)> = generation_jobs::table
                .filter(generation_jobs::state.eq_any(["queued", "running"]))
                .group_by(generation_jobs::state)
                .select((generation_jobs::state, diesel::dsl::count_star()))
                .load(conn)
                .map_err(from_diesel)?;
            let mut counts = JobCounts::default();
            for (state, n) in rows {
                match state.as_str() {
                    "queued" => counts.queued = n,
                    _ => counts.running = n,
                }
            }
            Ok(counts)
        })
        .await
    }
}
