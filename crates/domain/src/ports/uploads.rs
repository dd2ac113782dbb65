//! The files of uploads: receiving a streamed body or a chunk onto disk, and turning the archive into a build's
//! results. Bodies arrive as a stream of byte blocks so that no adapter ever holds a whole upload in memory.

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_core::Stream;
use thiserror::Error;

use crate::ids::{BuildId, EnvId, ProjectId, UploadId};
use crate::model::build::BuildStats;
use crate::model::upload::UploadLimits;
use crate::ports::StorageError;

/// Why reading a request body failed, as the HTTP layer reports it inside the stream.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum BodyError {
    /// No byte arrived within the idle timeout.
    #[error("upload stalled")]
    Stalled,
    /// The connection closed before the body was complete.
    #[error("upload interrupted: connection closed")]
    Interrupted,
}

/// A request body, block by block.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, BodyError>> + Send>>;

/// Why a body could not be stored.
#[derive(Debug, Error)]
pub enum ReceiveError {
    /// More bytes than allowed.
    #[error("body exceeds {0} bytes")]
    TooLarge(u64),
    /// No byte at all.
    #[error("request body is empty")]
    Empty,
    /// The body stream failed.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// The declared chunk checksum does not match the bytes.
    #[error("chunk checksum mismatch")]
    ChecksumMismatch,
    /// The disk failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The rules every storage applies to a body while it receives it, whatever it writes the bytes to: at most
/// `max_bytes`, not empty, and (when a checksum is to be checked) its SHA-256.
#[derive(Debug)]
pub struct BodyMeter {
    max_bytes: u64,
    size: u64,
    hasher: Option<sha2::Sha256>,
}

impl BodyMeter {
    /// A meter for a body of at most `max_bytes`, hashing it when `hash`.
    pub fn new(max_bytes: u64, hash: bool) -> Self {
        Self { max_bytes, size: 0, hasher: hash.then(<sha2::Sha256 as sha2::Digest>::new) }
    }

    /// Counts (and hashes) the next block.
    ///
    /// # Errors
    /// [`ReceiveError::TooLarge`] once the body passes its limit.
    pub fn take(&mut self, block: &[u8]) -> Result<(), ReceiveError> {
        self.size += block.len() as u64;
        if self.size > self.max_bytes {
            return Err(ReceiveError::TooLarge(self.max_bytes));
        }
        if let Some(hasher) = self.hasher.as_mut() {
            sha2::Digest::update(hasher, block);
        }
        Ok(())
    }

    /// The body's size and, when hashed, its lower-case hex SHA-256.
    ///
    /// # Errors
    /// [`ReceiveError::Empty`] when no byte arrived.
    pub fn finish(self) -> Result<(u64, Option<String>), ReceiveError> {
        if self.size == 0 {
            return Err(ReceiveError::Empty);
        }
        let digest = self.hasher.map(|h| crate::model::secret::hex(&sha2::Digest::finalize(h)));
        Ok((self.size, digest))
    }

    /// Like [`BodyMeter::finish`], and the body must have the SHA-256 `expected` (any case) when one is given.
    ///
    /// # Errors
    /// [`ReceiveError::Empty`], or [`ReceiveError::ChecksumMismatch`].
    pub fn check(self, expected: Option<&str>) -> Result<u64, ReceiveError> {
        let (size, digest) = self.finish()?;
        match expected {
            Some(expected) if Some(expected.to_ascii_lowercase()) != digest => Err(ReceiveError::ChecksumMismatch),
            _ => Ok(size),
        }
    }
}

/// Why an archive was refused (contract §7, §6.4).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ArchiveError {
    /// Not a readable zip.
    #[error("invalid zip archive: {0}")]
    Invalid(String),
    /// Too many entries.
    #[error("archive has more than {0} entries")]
    TooManyEntries(u64),
    /// An entry that could escape or is not a plain file.
    #[error("unsafe archive entry \"{name}\": {reason}")]
    Unsafe {
        /// Entry name as stored.
        name: String,
        /// `absolute path`, `parent directory reference`, `invalid name`, `symbolic link`, `special file`,
        /// `encrypted entry` or `unsupported compression method`.
        reason: &'static str,
    },
    /// Two entries for one path, or a file where a directory is needed.
    #[error("duplicate archive entry \"{0}\"")]
    Duplicate(String),
    /// The extracted total exceeds the limit.
    #[error("archive expands beyond {0} bytes")]
    TooLarge(u64),
    /// One entry expands suspiciously (a zip bomb).
    #[error("archive entry \"{0}\" exceeds the compression ratio limit")]
    Ratio(String),
    /// Nothing left after filtering.
    #[error("archive contains no files")]
    NoFiles,
    /// Chunked: the chunks do not add up to the declared size.
    #[error("assembled size {actual} does not match totalSize {expected}")]
    SizeMismatch {
        /// Bytes found.
        actual: u64,
        /// Declared `totalSize`.
        expected: u64,
    },
    /// Chunked: the declared SHA-256 of the whole archive does not match.
    #[error("checksum mismatch: expected {expected}, got {actual}")]
    ChecksumMismatch {
        /// Declared.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// The storage failed (or could not be reached) while the archive was read or checked.
    #[error("{}", .0.message())]
    Storage(StorageError),
}

impl ArchiveError {
    /// Whether the refusal is about size (413) rather than form (400); storage failures are neither.
    pub fn is_too_large(&self) -> bool {
        matches!(self, Self::TooManyEntries(_) | Self::TooLarge(_) | Self::Ratio(_))
    }
}

/// How to store one chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkWrite {
    /// Its index.
    pub index: i64,
    /// Most bytes it may have.
    pub max_bytes: u64,
    /// Its declared SHA-256, lower-case hex.
    pub sha256: Option<String>,
}

