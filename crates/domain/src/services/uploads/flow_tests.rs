//! The upload use cases against mocked ports: what each flow stores, publishes and refuses, in which order, and
//! what a failure leaves behind.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::ids::ApiKeyId;
use crate::ids::{BuildId, EnvId, ProjectId, UploadId};
use crate::model::access::{Permission, Principal, PrincipalRef};
use crate::model::build::{Build, BuildStats, BuildStatus};
use crate::model::job::{GenerationJob, JobState};
use crate::model::upload::{Phase, UploadKind, UploadSession};
use crate::ports::clock::{MockClock, MockIdGenerator};
use crate::ports::events::MockEventBus;
use crate::ports::files::MockResultStore;
use crate::ports::repos::{MockBuildRepo, MockEnvironmentRepo, MockProjectRepo, MockUploadSessionRepo};
use crate::ports::uploads::MockUploadFiles;
use crate::ports::{
    ArchiveError, ChunkRecord, Extracted, ReceiveError, StorageError, StoreError, UploadEvent, UploadFilter,
};

type Log<T> = Arc<Mutex<Vec<T>>>;

fn log<T>() -> Log<T> {
    Arc::new(Mutex::new(Vec::new()))
}

fn now() -> crate::Timestamp {
    chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn ci(permissions: Vec<Permission>, auto_create: bool) -> Principal {
    Principal {
        identity: PrincipalRef::ApiKey { id: ApiKeyId::from(ulid::Ulid::from_parts(1, 1)), name: "ci".into() },
        role: None,
        permissions,
        session: None,
        auto_create,
    }
}

fn uploader() -> Principal {
    ci(vec![Permission::View, Permission::Upload], false)
}

fn target() -> Target {
    Target {
        env: EnvId::parse("staging").unwrap(),
        project: ProjectId::parse("checkout").unwrap(),
        build: BuildId::parse("b1").unwrap(),
    }
}

fn body() -> crate::ports::ByteStream {
    Box::pin(futures_stream(vec![bytes::Bytes::from_static(b"zip")]))
}

fn futures_stream(items: Vec<bytes::Bytes>) -> impl futures_core::Stream<Item = Result<bytes::Bytes, BodyErr>> {
    struct Items(std::vec::IntoIter<bytes::Bytes>);
    impl futures_core::Stream for Items {
        type Item = Result<bytes::Bytes, BodyErr>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next().map(Ok))
        }
    }
    Items(items.into_iter())
}

type BodyErr = crate::ports::BodyError;

/// The ports of one test: mocks to set expectations on, plus logs of what was stored and published.
struct World {
    sessions: MockUploadSessionRepo,
    builds: MockBuildRepo,
    envs: MockEnvironmentRepo,
    projects: MockProjectRepo,
    files: MockUploadFiles,
    /// Measures every build as 4 KiB unless a test says otherwise.
    results: MockResultStore,
    published: Log<UploadEvent>,
}

impl World {
    /// A project that exists, a build id that is free.
    fn new() -> Self {
        let mut envs = MockEnvironmentRepo::new();
        envs.expect_exists().returning(|_| Ok(true));
        let mut projects = MockProjectRepo::new();
        projects.expect_exists().returning(|_, _| Ok(true));
        let mut builds = MockBuildRepo::new();
        builds.expect_status().returning(|_, _, _| Ok(None));
        let mut sessions = MockUploadSessionRepo::new();
        sessions.expect_has_active().returning(|_, _, _| Ok(false));
        let mut results = MockResultStore::new();
        results.expect_build_bytes().returning(|_, _, _| Ok(4096));
        Self { sessions, builds, envs, projects, files: MockUploadFiles::new(), results, published: log() }
    }

    fn service(self) -> (UploadService, Log<UploadEvent>) {
        let mut events = MockEventBus::new();
        let published = Arc::clone(&self.published);
        events.expect_publish().returning(move |e| published.lock().unwrap().push(e));
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        let mut ids = MockIdGenerator::new();
        ids.expect_ulid().returning(ulid::Ulid::new);
        let ports = UploadPorts {
            sessions: Arc::new(self.sessions),
            builds: Arc::new(self.builds),
            envs: Arc::new(self.envs),
            projects: Arc::new(self.projects),
            files: Arc::new(self.files),
            results: Arc::new(self.results),
            events: Arc::new(events),
            clock: Arc::new(clock),
            ids: Arc::new(ids),
        };
        let timeouts = UploadTimeouts { idle: Duration::from_secs(300), stale_after: Duration::from_secs(86_400) };
        let limits = UploadLimits { max_chunk_bytes: 100, ..UploadLimits::default() };
        (UploadService::new(ports, limits, timeouts, Arc::default()), self.published)
    }
}

