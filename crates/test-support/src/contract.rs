//! The repository contract suite: what every store adapter must do, written against the domain's ports only,
//! and run unchanged against each backend through [`store_contract_tests!`](crate::store_contract_tests).

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use hub_domain::Timestamp;
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::model::build::{BuildStats, BuildStatus, BuildSummary};
use hub_domain::model::environment::{Environment, EnvironmentPatch};
use hub_domain::model::names::{DisplayName, Icon};
use hub_domain::model::project::Project;
use hub_domain::ports::{
    ApiKeyRepo, BuildRepo, EnvironmentRepo, JobQueue, ProjectRepo, StoreError, StoreHealth, UploadSessionRepo, UserRepo,
};

use crate::time::utc;

/// Writes builds directly, for the cases that need some before the build ports are implemented.
#[async_trait]
pub trait SeedBuilds: Send + Sync {
    /// Stores a build with these fields (other columns at their defaults).
    async fn seed_build(&self, build: &BuildSummary);
}

/// One store under test, through its ports, with whatever keeps its database alive.
pub struct StoreFixture {
    /// Environments.
    pub envs: Arc<dyn EnvironmentRepo>,
    /// Projects.
    pub projects: Arc<dyn ProjectRepo>,
    /// Readiness.
    pub health: Arc<dyn StoreHealth>,
    /// API keys.
    pub keys: Arc<dyn ApiKeyRepo>,
    /// Users and sessions.
    pub users: Arc<dyn UserRepo>,
    /// Direct build writes.
    pub seeds: Arc<dyn SeedBuilds>,
    /// Upload sessions and chunks.
    pub uploads: Arc<dyn UploadSessionRepo>,
    /// Builds.
    pub builds: Arc<dyn BuildRepo>,
    /// Generation jobs.
    pub jobs: Arc<dyn JobQueue>,
    /// Dropped last: the temporary database.
    pub guard: Box<dyn Any + Send>,
}

impl std::fmt::Debug for StoreFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreFixture").finish_non_exhaustive()
    }
}

/// Declares one `#[tokio::test]` per contract case, each with a fresh store from `$fixture` (an async function
/// returning `Option<StoreFixture>`; `None` skips the case).
#[macro_export]
macro_rules! store_contract_tests {
    ($fixture:path) => {
        $crate::store_contract_tests!(@cases $fixture;
            default_environment_is_seeded,
            environments_are_listed_newest_first_with_ties_by_id,
            timestamps_round_trip_with_millisecond_precision,
            a_taken_environment_id_conflicts,
            concurrent_creates_of_one_id_let_exactly_one_win,
            updates_change_only_the_given_fields,
            updating_a_missing_environment_returns_none,
            deleting_an_environment_removes_everything_under_it,
            project_counts_follow_inserts_and_deletes,
            projects_are_listed_newest_first_with_build_figures,
            latest_build_ties_go_to_the_highest_build_id,
            a_taken_project_id_conflicts_only_within_its_environment,
            a_project_needs_an_existing_environment,
            deleting_a_project_leaves_its_namesakes_alone,
            all_ids_include_environments_without_projects,
            the_store_answers_a_ping,
            api_keys_are_found_by_hash_and_revoked_softly,
            active_key_names_are_unique_case_insensitively,
            key_search_is_a_literal_case_insensitive_substring,
            users_are_upserted_and_listed_by_latest_sign_in,
            role_overrides_revoke_the_users_sessions,
            expired_sessions_are_not_found,
            one_upload_of_a_build_is_in_flight_at_a_time,
            chunks_are_counted_once_per_index,
            saving_results_stores_build_job_and_session_together,
            upload_sessions_are_listed_newest_first_and_filtered,
            jobs_run_one_per_project_up_to_the_limit,
            a_finished_job_settles_its_build_and_session,
            interrupted_jobs_are_queued_again_until_they_fail,
            builds_are_listed_newest_first_filtered_by_outcome_and_paged,
            project_stats_sum_every_build_and_trend_the_newest,
            deleting_a_build_waits_for_its_work_and_keeps_its_sessions,
            a_job_stopped_by_a_shutdown_is_queued_again_without_an_attempt,
            regenerating_an_idle_build_queues_a_job_with_a_new_session,
            regenerating_a_queued_build_replaces_its_config_without_a_second_job,
            regenerating_a_running_build_queues_one_follow_up,
            regeneration_waits_for_uploads_in_progress_and_needs_the_build,
        );
    };
    (@cases $fixture:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let Some(fixture) = $fixture().await else { return };
                $crate::contract::$case(&fixture).await;
            }
        )+
    };
}

fn env(id: &str, at: Timestamp) -> Environment {
    Environment {
        id: EnvId::parse(id).unwrap(),
        name: DisplayName::parse(&format!("Env {id}")).unwrap(),
        icon: Icon::default(),
        created_at: at,
    }
}

fn project(env: &str, id: &str, at: Timestamp) -> Project {
    Project {
        env_id: EnvId::parse(env).unwrap(),
        id: ProjectId::parse(id).unwrap(),
        name: DisplayName::parse(&format!("Project {id}")).unwrap(),
        created_at: at,
    }
}

fn build(env: &str, project: &str, id: &str, at: Timestamp, passed: i64) -> BuildSummary {
    BuildSummary {
        env_id: EnvId::parse(env).unwrap(),
        project_id: ProjectId::parse(project).unwrap(),
        build_id: BuildId::parse(id).unwrap(),
        status: BuildStatus::Ready,
        created_at: at,
        completed_at: Some(at + chrono::TimeDelta::seconds(30)),
        stats: BuildStats {
            total: passed + 1,
            passed,
            failed: 1,
            broken: 0,
            skipped: 0,
            unknown: 0,
            duration_ms: 1234,
        },
    }
}

fn t(minute: u32) -> Timestamp {
    utc(2026, 4, 7, 10, minute, 0, 0)
}

/// The seeded `default` environment exists on a new database.
pub async fn default_environment_is_seeded(f: &StoreFixture) {
    let all = f.envs.list().await.unwrap();
    let default = all.iter().find(|e| e.environment.id.is_default()).expect("default environment");
    assert_eq!(default.environment.name.as_str(), "Default");
    assert_eq!(default.environment.icon.as_str(), "deployed_code");
    assert_eq!(default.project_count, 0);
    assert!(f.envs.exists(&EnvId::default_env()).await.unwrap());
    assert!(!f.envs.exists(&EnvId::parse("ghost").unwrap()).await.unwrap());
}

/// Newest `createdAt` first, ties by id ascending.
pub async fn environments_are_listed_newest_first_with_ties_by_id(f: &StoreFixture) {
    for (id, at) in [("old", t(1)), ("zeta", t(5)), ("alpha", t(5)), ("mid", t(3))] {
        f.envs.insert(&env(id, at)).await.unwrap();
    }
    let ids: Vec<String> = f
        .envs
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.environment.id.to_string())
        .filter(|id| id != "default")
        .collect();
    assert_eq!(ids, ["alpha", "zeta", "mid", "old"]);
}

/// What is written is read back equal, milliseconds included.
pub async fn timestamps_round_trip_with_millisecond_precision(f: &StoreFixture) {
    let written = env("precise", utc(2026, 4, 7, 10, 0, 0, 123));
    f.envs.insert(&written).await.unwrap();
    let read = f.envs.get(&written.id).await.unwrap().unwrap();
    assert_eq!(read.environment, written);
}

/// A second environment with the same id is a conflict and changes nothing.
pub async fn a_taken_environment_id_conflicts(f: &StoreFixture) {
    f.envs.insert(&env("staging", t(1))).await.unwrap();
    let mut again = env("staging", t(2));
    again.name = DisplayName::parse("Other").unwrap();
    assert!(matches!(f.envs.insert(&again).await, Err(StoreError::Conflict)));
    let kept = f.envs.get(&again.id).await.unwrap().unwrap();
    assert_eq!(kept.environment.name.as_str(), "Env staging");
}

