//! Store cases of the operational ports (settings, cleanup runs, notifications, retention queries, job counts and the
//! overview), written against the domain ports and run on SQLite and on PostgreSQL like the shared contract suite.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{NaiveDate, TimeDelta};
use diesel::prelude::*;
use hub_domain::Timestamp;
use hub_domain::ids::{BuildId, CleanupRunId, EnvId, JobId, NotificationId, ProjectId, UploadId};
use hub_domain::model::build::{Build, BuildStats, BuildStatus, BuildSummary, pass_rate};
use hub_domain::model::environment::Environment;
use hub_domain::model::job::{GenerationJob, JobState};
use hub_domain::model::names::{DisplayName, Icon};
use hub_domain::model::notification::{Category, Notification, Severity};
use hub_domain::model::overview::{
    BuildTrendPoint, DailyTrend, FailingProject, Overview, OverviewFilter, OverviewSummary,
};
use hub_domain::model::project::Project;
use hub_domain::model::retention::{CleanupRun, CleanupStatus, CleanupTrigger};
use hub_domain::model::upload::{Phase, UploadKind, UploadSession};
use hub_domain::ports::{
    BuildKey, BuildRepo, ChunkRecord, CleanupRunRepo, EnvironmentRepo, JobCounts, JobQueue, NotificationRepo,
    NotificationViewer, OverviewQueries, ProjectRepo, SettingsRepo, UploadSessionRepo,
};
use hub_test_support::contract::SeedBuilds;
use hub_test_support::time::utc;
use serde_json::json;

use super::open_store;
use crate::connection::DatabaseUrl;
use crate::store::Store;

/// Declares each case once per backend, each with a fresh database (PostgreSQL cases skip when none is reachable,
/// unless `ALLURE_HUB_REQUIRE_PG=1`).
macro_rules! on_both_backends {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = super::migrated(crate::connection::DatabaseUrl::Sqlite(dir.path().join("hub.db"))).await;
                    super::$case(&store).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(db) = tokio::task::spawn_blocking(hub_test_support::pg::PgTestDatabase::create)
                        .await
                        .unwrap()
                    else {
                        return;
                    };
                    let store = super::migrated(crate::connection::DatabaseUrl::parse(&db.url).unwrap()).await;
                    super::$case(&store).await;
                    drop(store);
                }
            )+
        }
    };
}

on_both_backends!(
    settings_are_stored_by_name_and_replaced,
    concurrent_first_writes_of_a_setting_all_succeed,
    only_the_newest_cleanup_runs_are_kept,
    read_state_is_per_principal,
    audiences_hide_operational_notifications,
    hiding_is_per_principal_and_final,
    marking_all_read_covers_only_what_the_viewer_sees,
    notifications_are_listed_newest_first_with_ties_by_id,
    pruning_notifications_removes_their_states,
    expired_builds_come_oldest_first_and_continue_after_a_key,
    finished_upload_sessions_are_pruned_with_their_chunks,
    jobs_are_counted_by_state,
    overview_matches_figures_computed_from_the_seed,
    overview_follows_deletions_and_replaced_results,
    overview_of_an_unknown_scope_is_empty,
    totals_are_built_from_builds_saved_before_the_migration,
);

async fn migrated(url: DatabaseUrl) -> Arc<Store> {
    let store = open_store(url).await;
    store.migrate().await.unwrap();
    store
}

// ---- helpers -------------------------------------------------------------------------------------------------------

fn env_id(id: &str) -> EnvId {
    EnvId::parse(id).unwrap()
}

fn project_id(id: &str) -> ProjectId {
    ProjectId::parse(id).unwrap()
}

fn build_id(id: &str) -> BuildId {
    BuildId::parse(id).unwrap()
}

/// A canonical ULID ending in `n`, so ids sort as `n` does.
fn ulid(n: u32) -> String {
    format!("01JR90ABCDEFGHJKMNPQRS{n:04}")
}

fn t(minute: i64) -> Timestamp {
    utc(2026, 4, 7, 10, 0, 0, 0) + TimeDelta::minutes(minute)
}

async fn add_env(store: &Store, id: &str, name: &str) {
    let env = Environment {
        id: env_id(id),
        name: DisplayName::parse(name).unwrap(),
        icon: Icon::default(),
        created_at: t(0),
    };
    EnvironmentRepo::insert(store, &env).await.unwrap();
}

async fn add_project(store: &Store, env: &str, id: &str, name: &str) {
    let project =
        Project { env_id: env_id(env), id: project_id(id), name: DisplayName::parse(name).unwrap(), created_at: t(0) };
    ProjectRepo::insert(store, &project).await.unwrap();
}

/// A build as seeded: where, when, status and outcome counts.
#[derive(Debug, Clone)]
struct Seed {
    env: &'static str,
    project: &'static str,
    build: String,
    at: Timestamp,
    status: BuildStatus,
    passed: i64,
    failed: i64,
    broken: i64,
    skipped: i64,
}

