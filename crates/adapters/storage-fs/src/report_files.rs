//! [`ReportFiles`] on the filesystem: resolving a viewer's path inside `builds/<id>/report/` without ever following
//! a symbolic link, and streaming the opened file in bounded blocks.

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::ports::{
    FileStream, Found, ReportBody, ReportFile, ReportFiles, ReportLocation, ReportPath, StorageError,
};

use crate::FsResultStore;

/// The longest file name (in bytes) of the filesystems a report is stored on (`NAME_MAX` of Linux).
const MAX_SEGMENT_BYTES: usize = 255;
/// Read size of file bodies: what one block of the stream holds at most.
const BLOCK: usize = 64 * 1024;

impl FsResultStore {
    /// The directory of a build's published report (it may not exist).
    pub(crate) fn report_dir(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> PathBuf {
        self.build_dir(env, project, build).join("report")
    }
}

#[async_trait]
impl ReportFiles for FsResultStore {
    async fn open(&self, report: &ReportLocation, path: &ReportPath) -> Result<Found, StorageError> {
        // The key does not matter here: a build's report is always in its one report directory.
        let dir = self.report_dir(&report.env, &report.project, &report.build);
        let path = path.clone();
        let resolved = tokio::task::spawn_blocking(move || resolve(dir, &path))
            .await
            .map_err(|e| StorageError::new(format!("cannot open a report file: {e}")))?;
        match resolved {
            Ok(found) => Ok(found),
            Err(err) if names_nothing(&err) => Ok(Found::Missing),
            Err(err) => Err(StorageError::new(format!("cannot open a report file: {err}"))),
        }
    }
}

/// Whether a failed lookup means the viewer's path names no file, as opposed to a fault of the disk. The path is
/// the viewer's choice, so every error its shape can cause counts as "no such file": a name too long for the
/// filesystem, a file used as a directory.
fn names_nothing(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound
            | io::ErrorKind::NotADirectory
            | io::ErrorKind::IsADirectory
            | io::ErrorKind::InvalidFilename
            | io::ErrorKind::InvalidInput
    )
}

/// Walks the path's names below `dir` without following any symbolic link: each component is checked with
/// `symlink_metadata`, and the opened file must be the very inode that was checked (a link swapped in between would
/// be another one). Links, special files and missing entries are all `NotFound`.
fn resolve(dir: PathBuf, wanted: &ReportPath) -> io::Result<Found> {
    let mut path = dir;
    let mut meta = std::fs::metadata(&path)?;
    if !meta.is_dir() {
        return Err(io::ErrorKind::NotFound.into());
    }
    for segment in wanted.segments() {
        // No file of a report has a longer name than the filesystem allows; such a segment names nothing, and is
        // answered before the filesystem has to say so.
        if !meta.is_dir() || segment.len() > MAX_SEGMENT_BYTES {
            return Err(io::ErrorKind::NotFound.into());
        }
        path.push(segment);
        meta = no_link(&path)?;
    }
    if meta.is_dir() {
        if !wanted.is_directory() {
            return Ok(Found::Directory);
        }
        path.push("index.html");
        meta = no_link(&path)?;
    } else if wanted.is_directory() {
        return Err(io::ErrorKind::NotFound.into());
    }
    if !meta.is_file() {
        return Err(io::ErrorKind::NotFound.into());
    }
    let file = File::open(&path)?;
    let opened = file.metadata()?;
    if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
        return Err(io::ErrorKind::NotFound.into());
    }
    let modified = opened.modified().ok();
    let modified_ns = modified.and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    Ok(Found::File(ReportFile {
        name: path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned(),
        len: opened.len(),
        modified,
        // Inode, size and change time: a regenerated report replaces files, so any of them moves.
        version: format!("{:x}-{:x}-{:x}", opened.ino(), opened.len(), modified_ns),
        body: Box::new(OpenFile(file)),
    }))
}

fn no_link(path: &Path) -> io::Result<Metadata> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Err(io::ErrorKind::NotFound.into());
    }
    Ok(meta)
}

/// The file that was checked, kept open so that what is read is what was resolved.
struct OpenFile(File);

#[async_trait]
impl ReportBody for OpenFile {
    async fn read(self: Box<Self>, start: u64, len: u64) -> Result<FileStream, StorageError> {
        let mut file = self.0;
        tokio::task::spawn_blocking(move || file.seek(io::SeekFrom::Start(start)).map(|_| file))
            .await
            .map_err(|e| StorageError::new(e.to_string()))?
            .map_err(|e| StorageError::new(format!("cannot read a report file: {e}")))
            .map(|file| blocks(file, len))
    }
}