/// Parallel inserts of one id through the pool: one succeeds, the rest conflict.
pub async fn concurrent_creates_of_one_id_let_exactly_one_win(f: &StoreFixture) {
    let attempts: Vec<_> = (0..6)
        .map(|i| {
            let envs = Arc::clone(&f.envs);
            tokio::spawn(async move { envs.insert(&env("race", t(i))).await })
        })
        .collect();
    let mut won = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::Conflict) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(won, 1);
}

/// A patch changes the fields it carries and nothing else; an empty patch is a read.
pub async fn updates_change_only_the_given_fields(f: &StoreFixture) {
    let original = env("staging", t(1));
    f.envs.insert(&original).await.unwrap();
    let renamed = EnvironmentPatch { name: Some(DisplayName::parse("Staging (EU)").unwrap()), icon: None };
    let after = f.envs.update(&original.id, &renamed).await.unwrap().unwrap();
    assert_eq!(after.environment.name.as_str(), "Staging (EU)");
    assert_eq!(after.environment.icon, original.icon);
    assert_eq!(after.environment.created_at, original.created_at);

    let reiconed = EnvironmentPatch { name: None, icon: Some(Icon::parse_or_default(Some("science")).unwrap()) };
    let after = f.envs.update(&original.id, &reiconed).await.unwrap().unwrap();
    assert_eq!((after.environment.name.as_str(), after.environment.icon.as_str()), ("Staging (EU)", "science"));

    let unchanged = f.envs.update(&original.id, &EnvironmentPatch::default()).await.unwrap().unwrap();
    assert_eq!(unchanged, after);
}

/// Updating an unknown id reports absence instead of creating anything.
pub async fn updating_a_missing_environment_returns_none(f: &StoreFixture) {
    let ghost = EnvId::parse("ghost").unwrap();
    let patch = EnvironmentPatch { name: Some(DisplayName::parse("Ghost").unwrap()), icon: None };
    assert!(f.envs.update(&ghost, &patch).await.unwrap().is_none());
    assert!(f.envs.get(&ghost).await.unwrap().is_none());
}

/// Deleting an environment removes its projects and builds in one go; a second delete finds nothing.
pub async fn deleting_an_environment_removes_everything_under_it(f: &StoreFixture) {
    f.envs.insert(&env("staging", t(1))).await.unwrap();
    f.projects.insert(&project("staging", "checkout", t(2))).await.unwrap();
    f.seeds.seed_build(&build("staging", "checkout", "b1", t(3), 5)).await;
    let id = EnvId::parse("staging").unwrap();

    assert!(f.envs.delete(&id).await.unwrap());
    assert!(f.envs.get(&id).await.unwrap().is_none());
    assert!(!f.envs.exists(&id).await.unwrap());
    assert!(!f.envs.delete(&id).await.unwrap());

    // Re-created under the same ids, nothing of the old records shows through.
    f.envs.insert(&env("staging", t(4))).await.unwrap();
    f.projects.insert(&project("staging", "checkout", t(5))).await.unwrap();
    let view = f.projects.get(&id, &ProjectId::parse("checkout").unwrap()).await.unwrap().unwrap();
    assert_eq!((view.build_count, view.latest_build), (0, None));
}

/// `projectCount` is computed when read.
pub async fn project_counts_follow_inserts_and_deletes(f: &StoreFixture) {
    f.envs.insert(&env("staging", t(1))).await.unwrap();
    for p in ["a", "b", "c"] {
        f.projects.insert(&project("staging", p, t(2))).await.unwrap();
    }
    let id = EnvId::parse("staging").unwrap();
    assert_eq!(f.envs.get(&id).await.unwrap().unwrap().project_count, 3);
    f.projects.delete(&id, &ProjectId::parse("b").unwrap()).await.unwrap();
    let listed = f.envs.list().await.unwrap();
    let staging = listed.iter().find(|e| e.environment.id == id).unwrap();
    assert_eq!(staging.project_count, 2);
}

/// Projects come newest first with their build counts and newest builds, whatever the builds' status.
pub async fn projects_are_listed_newest_first_with_build_figures(f: &StoreFixture) {
    f.envs.insert(&env("staging", t(0))).await.unwrap();
    f.envs.insert(&env("prod", t(0))).await.unwrap();
    f.projects.insert(&project("staging", "checkout", t(1))).await.unwrap();
    f.projects.insert(&project("staging", "search", t(2))).await.unwrap();
    f.projects.insert(&project("prod", "checkout", t(3))).await.unwrap();
    f.seeds.seed_build(&build("staging", "checkout", "b1", t(10), 1)).await;
    let mut newest = build("staging", "checkout", "b2", t(20), 2);
    newest.status = BuildStatus::Failed;
    newest.completed_at = None;
    f.seeds.seed_build(&newest).await;
    f.seeds.seed_build(&build("staging", "checkout", "b0", t(5), 0)).await;
    // A newer build of the namesake project in another environment must not count.
    f.seeds.seed_build(&build("prod", "checkout", "p1", t(30), 9)).await;

    let listed = f.projects.list(&EnvId::parse("staging").unwrap()).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|p| p.project.id.as_str()).collect();
    assert_eq!(ids, ["search", "checkout"]);
    assert_eq!((listed[0].build_count, &listed[0].latest_build), (0, &None));
    assert_eq!(listed[1].build_count, 3);
    assert_eq!(listed[1].latest_build.as_ref(), Some(&newest));
}

/// Two builds created in the same millisecond: the higher build id is the latest.
pub async fn latest_build_ties_go_to_the_highest_build_id(f: &StoreFixture) {
    f.envs.insert(&env("staging", t(0))).await.unwrap();
    f.projects.insert(&project("staging", "checkout", t(1))).await.unwrap();
    f.projects.insert(&project("staging", "other", t(1))).await.unwrap();
    for id in ["b-1", "b-3", "b-2"] {
        f.seeds.seed_build(&build("staging", "checkout", id, t(10), 1)).await;
    }
    f.seeds.seed_build(&build("staging", "other", "x", t(10), 1)).await;
    let view = f
        .projects
        .get(&EnvId::parse("staging").unwrap(), &ProjectId::parse("checkout").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.build_count, 3);
    assert_eq!(view.latest_build.unwrap().build_id.as_str(), "b-3");
}

/// Project ids are unique per environment, not globally.
pub async fn a_taken_project_id_conflicts_only_within_its_environment(f: &StoreFixture) {
    f.envs.insert(&env("staging", t(0))).await.unwrap();
    f.envs.insert(&env("prod", t(0))).await.unwrap();
    f.projects.insert(&project("staging", "checkout", t(1))).await.unwrap();
    assert!(matches!(f.projects.insert(&project("staging", "checkout", t(2))).await, Err(StoreError::Conflict)));
    f.projects.insert(&project("prod", "checkout", t(2))).await.unwrap();
}

/// A project in a missing environment is refused by the database itself.
pub async fn a_project_needs_an_existing_environment(f: &StoreFixture) {
    let result = f.projects.insert(&project("ghost", "checkout", t(1))).await;
    assert!(matches!(result, Err(StoreError::MissingParent)), "{result:?}");
}