impl Seed {
    fn summary(&self) -> BuildSummary {
        BuildSummary {
            env_id: env_id(self.env),
            project_id: project_id(self.project),
            build_id: build_id(&self.build),
            status: self.status,
            created_at: self.at,
            completed_at: None,
            stats: BuildStats {
                total: self.passed + self.failed + self.broken + self.skipped,
                passed: self.passed,
                failed: self.failed,
                broken: self.broken,
                skipped: self.skipped,
                unknown: 0,
                duration_ms: 1000,
            },
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn seed(
    env: &'static str,
    project: &'static str,
    build: &str,
    at: Timestamp,
    status: BuildStatus,
    passed: i64,
    failed: i64,
    broken: i64,
    skipped: i64,
) -> Seed {
    Seed { env, project, build: build.to_owned(), at, status, passed, failed, broken, skipped }
}

fn ready(env: &'static str, project: &'static str, build: &str, at: Timestamp, counts: [i64; 4]) -> Seed {
    let [passed, failed, broken, skipped] = counts;
    seed(env, project, build, at, BuildStatus::Ready, passed, failed, broken, skipped)
}

fn session(env: &str, project: &str, build: &str, n: u32) -> UploadSession {
    UploadSession {
        id: UploadId::parse(&ulid(n)).unwrap(),
        kind: UploadKind::Chunked,
        env_id: env_id(env),
        project_id: project_id(project),
        build_id: build_id(build),
        file_name: Some("results.zip".into()),
        total_size: Some(300),
        total_chunks: 3,
        received_chunks: 0,
        phase: Phase::Uploading,
        failed_at_phase: None,
        error: None,
        uploaded_by: "apikey:ci".into(),
        owner: "apikey:ci".into(),
        sha256: None,
        report_config: None,
        replace: false,
        started_at: t(0),
        updated_at: t(0),
        completed_at: None,
        report_url: None,
        stats: None,
    }
}

/// The build and queued job that saving `s`'s results creates.
fn saved(s: &UploadSession, at: Timestamp, stats: BuildStats, n: u32) -> (UploadSession, Build, GenerationJob) {
    let build = Build {
        env_id: s.env_id.clone(),
        project_id: s.project_id.clone(),
        build_id: s.build_id.clone(),
        status: BuildStatus::Pending,
        created_at: at,
        completed_at: None,
        uploaded_by: s.uploaded_by.clone(),
        has_report: false,
        stats,
        longest_test_ms: 0,
        quality_gate: None,
        warnings: vec![],
        error: None,
        config: json!({}),
    };
    let job = GenerationJob {
        id: JobId::parse(&ulid(n)).unwrap(),
        env_id: s.env_id.clone(),
        project_id: s.project_id.clone(),
        build_id: s.build_id.clone(),
        upload_id: Some(s.id),
        state: JobState::Queued,
        config: json!({}),
        attempts: 0,
        created_at: at,
        started_at: None,
        finished_at: None,
        error: None,
    };
    let mut generating = s.clone();
    generating.phase = Phase::Generating;
    generating.stats = Some(stats);
    (generating, build, job)
}

// ---- settings and cleanup runs ------------------------------------------------------------------------------------

/// A setting is absent until put; a second put replaces the value.
pub async fn settings_are_stored_by_name_and_replaced(store: &Store) {
    assert_eq!(SettingsRepo::get(store, "disk").await.unwrap(), None);
    store.put("disk", &json!({"thresholdPercent": 85}), t(1)).await.unwrap();
    store.put("retention", &json!({"retentionDays": 30, "dryRun": true}), t(1)).await.unwrap();
    store.put("disk", &json!({"thresholdPercent": 70}), t(2)).await.unwrap();
    assert_eq!(SettingsRepo::get(store, "disk").await.unwrap(), Some(json!({"thresholdPercent": 70})));
    assert_eq!(
        SettingsRepo::get(store, "retention").await.unwrap(),
        Some(json!({"retentionDays": 30, "dryRun": true})),
        "other names are untouched"
    );
}

/// Racing first writes of one name do not fail on the primary key: one value wins.
pub async fn concurrent_first_writes_of_a_setting_all_succeed(store: &Store) {
    let store = Arc::new(store.clone());
    let writers: Vec<_> = (0..6)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.put("allure", &json!({"version": i}), t(i)).await })
        })
        .collect();
    for w in writers {
        w.await.unwrap().unwrap();
    }
    let stored = SettingsRepo::get(store.as_ref(), "allure").await.unwrap().unwrap();
    assert!((0..6).any(|i| stored == json!({"version": i})), "{stored}");
}

fn run(n: u32, minute: i64, status: CleanupStatus) -> CleanupRun {
    CleanupRun {
        id: CleanupRunId::parse(&ulid(n)).unwrap(),
        started_at: t(minute),
        finished_at: t(minute) + TimeDelta::milliseconds(1250),
        status,
        trigger: if n.is_multiple_of(2) { CleanupTrigger::Schedule } else { CleanupTrigger::Manual },
        deleted_count: i64::from(n),
        skipped_count: 1,
        freed_bytes: 1 << 33,
        dry_run: n == 3,
        error_message: (status == CleanupStatus::Failed).then(|| format!("sweep {n} could not list builds")),
    }
}

/// Each record keeps only the newest `keep` by start time, whatever the order they were recorded in.
pub async fn only_the_newest_cleanup_runs_are_kept(store: &Store) {
    // Recorded out of start order: the 7th run recorded started earliest.
    let minutes = [10, 20, 30, 40, 50, 60, 5];
    let runs: Vec<CleanupRun> = minutes
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let n = u32::try_from(i).unwrap() + 1;
            run(n, *m, if n == 4 { CleanupStatus::Failed } else { CleanupStatus::Success })
        })
        .collect();
    for r in &runs {
        store.record(r, 5).await.unwrap();
    }
    let listed = CleanupRunRepo::list(store).await.unwrap();
    let started: Vec<Timestamp> = listed.iter().map(|r| r.started_at).collect();
    assert_eq!(started, [t(60), t(50), t(40), t(30), t(20)], "newest five, newest first");
    assert_eq!(listed[2], runs[3], "every field round-trips, the error message too");
    assert_eq!(CleanupRunRepo::get(store, runs[2].id).await.unwrap().as_ref(), Some(&runs[2]));
    assert_eq!(CleanupRunRepo::get(store, runs[0].id).await.unwrap(), None, "the oldest was pruned");
    assert_eq!(CleanupRunRepo::get(store, runs[6].id).await.unwrap(), None, "recorded last but started first");
    store.record(&run(9, 70, CleanupStatus::Success), 2).await.unwrap();
    assert_eq!(CleanupRunRepo::list(store).await.unwrap().len(), 2);
}

// ---- notifications ------------------------------------------------------------------------------------------------

fn note(n: u32, minute: i64, category: Category) -> Notification {
    Notification {
        id: NotificationId::parse(&ulid(n)).unwrap(),
        title: format!("Report ready: b{n}"),
        body: "Checkout in Staging: 1 passed, 0 failed, 0 skipped.".into(),
        category,
        severity: if category == Category::Upload { Severity::Success } else { Severity::Warning },
        payload: json!({"build_id": format!("b{n}"), "total": n}),
        created_at: t(minute),
    }
}

