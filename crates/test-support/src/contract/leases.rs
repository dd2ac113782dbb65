//! [`JobQueue`](hub_domain::ports::JobQueue) with several nodes on one database: each node runs up to its own
//! limit, a project never has two running jobs whatever node claims, a node's hold on a job is a lease it renews,
//! and a job whose lease ran out goes back to the queue (counting an attempt) while its old node can no longer
//! finish or release it.

use hub_domain::ids::NodeId;
use hub_domain::model::build::BuildStatus;
use hub_domain::model::job::Lease;
use hub_domain::ports::StoreError;

use super::StoreFixture;
use super::fixtures::{default_p, finished, saved_upload, t, with_project};

fn node(id: &str) -> NodeId {
    NodeId::parse(id).unwrap()
}

fn lease(id: &str, until: u32) -> Lease {
    Lease { node: node(id), until: t(until) }
}

/// Each node counts its own running jobs against its limit; a project's jobs run one at a time across nodes.
pub async fn each_node_runs_up_to_its_limit_and_a_project_one_job_on_any_node(f: &StoreFixture) {
    for (minute, project) in [(1, "p"), (2, "q"), (3, "r")] {
        with_project(f, project).await;
        saved_upload(f, project, "b1", minute).await;
    }
    saved_upload(f, "p", "b2", 4).await;
    let a1 = f.jobs.claim_next(1, t(10), &lease("a", 20)).await.unwrap().unwrap();
    assert_eq!(f.jobs.claim_next(1, t(10), &lease("a", 20)).await.unwrap(), None, "a runs its one job");
    let b1 = f.jobs.claim_next(1, t(10), &lease("b", 20)).await.unwrap().unwrap();
    assert_ne!(a1.project_id, b1.project_id);
    let c1 = f.jobs.claim_next(5, t(10), &lease("c", 20)).await.unwrap().unwrap();
    assert_eq!(f.jobs.claim_next(5, t(10), &lease("c", 20)).await.unwrap(), None, "p's second build waits for p1");
    let claimed: Vec<&str> = [&a1, &b1, &c1].iter().map(|j| j.project_id.as_str()).collect();
    assert_eq!(claimed, ["p", "q", "r"], "oldest first");
    f.jobs.finish(&a1, &node("a"), &finished(11, Ok(None))).await.unwrap();
    let next = f.jobs.claim_next(5, t(12), &lease("c", 20)).await.unwrap().unwrap();
    assert_eq!((next.project_id.as_str(), next.build_id.as_str()), ("p", "b2"));
}

/// A renewed lease keeps the job; one that ran out sends it back to the queue with an attempt counted, after
/// which its old node can neither finish nor release it, and another node runs it.
pub async fn a_job_whose_lease_ran_out_goes_to_another_node(f: &StoreFixture) {
    with_project(f, "p").await;
    let session = saved_upload(f, "p", "b1", 1).await;
    let (env, p) = default_p();
    let job = f.jobs.claim_next(4, t(10), &lease("a", 12)).await.unwrap().unwrap();
    assert_eq!(f.jobs.renew(&node("a"), t(14)).await.unwrap(), 1);
    assert_eq!(f.jobs.renew(&node("b"), t(14)).await.unwrap(), 0, "b holds nothing");
    assert!(f.jobs.requeue_abandoned(3, t(13), None).await.unwrap().is_empty());
    assert_eq!(f.jobs.claim_next(4, t(13), &lease("b", 30)).await.unwrap(), None, "a's lease still runs");

    // a stops renewing: at 15 its lease has run out.
    assert!(f.jobs.requeue_abandoned(3, t(15), None).await.unwrap().is_empty(), "queued again, not failed");
    assert_eq!(f.builds.status(&env, &p, &session.build_id).await.unwrap(), Some(BuildStatus::Pending));
    let taken = f.jobs.claim_next(4, t(16), &lease("b", 30)).await.unwrap().unwrap();
    assert_eq!((taken.id, taken.attempts), (job.id, 1), "the same job, one attempt counted");
    let late = f.jobs.finish(&job, &node("a"), &finished(17, Ok(None))).await;
    assert!(matches!(late, Err(StoreError::Conflict)), "{late:?}");
    f.jobs.release(&job, &node("a")).await.unwrap();
    assert_eq!(f.jobs.renew(&node("a"), t(40)).await.unwrap(), 0, "a lost it");
    assert_eq!(f.builds.status(&env, &p, &session.build_id).await.unwrap(), Some(BuildStatus::Generating));
    f.jobs.finish(&taken, &node("b"), &finished(18, Ok(None))).await.unwrap();
    assert_eq!(f.builds.status(&env, &p, &session.build_id).await.unwrap(), Some(BuildStatus::Ready));
}

/// At start-up a node takes back what its previous process held, whatever the lease says, and leaves the jobs
/// of live nodes alone.
pub async fn a_restarted_node_takes_back_only_its_own_jobs(f: &StoreFixture) {
    for (minute, project) in [(1, "p"), (2, "q")] {
        with_project(f, project).await;
        saved_upload(f, project, "b1", minute).await;
    }
    let mine = f.jobs.claim_next(4, t(10), &lease("a", 100)).await.unwrap().unwrap();
    let theirs = f.jobs.claim_next(4, t(10), &lease("b", 100)).await.unwrap().unwrap();
    assert!(f.jobs.requeue_abandoned(3, t(11), Some(node("a"))).await.unwrap().is_empty());
    assert_eq!(f.jobs.renew(&node("b"), t(100)).await.unwrap(), 1, "b keeps its job");
    let again = f.jobs.claim_next(4, t(12), &lease("a", 100)).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (mine.id, 1));
    f.jobs.finish(&theirs, &node("b"), &finished(13, Ok(None))).await.unwrap();
}

/// Nodes claiming all at once take different jobs, and never two of one project: on PostgreSQL the claims
/// really run in parallel (locked rows are skipped, and the database refuses a second running job of a project).
pub async fn nodes_claiming_at_once_take_distinct_jobs_and_one_per_project(f: &StoreFixture) {
    for (minute, project) in [(1, "p"), (2, "q"), (3, "r")] {
        with_project(f, project).await;
        for build in ["b1", "b2", "b3"] {
            saved_upload(f, project, build, minute).await;
        }
    }
    let leases: Vec<Lease> = (0..12).map(|i| lease(&format!("n{}", i % 6), 100)).collect();
    let claims = leases.iter().map(|held| f.jobs.claim_next(10, t(10), held));
    let claimed: Vec<_> = futures_util::future::join_all(claims).await.into_iter().filter_map(Result::unwrap).collect();
    let mut projects: Vec<&str> = claimed.iter().map(|job| job.project_id.as_str()).collect();
    projects.sort_unstable();
    assert_eq!(projects, ["p", "q", "r"], "one job of each project, none twice: {claimed:?}");
    assert_eq!(f.jobs.counts().await.unwrap().running, 3);
}
