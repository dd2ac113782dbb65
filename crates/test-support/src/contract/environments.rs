//! [`EnvironmentRepo`](hub_domain::ports::EnvironmentRepo): the seeded default, ordering, conflicts, partial
//! updates, project counts and deletion with everything under an environment.

use std::sync::Arc;

use hub_domain::ids::EnvId;
use hub_domain::model::environment::EnvironmentPatch;
use hub_domain::model::names::{DisplayName, Icon};
use hub_domain::ports::StoreError;

use super::StoreFixture;
use super::fixtures::{build_id, env_id, environment, project, project_id, t};
use super::seeding::{SeedBuild, seed_builds};
use crate::time::utc;

/// The seeded `default` environment exists on a new database.
pub async fn default_environment_is_seeded(f: &StoreFixture) {
    let all = f.envs.list().await.unwrap();
    let default = all.iter().find(|e| e.environment.id.is_default()).expect("default environment");
    assert_eq!(default.environment.name.as_str(), "Default");
    assert_eq!(default.environment.icon.as_str(), "deployed_code");
    assert_eq!(default.project_count, 0);
    assert!(f.envs.exists(&EnvId::default_env()).await.unwrap());
    assert!(!f.envs.exists(&env_id("ghost")).await.unwrap());
}

/// Newest `createdAt` first, ties by id ascending.
pub async fn environments_are_listed_newest_first_with_ties_by_id(f: &StoreFixture) {
    for (id, at) in [("old", t(1)), ("zeta", t(5)), ("alpha", t(5)), ("mid", t(3))] {
        f.envs.insert(&environment(id, at)).await.unwrap();
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
    let written = environment("precise", utc(2026, 4, 7, 10, 0, 0, 123));
    f.envs.insert(&written).await.unwrap();
    let read = f.envs.get(&written.id).await.unwrap().unwrap();
    assert_eq!(read.environment, written);
}

/// A second environment with the same id is a conflict and changes nothing.
pub async fn a_taken_environment_id_conflicts(f: &StoreFixture) {
    f.envs.insert(&environment("staging", t(1))).await.unwrap();
    let mut again = environment("staging", t(2));
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
            tokio::spawn(async move { envs.insert(&environment("race", t(i))).await })
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
    let original = environment("staging", t(1));
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
    let ghost = env_id("ghost");
    let patch = EnvironmentPatch { name: Some(DisplayName::parse("Ghost").unwrap()), icon: None };
    assert!(f.envs.update(&ghost, &patch).await.unwrap().is_none());
    assert!(f.envs.get(&ghost).await.unwrap().is_none());
}

/// Deleting an environment removes its projects and builds in one go; a second delete finds nothing.
pub async fn deleting_an_environment_removes_everything_under_it(f: &StoreFixture) {
    f.envs.insert(&environment("staging", t(1))).await.unwrap();
    f.projects.insert(&project("staging", "checkout", t(2))).await.unwrap();
    seed_builds(f, &[SeedBuild::ready("staging", "checkout", "b1", t(3), [5, 1, 0, 0])]).await;
    let id = env_id("staging");

    assert!(f.envs.delete(&id).await.unwrap());
    assert!(f.envs.get(&id).await.unwrap().is_none());
    assert!(!f.envs.exists(&id).await.unwrap());
    assert!(!f.envs.delete(&id).await.unwrap());

    // Re-created under the same ids, nothing of the old records shows through.
    f.envs.insert(&environment("staging", t(4))).await.unwrap();
    f.projects.insert(&project("staging", "checkout", t(5))).await.unwrap();
    let checkout = project_id("checkout");
    let view = f.projects.get(&id, &checkout).await.unwrap().unwrap();
    assert_eq!((view.build_count, view.latest_build), (0, None));
    assert_eq!(f.builds.status(&id, &checkout, &build_id("b1")).await.unwrap(), None);
}

/// `projectCount` is computed when read.
pub async fn project_counts_follow_inserts_and_deletes(f: &StoreFixture) {
    f.envs.insert(&environment("staging", t(1))).await.unwrap();
    for p in ["a", "b", "c"] {
        f.projects.insert(&project("staging", p, t(2))).await.unwrap();
    }
    let id = env_id("staging");
    assert_eq!(f.envs.get(&id).await.unwrap().unwrap().project_count, 3);
    f.projects.delete(&id, &project_id("b")).await.unwrap();
    let listed = f.envs.list().await.unwrap();
    let staging = listed.iter().find(|e| e.environment.id == id).unwrap();
    assert_eq!(staging.project_count, 2);
}
