//! [`ProjectRepo`](hub_domain::ports::ProjectRepo): ordering with build figures, ids unique per environment, the
//! parent environment, deletion, and the id inventory.

use hub_domain::model::build::BuildStatus;
use hub_domain::ports::StoreError;

use super::StoreFixture;
use super::fixtures::{env_id, environment, project, project_id, t};
use super::seeding::{SeedBuild, seed_builds};

/// A `ready` build with `passed` passed tests and one failed.
fn build(env: &'static str, project: &'static str, id: &str, minute: u32, passed: i64) -> SeedBuild {
    SeedBuild::ready(env, project, id, t(minute), [passed, 1, 0, 0])
}

/// Projects come newest first with their build counts and newest builds, whatever the builds' status.
pub async fn projects_are_listed_newest_first_with_build_figures(f: &StoreFixture) {
    f.envs.insert(&environment("staging", t(0))).await.unwrap();
    f.envs.insert(&environment("prod", t(0))).await.unwrap();
    f.projects.insert(&project("staging", "checkout", t(1))).await.unwrap();
    f.projects.insert(&project("staging", "search", t(2))).await.unwrap();
    f.projects.insert(&project("prod", "checkout", t(3))).await.unwrap();
    let mut newest = build("staging", "checkout", "b2", 20, 2);
    newest.status = BuildStatus::Failed;
    seed_builds(
        f,
        &[
            build("staging", "checkout", "b1", 10, 1),
            newest.clone(),
            build("staging", "checkout", "b0", 5, 0),
            // A newer build of the namesake project in another environment must not count.
            build("prod", "checkout", "p1", 30, 9),
        ],
    )
    .await;

    let listed = f.projects.list(&env_id("staging")).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|p| p.project.id.as_str()).collect();
    assert_eq!(ids, ["search", "checkout"]);
    assert_eq!((listed[0].build_count, &listed[0].latest_build), (0, &None));
    assert_eq!(listed[1].build_count, 3);
    assert_eq!(listed[1].latest_build.as_ref(), Some(&newest.summary()));
}

/// Two builds created in the same millisecond: the higher build id is the latest.
pub async fn latest_build_ties_go_to_the_highest_build_id(f: &StoreFixture) {
    f.envs.insert(&environment("staging", t(0))).await.unwrap();
    f.projects.insert(&project("staging", "checkout", t(1))).await.unwrap();
    f.projects.insert(&project("staging", "other", t(1))).await.unwrap();
    let mut seeds: Vec<SeedBuild> = ["b-1", "b-3", "b-2"].map(|id| build("staging", "checkout", id, 10, 1)).into();
    seeds.push(build("staging", "other", "x", 10, 1));
    seed_builds(f, &seeds).await;
    let view = f.projects.get(&env_id("staging"), &project_id("checkout")).await.unwrap().unwrap();
    assert_eq!(view.build_count, 3);
    assert_eq!(view.latest_build.unwrap().build_id.as_str(), "b-3");
}

/// Project ids are unique per environment, not globally.
pub async fn a_taken_project_id_conflicts_only_within_its_environment(f: &StoreFixture) {
    f.envs.insert(&environment("staging", t(0))).await.unwrap();
    f.envs.insert(&environment("prod", t(0))).await.unwrap();
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
    f.envs.insert(&environment("staging", t(0))).await.unwrap();
    f.envs.insert(&environment("prod", t(0))).await.unwrap();
    f.projects.insert(&project("staging", "checkout", t(1))).await.unwrap();
    f.projects.insert(&project("prod", "checkout", t(1))).await.unwrap();
    seed_builds(f, &[build("staging", "checkout", "b1", 2, 1), build("prod", "checkout", "b1", 2, 1)]).await;
    let checkout = project_id("checkout");

    assert!(f.projects.delete(&env_id("staging"), &checkout).await.unwrap());
    assert!(!f.projects.delete(&env_id("staging"), &checkout).await.unwrap());
    let prod = f.projects.get(&env_id("prod"), &checkout).await.unwrap().unwrap();
    assert_eq!(prod.build_count, 1);
}

/// The id inventory used to find orphaned files lists empty environments too.
pub async fn all_ids_include_environments_without_projects(f: &StoreFixture) {
    f.envs.insert(&environment("staging", t(0))).await.unwrap();
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
