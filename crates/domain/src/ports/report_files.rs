//! Reading the files of a published report, for viewers on the report origin.
//!
//! The HTTP layer owns what a response means (validators, ranges, compression, headers); the storage adapter owns
//! where the bytes are and which names may be reached. What crosses between them is a [`ReportPath`] of checked
//! names and an opened [`ReportFile`] whose bytes arrive as a stream, so a report kept in object storage is served
//! exactly like one on a local disk.

use std::pin::Pin;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures_core::Stream;

use crate::ids::{BuildId, EnvId, ProjectId};
use crate::ports::StorageError;

/// A file inside a report as a viewer names it: plain names below the report's root, never `.`/`..`, empty, or
/// holding `/`, `\` or NUL, so no adapter can be led outside the report whatever it does with the names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPath {
    segments: Vec<String>,
    directory: bool,
}

impl ReportPath {
    /// The report's root directory (`…/{buildId}/`).
    pub fn root() -> Self {
        Self { segments: Vec::new(), directory: true }
    }

    /// Decoded segments, and whether the request named a directory (ended with `/`); `None` when a segment
    /// could name something outside the report or is not a plain name.
    pub fn new(segments: Vec<String>, directory: bool) -> Option<Self> {
        let plain = |s: &String| !s.is_empty() && s != "." && s != ".." && !s.contains(['\0', '\\', '/']);
        segments.iter().all(plain).then_some(Self { segments, directory })
    }

    /// The names from the root down.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether the viewer asked for a directory (its index file is then served).
    pub fn is_directory(&self) -> bool {
        self.directory
    }
}

/// The bytes of a file, block by block; an adapter fails the stream rather than end it early.
pub type FileStream = Pin<Box<dyn Stream<Item = Result<Bytes, StorageError>> + Send>>;

/// Reads an opened file's bytes; reading consumes the handle, so one open serves one response.
#[async_trait]
pub trait ReportBody: Send {
    /// `len` bytes starting at byte `start`, which the caller has checked against the file's length.
    ///
    /// # Errors
    /// [`StorageError`] when the bytes cannot be reached.
    async fn read(self: Box<Self>, start: u64, len: u64) -> Result<FileStream, StorageError>;
}

/// A regular file of a report, opened: what a response's headers are made of, and its bytes.
pub struct ReportFile {
    /// The served file's own name (`index.html` for a directory's index), which gives its content type.
    pub name: String,
    /// Length in bytes.
    pub len: u64,
    /// Last change, when the storage knows it.
    pub modified: Option<SystemTime>,
    /// Changes whenever the content may have changed (visible ASCII, no `"`): what entity tags are made of.
    pub version: String,
    /// The bytes.
    pub body: Box<dyn ReportBody>,
}

impl std::fmt::Debug for ReportFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportFile")
            .field("name", &self.name)
            .field("len", &self.len)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// What a [`ReportPath`] names in a build's report.
#[derive(Debug)]
pub enum Found {
    /// A regular file (for a directory path: its `index.html`).
    File(ReportFile),
    /// A directory named without its trailing slash: the viewer should be sent to the slash form.
    Directory,
    /// Nothing a viewer may read: no such name, a directory without index, a link, a special file, or a build
    /// without a published report.
    Missing,
}

/// Which published report to read: the build's, under the key its last generation was published with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLocation {
    /// Environment.
    pub env: EnvId,
    /// Project.
    pub project: ProjectId,
    /// Build.
    pub build: BuildId,
    /// The build's [`crate::model::build::Build::report_key`].
    pub key: Option<String>,
}

/// The files of published reports.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ReportFiles: Send + Sync + 'static {
    /// Looks `path` up in the published report at `report` and opens what it names.
    ///
    /// # Errors
    /// [`StorageError`] when the storage fails; a name that does not exist is [`Found::Missing`], not an error.
    async fn open(&self, report: &ReportLocation, path: &ReportPath) -> Result<Found, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(segments: &[&str]) -> Option<ReportPath> {
        ReportPath::new(segments.iter().map(|s| (*s).to_owned()).collect(), false)
    }

    #[test]
    fn plain_names_make_a_path() {
        let p = path(&["data", "test-results", "a b%.json"]).unwrap();
        assert_eq!(p.segments(), ["data", "test-results", "a b%.json"]);
        assert!(!p.is_directory());
        assert!(ReportPath::root().is_directory());
        assert!(ReportPath::root().segments().is_empty());
    }

    #[test]
    fn names_that_could_leave_the_report_are_refused() {
        for bad in ["", ".", "..", "a/b", "a\\b", "nul\0", "/"] {
            assert_eq!(path(&["data", bad]), None, "{bad:?}");
        }
        // Dots inside a name are an ordinary file name.
        assert!(path(&["..x", "x..", ".hidden"]).is_some());
    }
}