/// Where the archive of an upload is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveSource {
    /// The streamed body received by [`UploadFiles::receive`].
    Received,
    /// The stored chunks `0..count` of a chunked upload, read in order as one archive.
    Chunks {
        /// Number of chunks.
        count: i64,
        /// Declared total size.
        total_size: u64,
        /// Declared SHA-256 of the whole archive (lower-case hex).
        sha256: Option<String>,
    },
}

/// What extraction produced, besides the staged files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// Statistics of the result files (§8.6).
    pub stats: BuildStats,
    /// The longest single test in milliseconds, for quality gates.
    pub longest_test_ms: i64,
    /// Non-fatal remarks (unreadable result files).
    pub warnings: Vec<String>,
}

/// Files of uploads in progress and their hand-over to a build.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UploadFiles: Send + Sync + 'static {
    /// Streams a body into the upload's temporary archive; returns the bytes stored.
    async fn receive(&self, upload: UploadId, body: ByteStream, max_bytes: u64) -> Result<u64, ReceiveError>;

    /// Stores a chunk atomically (replacing an earlier copy of its index only when complete and valid); returns
    /// its size.
    async fn store_chunk(
        &self,
        env: &EnvId,
        project: &ProjectId,
        upload: UploadId,
        body: ByteStream,
        chunk: ChunkWrite,
    ) -> Result<u64, ReceiveError>;

    /// Validates and extracts the archive into the upload's staging directory and computes its statistics.
    /// On failure nothing of the extraction is left.
    async fn extract(
        &self,
        env: &EnvId,
        project: &ProjectId,
        upload: UploadId,
        source: ArchiveSource,
        limits: UploadLimits,
    ) -> Result<Extracted, ArchiveError>;

    /// Moves the staged results into place as the build's results, replacing earlier results in one step.
    async fn publish(
        &self,
        env: &EnvId,
        project: &ProjectId,
        build: &BuildId,
        upload: UploadId,
    ) -> Result<(), StorageError>;

    /// Deletes everything the upload itself holds: temporary archive, staging directory and chunks.
    async fn discard(&self, env: &EnvId, project: &ProjectId, upload: UploadId) -> Result<(), StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meter_enforces_the_limit_refuses_nothing_and_checks_the_digest() {
        let mut meter = BodyMeter::new(5, true);
        meter.take(b"abc").unwrap();
        assert!(matches!(meter.take(b"def"), Err(ReceiveError::TooLarge(5))));
        assert!(matches!(BodyMeter::new(5, false).finish(), Err(ReceiveError::Empty)));

        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let meter = |hash| {
            let mut m = BodyMeter::new(10, hash);
            m.take(b"ab").unwrap();
            m.take(b"c").unwrap();
            m
        };
        assert_eq!(meter(true).finish().unwrap(), (3, Some(abc.to_owned())));
        assert_eq!(meter(false).finish().unwrap(), (3, None));
        assert_eq!(meter(true).check(Some(&abc.to_uppercase())).unwrap(), 3);
        assert!(matches!(meter(true).check(Some("00")), Err(ReceiveError::ChecksumMismatch)));
        assert_eq!(meter(false).check(None).unwrap(), 3);
    }
}
