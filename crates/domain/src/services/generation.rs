//! Report generation jobs (contract §8.3, §17.3): claim a queued job, prepare its files and history copy, run the
//! generator, publish or discard, store the outcome with the build and session in one step, and keep what the
//! storage then holds for the build; and, at start-up, take back jobs a previous process left running.
//!
//! A report published beside the one it replaces (object storage) leaves that one to delete after the switch; the
//! switch records the build ([`StaleReports`]) and the run forgets it once the old report is gone, so a process
//! killed in between, or a store that refused the deletion, leaves the build to the sweep of
//! [`crate::services::StaleReportService`].

use std::sync::Arc;

use crate::ids::NodeId;
use crate::model::build::QualityGateResult;
use crate::model::job::{GenerationJob, Lease};
use crate::model::lifecycle::leaves_replaced_report;
use crate::model::quality_gate::{GateFacts, evaluate};
use crate::ports::{
    BuildRef, BuildRepo, Clock, EventBus, GenerateRequest, GenerationFiles, INTERNAL_MESSAGE, JobOutcome, JobQueue,
    PrepareError, PublishedReport, ReportGenerator, ResultStore, StaleReports, StorageError, StoreError, UploadEvent,
};
use crate::services::stored_bytes::measure;

/// Interrupted runs after which a job fails instead of being queued again.
pub const MAX_ATTEMPTS: i64 = 3;

/// How a run ended, for the worker's metrics and log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// A report was generated.
    pub generated: bool,
    /// The internal cause of a server fault (storage, database), which the build and its session show only as
    /// `internal server error`: for the log, never for viewers.
    pub fault: Option<String>,
    /// Why a report no build names (the one this run replaced, or one a crashed run left) could not be deleted:
    /// harmless to viewers, for the log. The build is recorded in [`StaleReports`] (the cause says so when that
    /// failed too), so the next sweep removes it, as do the build's next run and its deletion.
    pub leftover: Option<String>,
    /// The storage could not be reached (the cause, for the log): the run stored no outcome and the job is still
    /// running. An outage passes, so the job must not fail for good: the caller waits a moment (so that the job
    /// is not claimed again at once) and then hands it back with [`GenerationService::release`].
    pub deferred: Option<String>,
    /// Why the build's stored bytes could not be kept after its report was published (the database failed), for
    /// the log. A storage that cannot measure them leaves them unknown, which is no failure of the run.
    pub unmeasured: Option<String>,
}

/// Why a run failed: a contract text (§8.3) that viewers see, a server fault whose detail stays in the log, or a
/// storage that could not be reached, which ends the run without an outcome.
enum Failure {
    Shown(String),
    Fault(String),
    Unavailable(String),
}

/// The ports [`GenerationService`] works through, named so that two of one type cannot be swapped.
#[derive(Clone)]
pub struct GenerationPorts {
    /// The durable job queue.
    pub queue: Arc<dyn JobQueue>,
    /// Builds, settled when their job ends.
    pub builds: Arc<dyn BuildRepo>,
    /// The job's local workspace and publishing its report.
    pub files: Arc<dyn GenerationFiles>,
    /// Measures what the storage holds for the build once its report changed.
    pub results: Arc<dyn ResultStore>,
    /// Builds whose reports other than the current one are still to be deleted.
    pub stale: Arc<dyn StaleReports>,
    /// Runs the Allure CLI.
    pub generator: Arc<dyn ReportGenerator>,
    /// Live progress of the build's session.
    pub events: Arc<dyn EventBus>,
    /// Start and end times of runs.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for GenerationPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerationPorts").finish_non_exhaustive()
    }
}

/// Which node this service runs jobs for, and how long its hold on a job lasts unless renewed.
#[derive(Debug, Clone)]
pub struct JobHolder {
    /// This node (`NODE_ID`).
    pub node: NodeId,
    /// How long a claimed job's lease lasts; the dispatcher renews it well before (see
    /// [`GenerationService::renew_leases`]). A job whose node died is taken up by another node after this long.
    pub lease: std::time::Duration,
}

