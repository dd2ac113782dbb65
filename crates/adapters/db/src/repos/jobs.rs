//! [`JobQueue`] on the store: claiming, finishing and recovering generation jobs, and queueing regenerations, each
//! with its build and session in one transaction (contract §8.1, §8.3, §17.3).

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use hub_domain::Timestamp;
use hub_domain::ids::{BuildId, EnvId, JobId, NodeId, ProjectId, UploadId};
use hub_domain::model::job::{GenerationJob, JobState, Lease};
use hub_domain::model::lifecycle::{
    self, BuildJobs, CLAIMED, INTERRUPTED, RELEASED, Recovery, RegenerationPlan, leaves_replaced_report, merge_warnings,
};
use hub_domain::model::upload::{Phase, UploadSession};
use hub_domain::ports::{JobCounts, JobOutcome, JobQueue, Regeneration, RegenerationRequest, StoreError};

use super::builds::{Key, find, has_unfinished_upload};
use super::stale_reports::record_stale;
use super::time::{from_db, to_db};
use super::uploads::{SessionRow, insert_job};
use crate::connection::AnyConnection;
use crate::errors::{corrupt, from_diesel};
use crate::schema::{builds, generation_jobs, upload_sessions};
use crate::store::{Store, transaction};

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
    // Who holds a running job is the queue's business: it never leaves this module.
    #[allow(dead_code)]
    node_id: Option<String>,
    #[allow(dead_code)]
    lease_until: Option<NaiveDateTime>,
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

/// Ends the job's session in `phase` (with `error` when it failed), if it has one still generating, and returns it
/// as stored.
fn finish_session(
    conn: &mut AnyConnection,
    job: &GenerationJob,
    phase: Phase,
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
    session.phase = phase;
    session.failed_at_phase = (phase == Phase::Failed).then_some(Phase::Generating);
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
        build_jobs(&build_key(job), JobState::Queued).filter(generation_jobs::id.ne(job.id.to_string())),
    ))
    .get_result(conn)
    .map_err(from_diesel)
}