fn viewer(principal: &str, operational: bool) -> NotificationViewer {
    NotificationViewer { principal: principal.into(), operational }
}

fn listed_ids(views: &[hub_domain::model::notification::NotificationView]) -> Vec<(u32, bool)> {
    views
        .iter()
        .map(|v| {
            let id = v.notification.id.to_string();
            (id[id.len() - 4..].parse().unwrap(), v.read)
        })
        .collect()
}

async fn insert_notes(store: &Store, notes: &[Notification]) {
    for n in notes {
        NotificationRepo::insert(store, n).await.unwrap();
    }
}

/// Reading marks a notification for that principal only; marking twice changes nothing.
pub async fn read_state_is_per_principal(store: &Store) {
    let notes = [note(1, 1, Category::Upload), note(2, 2, Category::Upload), note(3, 3, Category::Upload)];
    insert_notes(store, &notes).await;
    let (alice, bob) = (viewer("user:alice@example.com", false), viewer("user:bob@example.com", true));
    assert!(store.mark_read(&alice, notes[1].id, t(10)).await.unwrap());
    assert!(store.mark_read(&alice, notes[1].id, t(11)).await.unwrap(), "idempotent");
    assert_eq!(
        listed_ids(&NotificationRepo::list(store, &alice, false, 0).await.unwrap()),
        [(3, false), (2, true), (1, false)]
    );
    assert_eq!(listed_ids(&NotificationRepo::list(store, &alice, true, 0).await.unwrap()), [(3, false), (1, false)]);
    assert_eq!(
        listed_ids(&NotificationRepo::list(store, &bob, false, 0).await.unwrap()),
        [(3, false), (2, false), (1, false)]
    );
    assert_eq!(store.unread_count(&alice).await.unwrap(), 2);
    assert_eq!(store.unread_count(&bob).await.unwrap(), 3);
    // An API key is a principal of its own.
    let key = viewer("apikey:01JR8X7Q2M5N9P3V4W6Y8Z0ABC", false);
    assert!(store.mark_read(&key, notes[0].id, t(12)).await.unwrap());
    assert_eq!((store.unread_count(&key).await.unwrap(), store.unread_count(&alice).await.unwrap()), (2, 2));
    let whole = &NotificationRepo::list(store, &alice, false, 1).await.unwrap()[0].notification;
    assert_eq!(whole, &notes[2], "every field round-trips");
    assert!(!store.mark_read(&alice, NotificationId::parse(&ulid(99)).unwrap(), t(13)).await.unwrap(), "unknown");
}

/// Operational categories exist only for viewers holding `manage`.
pub async fn audiences_hide_operational_notifications(store: &Store) {
    let notes = [
        note(1, 1, Category::Upload),
        note(2, 2, Category::Disk),
        note(3, 3, Category::Retention),
        note(4, 4, Category::Allure),
    ];
    insert_notes(store, &notes).await;
    let (viewer_only, admin) = (viewer("user:v@example.com", false), viewer("user:a@example.com", true));
    assert_eq!(listed_ids(&NotificationRepo::list(store, &viewer_only, false, 0).await.unwrap()), [(1, false)]);
    assert_eq!(store.unread_count(&viewer_only).await.unwrap(), 1);
    assert!(!store.mark_read(&viewer_only, notes[1].id, t(10)).await.unwrap(), "outside the audience");
    assert!(!store.hide(&viewer_only, notes[2].id, t(10)).await.unwrap(), "outside the audience");
    assert_eq!(store.unread_count(&admin).await.unwrap(), 4);
    assert!(store.mark_read(&admin, notes[1].id, t(10)).await.unwrap());
    assert_eq!(
        listed_ids(&NotificationRepo::list(store, &admin, false, 0).await.unwrap()),
        [(4, false), (3, false), (2, true), (1, false)]
    );
}

/// A hidden notification no longer exists for that principal, and still does for everyone else.
pub async fn hiding_is_per_principal_and_final(store: &Store) {
    let notes = [note(1, 1, Category::Upload), note(2, 2, Category::Upload)];
    insert_notes(store, &notes).await;
    let (alice, bob) = (viewer("user:alice@example.com", false), viewer("user:bob@example.com", false));
    assert!(store.mark_read(&alice, notes[0].id, t(5)).await.unwrap());
    assert!(store.hide(&alice, notes[0].id, t(6)).await.unwrap(), "a read one can be hidden");
    assert!(store.hide(&alice, notes[1].id, t(6)).await.unwrap(), "so can an unread one, without a state yet");
    assert!(NotificationRepo::list(store, &alice, false, 0).await.unwrap().is_empty());
    assert_eq!(store.unread_count(&alice).await.unwrap(), 0);
    assert!(!store.hide(&alice, notes[0].id, t(7)).await.unwrap(), "already gone for alice");
    assert!(!store.mark_read(&alice, notes[1].id, t(7)).await.unwrap(), "already gone for alice");
    store.mark_all_read(&alice, t(8)).await.unwrap();
    assert!(NotificationRepo::list(store, &alice, false, 0).await.unwrap().is_empty(), "marking does not unhide");
    assert_eq!(listed_ids(&NotificationRepo::list(store, &bob, false, 0).await.unwrap()), [(2, false), (1, false)]);
    assert_eq!(store.unread_count(&bob).await.unwrap(), 2);
}