fn phases(published: &Log<UploadEvent>) -> Vec<Phase> {
    published
        .lock()
        .unwrap()
        .iter()
        .map(|e| match e {
            UploadEvent::Updated(s) | UploadEvent::Deleted(s) => s.phase,
        })
        .collect()
}

/// A streaming upload of 3 bytes that succeeds; returns what was saved (session, build, job) and published.
async fn streamed(mut w: World) -> (UploadSession, Build, GenerationJob, Log<UploadEvent>) {
    let inserted = log::<UploadSession>();
    let saved = log::<(UploadSession, Build, GenerationJob)>();
    let l = Arc::clone(&inserted);
    w.sessions.expect_insert().times(1).returning(move |s| {
        l.lock().unwrap().push(s.clone());
        Ok(())
    });
    w.sessions.expect_update().times(1).returning(|s| {
        assert_eq!((s.phase, s.total_size, s.received_chunks), (Phase::Assembling, Some(3), 1));
        Ok(true)
    });
    let l = Arc::clone(&saved);
    w.sessions.expect_save_results().times(1).returning(move |s, b, j| {
        l.lock().unwrap().push((s.clone(), b.clone(), j.clone()));
        Ok(())
    });
    w.files.expect_receive().times(1).returning(|_, _, _| Ok(3));
    let stats = BuildStats { total: 2, passed: 1, failed: 1, ..BuildStats::default() };
    w.files.expect_extract().times(1).returning(move |_, _, _, _, _| {
        Ok(Extracted { stats, longest_test_ms: 40, warnings: vec!["unreadable x-result.json".into()] })
    });
    w.files.expect_publish().times(1).returning(|_, _, _, _| Ok(()));
    w.files.expect_discard().times(1).returning(|_, _, _| Ok(()));
    let (uploads, published) = w.service();
    let session =
        uploads.upload_stream(&uploader(), target(), UploadOptions::default(), Some(3), body()).await.unwrap();
    let (stored, build, job) = saved.lock().unwrap()[0].clone();
    assert_eq!(stored, session, "what is returned is what was stored");
    let first = inserted.lock().unwrap()[0].clone();
    assert_eq!(
        (first.phase, first.kind, first.uploaded_by.as_str()),
        (Phase::Uploading, UploadKind::Stream, "apikey:ci")
    );
    (session, build, job, published)
}

#[tokio::test]
async fn a_streaming_upload_goes_from_uploading_to_a_saved_build_with_its_queued_job() {
    let (session, build, job, published) = streamed(World::new()).await;
    let stats = BuildStats { total: 2, passed: 1, failed: 1, ..BuildStats::default() };
    assert_eq!(session.phase, Phase::Generating);
    assert_eq!(session.stats, Some(stats));
    assert_eq!(session.report_url.as_deref(), Some("/reports/staging/checkout/b1/index.html"));
    assert_eq!((build.status, build.stats, build.longest_test_ms), (BuildStatus::Pending, stats, 40));
    assert_eq!(build.stored_bytes, Some(4096), "measured once its results are in place, saved with it");
    assert_eq!(build.warnings, ["unreadable x-result.json"]);
    assert_eq!((job.state, job.upload_id, &job.build_id), (JobState::Queued, Some(session.id), &build.build_id));
    assert_eq!(
        phases(&published),
        [Phase::Uploading, Phase::Assembling, Phase::Generating],
        "each change is published"
    );
}

#[tokio::test]
async fn a_build_that_cannot_be_measured_is_saved_with_its_size_unknown() {
    let mut w = World::new();
    w.results = MockResultStore::new();
    w.results.expect_build_bytes().times(1).returning(|_, _, _| Err(StorageError::unavailable("refused")));
    let (session, build, _, _) = streamed(w).await;
    assert_eq!((session.phase, build.stored_bytes), (Phase::Generating, None), "the upload does not fail");
}

