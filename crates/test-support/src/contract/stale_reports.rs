//! [`StaleReports`](hub_domain::ports::StaleReports) (issue 17): the builds whose reports other than the current
//! one are still to be deleted, recorded by the switch that leaves the old report behind and by the failure of a
//! job interrupted too often, listed by key for the sweep, forgotten only while the build names the report that
//! was kept, and gone with their build.

use hub_domain::model::build::BuildStatus;
use hub_domain::ports::{BuildDeletion, BuildRef, JobOutcome};

use super::StoreFixture;
use super::fixtures::{build_id, default_p, project_id, published, saved_upload, t, with_project};

/// Build `build` of project `project`.
fn build_ref(project: &str, build: &str) -> BuildRef {
    BuildRef { env: default_p().0, project: project_id(project), build: build_id(build) }
}

/// The recorded builds, as `project/build`.
async fn recorded(f: &StoreFixture) -> Vec<String> {
    let stale = f.stale_reports.stale(None, 100).await.unwrap();
    stale.iter().map(|b| format!("{}/{}", b.project, b.build)).collect()
}

/// New results of `build` in project `project` at `minute`, and their generation: published under the key, or
/// failed with the text.
async fn generate(f: &StoreFixture, project: &str, build: &str, minute: u32, result: Result<&str, &str>) {
    saved_upload(f, project, build, minute).await;
    let job = f.jobs.claim_next(4, t(minute), &super::fixtures::held()).await.unwrap().unwrap();
    assert_eq!(job.build_id.as_str(), build);
    let result = result.map(|key| published(key, None)).map_err(str::to_owned);
    let outcome = JobOutcome { finished_at: t(minute + 1), result, warnings: vec![], quality_gate: None };
    f.jobs.finish(&job, &super::fixtures::node(), &outcome).await.unwrap();
}

/// A switch records the build when the report it replaced is elsewhere, and only then; the record is forgotten
/// once, and only while the build still names the report that was kept.
pub async fn a_switch_that_leaves_a_report_behind_records_the_build_until_it_is_forgotten(f: &StoreFixture) {
    with_project(f, "p").await;
    generate(f, "p", "b1", 1, Ok("k1")).await;
    generate(f, "p", "b2", 3, Ok("report")).await;
    generate(f, "p", "b2", 5, Ok("report")).await;
    generate(f, "p", "b1", 7, Err("allure generate produced no index.html")).await;
    assert!(recorded(f).await.is_empty(), "first reports, a report replaced in place and a failure leave nothing");

    generate(f, "p", "b1", 9, Ok("k2")).await;
    assert_eq!(recorded(f).await, ["p/b1"], "k1 is left behind");
    let b1 = build_ref("p", "b1");
    assert!(!f.stale_reports.forget(&b1, Some("k1".into())).await.unwrap(), "b1 names k2, not k1");
    assert!(!f.stale_reports.forget(&b1, None).await.unwrap(), "b1 names a report");

    // A newer switch comes before the run that kept k2 forgets the build: k2 is now left behind.
    generate(f, "p", "b1", 11, Ok("k3")).await;
    assert!(!f.stale_reports.forget(&b1, Some("k2".into())).await.unwrap());
    assert_eq!(recorded(f).await, ["p/b1"], "recorded once");
    assert!(f.stale_reports.forget(&b1, Some("k3".into())).await.unwrap());
    assert!(recorded(f).await.is_empty());
    assert!(!f.stale_reports.forget(&b1, Some("k3".into())).await.unwrap(), "forgotten once");

    // Builds without a report name none: forgotten with none kept.
    with_project(f, "q").await;
    saved_upload(f, "q", "fresh", 13).await;
    let fresh = build_ref("q", "fresh");
    f.stale_reports.record(&fresh).await.unwrap();
    assert!(f.stale_reports.forget(&fresh, None).await.unwrap());
}

/// The recorded builds come by environment, project and build id, each once, continuing after a key; recording a
/// build again or one that does not exist changes nothing; deleting a build or its project forgets it.
pub async fn stale_builds_are_listed_by_key_and_go_with_their_build(f: &StoreFixture) {
    with_project(f, "p").await;
    with_project(f, "q").await;
    f.stale_reports.record(&build_ref("p", "b1")).await.unwrap();
    assert!(recorded(f).await.is_empty(), "no such build");
    for (minute, (project, build)) in [(1, ("q", "a1")), (3, ("p", "b2")), (5, ("p", "b1"))] {
        generate(f, project, build, minute, Ok("k1")).await;
        generate(f, project, build, minute + 10, Ok("k2")).await;
    }
    f.stale_reports.record(&build_ref("p", "b1")).await.unwrap();
    assert_eq!(recorded(f).await, ["p/b1", "p/b2", "q/a1"]);
    let first = f.stale_reports.stale(None, 2).await.unwrap();
    assert_eq!(first, [build_ref("p", "b1"), build_ref("p", "b2")]);
    let rest = f.stale_reports.stale(first.last().cloned(), 2).await.unwrap();
    assert_eq!(rest, [build_ref("q", "a1")]);

    let (env, p) = default_p();
    let deleted = f.builds.delete(&env, &p, &build_id("b2")).await.unwrap();
    assert!(matches!(deleted, BuildDeletion::Deleted { .. }), "{deleted:?}");
    assert!(f.projects.delete(&env, &project_id("q")).await.unwrap());
    assert_eq!(recorded(f).await, ["p/b1"]);
}

/// A job failed at start-up for too many interruptions records its build (no run will delete what it may have
/// published); one queued again does not (its run will).
pub async fn a_job_interrupted_too_often_records_its_build(f: &StoreFixture) {
    with_project(f, "p").await;
    saved_upload(f, "p", "b1", 1).await;
    f.jobs.claim_next(4, t(2), &super::fixtures::held()).await.unwrap().unwrap();
    assert!(f.jobs.requeue_abandoned(2, t(3), Some(super::fixtures::node())).await.unwrap().is_empty(), "queued again");
    assert!(recorded(f).await.is_empty());
    f.jobs.claim_next(4, t(4), &super::fixtures::held()).await.unwrap().unwrap();
    assert_eq!(f.jobs.requeue_abandoned(2, t(5), Some(super::fixtures::node())).await.unwrap().len(), 1, "failed");
    let (env, p) = default_p();
    assert_eq!(f.builds.status(&env, &p, &build_id("b1")).await.unwrap(), Some(BuildStatus::Failed));
    assert_eq!(recorded(f).await, ["p/b1"]);
}
