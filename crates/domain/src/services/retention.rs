//! Data retention (contract §13.6): the persisted settings, one sweep at a time deleting the builds older than the
//! retention period exactly as a user's deletion would, the record of every sweep, and when the next scheduled
//! sweep is due.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{SecondsFormat, TimeDelta};
use serde_json::{Value, json};
use thiserror::Error;

use crate::Timestamp;
use crate::ids::CleanupRunId;
use crate::model::build::Build;
use crate::model::retention::{CleanupRun, CleanupStatus, CleanupTrigger, RetentionSettings};
use crate::ports::{
    BuildKey, BuildRepo, CleanupRunRepo, Clock, IdGenerator, ResultStore, SettingsRepo, StoreError, UploadSessionRepo,
};
use crate::services::notifications::{NotificationError, NotificationService};
use crate::services::reports::{ReportError, ReportService};
use crate::services::stored_bytes::measure;

/// Settings key of the retention settings, stored as one value so the three change together.
pub const SETTINGS_KEY: &str = "retention.settings";

/// Settings key of the start of the latest scheduled sweep (RFC 3339): the schedule counts from it, and manual
/// sweeps do not move it.
pub const LAST_SCHEDULED_KEY: &str = "retention.last_scheduled_start";

/// Run records kept after each sweep.
pub const KEEP_RUNS: i64 = 5;

/// Delay of the first scheduled sweep after start-up when none is due earlier.
pub const STARTUP_DELAY_SECONDS: i64 = 30;

/// Expired builds read per query.
const BATCH: i64 = 100;

/// Why a retention operation failed.
#[derive(Debug, Error)]
pub enum RetentionError {
    /// 409: another sweep is running.
    #[error("a cleanup run is already in progress")]
    InProgress,
    /// 400: a setting is out of range; the message is the contract's.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The notification of a failed sweep could not be stored.
    #[error(transparent)]
    Notification(#[from] NotificationError),
}

/// The ports retention needs.
#[derive(Clone)]
pub struct RetentionPorts {
    /// Retention settings and the schedule's last start.
    pub settings: Arc<dyn SettingsRepo>,
    /// Sweep records.
    pub runs: Arc<dyn CleanupRunRepo>,
    /// The expired builds.
    pub builds: Arc<dyn BuildRepo>,
    /// Finished upload sessions to prune, and uploads in progress (for dry runs).
    pub uploads: Arc<dyn UploadSessionRepo>,
    /// The size of a build whose size is not kept with it.
    pub files: Arc<dyn ResultStore>,
    /// Deletes a build exactly as §8.8 does.
    pub reports: Arc<ReportService>,
    /// The notification of a failed sweep.
    pub notifications: Arc<NotificationService>,
    /// Sweep times and the cutoff.
    pub clock: Arc<dyn Clock>,
    /// Run ids.
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for RetentionPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetentionPorts").finish_non_exhaustive()
    }
}

/// Start-up configuration (Appendix A.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// `CLEANUP_RETENTION_DAYS`, `CLEANUP_INTERVAL_HOURS`, `CLEANUP_DRY_RUN`: stored when nothing is stored yet.
    pub seed: RetentionSettings,
    /// `CLEANUP_ENABLED`: whether sweeps are scheduled (manual sweeps work either way).
    pub enabled: bool,
    /// When this process started, for the first scheduled sweep.
    pub started_at: Timestamp,
}

/// A finished sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// The run as recorded.
    pub run: CleanupRun,
    /// In a dry run, the builds that would have been deleted, oldest first, for the log (the domain does not log);
    /// empty otherwise.
    pub would_delete: Vec<BuildKey>,
}

/// Counts of a sweep in progress.
#[derive(Debug, Default)]
struct Tally {
    deleted: i64,
    skipped: i64,
    freed: i64,
    would_delete: Vec<BuildKey>,
}

/// The right to sweep, released on drop (also when a sweep is cancelled).
struct SweepTurn<'a>(&'a AtomicBool);

impl<'a> SweepTurn<'a> {
    fn try_take(flag: &'a AtomicBool) -> Option<Self> {
        flag.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok().then_some(Self(flag))
    }
}

impl Drop for SweepTurn<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The retention use cases.
#[derive(Clone)]
pub struct RetentionService {
    ports: RetentionPorts,
    config: RetentionConfig,
    /// Whether a sweep runs in this process (clones share it).
    sweeping: Arc<AtomicBool>,
}

impl std::fmt::Debug for RetentionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetentionService").field("config", &self.config).finish_non_exhaustive()
    }
}

impl RetentionService {
    /// Wires the use cases.
    pub fn new(ports: RetentionPorts, config: RetentionConfig) -> Self {
        Self { ports, config, sweeping: Arc::default() }
    }