/// Marking all read writes read state for everything the viewer sees (with or without a state row), nothing
/// else: other principals, notifications outside the audience and later ones stay unread.
pub async fn marking_all_read_covers_only_what_the_viewer_sees(store: &Store) {
    let notes = [
        note(1, 1, Category::Upload),
        note(2, 2, Category::Upload),
        note(3, 3, Category::Disk),
        note(4, 4, Category::Upload),
        note(5, 5, Category::Upload),
    ];
    insert_notes(store, &notes).await;
    let (alice, bob, admin) = (
        viewer("user:alice@example.com", false),
        viewer("user:bob@example.com", false),
        viewer("user:admin@example.com", true),
    );
    assert!(store.mark_read(&alice, notes[0].id, t(10)).await.unwrap());
    assert!(store.hide(&alice, notes[3].id, t(10)).await.unwrap());
    store.mark_all_read(&alice, t(11)).await.unwrap();
    assert_eq!(
        listed_ids(&NotificationRepo::list(store, &alice, false, 0).await.unwrap()),
        [(5, true), (2, true), (1, true)]
    );
    assert_eq!(store.unread_count(&alice).await.unwrap(), 0);
    store.mark_all_read(&alice, t(12)).await.unwrap();
    assert_eq!(store.unread_count(&bob).await.unwrap(), 4);
    assert_eq!(store.unread_count(&admin).await.unwrap(), 5);
    // The disk notification became visible to nobody new: an operational viewer still has it unread.
    store.mark_all_read(&admin, t(13)).await.unwrap();
    assert_eq!(store.unread_count(&admin).await.unwrap(), 0);
    insert_notes(store, &[note(6, 6, Category::Upload)]).await;
    assert_eq!(store.unread_count(&alice).await.unwrap(), 1, "a later notification is unread");
    assert_eq!(listed_ids(&NotificationRepo::list(store, &alice, true, 0).await.unwrap()), [(6, false)]);
}

/// Newest first, ties by id descending; a limit caps the list and 0 means none.
pub async fn notifications_are_listed_newest_first_with_ties_by_id(store: &Store) {
    insert_notes(
        store,
        &[
            note(1, 5, Category::Upload),
            note(3, 5, Category::Upload),
            note(2, 5, Category::Upload),
            note(4, 1, Category::Upload),
            note(5, 9, Category::Upload),
        ],
    )
    .await;
    let v = viewer("user:alice@example.com", false);
    let ids = |views: Vec<_>| listed_ids(&views).into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    assert_eq!(ids(NotificationRepo::list(store, &v, false, 0).await.unwrap()), [5, 3, 2, 1, 4]);
    assert_eq!(ids(NotificationRepo::list(store, &v, false, 3).await.unwrap()), [5, 3, 2]);
    assert!(store.mark_read(&v, NotificationId::parse(&ulid(3)).unwrap(), t(20)).await.unwrap());
    assert_eq!(
        ids(NotificationRepo::list(store, &v, true, 2).await.unwrap()),
        [5, 2],
        "the limit applies after the filter"
    );
}

/// Pruning deletes notifications created before the cut and everyone's state for them.
pub async fn pruning_notifications_removes_their_states(store: &Store) {
    let notes = [note(1, 1, Category::Upload), note(2, 2, Category::Disk), note(3, 3, Category::Upload)];
    insert_notes(store, &notes).await;
    let (alice, admin) = (viewer("user:alice@example.com", false), viewer("user:admin@example.com", true));
    store.mark_all_read(&alice, t(5)).await.unwrap();
    assert!(store.hide(&admin, notes[1].id, t(5)).await.unwrap());
    assert_eq!(store.prune(t(3)).await.unwrap(), 2, "created before minute 3");
    assert_eq!(store.prune(t(3)).await.unwrap(), 0);
    assert_eq!(listed_ids(&NotificationRepo::list(store, &alice, false, 0).await.unwrap()), [(3, true)]);
    assert_eq!(listed_ids(&NotificationRepo::list(store, &admin, false, 0).await.unwrap()), [(3, false)]);
    let states: i64 = store
        .run(|conn| {
            crate::schema::notification_states::table.count().get_result(conn).map_err(crate::errors::from_diesel)
        })
        .await
        .unwrap();
    assert_eq!(states, 1, "only alice's state of the remaining notification is left");
}

// ---- retention queries and job counts -----------------------------------------------------------------------------

/// Only `ready` and `failed` builds created strictly before the cut, oldest first, ties by environment, project and
/// build id; a listing continues after the last key it returned.
pub async fn expired_builds_come_oldest_first_and_continue_after_a_key(store: &Store) {
    add_env(store, "other", "Other").await;
    for (env, project) in [("default", "p"), ("default", "q"), ("other", "p")] {
        add_project(store, env, project, "P").await;
    }
    let cutoff = t(0);
    let day = |d: i64| cutoff + TimeDelta::days(d);
    let seeds = [
        seed("other", "p", "b1", day(-3), BuildStatus::Failed, 1, 0, 0, 0),
        seed("default", "q", "b1", day(-3), BuildStatus::Ready, 1, 0, 0, 0),
        seed("default", "p", "b1", day(-3), BuildStatus::Ready, 1, 0, 0, 0),
        seed("default", "p", "b0", day(-3), BuildStatus::Ready, 1, 0, 0, 0),
        seed("default", "p", "b2", day(-2), BuildStatus::Pending, 1, 0, 0, 0),
        seed("default", "p", "b3", day(-2), BuildStatus::Generating, 1, 0, 0, 0),
        seed("default", "p", "b4", day(-1), BuildStatus::Failed, 1, 0, 0, 0),
        seed("default", "p", "b5", cutoff, BuildStatus::Ready, 1, 0, 0, 0),
        seed("default", "p", "b6", day(1), BuildStatus::Ready, 1, 0, 0, 0),
    ];
    for s in &seeds {
        store.seed_build(&s.summary()).await;
    }
    let key = |b: &Build| (b.env_id.to_string(), b.project_id.to_string(), b.build_id.to_string());
    let expected = [
        ("default", "p", "b0"),
        ("default", "p", "b1"),
        ("default", "q", "b1"),
        ("other", "p", "b1"),
        ("default", "p", "b4"),
    ]
    .map(|(e, p, b)| (e.to_owned(), p.to_owned(), b.to_owned()));
    let all: Vec<_> = store.expired(cutoff, None, 100).await.unwrap().iter().map(key).collect();
    assert_eq!(all, expected);
    let mut after = None;
    let mut pages = Vec::new();
    loop {
        let page = store.expired(cutoff, after.clone(), 2).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(BuildKey {
            created_at: last.created_at,
            env: last.env_id.clone(),
            project: last.project_id.clone(),
            build: last.build_id.clone(),
        });
        pages.push(page.iter().map(key).collect::<Vec<_>>());
    }
    assert_eq!(pages, [expected[0..2].to_vec(), expected[2..4].to_vec(), expected[4..].to_vec()]);
    let first = &store.expired(cutoff, None, 1).await.unwrap()[0];
    assert_eq!((first.status, first.stats.passed, first.created_at), (BuildStatus::Ready, 1, day(-3)), "full rows");
}