#[tokio::test]
async fn refusals_before_the_body_store_nothing() {
    // (what the store says, replace) → refusal
    let cases: [(Option<BuildStatus>, bool, bool, &str); 5] = [
        (Some(BuildStatus::Ready), false, false, "build b1 already exists"),
        (Some(BuildStatus::Generating), false, true, "build b1 is being generated"),
        (Some(BuildStatus::Pending), false, true, "build b1 is being generated"),
        (None, true, false, "build b1 already exists"),
        (None, true, true, "build b1 has an upload in progress"),
    ];
    for (status, active, replace, message) in cases {
        let mut w = World::new();
        w.builds = MockBuildRepo::new();
        w.builds.expect_status().returning(move |_, _, _| Ok(status));
        w.sessions = MockUploadSessionRepo::new();
        w.sessions.expect_has_active().returning(move |_, _, _| Ok(active));
        let (uploads, published) = w.service();
        let options = UploadOptions { replace, ..UploadOptions::default() };
        let err = uploads.upload_stream(&uploader(), target(), options, None, body()).await.unwrap_err();
        assert_eq!(err.to_string(), message, "{status:?} active {active} replace {replace}");
        assert!(published.lock().unwrap().is_empty());
    }

    let mut w = World::new();
    w.envs = MockEnvironmentRepo::new();
    w.envs.expect_exists().returning(|_| Ok(false));
    let (uploads, _) = w.service();
    let err = uploads.upload_stream(&uploader(), target(), UploadOptions::default(), None, body()).await.unwrap_err();
    assert_eq!(err.to_string(), "environment staging not found");
}

#[tokio::test]
async fn a_precheck_never_creates_what_an_auto_create_key_would() {
    let mut w = World::new();
    // No exists() or insert() expectations on environments and projects: touching them fails the test.
    w.envs = MockEnvironmentRepo::new();
    w.projects = MockProjectRepo::new();
    let (uploads, _) = w.service();
    let creator = ci(vec![Permission::View, Permission::Upload], true);
    uploads.precheck_stream(&creator, &target(), false).await.unwrap();

    let mut w = World::new();
    w.projects = MockProjectRepo::new();
    w.projects.expect_exists().returning(|_, _| Ok(false));
    let (uploads, _) = w.service();
    let err = uploads.precheck_stream(&uploader(), &target(), false).await.unwrap_err();
    assert_eq!(err.to_string(), "project checkout not found in environment staging");
}

#[tokio::test]
async fn a_storage_failure_fails_the_session_with_the_clients_message_and_removes_its_files() {
    let mut w = World::new();
    w.sessions.expect_insert().returning(|_| Ok(()));
    let stored = log::<UploadSession>();
    let l = Arc::clone(&stored);
    w.sessions.expect_update().returning(move |s| {
        l.lock().unwrap().push(s.clone());
        Ok(true)
    });
    w.files.expect_receive().returning(|_, _, _| {
        Err(ReceiveError::Storage(StorageError::new("cannot write /srv/data/tmp/upload.zip: No space left on device")))
    });
    w.files.expect_discard().times(1).returning(|_, _, _| Ok(()));
    let (uploads, published) = w.service();

    let err = uploads.upload_stream(&uploader(), target(), UploadOptions::default(), None, body()).await.unwrap_err();

    assert!(matches!(err, UploadError::Storage(_)), "the cause stays with the error, for the log: {err:?}");
    assert_eq!(err.client_message(), "internal server error");
    let failed = stored.lock().unwrap()[0].clone();
    assert_eq!(
        (failed.phase, failed.failed_at_phase, failed.error.as_deref(), failed.completed_at),
        (Phase::Failed, Some(Phase::Uploading), Some("internal server error"), Some(now()))
    );
    assert_eq!(phases(&published), [Phase::Uploading, Phase::Failed]);
}

#[tokio::test]
async fn an_unreachable_storage_fails_the_session_as_unavailable_and_saves_no_build() {
    let mut w = World::new();
    w.sessions.expect_insert().returning(|_| Ok(()));
    let stored = log::<UploadSession>();
    let l = Arc::clone(&stored);
    w.sessions.expect_update().returning(move |s| {
        l.lock().unwrap().push(s.clone());
        Ok(true)
    });
    // No save_results expectation: a build saved after a failed publication fails the test.
    w.files.expect_receive().returning(|_, _, _| Ok(3));
    w.files.expect_extract().returning(|_, _, _, _, _| Ok(Extracted::default()));
    w.files
        .expect_publish()
        .times(1)
        .returning(|_, _, _, _| Err(StorageError::unavailable("cannot store the build's results: connection refused")));
    w.files.expect_discard().times(1).returning(|_, _, _| Ok(()));
    let (uploads, published) = w.service();

    let err = uploads.upload_stream(&uploader(), target(), UploadOptions::default(), None, body()).await.unwrap_err();

    assert!(err.is_unavailable(), "{err:?}");
    assert_eq!(err.client_message(), "service unavailable");
    let failed = stored.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        (failed.phase, failed.failed_at_phase, failed.error.as_deref()),
        (Phase::Failed, Some(Phase::Assembling), Some("service unavailable"))
    );
    assert_eq!(phases(&published), [Phase::Uploading, Phase::Assembling, Phase::Failed]);
    // Chunks that cannot be read back are as passing as results that cannot be written.
    let chunks = UploadError::Archive(ArchiveError::Storage(StorageError::unavailable("connection reset")));
    assert_eq!(chunks.client_message(), "service unavailable");
}

