#![allow(clippy::unwrap_used)]

use std::sync::atomic::AtomicUsize;

use async_trait::async_trait;

use super::*;
use crate::Timestamp;
use crate::ids::{EnvId, ProjectId};
use crate::model::disk::{DiskUsage, DiskUsageEntry, ProjectBytes};
use crate::model::notification::Notification;
use crate::ports::repos::MockBuildRepo;
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
        let breakdown = vec![DiskUsageEntry { path: "local/walk".into(), bytes: 5 }];
        DiskUsage { used_bytes: 7, free_bytes, total_bytes, breakdown, computed_at: at }
    }
}

fn start() -> Timestamp {
    chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

/// One server's view of a shared disk, database (its kept stored bytes per project, `None` while it fails, and
/// how often they were summed), settings store and notification log.
struct World {
    disk: Arc<FakeDisk>,
    stored: Arc<Mutex<Option<Vec<ProjectBytes>>>>,
    sums: Arc<AtomicUsize>,
    settings: Arc<MemorySettings>,
    created: Arc<Mutex<Vec<Notification>>>,
    now: Arc<Mutex<Timestamp>>,
}

impl World {
    fn new(disk: FakeDisk) -> Self {
        Self {
            disk: Arc::new(disk),
            stored: Arc::new(Mutex::new(Some(Vec::new()))),
            sums: Arc::default(),
            settings: Arc::default(),
            created: Arc::default(),
            now: Arc::new(Mutex::new(start())),
        }
    }

    /// A service as a (re)started server on the filesystem builds it: a new cache, the same stores.
    fn service(&self) -> DiskService {
        self.service_on(Breakdown::DataDir)
    }

    /// [`World::service`] with the breakdown a storage calls for.
    fn service_on(&self, breakdown: Breakdown) -> DiskService {
        let mut builds = MockBuildRepo::new();
        let (stored, sums) = (Arc::clone(&self.stored), Arc::clone(&self.sums));
        builds.expect_stored_bytes_by_project().returning(move || {
            sums.fetch_add(1, Ordering::SeqCst);
            stored.lock().unwrap().clone().ok_or_else(|| StoreError::Unavailable("database is locked".into()))
        });
        let ports = DiskPorts {
            probe: Arc::clone(&self.disk) as Arc<dyn DiskProbe>,
            builds: Arc::new(builds),
            settings: Arc::clone(&self.settings) as Arc<dyn SettingsRepo>,
            notifications: recording(&self.created),
            clock: clock(&self.now),
        };
        DiskService::new(ports, breakdown)
    }

    fn keep(&self, projects: &[(&str, &str, i64)]) {
        let projects = projects
            .iter()
            .map(|(env, project, bytes)| ProjectBytes {
                env: EnvId::parse(env).unwrap(),
                project: ProjectId::parse(project).unwrap(),
                bytes: *bytes,
            })
            .collect();
        *self.stored.lock().unwrap() = Some(projects);
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
    let first = service.usage().await.unwrap();
    world.advance(59);
    assert_eq!(service.usage().await.unwrap(), first);
    assert_eq!(world.disk.measured.load(Ordering::SeqCst), 1);
    world.advance(1);
    let second = service.usage().await.unwrap();
    assert_eq!(second.computed_at, start() + TimeDelta::seconds(60), "60 s old is too old");

    let checked = service.check().await.unwrap();
    assert_eq!(world.disk.measured.load(Ordering::SeqCst), 3, "a check always measures");
    assert_eq!(service.clone().usage().await.unwrap(), checked, "and the clones share what it measured");
    assert_eq!(world.disk.measured.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn concurrent_requests_share_one_measurement() {
    let world = World::new(FakeDisk { delay: 5, ..FakeDisk::default() });
    let service = world.service();
    let (a, b, c) = tokio::join!(service.usage(), service.usage(), service.check());
    assert_eq!(world.disk.measured.load(Ordering::SeqCst), 1);
    let a = a.unwrap();
    assert_eq!((a.clone(), b.unwrap()), (a, c.unwrap()));
}

#[tokio::test]
async fn a_cancelled_measurement_hands_over_to_a_waiting_caller() {
    let world = World::new(FakeDisk { stall_first: true, ..FakeDisk::default() });
    let service = world.service();
    let abandoned = tokio::time::timeout(std::time::Duration::from_millis(20), service.usage());
    let (abandoned, waiting) = tokio::join!(abandoned, service.usage());
    assert!(abandoned.is_err(), "the first measurement never finished");
    assert_eq!(waiting.unwrap().computed_at, start());
    assert_eq!(world.disk.measured.load(Ordering::SeqCst), 2, "the waiter measured instead");
}

#[tokio::test]
async fn stored_bytes_are_summed_once_per_measurement_beside_the_data_directory() {
    let world = World::new(FakeDisk::default());
    world.disk.set_used(10);
    world.keep(&[("staging", "checkout", 300), ("prod", "checkout", 700), ("prod", "empty", 0)]);
    let service = world.service();
    let usage = service.usage().await.unwrap();
    assert_eq!((usage.used_bytes, usage.free_bytes, usage.stored_bytes), (7, 900, 1000), "local beside stored");
    let walk = [DiskUsageEntry { path: "local/walk".into(), bytes: 5 }];
    assert_eq!(usage.breakdown, walk, "the filesystem's breakdown is the data directory's walk, as before");
    world.advance(30);
    assert_eq!(service.usage().await.unwrap(), usage);
    assert_eq!(world.sums.load(Ordering::SeqCst), 1, "one aggregate per measurement, cached with it");

    // On object storage the data directory holds scratch only: the projects come from the kept values.
    let usage = world.service_on(Breakdown::StoredBytes).usage().await.unwrap();
    let paths: Vec<(&str, i64)> = usage.breakdown.iter().map(|e| (e.path.as_str(), e.bytes)).collect();
    assert_eq!(paths, [("prod/checkout", 700), ("staging/checkout", 300)]);
    assert_eq!((usage.used_bytes, usage.stored_bytes), (7, 1000));
}

#[tokio::test]
async fn a_database_failure_is_not_cached_and_the_next_request_measures_again() {
    let world = World::new(FakeDisk::default());
    *world.stored.lock().unwrap() = None;
    let service = world.service_on(Breakdown::StoredBytes);
    assert!(matches!(service.usage().await, Err(DiskError::Store(StoreError::Unavailable(_)))));
    assert!(service.check().await.is_err(), "a check that cannot measure changes nothing");
    world.keep(&[("staging", "checkout", 42)]);
    assert_eq!(service.usage().await.unwrap().stored_bytes, 42, "measured again at once");
    assert_eq!(world.sums.load(Ordering::SeqCst), 3);
}