/// Sessions `done` or `failed` completed before the cut go, with any chunk records; the others stay.
pub async fn finished_upload_sessions_are_pruned_with_their_chunks(store: &Store) {
    add_project(store, "default", "p", "P").await;
    let cutoff = t(0);
    let finished = |n: u32, phase: Phase, completed: Option<Timestamp>| {
        let mut s = session("default", "p", &format!("b{n}"), n);
        s.phase = phase;
        s.completed_at = completed;
        s
    };
    let sessions = [
        finished(1, Phase::Done, Some(cutoff - TimeDelta::days(2))),
        finished(2, Phase::Failed, Some(cutoff - TimeDelta::milliseconds(1))),
        finished(3, Phase::Done, Some(cutoff)),
        finished(4, Phase::Uploading, None),
        finished(5, Phase::Failed, Some(cutoff - TimeDelta::days(3))),
        finished(6, Phase::Generating, None),
        finished(7, Phase::Failed, Some(cutoff + TimeDelta::days(1))),
    ];
    for s in &sessions {
        let mut receiving = s.clone();
        receiving.phase = Phase::Uploading;
        receiving.completed_at = None;
        UploadSessionRepo::insert(store, &receiving).await.unwrap();
        if matches!(s.build_id.as_str(), "b4" | "b5") {
            store.put_chunk(s.id, ChunkRecord { index: 0, size: 100 }, t(-1)).await.unwrap();
        }
        assert!(UploadSessionRepo::update(store, s).await.unwrap());
    }
    assert_eq!(store.prune_finished(cutoff).await.unwrap(), 3);
    let left: Vec<String> = UploadSessionRepo::list(store, hub_domain::ports::UploadFilter::default(), 100)
        .await
        .unwrap()
        .iter()
        .map(|s| s.build_id.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(left, ["b3", "b4", "b6", "b7"]);
    let chunk_owners: Vec<String> = store
        .run(|conn| {
            crate::schema::upload_chunks::table
                .select(crate::schema::upload_chunks::upload_id)
                .load(conn)
                .map_err(crate::errors::from_diesel)
        })
        .await
        .unwrap();
    assert_eq!(chunk_owners, [sessions[3].id.to_string()], "the pruned session's chunk record went with it");
}

/// Queued and running jobs are counted apart; finished ones not at all.
pub async fn jobs_are_counted_by_state(store: &Store) {
    assert_eq!(store.counts().await.unwrap(), JobCounts { queued: 0, running: 0 });
    let stats = BuildStats { total: 1, passed: 1, ..BuildStats::default() };
    for (n, project) in [(1, "p"), (2, "q"), (3, "r")] {
        add_project(store, "default", project, "P").await;
        let s = session("default", project, "b1", n);
        UploadSessionRepo::insert(store, &s).await.unwrap();
        let (generating, build, job) = saved(&s, t(i64::from(n)), stats, n + 10);
        store.save_results(&generating, &build, &job).await.unwrap();
    }
    assert_eq!(store.counts().await.unwrap(), JobCounts { queued: 3, running: 0 });
    let claimed = store.claim_next(2, t(5)).await.unwrap().unwrap();
    store.claim_next(2, t(5)).await.unwrap().unwrap();
    assert_eq!(store.counts().await.unwrap(), JobCounts { queued: 1, running: 2 });
    let outcome =
        hub_domain::ports::JobOutcome { finished_at: t(6), result: Ok(None), warnings: vec![], quality_gate: None };
    store.finish(&claimed, &outcome).await.unwrap();
    assert_eq!(store.counts().await.unwrap(), JobCounts { queued: 1, running: 1 });
}

// ---- overview -----------------------------------------------------------------------------------------------------

/// The day the overview cases call today.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 4, 7).unwrap()
}

/// `days_ago` days before today at the given UTC time of day.
fn at(days_ago: i64, h: u32, m: u32, s: u32, ms: u32) -> Timestamp {
    utc(2026, 4, 7, h, m, s, ms) - TimeDelta::days(days_ago)
}

/// Environments (id, name) and projects (env, id, name) of the overview dataset; `default` exists already.
const ENVS: [(&str, &str); 3] = [("alpha", "Alpha"), ("beta", "Beta"), ("gamma", "Gamma")];
const PROJECTS: [(&str, &str, &str); 10] = [
    ("alpha", "web", "Web Shop"),
    ("alpha", "api", "Public API"),
    ("beta", "web", "Web Shop (beta)"),
    ("beta", "mobile", "Mobile App"),
    ("gamma", "p1", "P1"),
    ("gamma", "p2", "P2"),
    ("gamma", "p3", "P3"),
    ("gamma", "p4", "P4"),
    ("gamma", "p5", "P5"),
    ("gamma", "p6", "P6"),
];

