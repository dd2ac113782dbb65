//! What object storage adds to the storage contract, on a real S3 on loopback (skipped without one, see
//! `hub_test_support::s3`): several nodes share one bucket, each with its own scratch directory; large bodies go
//! as multipart uploads; the bucket's health is checked.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use bytes::Bytes;
use hub_domain::ids::{BuildId, EnvId, JobId, ProjectId, UploadId};
use hub_domain::model::job::{GenerationJob, JobState};
use hub_domain::model::upload::UploadLimits;
use hub_domain::ports::{
    ArchiveError, ArchiveSource, ByteStream, ChunkWrite, Found, GenerationFiles, ReceiveError, ReportFiles,
    ReportLocation, ReportPath, StorageError, UploadFiles,
};
use hub_storage_s3::{Extractor, S3Settings, S3Storage};
use hub_test_support::s3::S3TestBucket;
use hub_test_support::zip_forge::{Entry, forge};

fn extractor() -> Extractor {
    Arc::new(|archive, staging, limits| {
        let file = std::fs::File::open(archive).map_err(|e| ArchiveError::Storage(StorageError::new(e.to_string())))?;
        hub_storage_fs::archive::extract(std::io::BufReader::new(file), staging, limits)
    })
}

/// One node: the adapter on the shared bucket through its ports, with its own scratch directory.
struct Node {
    uploads: Arc<dyn UploadFiles>,
    generation: Arc<dyn GenerationFiles>,
    reports: Arc<dyn ReportFiles>,
    _scratch: tempfile::TempDir,
}

async fn node(bucket: &S3TestBucket) -> Node {
    let scratch = tempfile::tempdir().unwrap();
    let settings = S3Settings::parse(&bucket.url("hub"), bucket.vars()).unwrap();
    let storage = Arc::new(S3Storage::connect(&settings, scratch.path().to_path_buf(), extractor()).await.unwrap());
    Node { uploads: storage.clone(), generation: storage.clone(), reports: storage, _scratch: scratch }
}

fn env() -> EnvId {
    EnvId::parse("staging").unwrap()
}

fn project() -> ProjectId {
    ProjectId::parse("checkout").unwrap()
}

fn body(bytes: Vec<u8>) -> ByteStream {
    let blocks: Vec<Result<Bytes, _>> = bytes.chunks(64 * 1024).map(|b| Ok(Bytes::copy_from_slice(b))).collect();
    Box::pin(futures_util::stream::iter(blocks))
}

