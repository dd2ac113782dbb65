//! Disk usage of the data directory beside the bytes the storage holds for builds (contract §13.3, issue 17) and
//! the disk warning (§13.4): measurements are cached for 60 s and shared by concurrent callers; the threshold and
//! whether the warning is active are persisted, so the warning fires once per crossing, also across restarts.
//!
//! The stored bytes are those kept with each build when its files changed, summed by one database aggregate per
//! measurement, never a listing of the storage. When the storage is not the data directory (object storage), the
//! data directory holds only scratch work, so the per-project breakdown comes from those kept values too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use chrono::TimeDelta;
use serde_json::{Value, json};
use thiserror::Error;

use crate::model::disk::{StorageUsage, stored_breakdown, used_percent};
use crate::ports::{BuildRepo, Clock, DiskProbe, SettingsRepo, StoreError};
use crate::services::notifications::{NotificationError, NotificationService};

/// Settings key of the saved threshold (an integer percentage).
pub const THRESHOLD_KEY: &str = "disk.notification_threshold";

/// Settings key of the active warning: the threshold it was raised at, or `null` when the warning is armed. Keeping
/// the threshold (not just a flag) re-arms it on a threshold change even if a check raced the change.
pub const WARNING_KEY: &str = "disk.warning_active_at";

/// The threshold until one is saved.
pub const DEFAULT_THRESHOLD_PERCENT: i64 = 85;

/// How long a measurement answers requests (§13.3).
pub const CACHE_SECONDS: i64 = 60;

/// Why a disk setting or check failed.
#[derive(Debug, Error)]
pub enum DiskError {
    /// 400: the threshold is outside 0–100.
    #[error("thresholdPercent must be an integer between 0 and 100")]
    InvalidThreshold,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The warning could not be stored.
    #[error(transparent)]
    Notification(#[from] NotificationError),
}

/// The cached measurement and the one in progress.
#[derive(Debug, Default)]
struct Cache {
    /// The latest measurement.
    usage: Option<StorageUsage>,
    /// Whether a caller is measuring now (the others wait for it).
    measuring: bool,
    /// Measurements finished so far, to tell a waiter that one finished after it arrived.
    finished: u64,
    /// Callers waiting for the measurement in progress.
    waiters: Vec<Waker>,
}

/// State shared by the clones of a service.
#[derive(Debug, Default)]
struct Shared {
    cache: Mutex<Cache>,
    /// Whether a check is evaluating the warning: two at once could both see it armed and both notify.
    checking: AtomicBool,
}

impl Shared {
    fn cache(&self) -> MutexGuard<'_, Cache> {
        // The cache stays consistent even if a holder panicked: every update is a single assignment.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The caller's turn to measure. Dropped, even by a cancelled caller, it ends the turn and wakes the waiters (one
/// of which measures instead when no result was stored).
struct MeasuringTurn<'a> {
    shared: &'a Shared,
    result: Option<StorageUsage>,
}

impl Drop for MeasuringTurn<'_> {
    fn drop(&mut self) {
        let mut cache = self.shared.cache();
        cache.measuring = false;
        if let Some(usage) = self.result.take() {
            cache.usage = Some(usage);
            cache.finished += 1;
        }
        for waiter in cache.waiters.drain(..) {
            waiter.wake();
        }
    }
}

/// The right to evaluate the warning, released on drop.
struct CheckingTurn<'a>(&'a AtomicBool);

impl<'a> CheckingTurn<'a> {
    fn try_take(flag: &'a AtomicBool) -> Option<Self> {
        flag.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok().then_some(Self(flag))
    }
}

impl Drop for CheckingTurn<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The ports [`DiskService`] works through, named so that two of one type cannot be swapped.
#[derive(Clone)]
pub struct DiskPorts {
    /// Measures the data directory's file system.
    pub probe: Arc<dyn DiskProbe>,
    /// The stored bytes kept per build, summed per project.
    pub builds: Arc<dyn BuildRepo>,
    /// The stored notification threshold.
    pub settings: Arc<dyn SettingsRepo>,
    /// Where a crossed threshold is announced.
    pub notifications: Arc<NotificationService>,
    /// Age of the cached measurement.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DiskPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskPorts").finish_non_exhaustive()
    }
}

/// Where the per-project breakdown of a measurement comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakdown {
    /// The walk of the data directory, which holds every build's files (the filesystem storage).
    DataDir,
    /// The stored bytes kept per build: the files are elsewhere (object storage).
    StoredBytes,
}

/// The disk use cases.
#[derive(Clone)]
pub struct DiskService {
    probe: Arc<dyn DiskProbe>,
    builds: Arc<dyn BuildRepo>,
    breakdown: Breakdown,
    settings: Arc<dyn SettingsRepo>,
    notifications: Arc<NotificationService>,
    clock: Arc<dyn Clock>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for DiskService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskService").finish_non_exhaustive()
    }
}