/// Builds across days: today (its first and last millisecond), the window's first day (today − 29), just outside
/// it (30, 31 days ago) and long before; every status; failed and broken; equal creation times across projects;
/// more builds than the trend holds; more failing projects than the top list holds, with equal failure totals.
fn overview_seed() -> Vec<Seed> {
    use BuildStatus::{Failed, Generating, Pending};
    let mut seeds = vec![
        ready("alpha", "web", "w1", at(45, 10, 0, 0, 0), [10, 2, 1, 1]),
        ready("alpha", "web", "w2", at(31, 23, 59, 59, 999), [8, 0, 0, 2]),
        ready("alpha", "web", "w3", at(30, 0, 0, 0, 0), [5, 1, 0, 0]),
        ready("alpha", "web", "w4", at(29, 0, 0, 0, 0), [7, 1, 1, 0]),
        seed("alpha", "web", "w5", at(3, 12, 0, 0, 0), Failed, 9, 0, 2, 1),
        seed("alpha", "web", "w6", at(0, 0, 0, 0, 0), Pending, 11, 1, 0, 0),
        seed("alpha", "web", "w7", at(0, 23, 59, 59, 999), Generating, 4, 0, 0, 3),
        ready("alpha", "api", "a1", at(10, 8, 0, 0, 0), [20, 3, 0, 0]),
        ready("alpha", "api", "a2", at(3, 12, 0, 0, 0), [15, 1, 1, 2]),
        ready("alpha", "api", "a3", at(1, 9, 30, 0, 0), [0, 0, 0, 0]),
        ready("beta", "web", "b1", at(60, 7, 0, 0, 0), [30, 3, 2, 0]),
        ready("beta", "web", "b2", at(2, 7, 0, 0, 0), [12, 0, 0, 0]),
        ready("beta", "web", "b3", at(0, 8, 0, 0, 0), [13, 0, 0, 1]),
        ready("beta", "mobile", "m1", at(0, 8, 0, 0, 0), [6, 0, 0, 0]),
    ];
    for i in 0..20_i64 {
        let days_ago = 4 + i;
        seeds.push(ready("beta", "mobile", &format!("m-{i:02}"), at(days_ago, 6, 0, 0, 0), [i, 0, 0, 1]));
    }
    for (k, project) in ["p1", "p2", "p3", "p4", "p5", "p6"].into_iter().enumerate() {
        let k = i64::try_from(k).unwrap() + 1;
        seeds.push(ready("gamma", project, "g1", at(40, 12, 0, 0, 0), [1, k, 0, 0]));
    }
    seeds
}

async fn seed_overview(store: &Store, seeds: &[Seed]) {
    for (id, name) in ENVS {
        add_env(store, id, name).await;
    }
    for (env, id, name) in PROJECTS {
        add_project(store, env, id, name).await;
    }
    for s in seeds {
        store.seed_build(&s.summary()).await;
    }
}

/// What the overview must say about `seeds`, computed in plain Rust from the seed list.
fn expected_overview(
    seeds: &[Seed],
    envs: &[(&str, &str)],
    projects: &[(&str, &str, &str)],
    filter: (Option<&str>, Option<&str>),
) -> Overview {
    let (env, project) = filter;
    let in_scope = |e: &str, p: &str| env.is_none_or(|x| x == e) && project.is_none_or(|x| x == p);
    let scoped: Vec<&Seed> = seeds.iter().filter(|s| in_scope(s.env, s.project)).collect();
    let failed = |s: &Seed| s.failed + s.broken;
    let total_passed: i64 = scoped.iter().map(|s| s.passed).sum();
    let total_failed: i64 = scoped.iter().map(|s| failed(s)).sum();
    let summary = OverviewSummary {
        total_environments: match env {
            Some(e) => i64::from(envs.iter().any(|(id, _)| *id == e)),
            None => i64::try_from(envs.len()).unwrap(),
        },
        total_projects: i64::try_from(projects.iter().filter(|(e, p, _)| in_scope(e, p)).count()).unwrap(),
        total_builds: i64::try_from(scoped.len()).unwrap(),
        total_passed,
        total_failed,
        overall_pass_rate: pass_rate(total_passed, total_failed),
    };
    let daily_trends = (0..30)
        .rev()
        .map(|ago| {
            let date = today() - TimeDelta::days(ago);
            let day: Vec<&&Seed> = scoped.iter().filter(|s| s.at.date_naive() == date).collect();
            DailyTrend {
                date,
                passed: day.iter().map(|s| s.passed).sum(),
                failed: day.iter().map(|s| failed(s)).sum(),
                skipped: day.iter().map(|s| s.skipped).sum(),
                build_count: i64::try_from(day.len()).unwrap(),
            }
        })
        .collect();
    let mut per_project: BTreeMap<(&str, &str), (i64, i64, i64)> = BTreeMap::new();
    for s in &scoped {
        let entry = per_project.entry((s.env, s.project)).or_default();
        *entry = (entry.0 + 1, entry.1 + s.passed, entry.2 + failed(s));
    }
    let mut failing: Vec<_> = per_project.into_iter().filter(|(_, v)| v.2 > 0).collect();
    failing.sort_by(|a, b| b.1.2.cmp(&a.1.2).then(a.0.0.cmp(b.0.0)).then(a.0.1.cmp(b.0.1)));
    let name_of = |e: &str, p: &str| projects.iter().find(|x| x.0 == e && x.1 == p).unwrap().2.to_owned();
    let env_name = |e: &str| envs.iter().find(|x| x.0 == e).unwrap().1.to_owned();
    let top_failing_projects = failing
        .into_iter()
        .take(5)
        .map(|((e, p), (builds, passed, failed))| FailingProject {
            env_id: env_id(e),
            project_id: project_id(p),
            project_name: name_of(e, p),
            env_name: env_name(e),
            total_failed: failed,
            total_builds: builds,
            pass_rate: pass_rate(passed, failed),
        })
        .collect();
    let mut newest = scoped.clone();
    newest.sort_by(|a, b| {
        b.at.cmp(&a.at).then(b.env.cmp(a.env)).then(b.project.cmp(a.project)).then(b.build.cmp(&a.build))
    });
    newest.truncate(30);
    let project_build_trend = newest
        .iter()
        .rev()
        .map(|s| BuildTrendPoint {
            build_id: build_id(&s.build),
            env_id: env_id(s.env),
            project_id: project_id(s.project),
            created_at: s.at,
            passed: s.passed,
            failed: failed(s),
            skipped: s.skipped,
        })
        .collect();
    // Full rows as stored by the seeding: compared field by field against what the store returns.
    let recent_builds = newest
        .iter()
        .take(10)
        .map(|s| {
            let sum = s.summary();
            Build {
                env_id: sum.env_id,
                project_id: sum.project_id,
                build_id: sum.build_id,
                status: sum.status,
                created_at: sum.created_at,
                completed_at: None,
                uploaded_by: "apikey:test".into(),
                has_report: false,
                stats: sum.stats,
                longest_test_ms: 0,
                quality_gate: None,
                warnings: vec![],
                error: None,
                config: json!({}),
            }
        })
        .collect();
    Overview { summary, daily_trends, top_failing_projects, recent_builds, project_build_trend }
}