    /// The stored settings; on the very first read, the seed is stored and returned.
    ///
    /// # Errors
    /// A database failure, or a stored value that is not valid settings.
    pub async fn settings(&self) -> Result<RetentionSettings, RetentionError> {
        match self.ports.settings.get(SETTINGS_KEY).await? {
            Some(stored) => decode(&stored).ok_or_else(|| {
                RetentionError::Store(StoreError::Internal(format!("stored {SETTINGS_KEY} is invalid: {stored}")))
            }),
            None => {
                let seed = self.config.seed;
                self.ports.settings.put(SETTINGS_KEY, &encode(&seed), self.ports.clock.now()).await?;
                Ok(seed)
            }
        }
    }

    /// Validates and stores the three settings together. A new `intervalHours` moves the next scheduled sweep
    /// at once ([`RetentionService::next_run`] reads it).
    ///
    /// # Errors
    /// [`RetentionError::Invalid`] with the contract's message, or a database failure.
    pub async fn put_settings(&self, settings: RetentionSettings) -> Result<(), RetentionError> {
        if !(1..=36_500).contains(&settings.retention_days) {
            return Err(RetentionError::Invalid("retentionDays must be an integer between 1 and 36500".into()));
        }
        if !(1..=8_760).contains(&settings.interval_hours) {
            return Err(RetentionError::Invalid("intervalHours must be an integer between 1 and 8760".into()));
        }
        Ok(self.ports.settings.put(SETTINGS_KEY, &encode(&settings), self.ports.clock.now()).await?)
    }

    /// When the next scheduled sweep is due (`nextRunAt`); `None` when scheduling is disabled. A time not after
    /// now means "now".
    ///
    /// # Errors
    /// A database failure.
    pub async fn next_run(&self) -> Result<Option<Timestamp>, RetentionError> {
        if !self.config.enabled {
            return Ok(None);
        }
        let settings = self.settings().await?;
        self.next_run_with(&settings).await
    }

    /// The settings with their `nextRunAt`, read once (the settings API answers both).
    ///
    /// # Errors
    /// A database failure.
    pub async fn settings_and_next_run(&self) -> Result<(RetentionSettings, Option<Timestamp>), RetentionError> {
        let settings = self.settings().await?;
        let next = if self.config.enabled { self.next_run_with(&settings).await? } else { None };
        Ok((settings, next))
    }

    async fn next_run_with(&self, settings: &RetentionSettings) -> Result<Option<Timestamp>, RetentionError> {
        let last = self.ports.settings.get(LAST_SCHEDULED_KEY).await?;
        let last = last.as_ref().and_then(Value::as_str).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        Ok(next_run_at(
            true,
            settings.interval_hours,
            last.map(|t| t.to_utc()),
            self.config.started_at,
            self.ports.clock.now(),
        ))
    }

    /// The newest `limit` run records, newest first.
    ///
    /// # Errors
    /// A database failure.
    pub async fn runs(&self, limit: usize) -> Result<Vec<CleanupRun>, RetentionError> {
        let mut runs = self.ports.runs.list().await?;
        runs.truncate(limit);
        Ok(runs)
    }

    /// One sweep (§13.6), recorded whatever its outcome; `dry_run` overrides the stored setting for this sweep.
    /// A sweep that could not proceed is recorded `failed` and notified, and still returned.
    ///
    /// # Errors
    /// [`RetentionError::InProgress`] while another sweep runs; a database failure while recording the run or
    /// its notification.
    pub async fn sweep(&self, trigger: CleanupTrigger, dry_run: Option<bool>) -> Result<SweepReport, RetentionError> {
        let Some(_turn) = SweepTurn::try_take(&self.sweeping) else {
            return Err(RetentionError::InProgress);
        };
        let started_at = self.ports.clock.now();
        let mut effective_dry_run = dry_run.unwrap_or(false);
        let mut tally = Tally::default();
        let outcome = self.work(trigger, started_at, dry_run, &mut effective_dry_run, &mut tally).await;
        let run = CleanupRun {
            id: CleanupRunId::from(self.ports.ids.ulid()),
            started_at,
            finished_at: self.ports.clock.now(),
            status: if outcome.is_ok() { CleanupStatus::Success } else { CleanupStatus::Failed },
            trigger,
            deleted_count: tally.deleted,
            skipped_count: tally.skipped,
            freed_bytes: tally.freed,
            dry_run: effective_dry_run,
            error_message: outcome.err(),
        };
        let recorded = self.ports.runs.record(&run, KEEP_RUNS).await;
        // Notified even when the record could not be written: that is when an operator most needs to know.
        if run.status == CleanupStatus::Failed {
            self.ports.notifications.cleanup_failed(&run).await?;
        }
        recorded?;
        Ok(SweepReport { run, would_delete: tally.would_delete })
    }