impl DiskService {
    /// Wires the use cases, with the breakdown the storage calls for; clones share the cache.
    pub fn new(ports: DiskPorts, breakdown: Breakdown) -> Self {
        let DiskPorts { probe, builds, settings, notifications, clock } = ports;
        Self { probe, builds, breakdown, settings, notifications, clock, shared: Arc::default() }
    }

    /// §13.3: the cached measurement when younger than 60 s, else a new one; concurrent callers share one
    /// measurement.
    ///
    /// # Errors
    /// A database failure while summing the stored bytes (nothing is cached; the next caller measures again).
    pub async fn usage(&self) -> Result<StorageUsage, DiskError> {
        Ok(self.measurement(TimeDelta::seconds(CACHE_SECONDS)).await?)
    }

    /// A measurement younger than `max_age`, or one that finished while this caller waited, or a new one.
    async fn measurement(&self, max_age: TimeDelta) -> Result<StorageUsage, StoreError> {
        let arrived_after = self.shared.cache().finished;
        let cached = std::future::poll_fn(|cx| {
            let mut cache = self.shared.cache();
            if let Some(usage) = &cache.usage {
                let fresh = self.clock.now() - usage.computed_at < max_age;
                if fresh || cache.finished > arrived_after {
                    return Poll::Ready(Some(usage.clone()));
                }
            }
            if !cache.measuring {
                cache.measuring = true;
                return Poll::Ready(None);
            }
            if !cache.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                cache.waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
        if let Some(usage) = cached {
            return Ok(usage);
        }
        let mut turn = MeasuringTurn { shared: &self.shared, result: None };
        let usage = self.measure().await?;
        turn.result = Some(usage.clone());
        drop(turn);
        Ok(usage)
    }

    /// The data directory walked now, and the kept stored bytes summed by one aggregate.
    async fn measure(&self) -> Result<StorageUsage, StoreError> {
        let local = self.probe.measure(self.clock.now()).await;
        let projects = self.builds.stored_bytes_by_project().await?;
        let stored_bytes = projects.iter().fold(0_i64, |sum, p| sum.saturating_add(p.bytes));
        let breakdown = match self.breakdown {
            Breakdown::DataDir => local.breakdown,
            Breakdown::StoredBytes => stored_breakdown(&projects),
        };
        Ok(StorageUsage {
            used_bytes: local.used_bytes,
            free_bytes: local.free_bytes,
            total_bytes: local.total_bytes,
            stored_bytes,
            breakdown,
            computed_at: local.computed_at,
        })
    }

    /// §13.4: the saved threshold, 85 until one is saved.
    ///
    /// # Errors
    /// A database failure.
    pub async fn threshold(&self) -> Result<i64, DiskError> {
        let saved = self.settings.get(THRESHOLD_KEY).await?;
        Ok(saved
            .as_ref()
            .and_then(Value::as_i64)
            .filter(|p| (0..=100).contains(p))
            .unwrap_or(DEFAULT_THRESHOLD_PERCENT))
    }

    /// §13.4: saves the threshold (0 turns the warning off); a changed threshold re-arms the warning.
    ///
    /// # Errors
    /// [`DiskError::InvalidThreshold`] outside 0–100, or a database failure.
    pub async fn set_threshold(&self, percent: i64) -> Result<(), DiskError> {
        if !(0..=100).contains(&percent) {
            return Err(DiskError::InvalidThreshold);
        }
        let previous = self.threshold().await?;
        let now = self.clock.now();
        self.settings.put(THRESHOLD_KEY, &json!(percent), now).await?;
        if previous != percent {
            self.settings.put(WARNING_KEY, &Value::Null, now).await?;
        }
        Ok(())
    }

    /// §13.4, every `DISK_CHECK_INTERVAL` and after each accepted upload: measures now (refreshing the cache) and
    /// raises the disk warning when usage reached the threshold and no warning is active; re-arms it when usage is
    /// below the threshold. A check while another one evaluates only measures. Returns the measurement.
    ///
    /// # Errors
    /// A database failure (the warning then stays as it was and the next check tries again).
    pub async fn check(&self) -> Result<StorageUsage, DiskError> {
        let usage = self.measurement(TimeDelta::zero()).await?;
        let Some(_turn) = CheckingTurn::try_take(&self.shared.checking) else {
            return Ok(usage);
        };
        // An unknown filesystem size decides nothing: the warning keeps its state.
        let Some(used) = used_percent(usage.free_bytes, usage.total_bytes) else {
            return Ok(usage);
        };
        let threshold = self.threshold().await?;
        let active_at = self.settings.get(WARNING_KEY).await?.as_ref().and_then(Value::as_i64);
        if threshold > 0 && used >= threshold {
            if active_at != Some(threshold) {
                self.notifications.disk_warning(used, threshold, usage.free_bytes, usage.total_bytes).await?;
                self.settings.put(WARNING_KEY, &json!(threshold), self.clock.now()).await?;
            }
        } else if active_at.is_some() {
            self.settings.put(WARNING_KEY, &Value::Null, self.clock.now()).await?;
        }
        Ok(usage)
    }
}

#[cfg(test)]
mod tests;
