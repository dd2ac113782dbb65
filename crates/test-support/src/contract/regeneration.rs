//! [`JobQueue::queue_regeneration`](hub_domain::ports::JobQueue::queue_regeneration) (contract §8.1): what a
//! regeneration does to a build, decided by the build's jobs and uploads in one transaction.

use hub_domain::model::build::BuildStatus;
use hub_domain::model::upload::{Phase, UploadKind, UploadSession};
use hub_domain::ports::{Regeneration, RegenerationRequest};

use super::StoreFixture;
use super::fixtures::{SAVED_WARNING, default_p, finished, saved, saved_upload, t, upload, with_project};
use super::seeding::{SeedBuild, seed_builds};

/// The warning every request of these cases adds to its build.
const WARNING: &str = "reportConfig.output is controlled by the server and was ignored";

/// A regeneration of `build` in project `p` named `name`, at `minute`, as the service prepares it.
fn request(build: &str, name: &str, minute: u32) -> RegenerationRequest {
    let mut session = upload("p", build, UploadKind::Regenerate, minute);
    session.phase = Phase::Generating;
    (session.file_name, session.total_size, session.total_chunks, session.sha256) = (None, None, 0, None);
    session.report_config = Some(serde_json::json!({"name": name, "output": "/x"}));
    session.report_url = Some(format!("/reports/default/p/{build}/index.html"));
    let (_, mut job) = saved(&session);
    let config = serde_json::json!({"name": name});
    (job.config, job.created_at) = (config.clone(), t(minute));
    RegenerationRequest { config, warnings: vec![WARNING.into()], session, job }
}

/// The request's session as the store keeps it: with the statistics of `saved_upload`'s builds.
fn stored(request: &RegenerationRequest) -> UploadSession {
    let mut session = request.session.clone();
    session.stats = Some(saved(&session).0.stats);
    session
}

/// §8.1, no job queued or running: a job is queued with a new `regenerate` session (carrying the build's
/// statistics) and the build is `pending` again, without its old error, with the new config; the job then runs with
/// that config and settles the new session.
pub async fn regenerating_an_idle_build_queues_a_job_with_a_new_session(f: &StoreFixture) {
    with_project(f, "p").await;
    let (env, p) = default_p();
    let upload = saved_upload(f, "p", "b1", 1).await;
    let job = f.jobs.claim_next(4, t(10), &super::fixtures::held()).await.unwrap().unwrap();
    f.jobs
        .finish(&job, &super::fixtures::node(), &finished(11, Err("allure generate produced no index.html".into())))
        .await
        .unwrap();

    let request = request("b1", "Retry", 20);
    let expected = stored(&request);
    assert_eq!(f.jobs.queue_regeneration(&request).await.unwrap(), Regeneration::Started(expected.clone()));
    assert_eq!(f.uploads.get(expected.id).await.unwrap(), Some(expected.clone()), "the session is stored");
    let build = f.builds.get(&env, &p, &upload.build_id).await.unwrap().unwrap();
    assert_eq!((build.status, build.error, &build.config), (BuildStatus::Pending, None, &request.config));
    assert_eq!(build.uploaded_by, upload.uploaded_by, "regeneration does not change who uploaded the results");
    assert_eq!(build.warnings, vec![SAVED_WARNING, WARNING]);

    let rerun = f.jobs.claim_next(4, t(21), &super::fixtures::held()).await.unwrap().unwrap();
    assert_eq!((rerun.id, rerun.upload_id, &rerun.config), (request.job.id, Some(expected.id), &request.config));
    let done = f.jobs.finish(&rerun, &super::fixtures::node(), &finished(22, Ok(None))).await.unwrap().unwrap();
    assert_eq!((done.id, done.phase), (expected.id, Phase::Done));
    assert_eq!(f.builds.status(&env, &p, &upload.build_id).await.unwrap(), Some(BuildStatus::Ready));
    assert_eq!(f.uploads.get(upload.id).await.unwrap().map(|s| s.phase), Some(Phase::Failed), "the upload's stays");
}

/// §8.1, a job queued and not started: its config is replaced and its session answers; no second job or
/// session. A queued job whose session is gone gets the new one.
pub async fn regenerating_a_queued_build_replaces_its_config_without_a_second_job(f: &StoreFixture) {
    with_project(f, "p").await;
    let (env, p) = default_p();
    let upload = saved_upload(f, "p", "b1", 1).await;
    let renamed = request("b1", "Renamed", 5);
    let answer = f.jobs.queue_regeneration(&renamed).await.unwrap();
    assert_eq!(answer, Regeneration::Reconfigured(f.uploads.get(upload.id).await.unwrap().unwrap()));
    assert_eq!(f.uploads.get(renamed.session.id).await.unwrap(), None, "no new session");
    let build = f.builds.get(&env, &p, &upload.build_id).await.unwrap().unwrap();
    assert_eq!((build.status, &build.config), (BuildStatus::Pending, &renamed.config));
    let job = f.jobs.claim_next(4, t(10), &super::fixtures::held()).await.unwrap().unwrap();
    assert_eq!((job.upload_id, &job.config), (Some(upload.id), &renamed.config), "the queued job, reconfigured");
    assert_eq!(f.jobs.claim_next(4, t(10), &super::fixtures::held()).await.unwrap(), None);
    f.jobs.finish(&job, &super::fixtures::node(), &finished(11, Ok(None))).await.unwrap();
    assert_eq!(f.jobs.claim_next(4, t(12), &super::fixtures::held()).await.unwrap(), None, "no second generation");

    // A queued job whose session was deleted (its reference is cleared) is given the regeneration's.
    let orphan = saved_upload(f, "p", "b2", 20).await;
    assert!(f.uploads.delete(orphan.id).await.unwrap());
    let again = request("b2", "Again", 21);
    let expected = stored(&again);
    assert_eq!(f.jobs.queue_regeneration(&again).await.unwrap(), Regeneration::Started(expected.clone()));
    let job = f.jobs.claim_next(4, t(22), &super::fixtures::held()).await.unwrap().unwrap();
    assert_eq!((job.build_id.as_str(), job.upload_id), ("b2", Some(expected.id)));
    assert_eq!(f.jobs.claim_next(4, t(22), &super::fixtures::held()).await.unwrap(), None);
}