/// `len` bytes from the file's current position, in blocks of at most [`BLOCK`], each read on the blocking pool.
/// A file that ends early fails the stream, so a response is cut instead of sending fewer bytes than it declared.
fn blocks(file: File, len: u64) -> FileStream {
    Box::pin(futures_util::stream::try_unfold((file, len), |(file, remaining)| async move {
        if remaining == 0 {
            return Ok(None);
        }
        let want = usize::try_from(remaining).map_or(BLOCK, |r| r.min(BLOCK));
        let (file, block) = tokio::task::spawn_blocking(move || {
            let mut file = file;
            let mut buf = vec![0; want];
            let read = file.read(&mut buf)?;
            buf.truncate(read);
            Ok::<_, io::Error>((file, buf))
        })
        .await
        .map_err(|e| StorageError::new(e.to_string()))?
        .map_err(|e| StorageError::new(format!("cannot read a report file: {e}")))?;
        if block.is_empty() {
            return Err(StorageError::new("report file ended before its length"));
        }
        let remaining = remaining - block.len() as u64;
        Ok(Some((Bytes::from(block), (file, remaining))))
    }))
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    /// A published report beside a secret file and directory that must stay out of reach.
    struct Fixture {
        root: tempfile::TempDir,
        store: FsResultStore,
    }

    fn ids() -> (EnvId, ProjectId, BuildId) {
        (EnvId::parse("staging").unwrap(), ProjectId::parse("checkout").unwrap(), BuildId::parse("b1").unwrap())
    }

    impl Fixture {
        async fn new() -> Self {
            let root = tempfile::tempdir().unwrap();
            let store = FsResultStore::open(root.path()).await.unwrap();
            let fixture = Self { root, store };
            for dir in ["sub", "empty"] {
                std::fs::create_dir_all(fixture.report().join(dir)).unwrap();
            }
            std::fs::create_dir_all(fixture.root.path().join("outside")).unwrap();
            std::fs::write(fixture.root.path().join("secret.txt"), "secret").unwrap();
            std::fs::write(fixture.root.path().join("outside/file.txt"), "outside").unwrap();
            std::fs::write(fixture.report().join("index.html"), "<html>root</html>").unwrap();
            std::fs::write(fixture.report().join("sub/index.html"), "<html>sub</html>").unwrap();
            fixture
        }

        fn report(&self) -> PathBuf {
            let (env, project, build) = ids();
            self.store.report_dir(&env, &project, &build)
        }

        async fn open(&self, raw: &str) -> Found {
            let directory = raw.is_empty() || raw.ends_with('/');
            let segments = raw.trim_end_matches('/').split('/').filter(|s| !s.is_empty()).map(str::to_owned);
            let path = ReportPath::new(segments.collect(), directory).unwrap();
            let (env, project, build) = ids();
            let report = ReportLocation { env, project, build, key: Some("report".to_owned()) };
            self.store.open(&report, &path).await.unwrap()
        }
    }

    fn is_missing(found: &Found) -> bool {
        matches!(found, Found::Missing)
    }

    #[tokio::test]
    async fn symbolic_links_are_never_followed() {
        let fx = Fixture::new().await;
        let (report, root) = (fx.report(), fx.root.path());
        std::os::unix::fs::symlink(root.join("secret.txt"), report.join("secret.txt")).unwrap();
        std::os::unix::fs::symlink(root.join("outside"), report.join("linked")).unwrap();
        // Even a link to a file inside the report is refused: links are not followed at all.
        std::os::unix::fs::symlink(report.join("index.html"), report.join("alias.html")).unwrap();
        for raw in ["secret.txt", "linked/file.txt", "linked/", "linked", "alias.html"] {
            assert!(is_missing(&fx.open(raw).await), "{raw}");
        }
        // A directory whose index.html is a link has no index.
        std::fs::remove_file(report.join("sub/index.html")).unwrap();
        std::os::unix::fs::symlink(report.join("index.html"), report.join("sub/index.html")).unwrap();
        assert!(is_missing(&fx.open("sub/").await));
        // The report directory itself being a link is no different.
        std::fs::rename(&report, root.join("moved")).unwrap();
        std::os::unix::fs::symlink(root.join("moved"), &report).unwrap();
        assert!(matches!(fx.open("index.html").await, Found::File(_)), "the root is resolved, then never a link");
    }

    #[tokio::test]
    async fn special_files_and_directories_without_index_are_missing() {
        let fx = Fixture::new().await;
        nix::unistd::mkfifo(&fx.report().join("pipe"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        for raw in ["pipe", "empty/", "index.html/", "index.html/x", "nope", "nope/"] {
            assert!(is_missing(&fx.open(raw).await), "{raw}");
        }
        assert!(matches!(fx.open("empty").await, Found::Directory));
    }

    #[tokio::test]
    async fn names_longer_than_the_filesystem_allows_are_missing_not_errors() {
        let fx = Fixture::new().await;
        let long = "a".repeat(256);
        for raw in [format!("{long}.html"), format!("sub/{long}"), format!("{long}/index.html"), format!("{long}/")] {
            assert!(is_missing(&fx.open(&raw).await), "{raw}");
        }
        // The filesystem's own refusal of such a name (reached by a path that passes the segment check) is no
        // storage fault either.
        let too_long = std::fs::metadata(fx.report().join("x".repeat(300))).unwrap_err();
        assert!(names_nothing(&too_long), "{too_long:?}");
        assert!(!names_nothing(&io::Error::other("disk failed")));
    }

    #[tokio::test]
    async fn a_build_without_a_report_directory_has_nothing() {
        let fx = Fixture::new().await;
        std::fs::remove_dir_all(fx.report()).unwrap();
        assert!(is_missing(&fx.open("").await));
        assert!(is_missing(&fx.open("index.html").await));
    }

    #[tokio::test]
    async fn an_opened_file_is_read_even_if_replaced_meanwhile() {
        let fx = Fixture::new().await;
        let Found::File(file) = fx.open("index.html").await else { panic!("index.html is a file") };
        assert_eq!((file.name.as_str(), file.len), ("index.html", 17));
        // A regeneration swaps the report while a response is being sent: the viewer gets the file it opened.
        std::fs::remove_file(fx.report().join("index.html")).unwrap();
        std::fs::write(fx.report().join("index.html"), "replaced").unwrap();
        let mut stream = file.body.read(6, 4).await.unwrap();
        let mut bytes = Vec::new();
        while let Some(block) = stream.next().await {
            bytes.extend_from_slice(&block.unwrap());
        }
        assert_eq!(bytes, b"root");
    }
}