/// The stored form of a build's warnings with `extra` added (each remark once).
fn merged_warnings(warnings: Vec<String>, extra: &[String]) -> String {
    serde_json::Value::from(merge_warnings(warnings, extra)).to_string()
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
fn build_jobs(key: &Key, state: JobState) -> jobs_in_state {
    let (env, project, build) = key.clone();
    jobs_in_state(env, project, build, state.as_str())
}

/// §8.1 inside one transaction; see [`JobQueue::queue_regeneration`]. The facts are read here, the decision is the
/// domain's ([`lifecycle::plan_regeneration`]).
fn regenerate(conn: &mut AnyConnection, request: &RegenerationRequest) -> Result<Regeneration, StoreError> {
    let key = build_key(&request.job);
    let upload_in_progress = has_unfinished_upload(conn, &key)?;
    let build = find(conn, &key)?;
    let mut session = request.session.clone();
    // The update is how a waiting job is found: it locks a still-queued job, so one claimed meanwhile counts as
    // running (and is followed up) instead of being reconfigured after it started. It changes nothing unless the
    // plan is to reconfigure, which is exactly when it matched a row.
    let queued = build.is_some()
        && !upload_in_progress
        && diesel::update(build_jobs(&key, JobState::Queued))
            .set(generation_jobs::config.eq(request.config.to_string()))
            .execute(conn)
            .map_err(from_diesel)?
            > 0;
    let running = build_jobs(&key, JobState::Running).count().get_result::<i64>(conn).map_err(from_diesel)? > 0;
    let facts = BuildJobs { exists: build.is_some(), upload_in_progress, queued, running };
    let plan = lifecycle::plan_regeneration(facts);
    let outcome = match (plan, build) {
        (RegenerationPlan::RefuseUploadInProgress, _) => return Ok(Regeneration::UploadInProgress),
        (RegenerationPlan::RefuseNotFound, _) | (_, None) => return Ok(Regeneration::BuildNotFound),
        (plan, Some(build)) => {
            session.stats = Some(build.stats);
            let outcome = match plan {
                RegenerationPlan::Reconfigure => reconfigure_session(conn, &key, session)?,
                _ => {
                    insert_session(conn, &session)?;
                    insert_job(conn, &request.job)?;
                    Regeneration::Started(session)
                }
            };
            let warnings = merged_warnings(build.warnings, &request.warnings);
            let target = builds::table.find(key);
            let config = builds::config.eq(request.config.to_string());
            match plan.build_status() {
                // A build that starts over loses the error of its last failure.
                Some(status) => diesel::update(target)
                    .set((
                        config,
                        builds::warnings.eq(warnings),
                        builds::status.eq(status.as_str()),
                        builds::error.eq(None::<String>),
                    ))
                    .execute(conn),
                None => diesel::update(target).set((config, builds::warnings.eq(warnings))).execute(conn),
            }
            .map_err(from_diesel)?;
            outcome
        }
    };
    Ok(outcome)
}

/// The session of the build's reconfigured queued job; `session` is stored and attached when it has none (its
/// upload session was deleted).
fn reconfigure_session(
    conn: &mut AnyConnection,
    key: &Key,
    session: UploadSession,
) -> Result<Regeneration, StoreError> {
    let (job_id, upload_id): (String, Option<String>) = build_jobs(key, JobState::Queued)
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

/// Stores a new regeneration session.
fn insert_session(conn: &mut AnyConnection, session: &UploadSession) -> Result<(), StoreError> {
    diesel::insert_into(upload_sessions::table)
        .values(&SessionRow::from_domain(session))
        .execute(conn)
        .map(drop)
        .map_err(from_diesel)
}

/// A job found by id, still running.
type RunningJob = diesel::dsl::Filter<
    diesel::dsl::Find<generation_jobs::table, String>,
    diesel::dsl::Eq<generation_jobs::state, &'static str>,
>;

/// A running job claimed by one node.
type HeldJob = diesel::dsl::Filter<RunningJob, diesel::dsl::Eq<generation_jobs::node_id, String>>;

/// The job while `node` holds it (running, claimed by that node).
fn held_by(job: &GenerationJob, node: &str) -> HeldJob {
    generation_jobs::table
        .find(job.id.to_string())
        .filter(generation_jobs::state.eq(JobState::Running.as_str()))
        .filter(generation_jobs::node_id.eq(node.to_owned()))
}

/// The oldest queued job whose project has no running job, by id. On PostgreSQL the row is locked and rows other
/// claims hold are skipped (`FOR UPDATE SKIP LOCKED`), so nodes claiming at once take different jobs; SQLite has
/// one writer at a time.
fn next_claimable(conn: &mut AnyConnection) -> Result<Option<String>, StoreError> {
    #[derive(QueryableByName)]
    struct Claimable {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    const NEXT: &str = "SELECT j.id FROM generation_jobs j WHERE j.state = 'queued' AND NOT EXISTS (\
        SELECT 1 FROM generation_jobs r WHERE r.state = 'running' AND r.env_id = j.env_id \
        AND r.project_id = j.project_id) ORDER BY j.created_at, j.id LIMIT 1";
    let next = match conn {
        AnyConnection::Postgresql(c) => {
            diesel::sql_query(format!("{NEXT} FOR UPDATE OF j SKIP LOCKED")).get_result::<Claimable>(c).optional()
        }
        AnyConnection::Sqlite(c) => diesel::sql_query(NEXT).get_result::<Claimable>(c).optional(),
    };
    Ok(next.map_err(from_diesel)?.map(|row| row.id))
}

#[async_trait]
impl JobQueue for Store {
    async fn claim_next(
        &self,
        max_running: i64,
        now: Timestamp,
        lease: &Lease,
    ) -> Result<Option<GenerationJob>, StoreError> {
        let lease = lease.clone();
        let claimed = self
            .run(move |conn| {
                transaction(conn, |conn| {
                    let node = lease.node.as_str();
                    let mine: i64 = generation_jobs::table
                        .filter(generation_jobs::state.eq(JobState::Running.as_str()))
                        .filter(generation_jobs::node_id.eq(node))
                        .count()
                        .get_result(conn)
                        .map_err(from_diesel)?;
                    if mine >= max_running {
                        return Ok(None);
                    }
                    let Some(next) = next_claimable(conn)? else { return Ok(None) };
                    let (job_state, build_status) = CLAIMED;
                    // Queued still: on SQLite, writers take turns, so this is the check that nobody took it first.
                    let claimed = diesel::update(
                        generation_jobs::table.find(&next).filter(generation_jobs::state.eq(JobState::Queued.as_str())),
                    )
                    .set((
                        generation_jobs::state.eq(job_state.as_str()),
                        generation_jobs::started_at.eq(Some(to_db(now))),
                        generation_jobs::node_id.eq(Some(node)),
                        generation_jobs::lease_until.eq(Some(to_db(lease.until))),
                    ))
                    .execute(conn)
                    .map_err(from_diesel)?;
                    if claimed == 0 {
                        return Ok(None);
                    }
                    // Read again after the claim: a regeneration may have replaced the config since it was queued.
                    let job = generation_jobs::table.find(&next).first::<JobRow>(conn).map_err(from_diesel)?;
                    let job = job.into_domain()?;
                    diesel::update(builds::table.find(build_key(&job)))
                        .set(builds::status.eq(build_status.as_str()))
                        .execute(conn)
                        .map_err(from_diesel)?;
                    Ok(Some(job))
                })
            })
            .await;
        match claimed {
            // Another node started a job of the same project after this one looked: the unique index of running
            // jobs refused the second, and the transaction was rolled back.
            Err(StoreError::Conflict) => Ok(None),
            claimed => claimed,
        }
    }

    async fn renew(&self, node: &NodeId, until: Timestamp) -> Result<u64, StoreError> {
        let node = node.to_string();
        self.run(move |conn| {
            let renewed = diesel::update(
                generation_jobs::table
                    .filter(generation_jobs::state.eq(JobState::Running.as_str()))
                    .filter(generation_jobs::node_id.eq(node)),
            )
            .set(generation_jobs::lease_until.eq(Some(to_db(until))))
            .execute(conn)
            .map_err(from_diesel)?;
            Ok(u64::try_from(renewed).unwrap_or(0))
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

    async fn finish(
        &self,
        job: &GenerationJob,
        node: &NodeId,
        outcome: &JobOutcome,
    ) -> Result<Option<UploadSession>, StoreError> {
        let (job, node, outcome) = (job.clone(), node.to_string(), outcome.clone());
        self.run(move |conn| {
            transaction(conn, |conn| {
                let at = to_db(outcome.finished_at);
                let error = outcome.result.as_ref().err().cloned();
                let settled = lifecycle::settle(error.is_none(), follow_up_queued(conn, &job)?);
                let held = diesel::update(held_by(&job, &node))
                    .set((
                        generation_jobs::state.eq(settled.job.as_str()),
                        generation_jobs::finished_at.eq(Some(at)),
                        generation_jobs::error.eq(error.clone()),
                        generation_jobs::lease_until.eq(None::<NaiveDateTime>),
                    ))
                    .execute(conn)
                    .map_err(from_diesel)?;
                if held == 0 {
                    return Err(StoreError::Conflict);
                }
                let status = settled.build.as_str();
                let key = build_key(&job);
                let stored: Option<(String, bool, Option<String>)> = builds::table
                    .find(key.clone())
                    .select((builds::warnings, builds::has_report, builds::report_key))
                    .first(conn)
                    .optional()
                    .map_err(from_diesel)?;
                let (stored, had_report, previous) = stored.map_or((None, false, None), |(w, h, k)| (Some(w), h, k));
                let stored: Vec<String> = stored.and_then(|w| serde_json::from_str(&w).ok()).unwrap_or_default();
                let warnings = merged_warnings(stored, &outcome.warnings);
                // The report this one replaces stays in the storage until the run deletes it: remembered from the
                // moment the build no longer names it, so a process that dies first leaves a note, not an orphan.
                if let Ok(published) = &outcome.result
                    && leaves_replaced_report(had_report, previous.as_deref(), &published.key)
                {
                    record_stale(conn, &key)?;
                }
                let target = builds::table.find(key);
                match &outcome.result {
                    Ok(published) => diesel::update(target)
                        .set((
                            builds::status.eq(status),
                            builds::completed_at.eq(Some(at)),
                            builds::has_report.eq(true),
                            builds::report_key.eq(Some(published.key.clone())),
                            builds::error.eq(None::<String>),
                            builds::warnings.eq(warnings),
                            builds::history_entry.eq(published.point.clone()),
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
                finish_session(conn, &job, settled.session, error.as_deref(), outcome.finished_at)
            })
        })
        .await
    }

    async fn release(&self, job: &GenerationJob, node: &NodeId) -> Result<(), StoreError> {
        let (job, node) = (job.clone(), node.to_string());
        self.run(move |conn| {
            transaction(conn, |conn| {
                let (job_state, build_status) = RELEASED;
                let released = diesel::update(held_by(&job, &node))
                    .set((
                        generation_jobs::state.eq(job_state.as_str()),
                        generation_jobs::started_at.eq(None::<NaiveDateTime>),
                        generation_jobs::node_id.eq(None::<String>),
                        generation_jobs::lease_until.eq(None::<NaiveDateTime>),
                    ))
                    .execute(conn)
                    .map_err(from_diesel)?;
                if released > 0 {
                    diesel::update(builds::table.find(build_key(&job)))
                        .set(builds::status.eq(build_status.as_str()))
                        .execute(conn)
                        .map_err(from_diesel)?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn requeue_abandoned(
        &self,
        max_attempts: i64,
        now: Timestamp,
        restarted: Option<NodeId>,
    ) -> Result<Vec<UploadSession>, StoreError> {
        let restarted = restarted.map(|node| node.to_string());
        self.run(move |conn| {
            transaction(conn, |conn| {
                let expired = generation_jobs::lease_until.is_null().or(generation_jobs::lease_until.lt(to_db(now)));
                let running = generation_jobs::table.filter(generation_jobs::state.eq(JobState::Running.as_str()));
                let running: Vec<JobRow> = match &restarted {
                    Some(node) => running.filter(expired.or(generation_jobs::node_id.eq(node.clone()))).load(conn),
                    None => running.filter(expired).load(conn),
                }
                .map_err(from_diesel)?;
                let mut failed = Vec::new();
                for row in running {
                    let job = row.into_domain()?;
                    let recovery = lifecycle::recover(job.attempts, max_attempts);
                    let (job_state, build_status) = recovery.states();
                    let target = generation_jobs::table.find(job.id.to_string());
                    let build = builds::table.find(build_key(&job));
                    match recovery {
                        Recovery::Fail { attempts } => {
                            diesel::update(target)
                                .set((
                                    generation_jobs::state.eq(job_state.as_str()),
                                    generation_jobs::attempts.eq(attempts),
                                    generation_jobs::finished_at.eq(Some(to_db(now))),
                                    generation_jobs::error.eq(Some(INTERRUPTED)),
                                    generation_jobs::lease_until.eq(None::<NaiveDateTime>),
                                ))
                                .execute(conn)
                                .map_err(from_diesel)?;
                            diesel::update(build)
                                .set((
                                    builds::status.eq(build_status.as_str()),
                                    builds::completed_at.eq(Some(to_db(now))),
                                    builds::error.eq(Some(INTERRUPTED)),
                                ))
                                .execute(conn)
                                .map_err(from_diesel)?;
                            failed.extend(finish_session(conn, &job, Phase::Failed, Some(INTERRUPTED), now)?);
                            // No run of this job will delete what the interrupted one may have published.
                            record_stale(conn, &build_key(&job))?;
                        }
                        Recovery::Requeue { attempts } => {
                            diesel::update(target)
                                .set((
                                    generation_jobs::state.eq(job_state.as_str()),
                                    generation_jobs::attempts.eq(attempts),
                                    generation_jobs::started_at.eq(None::<NaiveDateTime>),
                                    generation_jobs::node_id.eq(None::<String>),
                                    generation_jobs::lease_until.eq(None::<NaiveDateTime>),
                                ))
                                .execute(conn)
                                .map_err(from_diesel)?;
                            diesel::update(build)
                                .set(builds::status.eq(build_status.as_str()))
                                .execute(conn)
                                .map_err(from_diesel)?;
                        }
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
                .filter(generation_jobs::state.eq_any([JobState::Queued.as_str(), JobState::Running.as_str()]))
                .group_by(generation_jobs::state)
                .select((generation_jobs::state, diesel::dsl::count_star()))
                .load(conn)
                .map_err(from_diesel)?;
            let mut counts = JobCounts::default();
            for (state, n) in rows {
                match state.parse::<JobState>().map_err(|e| corrupt("job state", e))? {
                    JobState::Queued => counts.queued = n,
                    _ => counts.running = n,
                }
            }
            Ok(counts)
        })
        .await
    }
}