/// Deleting a project touches neither its namesakes in other environments nor their builds.
pub async fn deleting_a_project_leaves_its_namesakes_alone(f: &StoreFixture) {
    f.envs.insert(&env("staging", t(0))).await.unwrap();
    f.envs.insert(&env("prod", t(0))).await.unwrap();
    f.projects.insert(&project("staging", "checkout", t(1))).await.unwrap();
    f.projects.insert(&project("prod", "checkout", t(1))).await.unwrap();
    f.seeds.seed_build(&build("staging", "checkout", "b1", t(2), 1)).await;
    f.seeds.seed_build(&build("prod", "checkout", "b1", t(2), 1)).await;
    let checkout = ProjectId::parse("checkout").unwrap();

    assert!(f.projects.delete(&EnvId::parse("staging").unwrap(), &checkout).await.unwrap());
    assert!(!f.projects.delete(&EnvId::parse("staging").unwrap(), &checkout).await.unwrap());
    let prod = f.projects.get(&EnvId::parse("prod").unwrap(), &checkout).await.unwrap().unwrap();
    assert_eq!(prod.build_count, 1);
}

/// The id inventory used to find orphaned files lists empty environments too.
pub async fn all_ids_include_environments_without_projects(f: &StoreFixture) {
    f.envs.insert(&env("staging", t(0))).await.unwrap();
    f.projects.insert(&project("staging", "b", t(1))).await.unwrap();
    f.projects.insert(&project("staging", "a", t(1))).await.unwrap();
    let mut all = f.projects.list_all_ids().await.unwrap();
    all.sort();
    for (_, projects) in &mut all {
        projects.sort();
    }
    let shown: Vec<(String, Vec<String>)> =
        all.into_iter().map(|(e, ps)| (e.to_string(), ps.into_iter().map(|p| p.to_string()).collect())).collect();
    assert_eq!(shown, [("default".to_owned(), vec![]), ("staging".to_owned(), vec!["a".to_owned(), "b".to_owned()])]);
}

/// The readiness ping succeeds on a working database.
pub async fn the_store_answers_a_ping(f: &StoreFixture) {
    f.health.ping().await.unwrap();
}

mod auth_cases {
    use hub_domain::ids::Email;
    use hub_domain::model::access::RoleName;
    use hub_domain::model::api_key::ApiKey;
    use hub_domain::model::page::PageRequest;
    use hub_domain::model::user::{LoginSession, Provider, User};

    use super::*;

    pub(super) fn key(name: &str, hash: &str, minute: u32) -> ApiKey {
        ApiKey {
            id: ulid::Ulid::new().into(),
            name: name.to_owned(),
            role: RoleName::parse("developer").unwrap(),
            prefix: "ah_01234567".into(),
            key_hash: hash.to_owned(),
            created_by: Email::parse("ops@example.com").unwrap(),
            created_at: t(minute),
            last_used_at: None,
            revoked_at: None,
            auto_create: true,
        }
    }

    pub(super) fn user(email: &str, minute: u32) -> User {
        User {
            email: Email::parse(email).unwrap(),
            name: email.split('@').next().unwrap().to_owned(),
            avatar_url: None,
            provider: Provider::Github,
            password_hash: None,
            first_login_at: t(minute),
            last_login_at: t(minute),
        }
    }

    pub(super) fn session(email: &str, hash: &str, expires_minute: u32) -> LoginSession {
        LoginSession {
            token_hash: hash.to_owned(),
            email: Email::parse(email).unwrap(),
            role: Some(RoleName::parse("viewer").unwrap()),
            provider: Provider::Local,
            created_at: t(0),
            expires_at: t(expires_minute),
        }
    }

    pub(super) const PAGE: PageRequest = PageRequest { limit: 20, offset: 0 };
}

use auth_cases::{PAGE, key, session, user};

/// Keys are found by the hash of their secret; revoking keeps the record with its time.
pub async fn api_keys_are_found_by_hash_and_revoked_softly(f: &StoreFixture) {
    let k = key("ci", "hash-1", 1);
    f.keys.insert(&k).await.unwrap();
    assert_eq!(f.keys.find_by_hash("hash-1").await.unwrap().as_ref(), Some(&k));
    assert!(f.keys.find_by_hash("hash-2").await.unwrap().is_none());
    f.keys.touch(k.id, t(5)).await.unwrap();
    assert!(f.keys.revoke(k.id, t(6)).await.unwrap());
    assert!(f.keys.revoke(k.id, t(7)).await.unwrap(), "revoking twice is fine");
    let stored = f.keys.get(k.id).await.unwrap().unwrap();
    assert_eq!((stored.last_used_at, stored.revoked_at), (Some(t(5)), Some(t(6))), "the first revocation time stays");
    assert!(f.keys.delete(k.id).await.unwrap());
    assert!(f.keys.get(k.id).await.unwrap().is_none());
    assert!(!f.keys.revoke(k.id, t(8)).await.unwrap());
}

/// Two active keys cannot share a name in any letter case; a revoked key frees its name.
pub async fn active_key_names_are_unique_case_insensitively(f: &StoreFixture) {
    let first = key("CI-Pipeline", "h1", 1);
    f.keys.insert(&first).await.unwrap();
    assert!(matches!(f.keys.insert(&key("ci-pipeline", "h2", 2)).await, Err(StoreError::Conflict)));
    f.keys.revoke(first.id, t(3)).await.unwrap();
    f.keys.insert(&key("ci-pipeline", "h3", 4)).await.unwrap();
}

/// Search matches name or creator, ignoring case; `%` and `_` are plain characters.
pub async fn key_search_is_a_literal_case_insensitive_substring(f: &StoreFixture) {
    for (i, name) in ["Deploy_Bot", "deployXbot", "100% coverage", "nightly"].iter().enumerate() {
        f.keys.insert(&key(name, &format!("h{i}"), u32::try_from(i).unwrap())).await.unwrap();
    }
    let names = |page: hub_domain::model::page::Page<ApiKey>| -> Vec<String> {
        page.items.into_iter().map(|k| k.name).collect()
    };
    use hub_domain::model::api_key::ApiKey;
    assert_eq!(names(f.keys.list(Some("y_b".into()), PAGE).await.unwrap()), ["Deploy_Bot"]);
    assert_eq!(names(f.keys.list(Some("0%".into()), PAGE).await.unwrap()), ["100% coverage"]);
    let all = f.keys.list(Some("OPS@".into()), PAGE).await.unwrap();
    assert_eq!(all.total, 4, "the creator matches too");
    assert_eq!(names(all), ["nightly", "100% coverage", "deployXbot", "Deploy_Bot"], "newest first");
    let page = f.keys.list(None, hub_domain::model::page::PageRequest { limit: 1, offset: 1 }).await.unwrap();
    assert_eq!((page.total, names(page)), (4, vec!["100% coverage".to_owned()]));
}

/// Upsert creates then updates; lists are ordered by the latest sign-in.
pub async fn users_are_upserted_and_listed_by_latest_sign_in(f: &StoreFixture) {
    f.users.upsert(&user("a@x.io", 1)).await.unwrap();
    f.users.upsert(&user("b@x.io", 2)).await.unwrap();
    let mut again = user("a@x.io", 1);
    again.last_login_at = t(9);
    again.name = "Alice".into();
    again.avatar_url = Some("https://a/img".into());
    f.users.upsert(&again).await.unwrap();
    assert_eq!(f.users.get(&again.email).await.unwrap().as_ref(), Some(&again));
    let listed = f.users.list(None, PAGE).await.unwrap();
    let emails: Vec<String> = listed.items.iter().map(|u| u.email.to_string()).collect();
    assert_eq!((listed.total, emails), (2, vec!["a@x.io".to_owned(), "b@x.io".to_owned()]));
    assert_eq!(f.users.list(Some("ALI".into()), PAGE).await.unwrap().total, 1);
}