/// §8.1, a job running: one follow-up job is queued with its own session while the build stays `generating`;
/// a second request reconfigures that follow-up. When the running job ends the build is `pending`, and the
/// follow-up runs with the latest config.
pub async fn regenerating_a_running_build_queues_one_follow_up(f: &StoreFixture) {
    with_project(f, "p").await;
    let (env, p) = default_p();
    let upload = saved_upload(f, "p", "b1", 1).await;
    let running = f.jobs.claim_next(4, t(10), &super::fixtures::held()).await.unwrap().unwrap();

    let first = request("b1", "First", 11);
    let follow_up = stored(&first);
    assert_eq!(f.jobs.queue_regeneration(&first).await.unwrap(), Regeneration::Started(follow_up.clone()));
    assert_eq!(f.builds.status(&env, &p, &upload.build_id).await.unwrap(), Some(BuildStatus::Generating));
    assert_eq!(
        f.jobs.claim_next(4, t(12), &super::fixtures::held()).await.unwrap(),
        None,
        "one job per project at a time"
    );
    let second = request("b1", "Second", 13);
    assert_eq!(f.jobs.queue_regeneration(&second).await.unwrap(), Regeneration::Reconfigured(follow_up.clone()));
    assert_eq!(f.uploads.get(second.session.id).await.unwrap(), None);

    let done = f.jobs.finish(&running, &super::fixtures::node(), &finished(14, Ok(None))).await.unwrap().unwrap();
    assert_eq!((done.id, done.phase), (upload.id, Phase::Done));
    let build = f.builds.get(&env, &p, &upload.build_id).await.unwrap().unwrap();
    assert_eq!((build.status, &build.config), (BuildStatus::Pending, &second.config));
    assert_eq!(f.uploads.get(follow_up.id).await.unwrap().map(|s| s.phase), Some(Phase::Generating));
    let next = f.jobs.claim_next(4, t(15), &super::fixtures::held()).await.unwrap().unwrap();
    assert_eq!((next.id, next.upload_id, &next.config), (first.job.id, Some(follow_up.id), &second.config));
    let done = f.jobs.finish(&next, &super::fixtures::node(), &finished(16, Ok(None))).await.unwrap().unwrap();
    assert_eq!((done.id, done.phase), (follow_up.id, Phase::Done));
    assert_eq!(f.builds.status(&env, &p, &upload.build_id).await.unwrap(), Some(BuildStatus::Ready));
}

/// §8.1's 409 and 404: nothing changes while a session for the build id is receiving or assembling (even before
/// its build exists), nor for a build that does not exist.
pub async fn regeneration_waits_for_uploads_in_progress_and_needs_the_build(f: &StoreFixture) {
    with_project(f, "p").await;
    let (env, p) = default_p();
    seed_builds(f, &[SeedBuild::ready("default", "p", "b1", t(1), [3, 1, 0, 0])]).await;
    let mut receiving = upload("p", "b1", UploadKind::Chunked, 2);
    receiving.replace = true;
    f.uploads.insert(&receiving).await.unwrap();
    let blocked = request("b1", "Blocked", 3);
    for phase in [Phase::Uploading, Phase::Assembling] {
        receiving.phase = phase;
        assert!(f.uploads.update(&receiving).await.unwrap());
        assert_eq!(f.jobs.queue_regeneration(&blocked).await.unwrap(), Regeneration::UploadInProgress, "{phase:?}");
    }
    let build = f.builds.get(&env, &p, &receiving.build_id).await.unwrap().unwrap();
    assert_eq!((build.status, build.config), (BuildStatus::Ready, serde_json::json!({})), "nothing changed");
    assert_eq!(f.uploads.get(blocked.session.id).await.unwrap(), None);
    assert_eq!(f.jobs.claim_next(4, t(4), &super::fixtures::held()).await.unwrap(), None, "no job was queued");

    let new_build = upload("p", "b2", UploadKind::Stream, 4);
    f.uploads.insert(&new_build).await.unwrap();
    let early = request("b2", "Early", 5);
    assert_eq!(f.jobs.queue_regeneration(&early).await.unwrap(), Regeneration::UploadInProgress);

    let missing = request("b3", "Nothing", 6);
    assert_eq!(f.jobs.queue_regeneration(&missing).await.unwrap(), Regeneration::BuildNotFound);
    assert_eq!(f.uploads.get(missing.session.id).await.unwrap(), None);

    receiving.phase = Phase::Failed;
    assert!(f.uploads.update(&receiving).await.unwrap());
    let unblocked = request("b1", "Unblocked", 7);
    assert!(matches!(f.jobs.queue_regeneration(&unblocked).await.unwrap(), Regeneration::Started(_)));
}