#[tokio::test]
async fn a_refused_archive_fails_the_session_at_assembly_with_the_rule_it_broke() {
    let mut w = World::new();
    w.sessions.expect_insert().returning(|_| Ok(()));
    let stored = log::<UploadSession>();
    let l = Arc::clone(&stored);
    w.sessions.expect_update().returning(move |s| {
        l.lock().unwrap().push(s.clone());
        Ok(true)
    });
    w.files.expect_receive().returning(|_, _, _| Ok(3));
    w.files.expect_extract().returning(|_, _, _, _, _| Err(ArchiveError::Duplicate("a.txt".into())));
    w.files.expect_discard().times(1).returning(|_, _, _| Ok(()));
    let (uploads, _) = w.service();
    let err = uploads.upload_stream(&uploader(), target(), UploadOptions::default(), None, body()).await.unwrap_err();
    assert_eq!(err.client_message(), "duplicate archive entry \"a.txt\"");
    let failed = stored.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        (failed.phase, failed.failed_at_phase, failed.error),
        (Phase::Failed, Some(Phase::Assembling), Some(err.client_message()))
    );
}

fn chunked(owner: &Principal, phase: Phase) -> UploadSession {
    UploadSession {
        id: UploadId::from(ulid::Ulid::from_parts(2, 2)),
        kind: UploadKind::Chunked,
        env_id: target().env,
        project_id: target().project,
        build_id: target().build,
        file_name: Some("results.zip".into()),
        total_size: Some(250),
        total_chunks: 3,
        received_chunks: 1,
        phase,
        failed_at_phase: None,
        error: None,
        uploaded_by: owner.identity.display(),
        owner: owner.identity.owner_key(),
        sha256: None,
        report_config: None,
        replace: false,
        started_at: now(),
        updated_at: now(),
        completed_at: None,
        report_url: None,
        stats: None,
    }
}

fn chunk(index: i64, total_chunks: i64) -> ChunkUpload {
    ChunkUpload { index, total_chunks, sha256: None, body: body() }
}

#[tokio::test]
async fn a_chunk_is_taken_only_from_its_owner_in_range_while_the_session_uploads() {
    let owner = uploader();
    let other = ci(vec![Permission::View, Permission::Upload], false);
    let other = Principal {
        identity: PrincipalRef::ApiKey { id: ApiKeyId::from(ulid::Ulid::from_parts(9, 9)), name: "other".into() },
        ..other
    };
    let manager =
        Principal { permissions: vec![Permission::View, Permission::Upload, Permission::Manage], ..other.clone() };
    let (env, project) = (target().env, target().project);
    // (session phase, who, chunk) → refusal
    let cases = [
        (Phase::Uploading, other.clone(), chunk(0, 3), "belongs to another principal"),
        (Phase::Assembling, owner.clone(), chunk(0, 3), "is not accepting chunks (phase assembling)"),
        (Phase::Failed, manager.clone(), chunk(0, 3), "is not accepting chunks (phase failed)"),
        (Phase::Uploading, owner.clone(), chunk(3, 3), "X-Chunk-Index must be an integer between 0 and 2"),
        (Phase::Uploading, owner.clone(), chunk(-1, 3), "X-Chunk-Index must be an integer between 0 and 2"),
        (Phase::Uploading, owner.clone(), chunk(0, 4), "X-Total-Chunks must equal 3"),
    ];
    for (phase, who, chunk, message) in cases {
        let mut w = World::new();
        let session = chunked(&owner, phase);
        w.sessions.expect_get().returning(move |_| Ok(Some(session.clone())));
        let (uploads, _) = w.service();
        let id = UploadId::from(ulid::Ulid::from_parts(2, 2));
        let err = uploads.put_chunk(&who, &env, &project, id, chunk).await.unwrap_err();
        assert!(err.to_string().ends_with(message), "{err} should end with {message}");
    }

    // A manager may feed someone else's session; the chunk may not overflow the declared size.
    let mut w = World::new();
    let session = chunked(&owner, Phase::Uploading);
    w.sessions.expect_get().returning(move |_| Ok(Some(session.clone())));
    w.sessions.expect_stored_bytes().returning(|_, _| Ok(200));
    w.files.expect_store_chunk().times(1).returning(|_, _, _, _, write| {
        assert_eq!((write.index, write.max_bytes), (2, 50), "250 declared, 200 stored in the other chunks");
        Ok(50)
    });
    w.sessions.expect_put_chunk().times(1).returning(|_, record: ChunkRecord, _| {
        assert_eq!((record.index, record.size), (2, 50));
        let mut updated = chunked(&uploader(), Phase::Uploading);
        updated.received_chunks = 3;
        Ok(Some(updated))
    });
    let (uploads, published) = w.service();
    let id = UploadId::from(ulid::Ulid::from_parts(2, 2));
    let updated = uploads.put_chunk(&manager, &env, &project, id, chunk(2, 3)).await.unwrap();
    assert_eq!(updated.received_chunks, 3);
    assert_eq!(phases(&published), [Phase::Uploading]);
}