/// Setting or removing an override ends every session of that user, and only theirs.
pub async fn role_overrides_revoke_the_users_sessions(f: &StoreFixture) {
    f.users.upsert(&user("a@x.io", 1)).await.unwrap();
    f.users.upsert(&user("b@x.io", 1)).await.unwrap();
    f.users.insert_session(&session("a@x.io", "sa", 50)).await.unwrap();
    f.users.insert_session(&session("b@x.io", "sb", 50)).await.unwrap();
    let a = hub_domain::ids::Email::parse("a@x.io").unwrap();
    assert!(f.users.set_role_override(&a, Some("admin".into()), t(2)).await.unwrap());
    assert_eq!(f.users.role_override(&a).await.unwrap().as_deref(), Some("admin"));
    assert!(f.users.find_session("sa", t(3)).await.unwrap().is_none());
    assert!(f.users.find_session("sb", t(3)).await.unwrap().is_some());
    f.users.insert_session(&session("a@x.io", "sa2", 50)).await.unwrap();
    assert!(f.users.set_role_override(&a, None, t(4)).await.unwrap());
    assert!(f.users.find_session("sa2", t(5)).await.unwrap().is_none());
    assert!(!f.users.set_role_override(&a, None, t(6)).await.unwrap(), "resetting again changes nothing");
    // Overrides may name emails that never signed in.
    let newcomer = hub_domain::ids::Email::parse("new@x.io").unwrap();
    assert!(f.users.set_role_override(&newcomer, Some("viewer".into()), t(7)).await.unwrap());
}

/// A session past its expiry behaves like no session; deleting one removes only it.
pub async fn expired_sessions_are_not_found(f: &StoreFixture) {
    f.users.upsert(&user("a@x.io", 1)).await.unwrap();
    f.users.insert_session(&session("a@x.io", "s1", 10)).await.unwrap();
    f.users.insert_session(&session("a@x.io", "s2", 10)).await.unwrap();
    assert_eq!(f.users.find_session("s1", t(9)).await.unwrap().unwrap().expires_at, t(10));
    assert!(f.users.find_session("s1", t(10)).await.unwrap().is_none());
    f.users.delete_session("s1").await.unwrap();
    assert!(f.users.find_session("s1", t(5)).await.unwrap().is_none());
    assert!(f.users.find_session("s2", t(5)).await.unwrap().is_some());
}

/// Upload session cases (§9, §17.1).
mod upload_cases {
    use hub_domain::ids::{JobId, UploadId};
    use hub_domain::model::build::Build;
    use hub_domain::model::job::{GenerationJob, JobState};
    use hub_domain::model::upload::{Phase, UploadKind, UploadSession};

    use super::*;

    pub(super) fn session(project: &str, build: &str, kind: UploadKind, minute: u32) -> UploadSession {
        UploadSession {
            id: UploadId::from(ulid::Ulid::new()),
            kind,
            env_id: EnvId::parse("default").unwrap(),
            project_id: ProjectId::parse(project).unwrap(),
            build_id: BuildId::parse(build).unwrap(),
            file_name: Some("results.zip".into()),
            total_size: Some(300),
            total_chunks: 3,
            received_chunks: 0,
            phase: Phase::Uploading,
            failed_at_phase: None,
            error: None,
            uploaded_by: "apikey:ci".into(),
            owner: "apikey:01JR8X7Q2M5N9P3V4W6Y8Z0ABC".into(),
            sha256: Some("ab".repeat(32)),
            report_config: Some(serde_json::json!({"name": "Nightly"})),
            replace: false,
            started_at: t(minute),
            updated_at: t(minute),
            completed_at: None,
            report_url: None,
            stats: None,
        }
    }

    pub(super) fn saved(s: &UploadSession) -> (Build, GenerationJob) {
        let stats = BuildStats { total: 4, passed: 1, failed: 1, broken: 1, skipped: 1, unknown: 0, duration_ms: 7500 };
        let build = Build {
            env_id: s.env_id.clone(),
            project_id: s.project_id.clone(),
            build_id: s.build_id.clone(),
            status: BuildStatus::Pending,
            created_at: t(30),
            completed_at: None,
            uploaded_by: s.uploaded_by.clone(),
            has_report: false,
            stats,
            longest_test_ms: 900,
            quality_gate: None,
            warnings: vec!["skipped unreadable result file x-result.json".into()],
            error: None,
            config: serde_json::json!({"name": "Nightly"}),
        };
        let job = GenerationJob {
            id: JobId::from(ulid::Ulid::new()),
            env_id: s.env_id.clone(),
            project_id: s.project_id.clone(),
            build_id: s.build_id.clone(),
            upload_id: Some(s.id),
            state: JobState::Queued,
            config: serde_json::json!({"name": "Nightly"}),
            attempts: 0,
            created_at: t(30),
            started_at: None,
            finished_at: None,
            error: None,
        };
        (build, job)
    }
}

use hub_domain::model::upload::{Phase, UploadKind};
use hub_domain::ports::{ChunkRecord, UploadFilter};

async fn with_project(f: &StoreFixture, id: &str) {
    f.projects.insert(&project("default", id, t(0))).await.unwrap();
}

/// At most one upload (not regeneration) per build is in flight; a settled one frees the build id.
pub async fn one_upload_of_a_build_is_in_flight_at_a_time(f: &StoreFixture) {
    with_project(f, "p").await;
    let first = upload_cases::session("p", "b1", UploadKind::Stream, 1);
    f.uploads.insert(&first).await.unwrap();
    assert_eq!(f.uploads.get(first.id).await.unwrap().as_ref(), Some(&first), "every field round-trips");
    let (env, project, build) = (first.env_id.clone(), first.project_id.clone(), first.build_id.clone());
    assert!(f.uploads.has_active(&env, &project, &build).await.unwrap());
    let second = upload_cases::session("p", "b1", UploadKind::Chunked, 2);
    assert!(matches!(f.uploads.insert(&second).await, Err(StoreError::Conflict)));
    let mut regeneration = upload_cases::session("p", "b1", UploadKind::Regenerate, 2);
    regeneration.phase = Phase::Generating;
    f.uploads.insert(&regeneration).await.unwrap();

    let mut failed = first.clone();
    failed.phase = Phase::Failed;
    failed.failed_at_phase = Some(Phase::Assembling);
    failed.error = Some("archive contains no files".into());
    failed.completed_at = Some(t(3));
    assert!(f.uploads.update(&failed).await.unwrap());
    assert!(!f.uploads.has_active(&env, &project, &build).await.unwrap(), "regenerations do not count");
    f.uploads.insert(&second).await.unwrap();
    let unfinished: Vec<_> = f.uploads.unfinished().await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(unfinished, vec![second.id], "only uploading and assembling sessions (regeneration starts generating)");

    let missing = upload_cases::session("nope", "b1", UploadKind::Stream, 4);
    assert!(matches!(f.uploads.insert(&missing).await, Err(StoreError::MissingParent)));
    assert!(f.uploads.delete(failed.id).await.unwrap());
    assert!(!f.uploads.update(&failed).await.unwrap(), "a deleted session is not recreated by an update");
}

/// Re-sending a chunk replaces its record; the session counts distinct indices and is touched.
pub async fn chunks_are_counted_once_per_index(f: &StoreFixture) {
    with_project(f, "p").await;
    let s = upload_cases::session("p", "b1", UploadKind::Chunked, 1);
    f.uploads.insert(&s).await.unwrap();
    let after = f.uploads.put_chunk(s.id, ChunkRecord { index: 2, size: 100 }, t(5)).await.unwrap().unwrap();
    assert_eq!((after.received_chunks, after.updated_at), (1, t(5)));
    f.uploads.put_chunk(s.id, ChunkRecord { index: 0, size: 90 }, t(6)).await.unwrap();
    let after = f.uploads.put_chunk(s.id, ChunkRecord { index: 2, size: 110 }, t(7)).await.unwrap().unwrap();
    assert_eq!(after.received_chunks, 2);
    assert_eq!(f.uploads.get(s.id).await.unwrap().unwrap(), after, "what put_chunk returns is what is stored");
    assert_eq!(
        f.uploads.chunks(s.id).await.unwrap(),
        vec![ChunkRecord { index: 0, size: 90 }, ChunkRecord { index: 2, size: 110 }]
    );
    assert_eq!(f.uploads.stored_bytes(s.id, 2).await.unwrap(), 90, "all but the chunk being replaced");
    assert_eq!(f.uploads.stored_bytes(s.id, 5).await.unwrap(), 200);
    let gone = upload_cases::session("p", "b2", UploadKind::Chunked, 1);
    assert_eq!(f.uploads.stored_bytes(gone.id, 0).await.unwrap(), 0);
    assert_eq!(f.uploads.put_chunk(gone.id, ChunkRecord { index: 0, size: 1 }, t(8)).await.unwrap(), None);
    assert!(f.uploads.delete(s.id).await.unwrap());
    assert!(f.uploads.chunks(s.id).await.unwrap().is_empty(), "chunk records go with their session");
}

