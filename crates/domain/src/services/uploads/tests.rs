#![allow(clippy::unwrap_used)]

use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::ids::{BuildId, EnvId, ProjectId, UploadId};
use crate::model::upload::{Phase, UploadKind, UploadSession};
use crate::ports::clock::{MockClock, MockIdGenerator};
use crate::ports::events::MockEventBus;
use crate::ports::files::MockResultStore;
use crate::ports::repos::{MockBuildRepo, MockEnvironmentRepo, MockProjectRepo, MockUploadSessionRepo};
use crate::ports::uploads::MockUploadFiles;

fn at(hours_ago: i64) -> crate::Timestamp {
    chrono::DateTime::from_timestamp(1_800_000_000 - hours_ago * 3_600, 0).unwrap()
}

fn session(kind: UploadKind, phase: Phase, updated_hours_ago: i64) -> UploadSession {
    UploadSession {
        id: UploadId::from(ulid::Ulid::new()),
        kind,
        env_id: EnvId::parse("staging").unwrap(),
        project_id: ProjectId::parse("checkout").unwrap(),
        build_id: BuildId::parse("b1").unwrap(),
        file_name: Some("results.zip".into()),
        total_size: Some(10),
        total_chunks: 2,
        received_chunks: 1,
        phase,
        failed_at_phase: None,
        error: None,
        uploaded_by: "apikey:ci".into(),
        owner: "apikey:x".into(),
        sha256: None,
        report_config: None,
        replace: false,
        started_at: at(30),
        updated_at: at(updated_hours_ago),
        completed_at: None,
        report_url: None,
        stats: None,
    }
}

type Log<T> = Arc<Mutex<Vec<T>>>;

/// A service over `found` unfinished sessions; returns it with the sessions it stores and the uploads whose
/// files it discards.
fn service(found: Vec<UploadSession>) -> (UploadService, Log<UploadSession>, Log<UploadId>) {
    let stored = Arc::new(Mutex::new(Vec::new()));
    let discarded = Arc::new(Mutex::new(Vec::new()));
    let mut sessions = MockUploadSessionRepo::new();
    sessions.expect_unfinished().returning(move || Ok(found.clone()));
    let log = Arc::clone(&stored);
    sessions.expect_update().returning(move |s| {
        log.lock().unwrap().push(s.clone());
        Ok(true)
    });
    let mut files = MockUploadFiles::new();
    let log = Arc::clone(&discarded);
    files.expect_discard().returning(move |_, _, id| {
        log.lock().unwrap().push(id);
        Ok(())
    });
    let mut events = MockEventBus::new();
    events.expect_publish().return_const(());
    let mut clock = MockClock::new();
    clock.expect_now().returning(|| at(0));
    let ports = UploadPorts {
        sessions: Arc::new(sessions),
        builds: Arc::new(MockBuildRepo::new()),
        envs: Arc::new(MockEnvironmentRepo::new()),
        projects: Arc::new(MockProjectRepo::new()),
        files: Arc::new(files),
        results: Arc::new(MockResultStore::new()),
        events: Arc::new(events),
        clock: Arc::new(clock),
        ids: Arc::new(MockIdGenerator::new()),
    };
    let timeouts = UploadTimeouts { idle: Duration::from_secs(300), stale_after: Duration::from_secs(86_400) };
    (UploadService::new(ports, UploadLimits::default(), timeouts, Arc::default()), stored, discarded)
}

#[tokio::test]
async fn a_restart_fails_interrupted_streams_and_reopens_chunked_assembly() {
    let stream_up = session(UploadKind::Stream, Phase::Uploading, 0);
    let stream_asm = session(UploadKind::Stream, Phase::Assembling, 0);
    let chunked_up = session(UploadKind::Chunked, Phase::Uploading, 0);
    let chunked_asm = session(UploadKind::Chunked, Phase::Assembling, 0);
    let (uploads, stored, discarded) =
        service(vec![stream_up.clone(), stream_asm.clone(), chunked_up.clone(), chunked_asm.clone()]);
    assert_eq!(uploads.recover().await.unwrap(), 3);
    let stored = stored.lock().unwrap().clone();
    let find = |id: UploadId| stored.iter().find(|s| s.id == id).cloned();
    for (original, phase) in [(&stream_up, Phase::Uploading), (&stream_asm, Phase::Assembling)] {
        let failed = find(original.id).unwrap();
        assert_eq!(
            (failed.phase, failed.failed_at_phase, failed.error.as_deref(), failed.completed_at),
            (Phase::Failed, Some(phase), Some("interrupted by server restart"), Some(at(0)))
        );
    }
    assert_eq!(find(chunked_asm.id).unwrap().phase, Phase::Uploading, "chunks intact, complete may be retried");
    assert_eq!(find(chunked_up.id), None, "a chunked upload in progress stays resumable");
    let discarded = discarded.lock().unwrap().clone();
    assert!(discarded.contains(&stream_up.id) && discarded.contains(&stream_asm.id));
    assert!(!discarded.contains(&chunked_asm.id) && !discarded.contains(&chunked_up.id));
}

#[tokio::test]
async fn only_chunked_uploads_without_progress_for_the_limit_go_stale() {
    let stale = session(UploadKind::Chunked, Phase::Uploading, 25);
    let fresh = session(UploadKind::Chunked, Phase::Uploading, 23);
    let assembling = session(UploadKind::Chunked, Phase::Assembling, 48);
    let (uploads, stored, discarded) = service(vec![stale.clone(), fresh, assembling]);
    assert_eq!(uploads.sweep_stale().await.unwrap(), 1);
    let stored = stored.lock().unwrap().clone();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].id, stored[0].phase, stored[0].error.as_deref()),
        (stale.id, Phase::Failed, Some("upload abandoned: no progress for 24h"))
    );
    assert_eq!(*discarded.lock().unwrap(), vec![stale.id], "its chunks are deleted");
}

#[test]
fn missing_chunk_messages_list_at_most_twenty() {
    let e = UploadError::MissingChunks { id: UploadId::from(ulid::Ulid::nil()), missing: (0..25).collect() };
    let text = e.to_string();
    assert!(text.ends_with("17, 18, 19, …"), "{text}");
    let e = UploadError::MissingChunks { id: UploadId::from(ulid::Ulid::nil()), missing: vec![1] };
    assert!(e.to_string().ends_with("is missing chunks: 1"));
}
