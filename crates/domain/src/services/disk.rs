//! Disk usage of the data directory (contract §13.3) and the disk warning (§13.4): measurements are cached for
//! 60 s and shared by concurrent callers; the threshold and whether the warning is active are persisted, so the
//! warning fires once per crossing, also across restarts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use chrono::TimeDelta;
use serde_json::{Value, json};
use thiserror::Error;

use crate::model::disk::{DiskUsage, used_percent};
use crate::ports::{Clock, DiskProbe, SettingsRepo, StoreError};
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
    usage: Option<DiskUsage>,
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
    result: Option<DiskUsage>,
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

/// The disk use cases.
#[derive(Clone)]
pub struct DiskService {
    probe: Arc<dyn DiskProbe>,
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
    /// Wires the use cases; clones share the cache.
    pub fn new(ports: DiskPorts) -> Self {
        let DiskPorts { probe, settings, notifications, clock } = ports;
        Self { probe, settings, notifications, clock, shared: Arc::default() }
    }

    /// §13.3: the cached measurement when younger than 60 s, else a new one; concurrent callers share one
    /// measurement.
    pub async fn usage(&self) -> DiskUsage {
        self.measurement(TimeDelta::seconds(CACHE_SECONDS)).await
    }

    /// A measurement younger than `max_age`, or one that finished while this caller waited, or a new one.
    async fn measurement(&self, max_age: TimeDelta) -> DiskUsage {
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
            return usage;
        }
        let mut turn = MeasuringTurn { shared: &self.shared, result: None };
        let usage = self.probe.measure(self.clock.now()).await;
        turn.result = Some(usage.clone());
        drop(turn);
        usage
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
    pub async fn check(&self) -> Result<DiskUsage, DiskError> {
        let usage = self.measurement(TimeDelta::zero()).await;
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
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::AtomicUsize;

    use async_trait::async_trait;

    use super::*;
    use crate::Timestamp;
    use crate::model::notification::Notification;
    use crate::services::notifications::fakes::{MemorySettings, clock, recording};

    /// A filesystem whose free and total bytes the test sets; counts measurements. With `delay`, each measurement
    /// yields that many times first, so concurrent callers overlap; with `stall_first`, the first never finishes.
    #[derive(Default)]
    struct FakeDisk {
        free_total: Mutex<(i64, i64)>,
        measured: AtomicUsize,
        delay: usize,
        stall_first: bool,
    }

    impl FakeDisk {
        fn set_used(&self, used_percent: i64) {
            *self.free_total.lock().unwrap() = (1000 - used_percent * 10, 1000);
        }
    }

    #[async_trait]
    impl DiskProbe for FakeDisk {
        async fn measure(&self, at: Timestamp) -> DiskUsage {
            let call = self.measured.fetch_add(1, Ordering::SeqCst);
            if self.stall_first && call == 0 {
                std::future::pending::<()>().await;
            }
            for _ in 0..self.delay {
                tokio::task::yield_now().await;
            }
            let (free_bytes, total_bytes) = *self.free_total.lock().unwrap();
            DiskUsage { used_bytes: 7, free_bytes, total_bytes, breakdown: vec![], computed_at: at }
        }
    }

    fn start() -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    /// One server's view of a shared disk, settings store and notification log.
    struct World {
        disk: Arc<FakeDisk>,
        settings: Arc<MemorySettings>,
        created: Arc<Mutex<Vec<Notification>>>,
        now: Arc<Mutex<Timestamp>>,
    }

    impl World {
        fn new(disk: FakeDisk) -> Self {
            Self {
                disk: Arc::new(disk),
                settings: Arc::default(),
                created: Arc::default(),
                now: Arc::new(Mutex::new(start())),
            }
        }

        /// A service as a (re)started server builds it: a new cache, the same stores.
        fn service(&self) -> DiskService {
            DiskService::new(DiskPorts {
                probe: Arc::clone(&self.disk) as Arc<dyn DiskProbe>,
                settings: Arc::clone(&self.settings) as Arc<dyn SettingsRepo>,
                notifications: recording(&self.created),
                clock: clock(&self.now),
            })
        }

        fn warnings(&self) -> Vec<String> {
            self.created.lock().unwrap().iter().map(|n| n.title.clone()).collect()
        }

        fn advance(&self, seconds: i64) {
            *self.now.lock().unwrap() += TimeDelta::seconds(seconds);
        }
    }

    #[tokio::test]
    async fn crossing_the_threshold_warns_once_until_usage_drops_below_it() {
        let world = World::new(FakeDisk::default());
        let service = world.service();
        world.disk.set_used(84);
        service.check().await.unwrap();
        assert!(world.warnings().is_empty(), "below the default 85");

        world.disk.set_used(90);
        let usage = service.check().await.unwrap();
        assert_eq!((usage.free_bytes, usage.total_bytes), (100, 1000));
        service.check().await.unwrap();
        world.disk.set_used(95);
        service.check().await.unwrap();
        assert_eq!(world.warnings(), ["Disk usage at 90%"], "once per crossing, not every check");
        let body = world.created.lock().unwrap()[0].body.clone();
        assert_eq!(body, "The data volume is 90% full (threshold 85%), 100 B free.");

        world.disk.set_used(85);
        service.check().await.unwrap();
        assert_eq!(world.warnings().len(), 1, "at the threshold is still above");
        world.disk.set_used(80);
        service.check().await.unwrap();
        world.disk.set_used(86);
        service.check().await.unwrap();
        assert_eq!(world.warnings(), ["Disk usage at 90%", "Disk usage at 86%"], "re-armed after dropping below");
    }

    #[tokio::test]
    async fn a_restart_does_not_repeat_an_active_warning() {
        let world = World::new(FakeDisk::default());
        world.disk.set_used(92);
        world.service().check().await.unwrap();
        world.service().check().await.unwrap();
        assert_eq!(world.warnings().len(), 1);
        assert_eq!(world.settings.get(WARNING_KEY).await.unwrap(), Some(json!(85)), "persisted");
    }

    #[tokio::test]
    async fn changing_the_threshold_re_arms_the_warning_and_zero_turns_it_off() {
        let world = World::new(FakeDisk::default());
        let service = world.service();
        assert_eq!(service.threshold().await.unwrap(), 85, "until one is saved");
        world.disk.set_used(95);
        service.check().await.unwrap();

        service.set_threshold(85).await.unwrap();
        service.check().await.unwrap();
        assert_eq!(world.warnings().len(), 1, "saving the same threshold changes nothing");

        service.set_threshold(90).await.unwrap();
        assert_eq!(service.threshold().await.unwrap(), 90);
        service.check().await.unwrap();
        assert_eq!(world.warnings().len(), 2, "a new threshold warns again");
        assert!(world.created.lock().unwrap()[1].body.contains("(threshold 90%)"));

        service.set_threshold(0).await.unwrap();
        world.disk.set_used(100);
        service.check().await.unwrap();
        assert_eq!(world.warnings().len(), 2, "0 turns the warning off");
    }

    #[tokio::test]
    async fn thresholds_outside_0_to_100_are_refused() {
        let world = World::new(FakeDisk::default());
        let service = world.service();
        for bad in [-1, 101] {
            let err = service.set_threshold(bad).await.unwrap_err();
            assert_eq!(err.to_string(), "thresholdPercent must be an integer between 0 and 100");
        }
        service.set_threshold(100).await.unwrap();
        assert_eq!(service.threshold().await.unwrap(), 100);
    }

    #[tokio::test]
    async fn an_unknown_filesystem_size_leaves_the_warning_as_it_is() {
        let world = World::new(FakeDisk::default());
        let service = world.service();
        world.disk.set_used(99);
        service.check().await.unwrap();
        *world.disk.free_total.lock().unwrap() = (0, 0);
        service.check().await.unwrap();
        world.disk.set_used(99);
        service.check().await.unwrap();
        assert_eq!(world.warnings().len(), 1, "a failed measurement did not re-arm it");
    }

    #[tokio::test]
    async fn a_measurement_answers_for_60_seconds_and_checks_refresh_it() {
        let world = World::new(FakeDisk::default());
        let service = world.service();
        world.disk.set_used(10);
        let first = service.usage().await;
        world.advance(59);
        assert_eq!(service.usage().await, first);
        assert_eq!(world.disk.measured.load(Ordering::SeqCst), 1);
        world.advance(1);
        let second = service.usage().await;
        assert_eq!(second.computed_at, start() + TimeDelta::seconds(60), "60 s old is too old");

        let checked = service.check().await.unwrap();
        assert_eq!(world.disk.measured.load(Ordering::SeqCst), 3, "a check always measures");
        assert_eq!(service.clone().usage().await, checked, "and the clones share what it measured");
        assert_eq!(world.disk.measured.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn concurrent_requests_share_one_measurement() {
        let world = World::new(FakeDisk { delay: 5, ..FakeDisk::default() });
        let service = world.service();
        let (a, b, c) = tokio::join!(service.usage(), service.usage(), service.check());
        assert_eq!(world.disk.measured.load(Ordering::SeqCst), 1);
        assert_eq!((a.clone(), b), (a, c.unwrap()));
    }

    #[tokio::test]
    async fn a_cancelled_measurement_hands_over_to_a_waiting_caller() {
        let world = World::new(FakeDisk { stall_first: true, ..FakeDisk::default() });
        let service = world.service();
        let abandoned = tokio::time::timeout(std::time::Duration::from_millis(20), service.usage());
        let (abandoned, waiting) = tokio::join!(abandoned, service.usage());
        assert!(abandoned.is_err(), "the first measurement never finished");
        assert_eq!(waiting.computed_at, start());
        assert_eq!(world.disk.measured.load(Ordering::SeqCst), 2, "the waiter measured instead");
    }
}