/// The build, its queued job and the session move together; a second queued job for the build changes nothing.
pub async fn saving_results_stores_build_job_and_session_together(f: &StoreFixture) {
    with_project(f, "p").await;
    let s = upload_cases::session("p", "b1", UploadKind::Chunked, 1);
    f.uploads.insert(&s).await.unwrap();
    f.uploads.put_chunk(s.id, ChunkRecord { index: 0, size: 300 }, t(2)).await.unwrap();
    let (build, job) = upload_cases::saved(&s);
    let mut generating = s.clone();
    generating.phase = Phase::Generating;
    generating.received_chunks = 3;
    generating.stats = Some(build.stats);
    generating.report_url = Some("/reports/default/p/b1/index.html".into());
    f.uploads.save_results(&generating, &build, &job).await.unwrap();
    let (env, project, id) = (s.env_id.clone(), s.project_id.clone(), s.build_id.clone());
    assert_eq!(f.builds.status(&env, &project, &id).await.unwrap(), Some(BuildStatus::Pending));
    assert_eq!(f.uploads.get(s.id).await.unwrap().as_ref(), Some(&generating));
    assert!(f.uploads.chunks(s.id).await.unwrap().is_empty());
    let listed = f.projects.get(&env, &project).await.unwrap().unwrap();
    assert_eq!((listed.build_count, listed.latest_build.map(|b| b.stats)), (1, Some(build.stats)));

    // A build has one queued job: a second save fails as a whole and leaves the session as it was.
    let other = upload_cases::session("p", "b1", UploadKind::Stream, 5);
    let (_, second_job) = upload_cases::saved(&other);
    let mut done = generating.clone();
    done.phase = Phase::Done;
    assert!(f.uploads.save_results(&done, &build, &second_job).await.is_err());
    assert_eq!(f.uploads.get(s.id).await.unwrap().map(|s| s.phase), Some(Phase::Generating));
    assert_eq!(f.builds.status(&env, &project, &BuildId::parse("b9").unwrap()).await.unwrap(), None);
}

/// Newest start first, ties by id descending; filters by environment and project.
pub async fn upload_sessions_are_listed_newest_first_and_filtered(f: &StoreFixture) {
    with_project(f, "p").await;
    with_project(f, "q").await;
    let older = upload_cases::session("p", "b1", UploadKind::Stream, 1);
    let newer = upload_cases::session("q", "b2", UploadKind::Stream, 2);
    let mut tie = upload_cases::session("p", "b3", UploadKind::Stream, 2);
    // Ulids made later sort higher; make the tie's order explicit.
    tie.id = hub_domain::ids::UploadId::from(ulid::Ulid::from_parts(u64::MAX >> 16, 0));
    for s in [&older, &newer, &tie] {
        f.uploads.insert(s).await.unwrap();
    }
    let ids = |list: Vec<hub_domain::model::upload::UploadSession>| list.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(f.uploads.list(UploadFilter::default(), 10).await.unwrap()), vec![tie.id, newer.id, older.id]);
    assert_eq!(ids(f.uploads.list(UploadFilter::default(), 1).await.unwrap()), vec![tie.id]);
    let only_p = UploadFilter { env: None, project: Some(ProjectId::parse("p").unwrap()) };
    assert_eq!(ids(f.uploads.list(only_p, 10).await.unwrap()), vec![tie.id, older.id]);
    let elsewhere = UploadFilter { env: Some(EnvId::parse("other").unwrap()), project: None };
    assert!(f.uploads.list(elsewhere, 10).await.unwrap().is_empty());
}

/// An upload saved as a build with its queued job, as `save_results` leaves it; returns the session.
async fn saved_upload(
    f: &StoreFixture,
    project: &str,
    build: &str,
    minute: u32,
) -> hub_domain::model::upload::UploadSession {
    let mut s = upload_cases::session(project, build, UploadKind::Stream, minute);
    f.uploads.insert(&s).await.unwrap();
    let (mut b, mut job) = upload_cases::saved(&s);
    b.created_at = t(minute);
    job.created_at = t(minute);
    s.phase = Phase::Generating;
    f.uploads.save_results(&s, &b, &job).await.unwrap();
    s
}

/// The oldest queued job of a project without a running one is claimed, at most `max_running` at once.
pub async fn jobs_run_one_per_project_up_to_the_limit(f: &StoreFixture) {
    with_project(f, "p").await;
    with_project(f, "q").await;
    saved_upload(f, "p", "p1", 1).await;
    saved_upload(f, "p", "p2", 2).await;
    saved_upload(f, "q", "q1", 3).await;
    let first = f.jobs.claim_next(2, t(10)).await.unwrap().unwrap();
    assert_eq!(first.build_id.as_str(), "p1");
    let (env, p) = (EnvId::parse("default").unwrap(), ProjectId::parse("p").unwrap());
    assert_eq!(f.builds.status(&env, &p, &first.build_id).await.unwrap(), Some(BuildStatus::Generating));
    let second = f.jobs.claim_next(2, t(10)).await.unwrap().unwrap();
    assert_eq!(second.build_id.as_str(), "q1", "p2 waits: its project already runs a job");
    assert_eq!(f.jobs.claim_next(3, t(10)).await.unwrap(), None, "p2 still waits for p1");
    assert_eq!(f.jobs.claim_next(2, t(10)).await.unwrap(), None, "two already run");
    let outcome = hub_domain::ports::JobOutcome {
        finished_at: t(11),
        result: Ok(Some("point-1".into())),
        warnings: vec![],
        quality_gate: None,
    };
    f.jobs.finish(&first, &outcome).await.unwrap();
    let third = f.jobs.claim_next(2, t(12)).await.unwrap().unwrap();
    assert_eq!(third.build_id.as_str(), "p2");
}

