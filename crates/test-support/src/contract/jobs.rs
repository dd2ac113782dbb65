//! [`JobQueue`](hub_domain::ports::JobQueue) (contract §8.3, §17.3, §17.4): claiming one job per project up to a
//! limit, finishing, recovery after crashes and shutdowns, and the queue's counts. Regenerations are in
//! [`regeneration`](super::regeneration).

use hub_domain::model::build::{BuildStatus, QualityGateFailure, QualityGateResult};
use hub_domain::model::upload::Phase;
use hub_domain::ports::{JobCounts, JobOutcome};

use super::StoreFixture;
use super::fixtures::{SAVED_WARNING, default_p, finished, published, saved_upload, t, with_project};

/// The oldest queued job of a project without a running one is claimed, at most `max_running` at once.
pub async fn jobs_run_one_per_project_up_to_the_limit(f: &StoreFixture) {
    with_project(f, "p").await;
    with_project(f, "q").await;
    saved_upload(f, "p", "p1", 1).await;
    saved_upload(f, "p", "p2", 2).await;
    saved_upload(f, "q", "q1", 3).await;
    let first = f.jobs.claim_next(2, t(10), &super::fixtures::held()).await.unwrap().unwrap();
    assert_eq!(first.build_id.as_str(), "p1");
    let (env, p) = default_p();
    assert_eq!(f.builds.status(&env, &p, &first.build_id).await.unwrap(), Some(BuildStatus::Generating));
    let second = f.jobs.claim_next(2, t(10), &super::fixtures::held()).await.unwrap().unwrap();
    assert_eq!(second.build_id.as_str(), "q1", "p2 waits: its project already runs a job");
    assert_eq!(f.jobs.claim_next(3, t(10), &super::fixtures::held()).await.unwrap(), None, "p2 still waits for p1");
    assert_eq!(f.jobs.claim_next(2, t(10), &super::fixtures::held()).await.unwrap(), None, "two already run");
    f.jobs.finish(&first, &super::fixtures::node(), &finished(11, Ok(Some("point-1".into())))).await.unwrap();
    let third = f.jobs.claim_next(2, t(12), &super::fixtures::held()).await.unwrap().unwrap();
    assert_eq!(third.build_id.as_str(), "p2");
}

/// Success makes the build ready with a report and its trend point, and the session done; failure keeps the
/// report flag and records the error.
pub async fn a_finished_job_settles_its_build_and_session(f: &StoreFixture) {
    with_project(f, "p").await;
    let session = saved_upload(f, "p", "b1", 1).await;
    let job = f.jobs.claim_next(4, t(10), &super::fixtures::held()).await.unwrap().unwrap();
    assert_eq!(job.upload_id, Some(session.id));
    let ok = JobOutcome {
        finished_at: t(11),
        result: Ok(published("k1", Some("point-1"))),
        warnings: vec!["harmless".into()],
        quality_gate: Some(QualityGateResult {
            passed: false,
            failures: vec![QualityGateFailure {
                rule: "critical/maxFailures".into(),
                expected: serde_json::json!(0),
                actual: serde_json::json!(2),
                message: "The number of failed tests 2 exceeds the allowed threshold value 0".into(),
            }],
        }),
    };
    let done = f.jobs.finish(&job, &super::fixtures::node(), &ok).await.unwrap().unwrap();
    assert_eq!((done.phase, done.completed_at, done.error), (Phase::Done, Some(t(11)), None));
    assert_eq!(f.jobs.history_entry(&job).await.unwrap().as_deref(), Some("point-1"));
    let (env, p) = default_p();
    assert_eq!(f.builds.status(&env, &p, &job.build_id).await.unwrap(), Some(BuildStatus::Ready));
    let view = f.projects.get(&env, &p).await.unwrap().unwrap().latest_build.unwrap();
    assert_eq!(view.completed_at, Some(t(11)));
    let stored = f.builds.get(&env, &p, &job.build_id).await.unwrap().unwrap();
    assert_eq!((stored.quality_gate, stored.longest_test_ms, stored.has_report), (ok.quality_gate, 900, true));
    assert_eq!(stored.report_key.as_deref(), Some("k1"), "the report's key becomes the build's");
    assert_eq!(stored.warnings, vec![SAVED_WARNING, "harmless"]);

    // A later upload of another build whose generation fails.
    let failing = saved_upload(f, "p", "b2", 2).await;
    let job = f.jobs.claim_next(4, t(20), &super::fixtures::held()).await.unwrap().unwrap();
    let failed = finished(21, Err("allure generate produced no index.html".into()));
    let session = f.jobs.finish(&job, &super::fixtures::node(), &failed).await.unwrap().unwrap();
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
    let (env, p) = default_p();
    for attempt in 1..=2 {
        let job = f.jobs.claim_next(4, t(10), &super::fixtures::held()).await.unwrap().unwrap();
        assert_eq!(job.attempts, attempt - 1);
        assert!(f.jobs.requeue_abandoned(3, t(11), Some(super::fixtures::node())).await.unwrap().is_empty());
        assert_eq!(f.builds.status(&env, &p, &job.build_id).await.unwrap(), Some(BuildStatus::Pending));
    }
    f.jobs.claim_next(4, t(12), &super::fixtures::held()).await.unwrap().unwrap();
    let failed = f.jobs.requeue_abandoned(3, t(13), Some(super::fixtures::node())).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].id, failed[0].phase, failed[0].error.as_deref()),
        (session.id, Phase::Failed, Some("generation interrupted by server restarts"))
    );
    assert_eq!(f.builds.status(&env, &p, &session.build_id).await.unwrap(), Some(BuildStatus::Failed));
    assert_eq!(
        f.jobs.claim_next(4, t(14), &super::fixtures::held()).await.unwrap(),
        None,
        "a failed job is not run again"
    );
}

