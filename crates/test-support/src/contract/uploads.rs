//! [`UploadSessionRepo`](hub_domain::ports::UploadSessionRepo) (contract §9, §17.1): one upload of a build in
//! flight, chunk records, saving results with the build and its job, listing, and pruning finished sessions.

use chrono::TimeDelta;
use hub_domain::Timestamp;
use hub_domain::ids::UploadId;
use hub_domain::model::build::BuildStatus;
use hub_domain::model::upload::{Phase, UploadKind, UploadSession};
use hub_domain::ports::{ChunkRecord, StoreError, UploadFilter};

use super::StoreFixture;
use super::fixtures::{build_id, env_id, project_id, saved, t, upload, upload_in, with_project};

/// At most one upload (not regeneration) per build is in flight; a settled one frees the build id.
pub async fn one_upload_of_a_build_is_in_flight_at_a_time(f: &StoreFixture) {
    with_project(f, "p").await;
    let first = upload("p", "b1", UploadKind::Stream, 1);
    f.uploads.insert(&first).await.unwrap();
    assert_eq!(f.uploads.get(first.id).await.unwrap().as_ref(), Some(&first), "every field round-trips");
    let (env, project, build) = (first.env_id.clone(), first.project_id.clone(), first.build_id.clone());
    assert!(f.uploads.has_active(&env, &project, &build).await.unwrap());
    let second = upload("p", "b1", UploadKind::Chunked, 2);
    assert!(matches!(f.uploads.insert(&second).await, Err(StoreError::Conflict)));
    let mut regeneration = upload("p", "b1", UploadKind::Regenerate, 2);
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

    let missing = upload("nope", "b1", UploadKind::Stream, 4);
    assert!(matches!(f.uploads.insert(&missing).await, Err(StoreError::MissingParent)));
    assert!(f.uploads.delete(failed.id).await.unwrap());
    assert!(!f.uploads.update(&failed).await.unwrap(), "a deleted session is not recreated by an update");
}

/// Re-sending a chunk replaces its record; the session counts distinct indices and is touched.
pub async fn chunks_are_counted_once_per_index(f: &StoreFixture) {
    with_project(f, "p").await;
    let s = upload("p", "b1", UploadKind::Chunked, 1);
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
    let gone = upload("p", "b2", UploadKind::Chunked, 1);
    assert_eq!(f.uploads.stored_bytes(gone.id, 0).await.unwrap(), 0);
    assert_eq!(f.uploads.put_chunk(gone.id, ChunkRecord { index: 0, size: 1 }, t(8)).await.unwrap(), None);
    assert!(f.uploads.delete(s.id).await.unwrap());
    assert!(f.uploads.chunks(s.id).await.unwrap().is_empty(), "chunk records go with their session");
}

/// The build, its queued job and the session move together; a second queued job for the build changes nothing.
pub async fn saving_results_stores_build_job_and_session_together(f: &StoreFixture) {
    with_project(f, "p").await;
    let s = upload("p", "b1", UploadKind::Chunked, 1);
    f.uploads.insert(&s).await.unwrap();
    f.uploads.put_chunk(s.id, ChunkRecord { index: 0, size: 300 }, t(2)).await.unwrap();
    let (build, job) = saved(&s);
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
    let other = upload("p", "b1", UploadKind::Stream, 5);
    let (_, second_job) = saved(&other);
    let mut done = generating.clone();
    done.phase = Phase::Done;
    assert!(f.uploads.save_results(&done, &build, &second_job).await.is_err());
    assert_eq!(f.uploads.get(s.id).await.unwrap().map(|s| s.phase), Some(Phase::Generating));
    assert_eq!(f.builds.status(&env, &project, &build_id("b9")).await.unwrap(), None);
}

/// Newest start first, ties by id descending; filters by environment and project.
pub async fn upload_sessions_are_listed_newest_first_and_filtered(f: &StoreFixture) {
    with_project(f, "p").await;
    with_project(f, "q").await;
    let older = upload("p", "b1", UploadKind::Stream, 1);
    let newer = upload("q", "b2", UploadKind::Stream, 2);
    let mut tie = upload("p", "b3", UploadKind::Stream, 2);
    // Ulids made later sort higher; make the tie's order explicit.
    tie.id = UploadId::from(ulid::Ulid::from_parts(u64::MAX >> 16, 0));
    for s in [&older, &newer, &tie] {
        f.uploads.insert(s).await.unwrap();
    }
    let ids = |list: Vec<UploadSession>| list.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(f.uploads.list(UploadFilter::default(), 10).await.unwrap()), vec![tie.id, newer.id, older.id]);
    assert_eq!(ids(f.uploads.list(UploadFilter::default(), 1).await.unwrap()), vec![tie.id]);
    let only_p = UploadFilter { env: None, project: Some(project_id("p")) };
    assert_eq!(ids(f.uploads.list(only_p, 10).await.unwrap()), vec![tie.id, older.id]);
    let elsewhere = UploadFilter { env: Some(env_id("other")), project: None };
    assert!(f.uploads.list(elsewhere, 10).await.unwrap().is_empty());
}

/// Sessions `done` or `failed` completed before the cut go, with any chunk records; the others stay.
pub async fn finished_upload_sessions_are_pruned_with_their_chunks(f: &StoreFixture) {
    with_project(f, "p").await;
    let cutoff = t(0);
    let settled = |n: u32, phase: Phase, completed: Option<Timestamp>| {
        let mut s = upload_in("default", "p", &format!("b{n}"), UploadKind::Chunked, t(0));
        s.phase = phase;
        s.completed_at = completed;
        s
    };
    let sessions = [
        settled(1, Phase::Done, Some(cutoff - TimeDelta::days(2))),
        settled(2, Phase::Failed, Some(cutoff - TimeDelta::milliseconds(1))),
        settled(3, Phase::Done, Some(cutoff)),
        settled(4, Phase::Uploading, None),
        settled(5, Phase::Failed, Some(cutoff - TimeDelta::days(3))),
        settled(6, Phase::Generating, None),
        settled(7, Phase::Failed, Some(cutoff + TimeDelta::days(1))),
    ];
    let chunk = ChunkRecord { index: 0, size: 100 };
    for s in &sessions {
        let mut receiving = s.clone();
        receiving.phase = Phase::Uploading;
        receiving.completed_at = None;
        f.uploads.insert(&receiving).await.unwrap();
        if matches!(s.build_id.as_str(), "b4" | "b5") {
            f.uploads.put_chunk(s.id, chunk.clone(), t(-1)).await.unwrap();
        }
        assert!(f.uploads.update(s).await.unwrap());
    }
    assert_eq!(f.uploads.prune_finished(cutoff).await.unwrap(), 3);
    let left: Vec<String> = f
        .uploads
        .list(UploadFilter::default(), 100)
        .await
        .unwrap()
        .iter()
        .map(|s| s.build_id.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(left, ["b3", "b4", "b6", "b7"]);
    assert_eq!(f.uploads.chunks(sessions[3].id).await.unwrap(), [chunk], "a session that stays keeps its chunks");
    // The pruned session's chunk record went with it: stored again under its id, the session has none.
    let (pruned, mut again) = (sessions[4].id, sessions[4].clone());
    (again.phase, again.completed_at) = (Phase::Uploading, None);
    f.uploads.insert(&again).await.unwrap();
    assert!(f.uploads.chunks(pruned).await.unwrap().is_empty());
    assert_eq!(f.uploads.stored_bytes(pruned, 1).await.unwrap(), 0);
}