/// Success makes the build ready with a report and its trend point, and the session done; failure keeps the
/// report flag and records the error.
pub async fn a_finished_job_settles_its_build_and_session(f: &StoreFixture) {
    with_project(f, "p").await;
    let session = saved_upload(f, "p", "b1", 1).await;
    let job = f.jobs.claim_next(4, t(10)).await.unwrap().unwrap();
    assert_eq!(job.upload_id, Some(session.id));
    let ok = hub_domain::ports::JobOutcome {
        finished_at: t(11),
        result: Ok(Some("point-1".into())),
        warnings: vec!["harmless".into()],
        quality_gate: Some(hub_domain::model::build::QualityGateResult {
            passed: false,
            failures: vec![hub_domain::model::build::QualityGateFailure {
                rule: "critical/maxFailures".into(),
                expected: serde_json::json!(0),
                actual: serde_json::json!(2),
                message: "The number of failed tests 2 exceeds the allowed threshold value 0".into(),
            }],
        }),
    };
    let done = f.jobs.finish(&job, &ok).await.unwrap().unwrap();
    assert_eq!((done.phase, done.completed_at, done.error), (Phase::Done, Some(t(11)), None));
    assert_eq!(f.jobs.history_entry(&job).await.unwrap().as_deref(), Some("point-1"));
    let (env, p) = (EnvId::parse("default").unwrap(), ProjectId::parse("p").unwrap());
    assert_eq!(f.builds.status(&env, &p, &job.build_id).await.unwrap(), Some(BuildStatus::Ready));
    let view = f.projects.get(&env, &p).await.unwrap().unwrap().latest_build.unwrap();
    assert_eq!(view.completed_at, Some(t(11)));
    let stored = f.builds.get(&env, &p, &job.build_id).await.unwrap().unwrap();
    assert_eq!((stored.quality_gate, stored.longest_test_ms, stored.has_report), (ok.quality_gate, 900, true));
    assert_eq!(stored.warnings, vec!["skipped unreadable result file x-result.json", "harmless"]);

    // A later upload of another build whose generation fails.
    let failing = saved_upload(f, "p", "b2", 2).await;
    let job = f.jobs.claim_next(4, t(20)).await.unwrap().unwrap();
    let failed = hub_domain::ports::JobOutcome {
        finished_at: t(21),
        result: Err("allure generate produced no index.html".into()),
        warnings: vec![],
        quality_gate: None,
    };
    let session = f.jobs.finish(&job, &failed).await.unwrap().unwrap();
    assert_eq!(session.id, failing.id);
    assert_eq!(
        (session.phase, session.failed_at_phase, session.error.as_deref()),
        (Phase::Failed, Some(Phase::Generating), Some("allure generate produced no index.html"))
    );
    assert_eq!(f.builds.status(&env, &p, &job.build_id).await.unwrap(), Some(BuildStatus::Failed));
    assert_eq!(f.jobs.history_entry(&job).await.unwrap(), None);
}

/// Jobs left running by a crash go back to the queue; the third interruption fails them with their session.
pub async fn interrupted_jobs_are_queued_again_until_they_fail(f: &StoreFixture) {
    with_project(f, "p").await;
    let session = saved_upload(f, "p", "b1", 1).await;
    let (env, p) = (EnvId::parse("default").unwrap(), ProjectId::parse("p").unwrap());
    for attempt in 1..=2 {
        let job = f.jobs.claim_next(4, t(10)).await.unwrap().unwrap();
        assert_eq!(job.attempts, attempt - 1);
        assert!(f.jobs.requeue_running(3, t(11)).await.unwrap().is_empty());
        assert_eq!(f.builds.status(&env, &p, &job.build_id).await.unwrap(), Some(BuildStatus::Pending));
    }
    f.jobs.claim_next(4, t(12)).await.unwrap().unwrap();
    let failed = f.jobs.requeue_running(3, t(13)).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].id, failed[0].phase, failed[0].error.as_deref()),
        (session.id, Phase::Failed, Some("generation interrupted by server restarts"))
    );
    assert_eq!(f.builds.status(&env, &p, &session.build_id).await.unwrap(), Some(BuildStatus::Failed));
    assert_eq!(f.jobs.claim_next(4, t(14)).await.unwrap(), None, "a failed job is not run again");
}

/// A build with these outcome counts, created at `minute`.
fn counted(project: &str, id: &str, minute: u32, passed: i64, failed: i64, broken: i64, skipped: i64) -> BuildSummary {
    let mut b = build("default", project, id, t(minute), passed);
    b.stats = BuildStats {
        total: passed + failed + broken + skipped,
        passed,
        failed,
        broken,
        skipped,
        unknown: 0,
        duration_ms: 10,
    };
    b
}

fn build_ids(page: &hub_domain::model::page::Page<hub_domain::model::build::Build>) -> Vec<&str> {
    page.items.iter().map(|b| b.build_id.as_str()).collect()
}

/// §8.4: newest `createdAt` first, ties by build id descending; `passed` = tests and none failed or broken,
/// `failed` = any failed or broken (the build's own status plays no part); `total` ignores the page.
pub async fn builds_are_listed_newest_first_filtered_by_outcome_and_paged(f: &StoreFixture) {
    use hub_domain::model::build::OutcomeFilter;
    use hub_domain::model::page::PageRequest;
    with_project(f, "p").await;
    with_project(f, "q").await;
    let mut failed_status = counted("p", "green", 3, 5, 0, 0, 1);
    failed_status.status = BuildStatus::Failed;
    for b in [
        counted("p", "empty", 1, 0, 0, 0, 0),
        counted("p", "broken", 2, 3, 0, 1, 0),
        failed_status,
        counted("p", "tie-a", 4, 2, 1, 0, 0),
        counted("p", "tie-b", 4, 2, 0, 0, 0),
        counted("q", "elsewhere", 5, 1, 0, 0, 0),
    ] {
        f.seeds.seed_build(&b).await;
    }
    let (env, p) = (EnvId::parse("default").unwrap(), ProjectId::parse("p").unwrap());
    let page = |limit, offset| PageRequest { limit, offset };
    let all = f.builds.list(&env, &p, OutcomeFilter::All, page(50, 0)).await.unwrap();
    assert_eq!(build_ids(&all), vec!["tie-b", "tie-a", "green", "broken", "empty"]);
    assert_eq!(all.total, 5);
    let passed = f.builds.list(&env, &p, OutcomeFilter::Passed, page(50, 0)).await.unwrap();
    assert_eq!(build_ids(&passed), vec!["tie-b", "green"], "a failed build status does not matter, no tests do");
    let failed = f.builds.list(&env, &p, OutcomeFilter::Failed, page(50, 0)).await.unwrap();
    assert_eq!(build_ids(&failed), vec!["tie-a", "broken"], "broken counts as failed");
    let second = f.builds.list(&env, &p, OutcomeFilter::All, page(2, 2)).await.unwrap();
    assert_eq!((build_ids(&second), second.total), (vec!["green", "broken"], 5));

    let one = f.builds.get(&env, &p, &BuildId::parse("broken").unwrap()).await.unwrap().unwrap();
    assert_eq!(one, all.items[3], "get and list read the same fields");
    assert_eq!(
        (one.stats.broken, one.status, one.has_report, one.quality_gate.clone()),
        (1, BuildStatus::Ready, false, None)
    );
    assert_eq!(f.builds.get(&env, &p, &BuildId::parse("elsewhere").unwrap()).await.unwrap(), None);
    assert_eq!(
        f.builds.latest_ready(&env, &p).await.unwrap().map(|b| b.to_string()).as_deref(),
        Some("tie-b"),
        "newest ready build, ties by id"
    );
    // Neighbours follow the unfiltered list, across ties, and stay inside the project.
    let beside = |id: &str| {
        let id = BuildId::parse(id).unwrap();
        let builds = f.builds.clone();
        let (env, p) = (env.clone(), p.clone());
        async move {
            let n = builds.neighbours(&env, &p, &id).await.unwrap();
            (n.newer.map(|b| b.to_string()), n.older.map(|b| b.to_string()))
        }
    };
    let ids = build_ids(&all);
    for (at, id) in ids.iter().enumerate() {
        let expected = (at.checked_sub(1).map(|i| ids[i].to_owned()), ids.get(at + 1).map(|b| (*b).to_owned()));
        assert_eq!(beside(id).await, expected, "neighbours of {id}");
    }
    assert_eq!(beside("elsewhere").await, (None, None), "a build of another project has none here");
    assert_eq!(beside("missing").await, (None, None));
}