#[tokio::test]
async fn completion_needs_every_chunk_and_is_idempotent_once_done() {
    let owner = uploader();
    let (env, project) = (target().env, target().project);
    let id = UploadId::from(ulid::Ulid::from_parts(2, 2));

    let mut w = World::new();
    let session = chunked(&owner, Phase::Uploading);
    w.sessions.expect_get().returning(move |_| Ok(Some(session.clone())));
    w.sessions.expect_chunks().returning(|_| Ok(vec![ChunkRecord { index: 1, size: 100 }]));
    let (uploads, published) = w.service();
    let err = uploads.complete(&owner, &env, &project, id).await.unwrap_err();
    assert!(matches!(&err, UploadError::MissingChunks { missing, .. } if missing == &[0, 2]), "{err:?}");
    assert!(published.lock().unwrap().is_empty(), "the session stays open, unchanged");

    for (phase, expected) in [(Phase::Generating, Ok(Phase::Generating)), (Phase::Done, Ok(Phase::Done))] {
        let mut w = World::new();
        let session = chunked(&owner, phase);
        w.sessions.expect_get().returning(move |_| Ok(Some(session.clone())));
        let (uploads, _) = w.service();
        assert_eq!(
            uploads.complete(&owner, &env, &project, id).await.map(|s| s.phase).map_err(|e| e.to_string()),
            expected
        );
    }
    for (phase, message) in [(Phase::Assembling, "is being assembled"), (Phase::Failed, "has failed")] {
        let mut w = World::new();
        let session = chunked(&owner, phase);
        w.sessions.expect_get().returning(move |_| Ok(Some(session.clone())));
        let (uploads, _) = w.service();
        let err = uploads.complete(&owner, &env, &project, id).await.unwrap_err();
        assert!(err.to_string().ends_with(message), "{err}");
    }
}

#[tokio::test]
async fn only_settled_sessions_and_open_chunked_ones_are_deleted() {
    let owner = uploader();
    let id = UploadId::from(ulid::Ulid::from_parts(2, 2));
    // (kind, phase) → deletable
    let cases = [
        (UploadKind::Chunked, Phase::Uploading, true),
        (UploadKind::Stream, Phase::Uploading, false),
        (UploadKind::Chunked, Phase::Assembling, false),
        (UploadKind::Stream, Phase::Generating, false),
        (UploadKind::Stream, Phase::Done, true),
        (UploadKind::Regenerate, Phase::Failed, true),
    ];
    for (kind, phase, deletable) in cases {
        let mut w = World::new();
        let mut session = chunked(&owner, phase);
        session.kind = kind;
        w.sessions.expect_get().returning(move |_| Ok(Some(session.clone())));
        w.sessions.expect_delete().times(usize::from(deletable)).returning(|_| Ok(true));
        w.files.expect_discard().times(usize::from(deletable)).returning(|_, _, _| Ok(()));
        let (uploads, published) = w.service();
        let result = uploads.delete(id).await;
        assert_eq!(result.is_ok(), deletable, "{kind:?} {phase:?}: {result:?}");
        let events = published.lock().unwrap().clone();
        assert_eq!(events.len(), usize::from(deletable));
        assert!(events.iter().all(|e| matches!(e, UploadEvent::Deleted(s) if s.id == id)));
    }
}

#[tokio::test]
async fn lists_and_lookups_pass_through_and_map_store_errors() {
    let mut w = World::new();
    w.sessions.expect_list().returning(|_, limit| {
        assert_eq!(limit, 7);
        Err(StoreError::Unavailable("pool timed out".into()))
    });
    let (uploads, _) = w.service();
    let err = uploads.list(UploadFilter::default(), 7).await.unwrap_err();
    assert_eq!(err.client_message(), "service unavailable");
}