fn filter(env: Option<&str>, project: Option<&str>) -> OverviewFilter {
    OverviewFilter { env_id: env.map(env_id), project_id: project.map(project_id) }
}

/// All environments, `default` included.
fn all_envs() -> Vec<(&'static str, &'static str)> {
    let mut envs = vec![("default", "Default")];
    envs.extend(ENVS);
    envs
}

async fn assert_overview(
    store: &Store,
    seeds: &[Seed],
    projects: &[(&str, &str, &str)],
    scope: (Option<&str>, Option<&str>),
) {
    let envs = all_envs();
    let expected = expected_overview(seeds, &envs, projects, scope);
    let actual = store.overview(&filter(scope.0, scope.1), today()).await.unwrap();
    assert_eq!(actual.summary, expected.summary, "summary of {scope:?}");
    assert_eq!(actual.daily_trends, expected.daily_trends, "daily trends of {scope:?}");
    assert_eq!(actual.top_failing_projects, expected.top_failing_projects, "top failing of {scope:?}");
    assert_eq!(actual.project_build_trend, expected.project_build_trend, "trend of {scope:?}");
    assert_eq!(actual.recent_builds, expected.recent_builds, "recent builds of {scope:?}");
}

/// Every figure of the overview, in every kind of scope, equals what the seed says.
pub async fn overview_matches_figures_computed_from_the_seed(store: &Store) {
    let seeds = overview_seed();
    seed_overview(store, &seeds).await;
    // The dataset exercises what it claims to: a tie in the top list and a top list cut at five.
    let unfiltered = expected_overview(&seeds, &all_envs(), &PROJECTS, (None, None));
    let failed: Vec<i64> = unfiltered.top_failing_projects.iter().map(|p| p.total_failed).collect();
    assert_eq!(failed, [9, 6, 5, 5, 5], "three projects tie at 5 and a sixth failing one is cut");
    assert_eq!(unfiltered.project_build_trend.len(), 30);
    assert_eq!(unfiltered.daily_trends[0].build_count, 1, "the window's first day has w4");
    assert_eq!(unfiltered.daily_trends[29].build_count, 4, "today: w6, w7, b3, m1");
    assert_eq!(unfiltered.summary.total_environments, 4);
    for scope in [
        (None, None),
        (Some("alpha"), None),
        (Some("beta"), None),
        (Some("alpha"), Some("web")),
        (Some("beta"), Some("mobile")),
        (None, Some("web")),
        (None, Some("p3")),
        (Some("default"), None),
    ] {
        assert_overview(store, &seeds, &PROJECTS, scope).await;
    }
    assert_env_days_sum_project_days(store).await;
    // The project stats read the same totals.
    let stats = store.stats(&env_id("alpha"), &project_id("web")).await.unwrap();
    let web: Vec<&Seed> = seeds.iter().filter(|s| s.env == "alpha" && s.project == "web").collect();
    assert_eq!(
        (stats.total_builds, stats.total_passed, stats.total_failed, stats.total_skipped),
        (
            i64::try_from(web.len()).unwrap(),
            web.iter().map(|s| s.passed).sum(),
            web.iter().map(|s| s.failed + s.broken).sum(),
            web.iter().map(|s| s.skipped).sum()
        )
    );
}

/// A filter that matches nothing gives zeros, 30 empty days and empty lists.
pub async fn overview_of_an_unknown_scope_is_empty(store: &Store) {
    let seeds = overview_seed();
    seed_overview(store, &seeds).await;
    for scope in [(Some("ghost"), None), (Some("alpha"), Some("mobile")), (None, Some("ghost"))] {
        assert_overview(store, &seeds, &PROJECTS, scope).await;
        let o = store.overview(&filter(scope.0, scope.1), today()).await.unwrap();
        assert_eq!((o.summary.total_builds, o.summary.overall_pass_rate, o.daily_trends.len()), (0, 0, 30));
        assert!(o.recent_builds.is_empty() && o.project_build_trend.is_empty() && o.top_failing_projects.is_empty());
    }
    let empty_project = store.stats(&env_id("default"), &project_id("none")).await.unwrap();
    assert_eq!((empty_project.total_builds, empty_project.total_passed), (0, 0));
}