    /// The sweep proper; `Err` with the run's `errorMessage` when it could not proceed.
    async fn work(
        &self,
        trigger: CleanupTrigger,
        started_at: Timestamp,
        dry_run_override: Option<bool>,
        dry_run: &mut bool,
        tally: &mut Tally,
    ) -> Result<(), String> {
        if trigger == CleanupTrigger::Schedule {
            let start = json!(started_at.to_rfc3339_opts(SecondsFormat::Millis, true));
            self.ports
                .settings
                .put(LAST_SCHEDULED_KEY, &start, started_at)
                .await
                .map_err(|e| format!("recording the sweep's start failed: {e}"))?;
        }
        let settings = self.settings().await.map_err(|e| format!("reading retention settings failed: {e}"))?;
        *dry_run = dry_run_override.unwrap_or(settings.dry_run);
        let age = TimeDelta::try_days(settings.retention_days).unwrap_or(TimeDelta::MAX);
        let cutoff = started_at.checked_sub_signed(age).unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        let mut after = None;
        loop {
            let batch = self
                .ports
                .builds
                .expired(cutoff, after.clone(), BATCH)
                .await
                .map_err(|e| format!("listing expired builds failed: {e}"))?;
            let last_batch = (batch.len() as i64) < BATCH;
            for build in batch {
                let key = BuildKey {
                    created_at: build.created_at,
                    env: build.env_id.clone(),
                    project: build.project_id.clone(),
                    build: build.build_id.clone(),
                };
                self.expire(&build, &key, *dry_run, tally).await;
                after = Some(key);
            }
            if last_batch {
                break;
            }
        }
        if !*dry_run {
            self.ports
                .uploads
                .prune_finished(cutoff)
                .await
                .map_err(|e| format!("pruning upload sessions failed: {e}"))?;
        }
        Ok(())
    }

    /// Deletes one expired build (or, in a dry run, counts it) and adds it to the tally.
    async fn expire(&self, build: &Build, key: &BuildKey, dry_run: bool, tally: &mut Tally) {
        let (env, project, id) = (&build.env_id, &build.project_id, &build.build_id);
        // The size kept with the build, else measured now (afterwards the files are gone); a size that cannot be
        // read counts as 0.
        let bytes = match build.stored_bytes {
            Some(bytes) => bytes,
            None => measure(self.ports.files.as_ref(), env, project, id).await.unwrap_or(0),
        };
        if dry_run {
            match self.ports.uploads.has_active(env, project, id).await {
                // An upload in progress would make the deletion wait for a later sweep: not counted.
                Ok(true) => {}
                Ok(false) => {
                    tally.deleted += 1;
                    tally.freed = tally.freed.saturating_add(bytes);
                    tally.would_delete.push(key.clone());
                }
                Err(_) => tally.skipped += 1,
            }
            return;
        }
        match self.ports.reports.delete(env, project, id).await {
            Ok(()) => {
                tally.deleted += 1;
                tally.freed = tally.freed.saturating_add(bytes);
            }
            // In flight since it was listed: it waits for a later sweep, uncounted.
            Err(ReportError::BeingGenerated(_) | ReportError::UploadInProgress(_)) => {}
            // Deleted by someone else since it was listed: nothing is left to delete.
            Err(
                ReportError::BuildNotFound(_)
                | ReportError::ProjectNotFound { .. }
                | ReportError::EnvironmentNotFound(_),
            ) => {}
            Err(_) => tally.skipped += 1,
        }
    }
}

/// §13.6 Schedule: `intervalHours` after the start of the latest scheduled sweep; when there is none, or that
/// moment is not after `now`, 30 s after start-up, but not before `now` (an overdue sweep is due now). `None`
/// when scheduling is disabled.
pub fn next_run_at(
    enabled: bool,
    interval_hours: i64,
    last_run_started: Option<Timestamp>,
    process_started: Timestamp,
    now: Timestamp,
) -> Option<Timestamp> {
    if !enabled {
        return None;
    }
    let scheduled = last_run_started
        .and_then(|last| TimeDelta::try_hours(interval_hours).and_then(|interval| last.checked_add_signed(interval)));
    match scheduled {
        Some(at) if at > now => Some(at),
        _ => {
            let after_start_up = process_started
                .checked_add_signed(TimeDelta::seconds(STARTUP_DELAY_SECONDS))
                .unwrap_or(process_started);
            Some(after_start_up.max(now))
        }
    }
}

/// The stored form: the contract's field names.
fn encode(settings: &RetentionSettings) -> Value {
    json!({
        "retentionDays": settings.retention_days,
        "intervalHours": settings.interval_hours,
        "dryRun": settings.dry_run,
    })
}

fn decode(value: &Value) -> Option<RetentionSettings> {
    Some(RetentionSettings {
        retention_days: value.get("retentionDays")?.as_i64()?,
        interval_hours: value.get("intervalHours")?.as_i64()?,
        dry_run: value.get("dryRun")?.as_bool()?,
    })
}

#[cfg(test)]
mod tests;
