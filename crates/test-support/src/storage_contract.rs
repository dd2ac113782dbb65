//! The storage contract suite: what every storage adapter must do with the files of uploads, builds, history and
//! reports, written against the domain's storage ports only and run unchanged against each adapter through
//! [`storage_contract_tests!`](crate::storage_contract_tests).
//!
//! Files reach an adapter the way the server moves them: an archive is received (whole or in chunks), extracted and
//! published as a build's results; a generation materialises those results into a local workspace, the generator's
//! output is published as the build's report, and viewers read it back through [`ReportFiles`]. Nothing here looks
//! at where an adapter keeps the bytes.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hub_domain::ids::{BuildId, EnvId, JobId, ProjectId, UploadId};
use hub_domain::model::job::{GenerationJob, JobState};
use hub_domain::model::upload::UploadLimits;
use hub_domain::ports::{
    ArchiveError, ArchiveSource, ByteStream, ChunkWrite, Found, GenerationFiles, PrepareError, PublishedReport,
    ReportFile, ReportFiles, ReportLocation, ReportPath, ResultStore, StorageTransfer, StoredItem, UploadFiles,
    Workspace,
};

use crate::zip_forge::{Entry, forge};

/// One storage adapter under test, through its ports, with whatever keeps its storage alive.
pub struct StorageFixture {
    /// Environment, project and build removal, sizes and orphans.
    pub results: Arc<dyn ResultStore>,
    /// Received archives, chunks and extraction.
    pub uploads: Arc<dyn UploadFiles>,
    /// The local workspace of a generation and publishing its output.
    pub generation: Arc<dyn GenerationFiles>,
    /// Reading published reports.
    pub reports: Arc<dyn ReportFiles>,
    /// Copying items out and in (`allure-hub storage copy`).
    pub transfer: Arc<dyn StorageTransfer>,
    /// Dropped at the end of the case (a temporary directory, a bucket, a server).
    pub keep: Box<dyn Any + Send + Sync>,
    /// Each build's current report key, as the database would hold it (start with the default).
    pub current: Mutex<HashMap<BuildId, String>>,
}

impl StorageFixture {
    /// The fixture of an adapter that implements every storage port on one value, kept alive with `keep`.
    pub fn of<A>(adapter: Arc<A>, keep: impl Any + Send + Sync) -> Self
    where
        A: ResultStore + UploadFiles + GenerationFiles + ReportFiles + StorageTransfer,
    {
        Self {
            results: adapter.clone(),
            uploads: adapter.clone(),
            generation: adapter.clone(),
            reports: adapter.clone(),
            transfer: adapter,
            keep: Box::new(keep),
            current: Mutex::default(),
        }
    }
}

impl std::fmt::Debug for StorageFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageFixture").finish_non_exhaustive()
    }
}

/// Declares every case of the suite as a `#[tokio::test]`, each on a fresh storage from `$open` (an async
/// function returning a [`StorageFixture`]).
#[macro_export]
macro_rules! storage_contract_tests {
    ($open:path) => {
        $crate::storage_contract_tests!(@cases $open;
            a_published_build_has_its_results_in_the_generation_workspace,
            a_published_report_is_read_back_by_path,
            ranges_of_a_file_are_its_bytes,
            a_new_report_replaces_the_old_one_whole,
            reports_the_build_does_not_name_are_removed,
            a_build_without_a_report_has_nothing_to_read,
            chunks_are_read_in_order_as_one_archive,
            a_refused_archive_leaves_no_results,
            history_points_carry_over_to_the_next_generation,
            removing_a_build_makes_its_report_unreachable,
            removing_a_project_or_environment_removes_its_builds,
            orphaned_projects_and_environments_are_removed,
            stored_items_copied_out_and_back_in_are_whole_again,
        );
    };
    (@cases $open:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = $open().await;
                $crate::storage_contract::$case(&fixture).await;
            }
        )+
    };
}

fn env() -> EnvId {
    EnvId::parse("staging").unwrap()
}

fn project() -> ProjectId {
    ProjectId::parse("checkout").unwrap()
}

fn build(id: &str) -> BuildId {
    BuildId::parse(id).unwrap()
}