/// §8.5: sums over every build whatever its status, failed = failed + broken, the newest build in full, and
/// the 30 newest builds oldest first.
pub async fn project_stats_sum_every_build_and_trend_the_newest(f: &StoreFixture) {
    with_project(f, "p").await;
    let (env, p) = (EnvId::parse("default").unwrap(), ProjectId::parse("p").unwrap());
    let empty = f.builds.stats(&env, &p).await.unwrap();
    assert_eq!((empty.total_builds, empty.total_passed, empty.latest, empty.trend), (0, 0, None, vec![]));
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for i in 0..32u32 {
        let b = counted("p", &format!("b{i:02}"), i, i64::from(i), i64::from(i % 3), i64::from(i % 2), 1);
        (passed, failed, skipped) = (passed + b.stats.passed, failed + b.stats.failed + b.stats.broken, skipped + 1);
        f.seeds.seed_build(&b).await;
    }
    let stats = f.builds.stats(&env, &p).await.unwrap();
    assert_eq!(
        (stats.total_builds, stats.total_passed, stats.total_failed, stats.total_skipped),
        (32, passed, failed, skipped)
    );
    assert_eq!(stats.latest.as_ref().map(|b| b.build_id.as_str()), Some("b31"));
    let trend: Vec<&str> = stats.trend.iter().map(|p| p.build_id.as_str()).collect();
    assert_eq!(trend.len(), 30);
    assert_eq!((trend[0], trend[29]), ("b02", "b31"), "the 30 newest, oldest first");
    let point = &stats.trend[29];
    assert_eq!((point.passed, point.failed, point.skipped, point.created_at), (31, 1 + 1, 1, t(31)));
}

/// §8.8: no deletion while a job is queued or running or an upload is receiving; a deleted build hands back its
/// trend point, takes its jobs along and leaves its upload sessions.
pub async fn deleting_a_build_waits_for_its_work_and_keeps_its_sessions(f: &StoreFixture) {
    use hub_domain::ports::{BuildDeletion, JobOutcome};
    with_project(f, "p").await;
    let (env, p) = (EnvId::parse("default").unwrap(), ProjectId::parse("p").unwrap());
    let session = saved_upload(f, "p", "b1", 1).await;
    let b1 = session.build_id.clone();
    assert_eq!(f.builds.delete(&env, &p, &b1).await.unwrap(), BuildDeletion::Generating, "queued");
    let job = f.jobs.claim_next(4, t(10)).await.unwrap().unwrap();
    assert_eq!(f.builds.delete(&env, &p, &b1).await.unwrap(), BuildDeletion::Generating, "running");
    let ok =
        JobOutcome { finished_at: t(11), result: Ok(Some("point-1".into())), warnings: vec![], quality_gate: None };
    f.jobs.finish(&job, &ok).await.unwrap();

    f.seeds.seed_build(&counted("p", "b2", 2, 1, 0, 0, 0)).await;
    let receiving = upload_cases::session("p", "b2", UploadKind::Stream, 3);
    f.uploads.insert(&receiving).await.unwrap();
    let b2 = receiving.build_id.clone();
    assert_eq!(f.builds.delete(&env, &p, &b2).await.unwrap(), BuildDeletion::UploadInProgress);
    assert!(f.builds.get(&env, &p, &b2).await.unwrap().is_some(), "nothing was deleted");

    assert_eq!(
        f.builds.delete(&env, &p, &b1).await.unwrap(),
        BuildDeletion::Deleted { history_entry: Some("point-1".into()) }
    );
    assert_eq!(f.builds.get(&env, &p, &b1).await.unwrap(), None);
    assert_eq!(f.jobs.history_entry(&job).await.unwrap(), None);
    assert!(f.uploads.get(session.id).await.unwrap().is_some(), "upload sessions are kept");
    assert_eq!(f.builds.delete(&env, &p, &b1).await.unwrap(), BuildDeletion::NotFound);
    // The build id is free again: a new upload of it saves and queues.
    saved_upload(f, "p", "b1", 4).await;
}

/// Regeneration cases (§8.1).
mod regeneration_cases {
    use hub_domain::model::upload::UploadSession;
    use hub_domain::ports::RegenerationRequest;

    use super::*;

    /// The warning every request of these cases adds to its build.
    pub(super) const WARNING: &str = "reportConfig.output is controlled by the server and was ignored";

    /// A regeneration of `build` in project `p` named `name`, at `minute`, as the service prepares it.
    pub(super) fn request(build: &str, name: &str, minute: u32) -> RegenerationRequest {
        let mut session = upload_cases::session("p", build, UploadKind::Regenerate, minute);
        session.phase = Phase::Generating;
        (session.file_name, session.total_size, session.total_chunks, session.sha256) = (None, None, 0, None);
        session.report_config = Some(serde_json::json!({"name": name, "output": "/x"}));
        session.report_url = Some(format!("/reports/default/p/{build}/index.html"));
        let (_, mut job) = upload_cases::saved(&session);
        let config = serde_json::json!({"name": name});
        (job.config, job.created_at) = (config.clone(), t(minute));
        RegenerationRequest { config, warnings: vec![WARNING.into()], session, job }
    }

    /// The request's session as the store keeps it: with the statistics of `saved_upload`'s builds.
    pub(super) fn stored(request: &RegenerationRequest) -> UploadSession {
        let mut session = request.session.clone();
        session.stats = Some(upload_cases::saved(&session).0.stats);
        session
    }
}

fn default_p() -> (EnvId, ProjectId) {
    (EnvId::parse("default").unwrap(), ProjectId::parse("p").unwrap())
}

fn finished(minute: u32, result: Result<Option<String>, String>) -> hub_domain::ports::JobOutcome {
    hub_domain::ports::JobOutcome { finished_at: t(minute), result, warnings: vec![], quality_gate: None }
}

/// §8.1, no job queued or running: a job is queued with a new `regenerate` session (carrying the build's
/// statistics) and the build is `pending` again, without its old error, with the new config; the job then runs with
/// that config and settles the new session.
pub async fn regenerating_an_idle_build_queues_a_job_with_a_new_session(f: &StoreFixture) {
    use hub_domain::ports::Regeneration;
    with_project(f, "p").await;
    let (env, p) = default_p();
    let upload = saved_upload(f, "p", "b1", 1).await;
    let job = f.jobs.claim_next(4, t(10)).await.unwrap().unwrap();
    f.jobs.finish(&job, &finished(11, Err("allure generate produced no index.html".into()))).await.unwrap();

    let request = regeneration_cases::request("b1", "Retry", 20);
    let expected = regeneration_cases::stored(&request);
    assert_eq!(f.jobs.queue_regeneration(&request).await.unwrap(), Regeneration::Started(expected.clone()));
    assert_eq!(f.uploads.get(expected.id).await.unwrap(), Some(expected.clone()), "the session is stored");
    let build = f.builds.get(&env, &p, &upload.build_id).await.unwrap().unwrap();
    assert_eq!((build.status, build.error, &build.config), (BuildStatus::Pending, None, &request.config));
    assert_eq!(build.uploaded_by, upload.uploaded_by, "regeneration does not change who uploaded the results");
    assert_eq!(build.warnings, vec!["skipped unreadable result file x-result.json", regeneration_cases::WARNING]);

    let rerun = f.jobs.claim_next(4, t(21)).await.unwrap().unwrap();
    assert_eq!((rerun.id, rerun.upload_id, &rerun.config), (request.job.id, Some(expected.id), &request.config));
    let done = f.jobs.finish(&rerun, &finished(22, Ok(None))).await.unwrap().unwrap();
    assert_eq!((done.id, done.phase), (expected.id, Phase::Done));
    assert_eq!(f.builds.status(&env, &p, &upload.build_id).await.unwrap(), Some(BuildStatus::Ready));
    assert_eq!(f.uploads.get(upload.id).await.unwrap().map(|s| s.phase), Some(Phase::Failed), "the upload's stays");
}