/// The generation use cases.
#[derive(Clone)]
pub struct GenerationService {
    queue: Arc<dyn JobQueue>,
    builds: Arc<dyn BuildRepo>,
    files: Arc<dyn GenerationFiles>,
    results: Arc<dyn ResultStore>,
    stale: Arc<dyn StaleReports>,
    generator: Arc<dyn ReportGenerator>,
    events: Arc<dyn EventBus>,
    clock: Arc<dyn Clock>,
    /// `HISTORY_LIMIT`.
    history_limit: usize,
    /// This node and the length of its leases.
    holder: JobHolder,
}

impl std::fmt::Debug for GenerationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerationService")
            .field("history_limit", &self.history_limit)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl GenerationService {
    /// Wires the use cases.
    pub fn new(ports: GenerationPorts, history_limit: usize, holder: JobHolder) -> Self {
        let GenerationPorts { queue, builds, files, results, stale, generator, events, clock } = ports;
        Self { queue, builds, files, results, stale, generator, events, clock, history_limit, holder }
    }

    /// §17.3 at start-up: jobs this node's previous process left running, and jobs of nodes that died, go back to
    /// the queue; those interrupted too often fail (and are published). Returns how many failed.
    ///
    /// # Errors
    /// A database failure.
    pub async fn recover(&self) -> Result<usize, StoreError> {
        self.take_back(Some(self.holder.node.clone())).await
    }

    /// While running: jobs whose node died (their lease ran out) go back to the queue, counting an attempt, for
    /// this node or another to take up. Returns how many failed for good.
    ///
    /// # Errors
    /// A database failure.
    pub async fn take_back_abandoned(&self) -> Result<usize, StoreError> {
        self.take_back(None).await
    }

    async fn take_back(&self, restarted: Option<NodeId>) -> Result<usize, StoreError> {
        let failed = self.queue.requeue_abandoned(MAX_ATTEMPTS, self.clock.now(), restarted).await?;
        let count = failed.len();
        for session in failed {
            self.events.publish(UploadEvent::Updated(session));
        }
        Ok(count)
    }

    /// Extends the leases of the jobs this node runs (call it a few times per lease). Returns how many it holds.
    ///
    /// # Errors
    /// A database failure (the leases then run out unless a later renewal succeeds in time).
    pub async fn renew_leases(&self) -> Result<u64, StoreError> {
        self.queue.renew(&self.holder.node, self.lease_end()).await
    }

    /// When a lease taken or renewed now runs out.
    fn lease_end(&self) -> crate::Timestamp {
        let lease = chrono::TimeDelta::from_std(self.holder.lease).unwrap_or(chrono::TimeDelta::MAX);
        self.clock.now().checked_add_signed(lease).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
    }

    /// §17.4: a job stopped by a shutdown goes back to the queue without counting an attempt; so does one whose
    /// storage could not be reached ([`RunSummary::deferred`]).
    ///
    /// # Errors
    /// A database failure (the job then counts as interrupted at the next start).
    pub async fn release(&self, job: &GenerationJob) -> Result<(), StoreError> {
        self.queue.release(job, &self.holder.node).await
    }

    /// The next job to run, now marked running and held by this node, unless it already runs `max_running`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn claim(&self, max_running: i64) -> Result<Option<GenerationJob>, StoreError> {
        let lease = Lease { node: self.holder.node.clone(), until: self.lease_end() };
        self.queue.claim_next(max_running, self.clock.now(), &lease).await
    }

    /// Runs a claimed job to its end and stores the outcome.
    ///
    /// # Errors
    /// A database failure while storing the outcome (the job then stays running until the next start-up).
    pub async fn run(&self, job: GenerationJob) -> Result<RunSummary, StoreError> {
        // What a crashed earlier run of this build may have published without the build ever naming it.
        let build = self.builds.get(&job.env_id, &job.project_id, &job.build_id).await?;
        let (had_report, current) = build.map_or((false, None), |b| (b.has_report, b.report_key));
        let mut leftover = self.clean_reports(&job, current.clone()).await;
        let (result, mut warnings) = self.generate(&job).await;
        let (result, fault) = match result {
            Ok(point) => (Ok(point), None),
            Err(Failure::Shown(text)) => (Err(text), None),
            Err(Failure::Fault(cause)) => (Err(INTERNAL_MESSAGE.to_owned()), Some(cause)),
            Err(Failure::Unavailable(cause)) => {
                let deferred = Some(cause);
                return Ok(RunSummary { generated: false, fault: None, leftover, deferred, unmeasured: None });
            }
        };
        let quality_gate = match result {
            Ok(_) => self.quality_gate(&job, &mut warnings).await?,
            Err(_) => None,
        };
        let outcome = JobOutcome { finished_at: self.clock.now(), result, warnings, quality_gate };
        match self.queue.finish(&job, &self.holder.node, &outcome).await {
            Ok(Some(session)) => self.events.publish(UploadEvent::Updated(session)),
            Ok(None) => {}
            Err(StoreError::Conflict) => return Ok(self.lost_lease(&job, &outcome, leftover).await),
            Err(e) => return Err(e),
        }
        // The report the new one replaced, now that the build names the new one; then what the build holds.
        let mut unmeasured = None;
        if let Ok(published) = &outcome.result {
            let recorded = leaves_replaced_report(had_report, current.as_deref(), &published.key);
            leftover = leftover.or(self.clean_replaced(&job, &published.key, recorded).await);
            unmeasured = self.keep_stored_bytes(&job).await;
        }
        Ok(RunSummary { generated: outcome.result.is_ok(), fault, leftover, deferred: None, unmeasured })
    }

    /// The job's lease ran out while it ran (this node could not renew it in time) and the job went back to the
    /// queue: its outcome is dropped, as another run stores its own, and a report it published is recorded for the
    /// sweep (no build names it).
    async fn lost_lease(&self, job: &GenerationJob, outcome: &JobOutcome, leftover: Option<String>) -> RunSummary {
        let mut fault = format!("node {} lost the job's lease; its outcome is dropped", self.holder.node);
        if outcome.result.is_ok()
            && let Err(e) = self.stale.record(&build_ref(job)).await
        {
            fault.push_str(&format!(" (its report cannot be recorded for the sweep: {e})"));
        }
        RunSummary { generated: false, fault: Some(fault), leftover, deferred: None, unmeasured: None }
    }

    /// Measures what the storage holds for the build now that its report changed and keeps it (unknown when the
    /// storage cannot say, rather than the size of the report it replaced); says why it could not be kept.
    async fn keep_stored_bytes(&self, job: &GenerationJob) -> Option<String> {
        let (env, project, build) = (&job.env_id, &job.project_id, &job.build_id);
        let bytes = measure(self.results.as_ref(), env, project, build).await.ok();
        let kept = self.builds.set_stored_bytes(env, project, build, bytes).await;
        kept.err().map(|e| format!("cannot keep the build's stored bytes: {e}"))
    }

    /// Deletes the build's reports but `keep`; says why it could not (harmless: nothing names them), after
    /// recording the build for the sweep.
    async fn clean_reports(&self, job: &GenerationJob, keep: Option<String>) -> Option<String> {
        let removed = self.files.remove_other_reports(&job.env_id, &job.project_id, &job.build_id, keep).await;
        let cause = removed.err()?.to_string();
        Some(match self.stale.record(&build_ref(job)).await {
            Ok(()) => cause,
            Err(e) => format!("{cause} (and the build cannot be recorded for the sweep: {e})"),
        })
    }

    /// After the switch to the report under `key`: deletes the build's other reports, and forgets the build the
    /// switch `recorded` once they are gone. Says why either failed (the sweep then deletes them, or finds nothing
    /// left to delete and forgets the build).
    async fn clean_replaced(&self, job: &GenerationJob, key: &str, recorded: bool) -> Option<String> {
        if let Some(cause) = self.clean_reports(job, Some(key.to_owned())).await {
            return Some(cause);
        }
        let forgotten =
            if recorded { self.stale.forget(&build_ref(job), Some(key.to_owned())).await } else { Ok(true) };
        forgotten.err().map(|e| format!("the replaced report is deleted, but the build stays recorded: {e}"))
    }

    /// §8.3: the server evaluates the effective config's gate itself on the build's statistics (the CLI's
    /// `generate` never does); problems in the rules, which can only come from the trusted base config, are
    /// warnings.
    async fn quality_gate(
        &self,
        job: &GenerationJob,
        warnings: &mut Vec<String>,
    ) -> Result<Option<QualityGateResult>, StoreError> {
        let Some(build) = self.builds.get(&job.env_id, &job.project_id, &job.build_id).await? else {
            return Ok(None);
        };
        let (gate, problems) =
            evaluate(&job.config, &GateFacts { stats: build.stats, longest_test_ms: build.longest_test_ms });
        warnings.extend(problems);
        Ok(gate)
    }

    /// Steps 2–7 of §8.3 for one job: the new history point, or the failure text; and the warnings.
    async fn generate(&self, job: &GenerationJob) -> (Result<PublishedReport, Failure>, Vec<String>) {
        let leave_out = match self.queue.history_entry(job).await {
            Ok(entry) => entry,
            Err(e) => return (Err(Failure::Fault(e.to_string())), Vec::new()),
        };
        let workspace = match self.files.prepare(job, leave_out, self.history_limit).await {
            Ok(workspace) => workspace,
            Err(e @ PrepareError::ResultsMissing(_)) => return (Err(Failure::Shown(e.to_string())), Vec::new()),
            Err(PrepareError::Storage(e)) => return (Err(storage_failure(&e, e.message().to_owned())), Vec::new()),
        };
        let mut config = match &job.config {
            serde_json::Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        // Server-controlled keys, always set here (§8.2); the limit keeps history and reports from growing forever.
        config.insert("output".into(), path_value(&workspace.output_dir));
        config.insert("historyPath".into(), path_value(&workspace.history_path));
        config.insert("historyLimit".into(), serde_json::json!(self.history_limit + 1));
        let request = GenerateRequest {
            results_dir: workspace.results_dir.clone(),
            output_dir: workspace.output_dir.clone(),
            work_dir: workspace.work_dir.clone(),
            config: serde_json::Value::Object(config),
        };
        let outcome = match self.generator.generate(request).await {
            Ok(generated) => match self.files.publish(job, &workspace).await {
                Ok(published) => (Ok(published), generated.warnings),
                Err(e) => (Err(storage_failure(&e, e.to_string())), generated.warnings),
            },
            Err(e) => (Err(Failure::Shown(e.to_string())), Vec::new()),
        };
        self.files.discard(&workspace).await;
        outcome
    }
}

/// The build a job generates.
fn build_ref(job: &GenerationJob) -> BuildRef {
    BuildRef { env: job.env_id.clone(), project: job.project_id.clone(), build: job.build_id.clone() }
}

/// A storage failure of a run, with its cause for the log: passing when the storage could not be reached, else a
/// fault.
fn storage_failure(e: &StorageError, cause: String) -> Failure {
    if e.is_unavailable() { Failure::Unavailable(cause) } else { Failure::Fault(cause) }
}

fn path_value(path: &std::path::Path) -> serde_json::Value {
    serde_json::Value::String(path.display().to_string())
}

#[cfg(test)]
mod tests;
