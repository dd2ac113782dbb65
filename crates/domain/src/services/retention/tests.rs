#![allow(clippy::unwrap_used)]

use std::sync::Mutex;

use async_trait::async_trait;

use super::*;
use crate::ids::{BuildId, EnvId, ProjectId};
use crate::model::build::{BuildStats, BuildStatus};
use crate::model::notification::Notification;
use crate::ports::clock::MockIdGenerator;
use crate::ports::events::MockEventBus;
use crate::ports::files::MockResultStore;
use crate::ports::generator::MockGenerationFiles;
use crate::ports::repos::{
    BuildDeletion, MockBuildRepo, MockEnvironmentRepo, MockJobQueue, MockProjectRepo, MockUploadSessionRepo,
};
use crate::services::notifications::fakes::{MemorySettings, clock, recording};
use crate::services::reports::ReportPorts;

fn start() -> Timestamp {
    chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

const SEED: RetentionSettings = RetentionSettings { retention_days: 90, interval_hours: 6, dry_run: false };

/// Run records in memory, keeping the newest `keep` like the store. Recording yields once, so a concurrent
/// sweep can start while one is still running.
#[derive(Default)]
struct MemoryRuns(Mutex<Vec<CleanupRun>>);

#[async_trait]
impl CleanupRunRepo for MemoryRuns {
    async fn record(&self, run: &CleanupRun, keep: i64) -> Result<(), StoreError> {
        tokio::task::yield_now().await;
        let mut runs = self.0.lock().unwrap();
        runs.insert(0, run.clone());
        runs.truncate(usize::try_from(keep).unwrap());
        Ok(())
    }
    async fn list(&self) -> Result<Vec<CleanupRun>, StoreError> {
        Ok(self.0.lock().unwrap().clone())
    }
    async fn get(&self, id: CleanupRunId) -> Result<Option<CleanupRun>, StoreError> {
        Ok(self.0.lock().unwrap().iter().find(|r| r.id == id).cloned())
    }
}

/// Build `b<i>` of `staging/checkout`, created `days` days before the start, `i` minutes into that day; its
/// files take `i × 10` bytes.
fn build(i: usize, days: i64) -> Build {
    Build {
        env_id: EnvId::parse("staging").unwrap(),
        project_id: ProjectId::parse("checkout").unwrap(),
        build_id: BuildId::parse(&format!("b{i:03}")).unwrap(),
        status: BuildStatus::Ready,
        created_at: start() - TimeDelta::days(days) + TimeDelta::minutes(i as i64),
        completed_at: None,
        uploaded_by: "apikey:ci".into(),
        has_report: true,
        report_key: None,
        stored_bytes: None,
        stats: BuildStats::default(),
        longest_test_ms: 0,
        quality_gate: None,
        warnings: vec![],
        error: None,
        config: json!({}),
    }
}

fn number(id: &BuildId) -> i64 {
    id.as_str()[1..].parse().unwrap()
}

fn key_of(b: &Build) -> (Timestamp, String) {
    (b.created_at, b.build_id.to_string())
}

/// The stores of one test: builds (the database), deletions the store refuses, uploads in progress, and what
/// was pruned and expired-listed.
struct World {
    builds: Arc<Mutex<Vec<Build>>>,
    settings: Arc<MemorySettings>,
    runs: Arc<MemoryRuns>,
    created: Arc<Mutex<Vec<Notification>>>,
    now: Arc<Mutex<Timestamp>>,
    pruned: Arc<Mutex<Vec<Timestamp>>>,
    listings: Arc<Mutex<Vec<Option<String>>>>,
    /// The builds whose files were measured, by number.
    measured: Arc<Mutex<Vec<i64>>>,
    /// Answer of `expired`, when set, instead of the listing.
    expired_error: bool,
}

impl World {
    fn new(builds: Vec<Build>) -> Self {
        Self {
            builds: Arc::new(Mutex::new(builds)),
            settings: Arc::default(),
            runs: Arc::default(),
            created: Arc::default(),
            now: Arc::new(Mutex::new(start())),
            pruned: Arc::default(),
            listings: Arc::default(),
            measured: Arc::default(),
            expired_error: false,
        }
    }

    /// The service over this world. Deleting `b003` finds an upload in progress, `b005` a running job, and
    /// `b007` a failing database; `b003` also has an upload in progress for dry runs.
    fn service(&self, enabled: bool) -> RetentionService {
        let mut listing = MockBuildRepo::new();
        let (all, listings, fail) = (Arc::clone(&self.builds), Arc::clone(&self.listings), self.expired_error);
        listing.expect_expired().returning(move |cutoff, after, limit| {
            if fail {
                return Err(StoreError::Unavailable("database is locked".into()));
            }
            listings.lock().unwrap().push(after.as_ref().map(|k| k.build.to_string()));
            let mut found: Vec<Build> = all
                .lock()
                .unwrap()
                .iter()
                .filter(|b| b.created_at < cutoff)
                .filter(|b| after.as_ref().is_none_or(|k| key_of(b) > (k.created_at, k.build.to_string())))
                .cloned()
                .collect();
            found.sort_by_key(key_of);
            found.truncate(usize::try_from(limit).unwrap());
            Ok(found)
        });
        let mut deleting = MockBuildRepo::new();
        let all = Arc::clone(&self.builds);
        deleting.expect_delete().returning(move |_, _, id| match number(id) {
            3 => Ok(BuildDeletion::UploadInProgress),
            5 => Ok(BuildDeletion::Generating),
            7 => Err(StoreError::Internal("disk I/O error".into())),
            _ => {
                all.lock().unwrap().retain(|b| &b.build_id != id);
                Ok(BuildDeletion::Deleted { history_entry: None })
            }
        });
        let mut report_files = MockResultStore::new();
        report_files.expect_remove_build().returning(|_, _, _| Ok(()));
        let mut projects = MockProjectRepo::new();
        projects.expect_exists().returning(|_, _| Ok(true));
        let mut ids = MockIdGenerator::new();
        ids.expect_ulid().returning(ulid::Ulid::new);
        let reports = ReportService::new(ReportPorts {
            envs: Arc::new(MockEnvironmentRepo::new()),
            projects: Arc::new(projects),
            builds: Arc::new(deleting),
            files: Arc::new(report_files),
            history: Arc::new(MockGenerationFiles::new()),
            jobs: Arc::new(MockJobQueue::new()),
            events: Arc::new(MockEventBus::new()),
            clock: clock(&self.now),
            ids: Arc::new(MockIdGenerator::new()),
            report_config: Arc::default(),
        });
        let mut sizes = MockResultStore::new();
        let measured = Arc::clone(&self.measured);
        sizes.expect_build_bytes().returning(move |_, _, id| {
            measured.lock().unwrap().push(number(id));
            Ok(u64::try_from(number(id)).unwrap() * 10)
        });
        let mut uploads = MockUploadSessionRepo::new();
        let pruned = Arc::clone(&self.pruned);
        uploads.expect_prune_finished().returning(move |before| {
            pruned.lock().unwrap().push(before);
            Ok(2)
        });
        uploads.expect_has_active().returning(|_, _, id| Ok(number(id) == 3));
        RetentionService::new(
            RetentionPorts {
                settings: Arc::clone(&self.settings) as Arc<dyn SettingsRepo>,
                runs: Arc::clone(&self.runs) as Arc<dyn CleanupRunRepo>,
                builds: Arc::new(listing),
                uploads: Arc::new(uploads),
                files: Arc::new(sizes),
                reports: Arc::new(reports),
                notifications: recording(&self.created),
                clock: clock(&self.now),
                ids: Arc::new(ids),
            },
            RetentionConfig { seed: SEED, enabled, started_at: start() },
        )
    }

    fn remaining(&self) -> Vec<i64> {
        let mut left: Vec<i64> = self.builds.lock().unwrap().iter().map(|b| number(&b.build_id)).collect();
        left.sort_unstable();
        left
    }
}

/// 150 builds 100 days old (expired under the 90-day seed) and `b200`, 10 days old.
fn old_and_new() -> Vec<Build> {
    let mut builds: Vec<Build> = (1..=150).map(|i| build(i, 100)).collect();
    builds.push(build(200, 10));
    builds
}

#[tokio::test]
async fn a_sweep_deletes_expired_builds_in_batches_and_counts_what_it_could_not_delete() {
    let world = World::new(old_and_new());
    let service = world.service(true);
    let report = service.sweep(CleanupTrigger::Manual, None).await.unwrap();
    let run = report.run;

    assert_eq!(world.remaining(), [3, 5, 7, 200], "in-flight and failing builds stay, and the recent one");
    assert_eq!((run.deleted_count, run.skipped_count), (147, 1), "in-flight builds are not counted");
    let freed: i64 = (1..=150).filter(|i| ![3, 5, 7].contains(i)).map(|i| i * 10).sum();
    assert_eq!(run.freed_bytes, freed);
    assert_eq!(
        (run.status, run.trigger, run.dry_run, run.error_message.clone()),
        (CleanupStatus::Success, CleanupTrigger::Manual, false, None)
    );
    assert!(report.would_delete.is_empty());
    assert_eq!(
        *world.listings.lock().unwrap(),
        [None, Some("b100".to_owned())],
        "the second batch continues after the first, past the builds that stayed"
    );
    let cutoff = start() - TimeDelta::days(90);
    assert_eq!(*world.pruned.lock().unwrap(), [cutoff], "finished sessions before the cutoff are pruned");
    assert_eq!(*world.runs.0.lock().unwrap(), std::slice::from_ref(&run), "recorded");
    assert!(world.created.lock().unwrap().is_empty());
    assert_eq!(world.settings.get(LAST_SCHEDULED_KEY).await.unwrap(), None, "a manual sweep leaves the schedule");
}

#[tokio::test]
async fn a_size_kept_with_the_build_is_freed_without_measuring_it() {
    let mut builds: Vec<Build> = (1..=4).map(|i| build(i, 100)).collect();
    builds[1].stored_bytes = Some(2000);
    builds[3].stored_bytes = Some(4000);
    let world = World::new(builds);
    let run = world.service(true).sweep(CleanupTrigger::Manual, None).await.unwrap().run;
    assert_eq!(world.remaining(), [3], "b003 has an upload in progress");
    assert_eq!(run.freed_bytes, 10 + 2000 + 4000, "b001 measured, b002 and b004 as kept");
    assert_eq!(*world.measured.lock().unwrap(), [1, 3], "only the builds without a kept size are measured");
}

#[tokio::test]
async fn a_dry_run_deletes_nothing_but_reports_what_it_would_delete() {
    for (stored, override_) in [(false, Some(true)), (true, None)] {
        let world = World::new(old_and_new());
        let service = world.service(true);
        service.put_settings(RetentionSettings { dry_run: stored, ..SEED }).await.unwrap();
        let report = service.sweep(CleanupTrigger::Schedule, override_).await.unwrap();
        let run = report.run;
        assert_eq!(world.remaining().len(), 151, "nothing deleted");
        assert!(world.pruned.lock().unwrap().is_empty(), "no sessions pruned");
        assert!(run.dry_run);
        assert_eq!((run.deleted_count, run.skipped_count), (149, 0), "b003 has an upload in progress");
        assert_eq!(run.freed_bytes, (1..=150).filter(|i| *i != 3).map(|i| i * 10).sum::<i64>());
        let listed: Vec<i64> = report.would_delete.iter().map(|k| number(&k.build)).collect();
        assert_eq!(listed, (1..=150).filter(|i| *i != 3).collect::<Vec<_>>(), "oldest first, for the log");
    }
}

#[tokio::test]
async fn the_cutoff_follows_the_stored_retention_days_and_the_clock() {
    let world = World::new(vec![build(1, 31), build(2, 29)]);
    let service = world.service(true);
    service.put_settings(RetentionSettings { retention_days: 30, ..SEED }).await.unwrap();
    service.sweep(CleanupTrigger::Manual, None).await.unwrap();
    assert_eq!(world.remaining(), [2]);
    *world.now.lock().unwrap() += TimeDelta::days(2);
    service.sweep(CleanupTrigger::Manual, None).await.unwrap();
    assert!(world.remaining().is_empty(), "two days later the second one expired too");
}

#[tokio::test]
async fn a_sweep_that_cannot_list_builds_is_recorded_failed_and_notified() {
    let mut world = World::new(old_and_new());
    world.expired_error = true;
    let run = world.service(true).sweep(CleanupTrigger::Schedule, None).await.unwrap().run;
    assert_eq!(run.status, CleanupStatus::Failed);
    assert_eq!(
        run.error_message.as_deref(),
        Some("listing expired builds failed: database unavailable: database is locked")
    );
    assert!(world.pruned.lock().unwrap().is_empty());
    assert_eq!(*world.runs.0.lock().unwrap(), std::slice::from_ref(&run));
    let created = world.created.lock().unwrap().clone();
    assert_eq!(created.len(), 1);
    assert_eq!(
        (created[0].title.as_str(), created[0].payload["run_id"].clone()),
        ("Cleanup run failed", json!(run.id.to_string()))
    );
}

#[tokio::test]
async fn only_one_sweep_runs_at_a_time() {
    let world = World::new(old_and_new());
    let service = world.service(true);
    let other = service.clone();
    let (first, second) =
        tokio::join!(service.sweep(CleanupTrigger::Schedule, None), other.sweep(CleanupTrigger::Manual, None));
    assert_eq!(first.unwrap().run.deleted_count, 147);
    let err = second.unwrap_err();
    assert!(matches!(err, RetentionError::InProgress));
    assert_eq!(err.to_string(), "a cleanup run is already in progress");
    let again = service.sweep(CleanupTrigger::Manual, None).await.unwrap();
    assert_eq!(again.run.deleted_count, 0, "the next sweep runs once the first finished");
}

#[tokio::test]
async fn only_the_five_newest_runs_are_kept_and_listed_newest_first() {
    let world = World::new(vec![]);
    let service = world.service(true);
    let mut started = Vec::new();
    for _ in 0..7 {
        *world.now.lock().unwrap() += TimeDelta::minutes(1);
        started.push(service.sweep(CleanupTrigger::Manual, None).await.unwrap().run.started_at);
    }
    let runs = service.runs(50).await.unwrap();
    let newest: Vec<Timestamp> = started.iter().rev().take(5).copied().collect();
    assert_eq!(runs.iter().map(|r| r.started_at).collect::<Vec<_>>(), newest);
    assert_eq!(service.runs(2).await.unwrap().len(), 2);
}

#[tokio::test]
async fn settings_are_seeded_once_and_validated() {
    let world = World::new(vec![]);
    let service = world.service(true);
    assert_eq!(service.settings().await.unwrap(), SEED);
    assert_eq!(
        world.settings.get(SETTINGS_KEY).await.unwrap(),
        Some(json!({"retentionDays": 90, "intervalHours": 6, "dryRun": false})),
        "the seed is stored on the first read"
    );
    let changed = RetentionSettings { retention_days: 36_500, interval_hours: 8_760, dry_run: true };
    service.put_settings(changed).await.unwrap();
    assert_eq!(service.settings().await.unwrap(), changed);
    assert_eq!(world.service(true).settings().await.unwrap(), changed, "a restart does not seed again");

    for (bad, message) in [
        (RetentionSettings { retention_days: 0, ..SEED }, "retentionDays must be an integer between 1 and 36500"),
        (RetentionSettings { retention_days: 36_501, ..SEED }, "retentionDays must be an integer between 1 and 36500"),
        (RetentionSettings { interval_hours: 0, ..SEED }, "intervalHours must be an integer between 1 and 8760"),
        (RetentionSettings { interval_hours: 8_761, ..SEED }, "intervalHours must be an integer between 1 and 8760"),
    ] {
        assert_eq!(service.put_settings(bad).await.unwrap_err().to_string(), message);
    }
    assert_eq!(service.settings().await.unwrap(), changed, "refused settings change nothing");
}

#[test]
fn the_next_run_follows_the_last_scheduled_start_or_start_up() {
    let started = start();
    let after_start_up = started + TimeDelta::seconds(30);
    let now = started + TimeDelta::seconds(5);
    assert_eq!(next_run_at(false, 6, None, started, now), None, "disabled");
    assert_eq!(next_run_at(true, 6, None, started, now), Some(after_start_up), "no run yet");
    let last = started - TimeDelta::hours(2);
    assert_eq!(next_run_at(true, 6, Some(last), started, now), Some(last + TimeDelta::hours(6)));
    assert_eq!(next_run_at(true, 1, Some(last), started, now), Some(after_start_up), "missed while down");
    let later = started + TimeDelta::hours(3);
    assert_eq!(next_run_at(true, 1, Some(last), started, later), Some(later), "overdue is due now");
}

#[tokio::test]
async fn a_new_interval_moves_the_next_run_without_a_restart() {
    let world = World::new(vec![]);
    let service = world.service(true);
    assert_eq!(service.next_run().await.unwrap(), Some(start() + TimeDelta::seconds(30)));
    *world.now.lock().unwrap() += TimeDelta::seconds(30);
    service.sweep(CleanupTrigger::Schedule, None).await.unwrap();
    let swept_at = start() + TimeDelta::seconds(30);
    assert_eq!(service.next_run().await.unwrap(), Some(swept_at + TimeDelta::hours(6)));

    service.put_settings(RetentionSettings { interval_hours: 12, ..SEED }).await.unwrap();
    assert_eq!(service.next_run().await.unwrap(), Some(swept_at + TimeDelta::hours(12)));
    *world.now.lock().unwrap() += TimeDelta::hours(1);
    service.sweep(CleanupTrigger::Manual, None).await.unwrap();
    assert_eq!(service.next_run().await.unwrap(), Some(swept_at + TimeDelta::hours(12)), "manual runs do not count");
    assert_eq!(world.service(false).next_run().await.unwrap(), None, "scheduling disabled");
}
