//! [`BuildRepo`](hub_domain::ports::BuildRepo) (contract §8.4–8.8, §13.6): listing, neighbours, statistics,
//! deletion while work is in flight, the retention listing, and the stored bytes kept per build.

use chrono::TimeDelta;
use hub_domain::model::build::{Build, BuildStatus, OutcomeFilter};
use hub_domain::model::page::{Page, PageRequest};
use hub_domain::model::upload::{Phase, UploadKind};
use hub_domain::ports::{BuildDeletion, BuildKey, BuildRef};

use super::StoreFixture;
use super::fixtures::{
    build_id, default_p, env_id, environment, finished, project, saved, saved_upload, t, upload, with_project,
};
use super::seeding::{SeedBuild, seed_builds};

/// A `ready` build of `project` in `default` with these outcomes (`[passed, failed, broken, skipped]`), created at
/// `minute`.
fn counted(project: &'static str, id: &str, minute: u32, outcomes: [i64; 4]) -> SeedBuild {
    SeedBuild::ready("default", project, id, t(minute), outcomes)
}

fn build_ids(page: &Page<Build>) -> Vec<&str> {
    page.items.iter().map(|b| b.build_id.as_str()).collect()
}

/// §8.4: newest `createdAt` first, ties by build id descending; `passed` = tests and none failed or broken,
/// `failed` = any failed or broken (the build's own status plays no part); `total` ignores the page.
pub async fn builds_are_listed_newest_first_filtered_by_outcome_and_paged(f: &StoreFixture) {
    with_project(f, "p").await;
    with_project(f, "q").await;
    let mut failed_status = counted("p", "green", 3, [5, 0, 0, 1]);
    failed_status.status = BuildStatus::Failed;
    let broken = counted("p", "broken", 2, [3, 0, 1, 0]);
    let seeds = [
        counted("p", "empty", 1, [0, 0, 0, 0]),
        broken.clone(),
        failed_status,
        counted("p", "tie-a", 4, [2, 1, 0, 0]),
        counted("p", "tie-b", 4, [2, 0, 0, 0]),
        counted("q", "elsewhere", 5, [1, 0, 0, 0]),
    ];
    seed_builds(f, &seeds).await;
    let (env, p) = default_p();
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

    let one = f.builds.get(&env, &p, &build_id("broken")).await.unwrap().unwrap();
    assert_eq!(one, all.items[3], "get and list read the same fields");
    assert_eq!(one, broken.stored(), "every field as stored");
    assert_eq!(f.builds.get(&env, &p, &build_id("elsewhere")).await.unwrap(), None);
    assert_eq!(
        f.builds.latest_ready(&env, &p).await.unwrap().map(|b| b.to_string()).as_deref(),
        Some("tie-b"),
        "newest ready build, ties by id"
    );
    // Neighbours follow the unfiltered list, across ties, and stay inside the project.
    let beside = |id: &str| {
        let id = build_id(id);
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
    let (env, p) = default_p();
    let empty = f.builds.stats(&env, &p).await.unwrap();
    assert_eq!((empty.total_builds, empty.total_passed, empty.latest, empty.trend), (0, 0, None, vec![]));
    let seeds: Vec<SeedBuild> = (0..32u32)
        .map(|i| counted("p", &format!("b{i:02}"), i, [i64::from(i), i64::from(i % 3), i64::from(i % 2), 1]))
        .collect();
    seed_builds(f, &seeds).await;
    let passed: i64 = seeds.iter().map(|s| s.stats.passed).sum();
    let failed: i64 = seeds.iter().map(|s| s.stats.failed + s.stats.broken).sum();
    let stats = f.builds.stats(&env, &p).await.unwrap();
    assert_eq!(
        (stats.total_builds, stats.total_passed, stats.total_failed, stats.total_skipped),
        (32, passed, failed, 32)
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
    with_project(f, "p").await;
    let (env, p) = default_p();
    let session = saved_upload(f, "p", "b1", 1).await;
    let b1 = session.build_id.clone();
    assert_eq!(f.builds.delete(&env, &p, &b1).await.unwrap(), BuildDeletion::Generating, "queued");
    let job = f.jobs.claim_next(4, t(10), &super::fixtures::held()).await.unwrap().unwrap();
    assert_eq!(f.builds.delete(&env, &p, &b1).await.unwrap(), BuildDeletion::Generating, "running");
    f.jobs.finish(&job, &super::fixtures::node(), &finished(11, Ok(Some("point-1".into())))).await.unwrap();

    seed_builds(f, &[counted("p", "b2", 2, [1, 0, 0, 0])]).await;
    let receiving = upload("p", "b2", UploadKind::Stream, 3);
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

/// §13.6: only `ready` and `failed` builds created strictly before the cut, oldest first, ties by environment,
/// project and build id; a listing continues after the last key it returned.
pub async fn expired_builds_come_oldest_first_and_continue_after_a_key(f: &StoreFixture) {
    f.envs.insert(&environment("other", t(0))).await.unwrap();
    for (env, id) in [("default", "p"), ("default", "q"), ("other", "p")] {
        f.projects.insert(&project(env, id, t(0))).await.unwrap();
    }
    let cutoff = t(0);
    let day = |d: i64| cutoff + TimeDelta::days(d);
    let seed = |env: &'static str, project: &'static str, build: &str, at, status| {
        SeedBuild::new(env, project, build, at, status, [1, 0, 0, 0])
    };
    seed_builds(
        f,
        &[
            seed("other", "p", "b1", day(-3), BuildStatus::Failed),
            seed("default", "q", "b1", day(-3), BuildStatus::Ready),
            seed("default", "p", "b1", day(-3), BuildStatus::Ready),
            seed("default", "p", "b0", day(-3), BuildStatus::Ready),
            seed("default", "p", "b2", day(-2), BuildStatus::Pending),
            seed("default", "p", "b3", day(-2), BuildStatus::Generating),
            seed("default", "p", "b4", day(-1), BuildStatus::Failed),
            seed("default", "p", "b5", cutoff, BuildStatus::Ready),
            seed("default", "p", "b6", day(1), BuildStatus::Ready),
        ],
    )
    .await;
    let key = |b: &Build| (b.env_id.to_string(), b.project_id.to_string(), b.build_id.to_string());
    let expected = [
        ("default", "p", "b0"),
        ("default", "p", "b1"),
        ("default", "q", "b1"),
        ("other", "p", "b1"),
        ("default", "p", "b4"),
    ]
    .map(|(e, p, b)| (e.to_owned(), p.to_owned(), b.to_owned()));
    let all: Vec<_> = f.builds.expired(cutoff, None, 100).await.unwrap().iter().map(key).collect();
    assert_eq!(all, expected);
    let mut after = None;
    let mut pages = Vec::new();
    loop {
        let page = f.builds.expired(cutoff, after.clone(), 2).await.unwrap();
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
    let first = &f.builds.expired(cutoff, None, 1).await.unwrap()[0];
    assert_eq!((first.status, first.stats.passed, first.created_at), (BuildStatus::Ready, 1, day(-3)), "full rows");
}

/// Issue 17: the bytes the storage holds per build are kept with the build; unknown (NULL) until measured, listed
/// for the start-up pass by key until a value is kept, never replaced by a late fill, replaced with new results
/// (not by a finished job), and summed per project by the database.
pub async fn stored_bytes_are_kept_per_build_and_summed_per_project(f: &StoreFixture) {
    f.envs.insert(&environment("other", t(0))).await.unwrap();
    for (env, id) in [("default", "p"), ("default", "q"), ("other", "p")] {
        f.projects.insert(&project(env, id, t(0))).await.unwrap();
    }
    let seed = |env: &'static str, project: &'static str, build: &str, minute| {
        SeedBuild::new(env, project, build, t(minute), BuildStatus::Ready, [1, 0, 0, 0])
    };
    seed_builds(f, &[seed("other", "p", "b4", 1), seed("default", "q", "b3", 2), seed("default", "p", "b2", 3)]).await;
    seed_builds(f, &[seed("default", "p", "b1", 4)]).await;
    let name = |b: &BuildRef| format!("{}/{}/{}", b.env, b.project, b.build);
    let unmeasured = |after: Option<BuildRef>, limit| {
        let builds = f.builds.clone();
        async move { builds.unmeasured(after, limit).await.unwrap() }
    };
    let all: Vec<String> = unmeasured(None, 100).await.iter().map(name).collect();
    assert_eq!(all, ["default/p/b1", "default/p/b2", "default/q/b3", "other/p/b4"], "by key, not by age");
    let first = unmeasured(None, 3).await;
    let rest: Vec<String> = unmeasured(first.last().cloned(), 3).await.iter().map(name).collect();
    assert_eq!(rest, ["other/p/b4"], "a listing continues after the last key");
    let sums = |f: &StoreFixture| {
        let builds = f.builds.clone();
        async move {
            let mut sums: Vec<(String, i64)> = builds
                .stored_bytes_by_project()
                .await
                .unwrap()
                .into_iter()
                .map(|p| (format!("{}/{}", p.env, p.project), p.bytes))
                .collect();
            sums.sort();
            sums
        }
    };
    let zero = |p: &str| (p.to_owned(), 0);
    assert_eq!(sums(f).await, [zero("default/p"), zero("default/q"), zero("other/p")], "nothing measured yet");

    let (env, p) = default_p();
    let stored = |id: &str| {
        let (builds, env, p, id) = (f.builds.clone(), env.clone(), p.clone(), build_id(id));
        async move { builds.get(&env, &p, &id).await.unwrap().unwrap().stored_bytes }
    };
    assert!(f.builds.set_stored_bytes(&env, &p, &build_id("b1"), Some(100)).await.unwrap());
    assert!(!f.builds.fill_stored_bytes(&env, &p, &build_id("b1"), 5).await.unwrap(), "a kept value stays");
    assert_eq!(stored("b1").await, Some(100));
    assert!(f.builds.fill_stored_bytes(&env, &p, &build_id("b2"), 50).await.unwrap());
    assert!(
        f.builds.set_stored_bytes(&env, &p, &build_id("b1"), Some(120)).await.unwrap(),
        "a new measurement replaces"
    );
    assert!(!f.builds.set_stored_bytes(&env, &p, &build_id("gone"), Some(1)).await.unwrap());
    assert!(!f.builds.fill_stored_bytes(&env, &p, &build_id("gone"), 1).await.unwrap());
    let other = env_id("other");
    assert!(f.builds.set_stored_bytes(&other, &p, &build_id("b4"), Some(7)).await.unwrap(), "same ids, other env");
    let left: Vec<String> = unmeasured(None, 100).await.iter().map(name).collect();
    assert_eq!(left, ["default/q/b3"]);
    assert_eq!(sums(f).await, [("default/p".to_owned(), 170), zero("default/q"), ("other/p".to_owned(), 7)]);

    // New results of b1 come with their own measurement (or none), and the job that follows keeps it.
    let mut replacing = upload("p", "b1", UploadKind::Stream, 10);
    f.uploads.insert(&replacing).await.unwrap();
    let (mut build, job) = saved(&replacing);
    build.stored_bytes = Some(30);
    replacing.phase = Phase::Generating;
    f.uploads.save_results(&replacing, &build, &job).await.unwrap();
    assert_eq!(stored("b1").await, Some(30));
    let claimed = f.jobs.claim_next(4, t(11), &super::fixtures::held()).await.unwrap().unwrap();
    f.jobs.finish(&claimed, &super::fixtures::node(), &finished(12, Ok(None))).await.unwrap();
    assert_eq!(stored("b1").await, Some(30), "settling the build leaves its stored bytes alone");
    let mut unknown = upload("p", "b1", UploadKind::Stream, 13);
    f.uploads.insert(&unknown).await.unwrap();
    let (build, job) = saved(&unknown);
    unknown.phase = Phase::Generating;
    f.uploads.save_results(&unknown, &build, &job).await.unwrap();
    assert_eq!(stored("b1").await, None, "results whose size could not be measured are unknown again");
    assert_eq!(unmeasured(None, 1).await.iter().map(name).collect::<Vec<_>>(), ["default/p/b1"]);

    // A deleted build's bytes leave the sums with it.
    assert!(matches!(f.builds.delete(&env, &p, &build_id("b2")).await.unwrap(), BuildDeletion::Deleted { .. }));
    assert_eq!(sums(f).await, [zero("default/p"), zero("default/q"), ("other/p".to_owned(), 7)]);
    // Files that changed and could not be measured are unknown again.
    assert!(f.builds.set_stored_bytes(&other, &p, &build_id("b4"), None).await.unwrap());
    assert_eq!(sums(f).await, [zero("default/p"), zero("default/q"), zero("other/p")]);
}