/// §8.1, a job queued and not started: its config is replaced and its session answers; no second job or
/// session. A queued job whose session is gone gets the new one.
pub async fn regenerating_a_queued_build_replaces_its_config_without_a_second_job(f: &StoreFixture) {
    use hub_domain::ports::Regeneration;
    with_project(f, "p").await;
    let (env, p) = default_p();
    let upload = saved_upload(f, "p", "b1", 1).await;
    let request = regeneration_cases::request("b1", "Renamed", 5);
    let answer = f.jobs.queue_regeneration(&request).await.unwrap();
    assert_eq!(answer, Regeneration::Reconfigured(f.uploads.get(upload.id).await.unwrap().unwrap()));
    assert_eq!(f.uploads.get(request.session.id).await.unwrap(), None, "no new session");
    let build = f.builds.get(&env, &p, &upload.build_id).await.unwrap().unwrap();
    assert_eq!((build.status, &build.config), (BuildStatus::Pending, &request.config));
    let job = f.jobs.claim_next(4, t(10)).await.unwrap().unwrap();
    assert_eq!((job.upload_id, &job.config), (Some(upload.id), &request.config), "the queued job, reconfigured");
    assert_eq!(f.jobs.claim_next(4, t(10)).await.unwrap(), None);
    f.jobs.finish(&job, &finished(11, Ok(None))).await.unwrap();
    assert_eq!(f.jobs.claim_next(4, t(12)).await.unwrap(), None, "no second generation");

    // A queued job whose session was deleted (its reference is cleared) is given the regeneration's.
    let orphan = saved_upload(f, "p", "b2", 20).await;
    assert!(f.uploads.delete(orphan.id).await.unwrap());
    let request = regeneration_cases::request("b2", "Again", 21);
    let expected = regeneration_cases::stored(&request);
    assert_eq!(f.jobs.queue_regeneration(&request).await.unwrap(), Regeneration::Started(expected.clone()));
    let job = f.jobs.claim_next(4, t(22)).await.unwrap().unwrap();
    assert_eq!((job.build_id.as_str(), job.upload_id), ("b2", Some(expected.id)));
    assert_eq!(f.jobs.claim_next(4, t(22)).await.unwrap(), None);
}

/// §8.1, a job running: one follow-up job is queued with its own session while the build stays `generating`;
/// a second request reconfigures that follow-up. When the running job ends the build is `pending`, and the
/// follow-up runs with the latest config.
pub async fn regenerating_a_running_build_queues_one_follow_up(f: &StoreFixture) {
    use hub_domain::ports::Regeneration;
    with_project(f, "p").await;
    let (env, p) = default_p();
    let upload = saved_upload(f, "p", "b1", 1).await;
    let running = f.jobs.claim_next(4, t(10)).await.unwrap().unwrap();

    let first = regeneration_cases::request("b1", "First", 11);
    let follow_up = regeneration_cases::stored(&first);
    assert_eq!(f.jobs.queue_regeneration(&first).await.unwrap(), Regeneration::Started(follow_up.clone()));
    assert_eq!(f.builds.status(&env, &p, &upload.build_id).await.unwrap(), Some(BuildStatus::Generating));
    assert_eq!(f.jobs.claim_next(4, t(12)).await.unwrap(), None, "one job per project at a time");
    let second = regeneration_cases::request("b1", "Second", 13);
    assert_eq!(f.jobs.queue_regeneration(&second).await.unwrap(), Regeneration::Reconfigured(follow_up.clone()));
    assert_eq!(f.uploads.get(second.session.id).await.unwrap(), None);

    let done = f.jobs.finish(&running, &finished(14, Ok(None))).await.unwrap().unwrap();
    assert_eq!((done.id, done.phase), (upload.id, Phase::Done));
    let build = f.builds.get(&env, &p, &upload.build_id).await.unwrap().unwrap();
    assert_eq!((build.status, &build.config), (BuildStatus::Pending, &second.config));
    assert_eq!(f.uploads.get(follow_up.id).await.unwrap().map(|s| s.phase), Some(Phase::Generating));
    let next = f.jobs.claim_next(4, t(15)).await.unwrap().unwrap();
    assert_eq!((next.id, next.upload_id, &next.config), (first.job.id, Some(follow_up.id), &second.config));
    let done = f.jobs.finish(&next, &finished(16, Ok(None))).await.unwrap().unwrap();
    assert_eq!((done.id, done.phase), (follow_up.id, Phase::Done));
    assert_eq!(f.builds.status(&env, &p, &upload.build_id).await.unwrap(), Some(BuildStatus::Ready));
}

/// §8.1's 409 and 404: nothing changes while a session for the build id is receiving or assembling (even before
/// its build exists), nor for a build that does not exist.
pub async fn regeneration_waits_for_uploads_in_progress_and_needs_the_build(f: &StoreFixture) {
    use hub_domain::ports::Regeneration;
    with_project(f, "p").await;
    let (env, p) = default_p();
    f.seeds.seed_build(&build("default", "p", "b1", t(1), 3)).await;
    let mut receiving = upload_cases::session("p", "b1", UploadKind::Chunked, 2);
    receiving.replace = true;
    f.uploads.insert(&receiving).await.unwrap();
    let request = regeneration_cases::request("b1", "Blocked", 3);
    for phase in [Phase::Uploading, Phase::Assembling] {
        receiving.phase = phase;
        assert!(f.uploads.update(&receiving).await.unwrap());
        assert_eq!(f.jobs.queue_regeneration(&request).await.unwrap(), Regeneration::UploadInProgress, "{phase:?}");
    }
    let build = f.builds.get(&env, &p, &receiving.build_id).await.unwrap().unwrap();
    assert_eq!((build.status, build.config), (BuildStatus::Ready, serde_json::json!({})), "nothing changed");
    assert_eq!(f.uploads.get(request.session.id).await.unwrap(), None);
    assert_eq!(f.jobs.claim_next(4, t(4)).await.unwrap(), None, "no job was queued");

    let new_build = upload_cases::session("p", "b2", UploadKind::Stream, 4);
    f.uploads.insert(&new_build).await.unwrap();
    let request = regeneration_cases::request("b2", "Early", 5);
    assert_eq!(f.jobs.queue_regeneration(&request).await.unwrap(), Regeneration::UploadInProgress);

    let missing = regeneration_cases::request("b3", "Nothing", 6);
    assert_eq!(f.jobs.queue_regeneration(&missing).await.unwrap(), Regeneration::BuildNotFound);
    assert_eq!(f.uploads.get(missing.session.id).await.unwrap(), None);

    receiving.phase = Phase::Failed;
    assert!(f.uploads.update(&receiving).await.unwrap());
    let request = regeneration_cases::request("b1", "Unblocked", 7);
    assert!(matches!(f.jobs.queue_regeneration(&request).await.unwrap(), Regeneration::Started(_)));
}

/// §17.4: a job stopped by a graceful shutdown is queued again as it was; only interruptions by crashes count.
pub async fn a_job_stopped_by_a_shutdown_is_queued_again_without_an_attempt(f: &StoreFixture) {
    with_project(f, "p").await;
    let session = saved_upload(f, "p", "b1", 1).await;
    let (env, p) = (EnvId::parse("default").unwrap(), ProjectId::parse("p").unwrap());
    for _ in 0..5 {
        let job = f.jobs.claim_next(4, t(10)).await.unwrap().unwrap();
        assert_eq!(job.attempts, 0, "shutdowns are not counted");
        f.jobs.release(&job).await.unwrap();
        assert_eq!(f.builds.status(&env, &p, &session.build_id).await.unwrap(), Some(BuildStatus::Pending));
    }
    let job = f.jobs.claim_next(4, t(11)).await.unwrap().unwrap();
    let ok =
        hub_domain::ports::JobOutcome { finished_at: t(12), result: Ok(None), warnings: vec![], quality_gate: None };
    f.jobs.finish(&job, &ok).await.unwrap();
    f.jobs.release(&job).await.unwrap();
    assert_eq!(
        f.builds.status(&env, &p, &session.build_id).await.unwrap(),
        Some(BuildStatus::Ready),
        "a finished job is not released"
    );
}