fn result_json(uuid: &str, status: &str) -> Vec<u8> {
    format!(r#"{{"uuid":"{uuid}","name":"test {uuid}","status":"{status}","start":1000,"stop":1500}}"#).into_bytes()
}

/// An allure-results archive of two results and an attachment.
fn results_zip() -> Vec<u8> {
    forge(&[
        Entry::deflated("a-result.json", &result_json("a", "passed")),
        Entry::stored("b-result.json", &result_json("b", "failed")),
        Entry::stored("c-attachment.txt", b"log line"),
    ])
}

fn body(blocks: Vec<Vec<u8>>) -> ByteStream {
    Box::pin(futures_util::stream::iter(blocks.into_iter().map(|b| Ok(Bytes::from(b)))))
}

fn job(build_id: &BuildId) -> GenerationJob {
    GenerationJob {
        id: JobId::from(ulid::Ulid::new()),
        env_id: env(),
        project_id: project(),
        build_id: build_id.clone(),
        upload_id: None,
        state: JobState::Running,
        config: serde_json::json!({}),
        attempts: 0,
        created_at: crate::time::utc(2026, 1, 1, 0, 0, 0, 0),
        started_at: None,
        finished_at: None,
        error: None,
    }
}

/// Receives `zip` as a streamed body and publishes it as the results of `build_id`.
async fn publish_results(fx: &StorageFixture, build_id: &BuildId, zip: Vec<u8>) {
    let upload = UploadId::from(ulid::Ulid::new());
    let half = zip.len() / 2;
    let blocks = vec![zip[..half].to_vec(), zip[half..].to_vec()];
    let stored = fx.uploads.receive(upload, body(blocks), 1 << 20).await.unwrap();
    assert_eq!(stored, zip.len() as u64);
    let extracted =
        fx.uploads.extract(&env(), &project(), upload, ArchiveSource::Received, UploadLimits::default()).await.unwrap();
    assert_eq!((extracted.stats.total, extracted.stats.passed, extracted.stats.failed), (2, 1, 1));
    fx.uploads.publish(&env(), &project(), build_id, upload).await.unwrap();
    fx.uploads.discard(&env(), &project(), upload).await.unwrap();
}

/// Materialises a generation of `build_id`, lets `generator` write its output, and publishes it, as the
/// generation service does: the new key becomes the build's (remembered in `fx`), then every other report of the
/// build is removed. Returns what publishing said.
async fn generate(fx: &StorageFixture, build_id: &BuildId, generator: impl FnOnce(&Workspace)) -> PublishedReport {
    let job = job(build_id);
    let workspace = fx.generation.prepare(&job, None, 10).await.unwrap();
    generator(&workspace);
    let published = fx.generation.publish(&job, &workspace).await.unwrap();
    fx.generation.discard(&workspace).await;
    fx.current.lock().unwrap().insert(build_id.clone(), published.key.clone());
    fx.generation.remove_other_reports(&env(), &project(), build_id, Some(published.key.clone())).await.unwrap();
    published
}

/// What a generator writes: an index, a data file and a sub-directory with its own index.
fn write_report(workspace: &Workspace, marker: &str) {
    let out = &workspace.output_dir;
    std::fs::create_dir_all(out.join("data")).unwrap();
    std::fs::create_dir_all(out.join("widgets")).unwrap();
    std::fs::write(out.join("index.html"), format!("<html>{marker}</html>")).unwrap();
    std::fs::write(out.join("data/summary.json"), format!("{{\"marker\":\"{marker}\"}}")).unwrap();
    std::fs::write(out.join("widgets/index.html"), "<html>widgets</html>").unwrap();
}

fn path(raw: &str) -> ReportPath {
    let directory = raw.is_empty() || raw.ends_with('/');
    let segments = raw.trim_end_matches('/').split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    ReportPath::new(segments, directory).unwrap()
}

/// The build's report as viewers reach it: at the key its last publication returned.
fn location(fx: &StorageFixture, build_id: &BuildId) -> ReportLocation {
    let key = fx.current.lock().unwrap().get(build_id).cloned();
    ReportLocation { env: env(), project: project(), build: build_id.clone(), key }
}

async fn open(fx: &StorageFixture, build_id: &BuildId, raw: &str) -> Found {
    fx.reports.open(&location(fx, build_id), &path(raw)).await.unwrap()
}

async fn read_all(file: ReportFile) -> Vec<u8> {
    read_range(file.body, 0, file.len).await
}

async fn read_range(body: Box<dyn hub_domain::ports::ReportBody>, start: u64, len: u64) -> Vec<u8> {
    use futures_util::StreamExt;
    let mut stream = body.read(start, len).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(block) = stream.next().await {
        bytes.extend_from_slice(&block.unwrap());
    }
    bytes
}

fn file(found: Found) -> ReportFile {
    match found {
        Found::File(file) => file,
        other => panic!("expected a file, found {other:?}"),
    }
}

/// The generation's workspace holds the build's results as local files, the one place the generator needs them.
pub async fn a_published_build_has_its_results_in_the_generation_workspace(fx: &StorageFixture) {
    let b1 = build("b1");
    publish_results(fx, &b1, results_zip()).await;
    let workspace = fx.generation.prepare(&job(&b1), None, 10).await.unwrap();
    let read = |name: &str| std::fs::read(workspace.results_dir.join(name)).unwrap();
    assert_eq!(read("a-result.json"), result_json("a", "passed"));
    assert_eq!(read("b-result.json"), result_json("b", "failed"));
    assert_eq!(read("c-attachment.txt"), b"log line");
    assert!(workspace.output_dir.parent().is_some());
    fx.generation.discard(&workspace).await;
    // A build whose results never arrived cannot be generated.
    let missing = fx.generation.prepare(&job(&build("b2")), None, 10).await.unwrap_err();
    assert!(matches!(missing, PrepareError::ResultsMissing(_)), "{missing:?}");
}

/// Files, directory indexes, directories named without their slash and missing names.
pub async fn a_published_report_is_read_back_by_path(fx: &StorageFixture) {
    let b1 = build("b1");
    publish_results(fx, &b1, results_zip()).await;
    generate(fx, &b1, |w| write_report(w, "first")).await;

    let index = file(open(fx, &b1, "").await);
    assert_eq!(index.name, "index.html");
    assert_eq!(index.len, 18);
    assert!(!index.version.is_empty() && index.version.bytes().all(|b| b.is_ascii_graphic() && b != b'"'));
    assert_eq!(read_all(index).await, b"<html>first</html>");

    let data = file(open(fx, &b1, "data/summary.json").await);
    assert_eq!(data.name, "summary.json");
    assert_eq!(read_all(data).await, br#"{"marker":"first"}"#);
    assert_eq!(read_all(file(open(fx, &b1, "widgets/").await)).await, b"<html>widgets</html>");

    assert!(matches!(open(fx, &b1, "widgets").await, Found::Directory));
    assert!(matches!(open(fx, &b1, "data").await, Found::Directory));
    for missing in ["data/", "nope.html", "data/nope.json", "index.html/", "index.html/x", "nope/"] {
        assert!(matches!(open(fx, &b1, missing).await, Found::Missing), "{missing}");
    }
}

/// Any part of a file can be read, in order, without the rest.
pub async fn ranges_of_a_file_are_its_bytes(fx: &StorageFixture) {
    let b1 = build("b1");
    publish_results(fx, &b1, results_zip()).await;
    // Longer than any sensible block, so a range crosses block boundaries.
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let written = content.clone();
    generate(fx, &b1, move |w| {
        write_report(w, "ranges");
        std::fs::write(w.output_dir.join("data/big.bin"), &written).unwrap();
    })
    .await;
    for (start, len) in [(0, 300_000), (0, 1), (299_999, 1), (65_530, 70_000), (123_456, 0)] {
        let big = file(open(fx, &b1, "data/big.bin").await);
        assert_eq!(big.len, 300_000);
        let part = read_range(big.body, start, len).await;
        assert_eq!(part, &content[start as usize..(start + len) as usize], "{start}+{len}");
    }
}

/// Publishing again replaces every file of the previous report, and versions change with content.
pub async fn a_new_report_replaces_the_old_one_whole(fx: &StorageFixture) {
    let b1 = build("b1");
    publish_results(fx, &b1, results_zip()).await;
    let first_published = generate(fx, &b1, |w| {
        write_report(w, "first");
        std::fs::write(w.output_dir.join("data/only-in-first.json"), "{}").unwrap();
    })
    .await;
    let first = file(open(fx, &b1, "data/summary.json").await);
    generate(fx, &b1, |w| write_report(w, "second")).await;

    let second = file(open(fx, &b1, "data/summary.json").await);
    assert_ne!(first.version, second.version);
    // A storage that keeps each report under its own key has removed the replaced one.
    let (first_key, second_key) = (first_published.key, fx.current.lock().unwrap()[&b1].clone());
    if first_key != second_key {
        let old = ReportLocation { key: Some(first_key), ..location(fx, &b1) };
        assert!(matches!(fx.reports.open(&old, &path("")).await.unwrap(), Found::Missing), "the old report is gone");
    }
    assert_eq!(read_all(second).await, br#"{"marker":"second"}"#);
    assert!(matches!(open(fx, &b1, "data/only-in-first.json").await, Found::Missing));
}

/// A report published while the build never came to name it (a run killed before its outcome was stored) goes with
/// the build's other reports; the one the build names stays. (A storage with one report place per build has no
/// other report to remove.)
pub async fn reports_the_build_does_not_name_are_removed(fx: &StorageFixture) {
    let b1 = build("b1");
    publish_results(fx, &b1, results_zip()).await;
    let named = generate(fx, &b1, |w| write_report(w, "named")).await;
    let job = job(&b1);
    let workspace = fx.generation.prepare(&job, None, 10).await.unwrap();
    write_report(&workspace, "never named");
    let unnamed = fx.generation.publish(&job, &workspace).await.unwrap();
    fx.generation.discard(&workspace).await;

    fx.generation.remove_other_reports(&env(), &project(), &b1, Some(named.key.clone())).await.unwrap();
    if unnamed.key != named.key {
        let at = |key: &str| ReportLocation { key: Some(key.to_owned()), ..location(fx, &b1) };
        assert!(matches!(fx.reports.open(&at(&unnamed.key), &path("")).await.unwrap(), Found::Missing));
        let kept = file(fx.reports.open(&at(&named.key), &path("")).await.unwrap());
        assert_eq!(read_all(kept).await, b"<html>named</html>");
    }
    // Without a key to keep, nothing of the build's reports is named: a storage with several removes them all.
    fx.generation.remove_other_reports(&env(), &project(), &build("never"), None).await.unwrap();
}

/// A build with results but no report, and a build the storage has never seen, both have nothing to read.
pub async fn a_build_without_a_report_has_nothing_to_read(fx: &StorageFixture) {
    let b1 = build("b1");
    publish_results(fx, &b1, results_zip()).await;
    for raw in ["", "index.html", "data/"] {
        assert!(matches!(open(fx, &b1, raw).await, Found::Missing), "{raw}");
        assert!(matches!(open(fx, &build("never"), raw).await, Found::Missing), "{raw}");
    }
}

/// Chunks stored in any order (one of them twice) are read in index order as one archive.
pub async fn chunks_are_read_in_order_as_one_archive(fx: &StorageFixture) {
    let zip = results_zip();
    let parts: Vec<Vec<u8>> = zip.chunks(zip.len().div_ceil(3)).map(<[u8]>::to_vec).collect();
    let upload = UploadId::from(ulid::Ulid::new());
    for index in [2, 0, 1, 0] {
        let chunk = ChunkWrite { index, max_bytes: 1 << 20, sha256: None };
        let part = parts[usize::try_from(index).unwrap()].clone();
        let stored = fx.uploads.store_chunk(&env(), &project(), upload, body(vec![part.clone()]), chunk).await.unwrap();
        assert_eq!(stored, part.len() as u64);
    }
    let source = ArchiveSource::Chunks { count: 3, total_size: zip.len() as u64, sha256: None };
    let extracted = fx.uploads.extract(&env(), &project(), upload, source, UploadLimits::default()).await.unwrap();
    assert_eq!(extracted.stats.total, 2);
    let b1 = build("b1");
    fx.uploads.publish(&env(), &project(), &b1, upload).await.unwrap();
    fx.uploads.discard(&env(), &project(), upload).await.unwrap();
    let workspace = fx.generation.prepare(&job(&b1), None, 10).await.unwrap();
    assert_eq!(std::fs::read(workspace.results_dir.join("c-attachment.txt")).unwrap(), b"log line");
    fx.generation.discard(&workspace).await;
}

/// An archive that is refused leaves the build without results, and the upload discards cleanly.
pub async fn a_refused_archive_leaves_no_results(fx: &StorageFixture) {
    let upload = UploadId::from(ulid::Ulid::new());
    fx.uploads.receive(upload, body(vec![b"not a zip at all".to_vec()]), 1 << 20).await.unwrap();
    let refused =
        fx.uploads.extract(&env(), &project(), upload, ArchiveSource::Received, UploadLimits::default()).await;
    assert!(matches!(refused, Err(ArchiveError::Invalid(_))), "{refused:?}");
    fx.uploads.discard(&env(), &project(), upload).await.unwrap();
    let b1 = build("b1");
    assert!(matches!(fx.generation.prepare(&job(&b1), None, 10).await, Err(PrepareError::ResultsMissing(_))));
    assert_eq!(fx.results.build_bytes(&env(), &project(), &b1).await.unwrap(), 0);
}

/// A point a run adds is in the next run's history copy, unless it is the one left out or removed.
pub async fn history_points_carry_over_to_the_next_generation(fx: &StorageFixture) {
    let (b1, b2) = (build("b1"), build("b2"));
    publish_results(fx, &b1, results_zip()).await;
    publish_results(fx, &b2, results_zip()).await;
    let published = generate(fx, &b1, |w| {
        write_report(w, "first");
        std::fs::write(&w.history_path, "{\"uuid\":\"point-1\",\"testResults\":{}}\n").unwrap();
    })
    .await;
    assert_eq!(published.point.as_deref(), Some("point-1"));

    let history = |workspace: &Workspace| std::fs::read_to_string(&workspace.history_path).unwrap_or_default();
    let next = fx.generation.prepare(&job(&b2), None, 10).await.unwrap();
    assert!(history(&next).contains("point-1"), "{}", history(&next));
    fx.generation.discard(&next).await;
    let regenerated = fx.generation.prepare(&job(&b1), Some("point-1".to_owned()), 10).await.unwrap();
    assert!(!history(&regenerated).contains("point-1"));
    fx.generation.discard(&regenerated).await;

    fx.generation.remove_history_point(&env(), &project(), "point-1").await.unwrap();
    let after = fx.generation.prepare(&job(&b2), None, 10).await.unwrap();
    assert!(!history(&after).contains("point-1"));
    fx.generation.discard(&after).await;
}

/// Removing a build leaves nothing of it to read or count; removing one that has no files is no error.
pub async fn removing_a_build_makes_its_report_unreachable(fx: &StorageFixture) {
    let (b1, b2) = (build("b1"), build("b2"));
    for b in [&b1, &b2] {
        publish_results(fx, b, results_zip()).await;
        generate(fx, b, |w| write_report(w, "x")).await;
    }
    assert!(fx.results.build_bytes(&env(), &project(), &b1).await.unwrap() > 0);
    fx.results.remove_build(&env(), &project(), &b1).await.unwrap();
    assert!(matches!(open(fx, &b1, "").await, Found::Missing));
    assert_eq!(fx.results.build_bytes(&env(), &project(), &b1).await.unwrap(), 0);
    fx.results.remove_build(&env(), &project(), &b1).await.unwrap();
    // The other build is untouched.
    assert!(matches!(open(fx, &b2, "").await, Found::File(_)));
}

/// Removing a project, or its environment, removes every build below it.
pub async fn removing_a_project_or_environment_removes_its_builds(fx: &StorageFixture) {
    let b1 = build("b1");
    publish_results(fx, &b1, results_zip()).await;
    generate(fx, &b1, |w| write_report(w, "x")).await;
    fx.results.remove_project(&env(), &project()).await.unwrap();
    assert!(matches!(open(fx, &b1, "").await, Found::Missing));

    publish_results(fx, &b1, results_zip()).await;
    generate(fx, &b1, |w| write_report(w, "again")).await;
    assert!(matches!(open(fx, &b1, "").await, Found::File(_)));
    fx.results.remove_environment(&env()).await.unwrap();
    assert!(matches!(open(fx, &b1, "").await, Found::Missing));
    // Removing what is already gone is no error.
    fx.results.remove_environment(&env()).await.unwrap();
    fx.results.remove_project(&env(), &project()).await.unwrap();
}

/// Files of projects and environments that have no record any more are removed; known ones stay.
pub async fn orphaned_projects_and_environments_are_removed(fx: &StorageFixture) {
    let b1 = build("b1");
    publish_results(fx, &b1, results_zip()).await;
    generate(fx, &b1, |w| write_report(w, "x")).await;

    let known = vec![(env(), vec![project()])];
    assert_eq!(fx.results.remove_orphans(&known).await.unwrap(), 0);
    assert!(matches!(open(fx, &b1, "").await, Found::File(_)));

    let without_project = vec![(env(), Vec::new())];
    assert_eq!(fx.results.remove_orphans(&without_project).await.unwrap(), 1);
    assert!(matches!(open(fx, &b1, "").await, Found::Missing));

    publish_results(fx, &b1, results_zip()).await;
    assert_eq!(fx.results.remove_orphans(&[]).await.unwrap(), 1);
    assert_eq!(fx.results.build_bytes(&env(), &project(), &b1).await.unwrap(), 0);
}

/// `storage copy` moves items through local files: each item copied out, then in again after its project is gone,
/// is what it was (the results in a generation's workspace, the report by path, the history's points), and items
/// the storage does not hold are said to be absent.
pub async fn stored_items_copied_out_and_back_in_are_whole_again(fx: &StorageFixture) {
    let b1 = build("b1");
    publish_results(fx, &b1, results_zip()).await;
    generate(fx, &b1, |w| {
        write_report(w, "copied");
        std::fs::write(&w.history_path, "{\"uuid\":\"point-1\",\"testResults\":{}}\n").unwrap();
    })
    .await;
    let items = [
        StoredItem::History { env: env(), project: project() },
        StoredItem::Results { env: env(), project: project(), build: b1.clone() },
        StoredItem::Report(location(fx, &b1)),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, item) in items.iter().enumerate() {
        assert!(fx.transfer.export(item, &dir.path().join(i.to_string())).await.unwrap(), "{item}");
    }
    let b2 = build("b2");
    let report_of_b2 = ReportLocation { build: b2.clone(), ..location(fx, &b1) };
    for absent in [
        StoredItem::History { env: env(), project: ProjectId::parse("other").unwrap() },
        StoredItem::Results { env: env(), project: project(), build: b2.clone() },
        StoredItem::Report(report_of_b2),
    ] {
        let at = dir.path().join("absent");
        assert!(!fx.transfer.export(&absent, &at).await.unwrap(), "{absent}");
        assert!(!at.exists(), "{absent}: nothing is created");
    }

    fx.results.remove_project(&env(), &project()).await.unwrap();
    assert!(matches!(open(fx, &b1, "").await, Found::Missing));
    for (i, item) in items.iter().enumerate() {
        fx.transfer.import(item, &dir.path().join(i.to_string())).await.unwrap();
    }

    assert_eq!(read_all(file(open(fx, &b1, "data/summary.json").await)).await, br#"{"marker":"copied"}"#);
    assert_eq!(read_all(file(open(fx, &b1, "widgets/").await)).await, b"<html>widgets</html>");
    let workspace = fx.generation.prepare(&job(&b1), None, 10).await.unwrap();
    assert_eq!(std::fs::read(workspace.results_dir.join("b-result.json")).unwrap(), result_json("b", "failed"));
    assert_eq!(std::fs::read(workspace.results_dir.join("c-attachment.txt")).unwrap(), b"log line");
    assert!(std::fs::read_to_string(&workspace.history_path).unwrap().contains("point-1"));
    fx.generation.discard(&workspace).await;

    // Importing over an item replaces it whole.
    let replacement = dir.path().join("replacement");
    std::fs::create_dir_all(replacement.join("data")).unwrap();
    std::fs::write(replacement.join("index.html"), "<html>replaced</html>").unwrap();
    fx.transfer.import(&items[2], &replacement).await.unwrap();
    assert_eq!(read_all(file(open(fx, &b1, "").await)).await, b"<html>replaced</html>");
    assert!(matches!(open(fx, &b1, "data/summary.json").await, Found::Missing));
}