fn results_zip(marker: &str) -> Vec<u8> {
    let result = format!(r#"{{"uuid":"{marker}","name":"t","status":"passed","start":1,"stop":2}}"#);
    forge(&[Entry::deflated(&format!("{marker}-result.json"), result.as_bytes())])
}

fn job(build: &str) -> GenerationJob {
    GenerationJob {
        id: JobId::from(ulid::Ulid::new()),
        env_id: env(),
        project_id: project(),
        build_id: BuildId::parse(build).unwrap(),
        upload_id: None,
        state: JobState::Running,
        config: serde_json::json!({}),
        attempts: 0,
        created_at: hub_test_support::time::utc(2026, 1, 1, 0, 0, 0, 0),
        started_at: None,
        finished_at: None,
        error: None,
    }
}

/// Receives `zip` whole on `node` and publishes it as the results of `build`.
async fn upload(node: &Node, build: &str, zip: Vec<u8>) {
    let id = UploadId::from(ulid::Ulid::new());
    let files = &node.uploads;
    files.receive(id, body(zip), 1 << 30).await.unwrap();
    files.extract(&env(), &project(), id, ArchiveSource::Received, UploadLimits::default()).await.unwrap();
    files.publish(&env(), &project(), &BuildId::parse(build).unwrap(), id).await.unwrap();
    files.discard(&env(), &project(), id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_sent_to_different_nodes_are_completed_by_a_third() {
    let Some(bucket) = S3TestBucket::create() else { return };
    let (a, b, c) = (node(&bucket).await, node(&bucket).await, node(&bucket).await);
    let zip = results_zip("a");
    let half = zip.len() / 2;
    let id = UploadId::from(ulid::Ulid::new());
    for (node, index, part) in [(&b, 1, &zip[half..]), (&a, 0, &zip[..half])] {
        let chunk = ChunkWrite { index, max_bytes: 1 << 20, sha256: None };
        node.uploads.store_chunk(&env(), &project(), id, body(part.to_vec()), chunk).await.unwrap();
    }
    let source = ArchiveSource::Chunks { count: 2, total_size: zip.len() as u64, sha256: None };
    let extracted = c.uploads.extract(&env(), &project(), id, source, UploadLimits::default()).await.unwrap();
    assert_eq!(extracted.stats.total, 1);
    c.uploads.publish(&env(), &project(), &BuildId::parse("1").unwrap(), id).await.unwrap();
    c.uploads.discard(&env(), &project(), id).await.unwrap();
    // The chunks are gone with the upload: completing it again finds none.
    let source = ArchiveSource::Chunks { count: 2, total_size: zip.len() as u64, sha256: None };
    let again = a.uploads.extract(&env(), &project(), id, source, UploadLimits::default()).await.unwrap_err();
    assert!(matches!(again, ArchiveError::Storage(_)), "{again:?}");
    // And the results are there for any node.
    let workspace = a.generation.prepare(&job("1"), None, 10).await.unwrap();
    assert!(workspace.results_dir.join("a-result.json").is_file());
    a.generation.discard(&workspace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_with_a_wrong_checksum_keeps_the_stored_copy_and_large_chunks_go_in_parts() {
    let Some(bucket) = S3TestBucket::create() else { return };
    let a = node(&bucket).await;
    let id = UploadId::from(ulid::Ulid::new());
    // Larger than one part: sent as a multipart upload.
    let large: Vec<u8> = (0..9 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    let chunk = |sha256: Option<String>| ChunkWrite { index: 0, max_bytes: 16 << 20, sha256 };
    let stored = a.uploads.store_chunk(&env(), &project(), id, body(large.clone()), chunk(None)).await.unwrap();
    assert_eq!(stored, large.len() as u64);
    let wrong = Some("0".repeat(64));
    let refused = a.uploads.store_chunk(&env(), &project(), id, body(large[..1000].to_vec()), chunk(wrong)).await;
    assert!(matches!(refused, Err(ReceiveError::ChecksumMismatch)), "{refused:?}");
    let too_large = ChunkWrite { index: 0, max_bytes: 1000, sha256: None };
    let refused = a.uploads.store_chunk(&env(), &project(), id, body(vec![1; 2000]), too_large).await;
    assert!(matches!(refused, Err(ReceiveError::TooLarge(1000))), "{refused:?}");
    // The first copy is still the stored one: its size is what the chunks add up to.
    let source = ArchiveSource::Chunks { count: 1, total_size: large.len() as u64 + 1, sha256: None };
    let mismatch = a.uploads.extract(&env(), &project(), id, source, UploadLimits::default()).await.unwrap_err();
    assert_eq!(mismatch, ArchiveError::SizeMismatch { actual: large.len() as u64, expected: large.len() as u64 + 1 });
    a.uploads.discard(&env(), &project(), id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_publishing_at_once_keep_both_history_points() {
    let Some(bucket) = S3TestBucket::create() else { return };
    let (a, b) = (node(&bucket).await, node(&bucket).await);
    upload(&a, "1", results_zip("one")).await;
    upload(&b, "2", results_zip("two")).await;
    let run = |node: &Node, build: &'static str| {
        let files = Arc::clone(&node.generation);
        async move {
            let job = job(build);
            let workspace = files.prepare(&job, None, 10).await.unwrap();
            std::fs::create_dir_all(&workspace.output_dir).unwrap();
            std::fs::write(workspace.output_dir.join("index.html"), build).unwrap();
            let mut history = std::fs::read_to_string(&workspace.history_path).unwrap();
            history.push_str(&format!("{{\"uuid\":\"point-{build}\"}}\n"));
            std::fs::write(&workspace.history_path, history).unwrap();
            let published = files.publish(&job, &workspace).await.unwrap();
            files.discard(&workspace).await;
            published
        }
    };
    let (one, two) = tokio::join!(run(&a, "1"), run(&b, "2"));
    assert_eq!((one.point.as_deref(), two.point.as_deref()), (Some("point-1"), Some("point-2")));
    let workspace = b.generation.prepare(&job("1"), Some("nothing".into()), 10).await.unwrap();
    let history = std::fs::read_to_string(&workspace.history_path).unwrap();
    assert!(history.contains("point-1") && history.contains("point-2"), "{history}");
    b.generation.discard(&workspace).await;

    // Each report is read at its own key, from any node; an unknown or foreign key reads nothing.
    let at = |build: &str, key: Option<String>| ReportLocation {
        env: env(),
        project: project(),
        build: BuildId::parse(build).unwrap(),
        key,
    };
    let index = ReportPath::new(vec!["index.html".into()], false).unwrap();
    assert!(matches!(b.reports.open(&at("1", Some(one.key.clone())), &index).await.unwrap(), Found::File(_)));
    for key in [None, Some(two.key.clone()), Some("../1".into()), Some(String::new())] {
        assert!(matches!(a.reports.open(&at("1", key.clone()), &index).await.unwrap(), Found::Missing), "{key:?}");
    }
    b.generation.remove_other_reports(&env(), &project(), &BuildId::parse("1").unwrap(), None).await.unwrap();
    assert!(matches!(a.reports.open(&at("1", Some(one.key)), &index).await.unwrap(), Found::Missing));
    assert!(matches!(a.reports.open(&at("2", Some(two.key)), &index).await.unwrap(), Found::File(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_writes_reads_and_deletes_and_names_the_store_when_it_fails() {
    let Some(bucket) = S3TestBucket::create() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let settings = S3Settings::parse(&bucket.url("hub"), bucket.vars()).unwrap();
    let present = S3Storage::connect(&settings, scratch.path().to_path_buf(), extractor()).await.unwrap();
    present.check().await.unwrap();

    let missing = S3TestBucket { endpoint: bucket.endpoint.clone(), bucket: "no-such-bucket".into() };
    let settings = S3Settings::parse(&missing.url(""), missing.vars()).unwrap();
    let absent = S3Storage::connect(&settings, scratch.path().to_path_buf(), extractor()).await.unwrap();
    let err = absent.check().await.unwrap_err();
    assert!(err.message().starts_with("s3://no-such-bucket: cannot write an object"), "{err}");
    assert!(!err.is_unavailable(), "a missing bucket is an answer, not an outage: {err}");
    assert!(!format!("{absent:?}").contains("testing"), "no credential in Debug: {absent:?}");
}