/// §17.4: a job stopped by a graceful shutdown is queued again as it was; only interruptions by crashes count.
pub async fn a_job_stopped_by_a_shutdown_is_queued_again_without_an_attempt(f: &StoreFixture) {
    with_project(f, "p").await;
    let session = saved_upload(f, "p", "b1", 1).await;
    let (env, p) = default_p();
    for _ in 0..5 {
        let job = f.jobs.claim_next(4, t(10), &super::fixtures::held()).await.unwrap().unwrap();
        assert_eq!(job.attempts, 0, "shutdowns are not counted");
        f.jobs.release(&job, &super::fixtures::node()).await.unwrap();
        assert_eq!(f.builds.status(&env, &p, &session.build_id).await.unwrap(), Some(BuildStatus::Pending));
    }
    let job = f.jobs.claim_next(4, t(11), &super::fixtures::held()).await.unwrap().unwrap();
    f.jobs.finish(&job, &super::fixtures::node(), &finished(12, Ok(None))).await.unwrap();
    f.jobs.release(&job, &super::fixtures::node()).await.unwrap();
    assert_eq!(
        f.builds.status(&env, &p, &session.build_id).await.unwrap(),
        Some(BuildStatus::Ready),
        "a finished job is not released"
    );
}

/// Queued and running jobs are counted apart; finished ones not at all.
pub async fn jobs_are_counted_by_state(f: &StoreFixture) {
    assert_eq!(f.jobs.counts().await.unwrap(), JobCounts { queued: 0, running: 0 });
    for (minute, project) in [(1, "p"), (2, "q"), (3, "r")] {
        with_project(f, project).await;
        saved_upload(f, project, "b1", minute).await;
    }
    assert_eq!(f.jobs.counts().await.unwrap(), JobCounts { queued: 3, running: 0 });
    let claimed = f.jobs.claim_next(2, t(5), &super::fixtures::held()).await.unwrap().unwrap();
    f.jobs.claim_next(2, t(5), &super::fixtures::held()).await.unwrap().unwrap();
    assert_eq!(f.jobs.counts().await.unwrap(), JobCounts { queued: 1, running: 2 });
    f.jobs.finish(&claimed, &super::fixtures::node(), &finished(6, Ok(None))).await.unwrap();
    assert_eq!(f.jobs.counts().await.unwrap(), JobCounts { queued: 1, running: 1 });
}