/// The running totals follow every way builds change: deletion, replaced results (a new upload of the same build
/// id), and the cascades of deleting a project or an environment.
pub async fn overview_follows_deletions_and_replaced_results(store: &Store) {
    let mut seeds = overview_seed();
    seed_overview(store, &seeds).await;
    let mut projects = PROJECTS.to_vec();

    // A build deleted through the port.
    let deleted = BuildRepo::delete(store, &env_id("alpha"), &project_id("web"), &build_id("w4")).await.unwrap();
    assert!(matches!(deleted, hub_domain::ports::BuildDeletion::Deleted { .. }));
    seeds.retain(|s| s.build != "w4");

    // A replacing upload of a2 moves it to today with new figures.
    let mut s = session("alpha", "api", "a2", 1);
    s.replace = true;
    UploadSessionRepo::insert(store, &s).await.unwrap();
    let stats = BuildStats { total: 10, passed: 3, failed: 4, broken: 2, skipped: 1, unknown: 0, duration_ms: 5 };
    let (generating, build, job) = saved(&s, at(0, 9, 0, 0, 0), stats, 2);
    store.save_results(&generating, &build, &job).await.unwrap();
    let a2 = seeds.iter_mut().find(|s| s.build == "a2").unwrap();
    (a2.at, a2.status, a2.passed, a2.failed, a2.broken, a2.skipped) =
        (at(0, 9, 0, 0, 0), BuildStatus::Pending, 3, 4, 2, 1);

    // A project and an environment deleted with everything under them.
    assert!(ProjectRepo::delete(store, &env_id("beta"), &project_id("web")).await.unwrap());
    seeds.retain(|s| !(s.env == "beta" && s.project == "web"));
    projects.retain(|p| !(p.0 == "beta" && p.1 == "web"));
    assert!(EnvironmentRepo::delete(store, &env_id("gamma")).await.unwrap());
    seeds.retain(|s| s.env != "gamma");
    projects.retain(|p| p.0 != "gamma");

    let envs: Vec<(&str, &str)> = all_envs().into_iter().filter(|e| e.0 != "gamma").collect();
    for scope in [(None, None), (Some("alpha"), None), (None, Some("web")), (Some("alpha"), Some("api"))] {
        let mut expected = expected_overview(&seeds, &envs, &projects, scope);
        let actual = store.overview(&filter(scope.0, scope.1), today()).await.unwrap();
        // The replaced build's row now carries what the upload stored, beyond the seeded columns.
        for (e, a) in expected.recent_builds.iter_mut().zip(&actual.recent_builds) {
            if e.build_id.as_str() == "a2" {
                *e = build.clone();
            }
            assert_eq!(e, a, "recent build of {scope:?}");
        }
        assert_eq!(actual.recent_builds.len(), expected.recent_builds.len());
        assert_eq!(
            (actual.summary, &actual.daily_trends, &actual.top_failing_projects, &actual.project_build_trend),
            (expected.summary, &expected.daily_trends, &expected.top_failing_projects, &expected.project_build_trend),
            "{scope:?}"
        );
    }
    // Nothing is left over for what was deleted, and the environments' days are the sums of their projects' days.
    let (totals, days, env_days): (i64, i64, i64) = store
        .run(|conn| {
            use crate::schema::{build_days, build_env_days, build_totals};
            let totals = build_totals::table
                .filter(
                    build_totals::env_id
                        .eq("gamma")
                        .or(build_totals::project_id.eq("web").and(build_totals::env_id.eq("beta"))),
                )
                .count()
                .get_result(conn)
                .map_err(crate::errors::from_diesel)?;
            let days = build_days::table
                .filter(build_days::build_count.le(0))
                .count()
                .get_result(conn)
                .map_err(crate::errors::from_diesel)?;
            let env_days = build_env_days::table
                .filter(build_env_days::build_count.le(0).or(build_env_days::env_id.eq("gamma")))
                .count()
                .get_result(conn)
                .map_err(crate::errors::from_diesel)?;
            Ok((totals, days, env_days))
        })
        .await
        .unwrap();
    assert_eq!((totals, days, env_days), (0, 0, 0));
    assert_env_days_sum_project_days(store).await;
}

/// Every row of the per-environment rollup equals the sum of its environment's per-project rows of that day, and
/// no day is missing from either side.
async fn assert_env_days_sum_project_days(store: &Store) {
    type Day = (String, String, i64, i64, i64, i64);
    let (mut rollup, projects): (Vec<Day>, Vec<Day>) = store
        .run(|conn| {
            use crate::schema::{build_days, build_env_days};
            let rollup = build_env_days::table
                .select((
                    build_env_days::env_id,
                    build_env_days::day,
                    build_env_days::build_count,
                    build_env_days::passed,
                    build_env_days::failed,
                    build_env_days::skipped,
                ))
                .load(conn)
                .map_err(crate::errors::from_diesel)?;
            let projects = build_days::table
                .select((
                    build_days::env_id,
                    build_days::day,
                    build_days::build_count,
                    build_days::passed,
                    build_days::failed,
                    build_days::skipped,
                ))
                .load(conn)
                .map_err(crate::errors::from_diesel)?;
            Ok((rollup, projects))
        })
        .await
        .unwrap();
    let mut summed: std::collections::BTreeMap<(String, String), (i64, i64, i64, i64)> = Default::default();
    for (env, day, builds, passed, failed, skipped) in projects {
        let entry = summed.entry((env, day)).or_default();
        *entry = (entry.0 + builds, entry.1 + passed, entry.2 + failed, entry.3 + skipped);
    }
    let summed: Vec<Day> = summed.into_iter().map(|((env, day), (b, p, f, s))| (env, day, b, p, f, s)).collect();
    rollup.sort();
    assert!(!summed.is_empty());
    assert_eq!(rollup, summed);
}

/// Builds saved before the totals existed are counted by the migration that adds them.
pub async fn totals_are_built_from_builds_saved_before_the_migration(store: &Store) {
    // `store` is fully migrated; this case needs a database stopped before the overview migration, so it makes
    // one of the same backend next to it.
    let sqlite = store.run(|conn| Ok(matches!(conn, crate::connection::AnyConnection::Sqlite(_)))).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pg = if sqlite {
        None
    } else {
        tokio::task::spawn_blocking(hub_test_support::pg::PgTestDatabase::create).await.unwrap()
    };
    let url = match &pg {
        Some(db) => DatabaseUrl::parse(&db.url).unwrap(),
        None => DatabaseUrl::Sqlite(dir.path().join("old.db")),
    };
    let old = open_store(url).await;
    old.run(|conn| crate::migrations::run_first(conn, 2).map_err(|e| hub_domain::ports::StoreError::Internal(e.0)))
        .await
        .unwrap();
    let seeds = overview_seed();
    seed_overview(&old, &seeds).await;
    // The overview's totals, then the per-environment days.
    assert_eq!(old.migrate().await.unwrap().len(), 2);
    for scope in [(None, None), (Some("beta"), None), (None, Some("web"))] {
        assert_overview(&old, &seeds, &PROJECTS, scope).await;
    }
    assert_env_days_sum_project_days(&old).await;
    drop(old);
}
