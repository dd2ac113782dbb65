//! hub-storage-s3: the files of allure-hub (results, reports, chunks, history) in S3-compatible object storage,
//! through the `object_store` crate, so that several nodes can share them.
//!
//! Objects hold everything a node other than the one that wrote it may need (the `keys` module has the layout); a local
//! scratch directory holds only what one request or job works on: a received archive while it is checked, and a
//! generation's workspace, which the Allure CLI reads and writes as files.
//!
//! S3 has no rename, so nothing becomes visible by moving it: an archive is written as one object (complete or
//! absent), a report as an archive and its index under a fresh key prefix that the build's record then names (the generation service switches
//! it in the transaction that settles the build, then has the old report deleted), and the history with
//! conditional puts (two writers cannot silently overwrite each other).
//!
//! Validating and extracting archives is the filesystem adapter's code (its `archive` module), handed in as an
//! [`Extractor`] because adapters do not depend on each other.

mod generation;
mod health;
mod history;
mod index_cache;
mod keys;
mod objects;
mod report_files;
mod report_pack;
mod results;
mod scratch;
mod settings;
mod transfer;
mod uploads;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use hub_domain::model::upload::UploadLimits;
use hub_domain::ports::{ArchiveError, Extracted, StorageError};
use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::path::Path as Key;
use object_store::prefix::PrefixStore;

pub use settings::{S3Settings, SettingsError};

/// Checks the zip archive at the first path and extracts it into the second (a directory that must not exist yet,
/// removed again on failure) within the limits, computing the build's statistics. Blocking: it is run on the
/// blocking pool. The server passes the filesystem adapter's `archive::extract` on the opened file.
pub type Extractor = Arc<dyn Fn(&Path, &Path, UploadLimits) -> Result<Extracted, ArchiveError> + Send + Sync>;

/// Why the adapter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The S3 client refused the settings (an endpoint that is not a URL, an unknown checksum algorithm, ...).
    #[error("cannot configure the S3 client: {0}")]
    Client(String),
    /// The local scratch directory cannot be created.
    #[error("cannot create the scratch directory {path}: {source}")]
    Scratch {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The object-storage adapter of the storage ports ([`hub_domain::ports::ResultStore`],
/// [`hub_domain::ports::UploadFiles`], [`hub_domain::ports::GenerationFiles`], [`hub_domain::ports::ReportFiles`]).
#[derive(Clone)]
pub struct S3Storage {
    /// The bucket below the configured prefix: every key of the `keys` module is relative to it.
    store: Arc<dyn ObjectStore>,
    /// Local work files of this node only.
    scratch: PathBuf,
    extractor: Extractor,
    /// `s3://bucket/prefix`, for messages.
    location: String,
    /// The indexes of the reports viewed lately.
    indexes: index_cache::IndexCache,
}

impl std::fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the client: its own Debug may show credentials.
        f.debug_struct("S3Storage").field("location", &self.location).field("scratch", &self.scratch).finish()
    }
}

impl S3Storage {
    /// A client for the bucket of `settings`, with `scratch_dir` (created if needed) for local work files. Makes
    /// no request: [`S3Storage::check`] says whether the bucket can be used.
    ///
    /// # Errors
    /// [`ConnectError`] when the settings are refused or the scratch directory cannot be created.
    pub async fn connect(
        settings: &S3Settings,
        scratch_dir: PathBuf,
        extractor: Extractor,
    ) -> Result<Self, ConnectError> {
        let bucket = settings.builder().build().map_err(|e| ConnectError::Client(e.to_string()))?;
        let location = match settings.prefix() {
            "" => format!("s3://{}", settings.bucket()),
            prefix => format!("s3://{}/{prefix}", settings.bucket()),
        };
        let store: Arc<dyn ObjectStore> = match settings.prefix() {
            "" => Arc::new(bucket),
            prefix => Arc::new(PrefixStore::new(bucket, prefix)),
        };
        Self::with_store(store, scratch_dir, extractor, location).await
    }

    /// The adapter on any `object_store` backend (an in-memory store in tests, another cloud's client), named
    /// `location` in messages.
    ///
    /// # Errors
    /// [`ConnectError::Scratch`] when the scratch directory cannot be created.
    pub async fn with_store(
        store: Arc<dyn ObjectStore>,
        scratch_dir: PathBuf,
        extractor: Extractor,
        location: String,
    ) -> Result<Self, ConnectError> {
        tokio::fs::create_dir_all(&scratch_dir)
            .await
            .map_err(|source| ConnectError::Scratch { path: scratch_dir.clone(), source })?;
        Ok(Self { store, scratch: scratch_dir, extractor, location, indexes: index_cache::IndexCache::default() })
    }

    /// Where the objects are (`s3://bucket/prefix`), for logs and the settings page.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Writes, reads back and deletes a small probe object: for start-up (can the bucket be reached and written
    /// with these credentials?) and for health checks.
    ///
    /// # Errors
    /// [`StorageError`] saying which step failed and why.
    pub async fn check(&self) -> Result<(), StorageError> {
        let probe = Key::from_iter([keys::PROBES, &ulid::Ulid::new().to_string()]);
        let content = Bytes::from_static(b"allure-hub storage check");
        let failed = |step: &str, e: object_store::Error| {
            let message = format!("{}: cannot {step}: {e}", self.location);
            if objects::is_unavailable(&e) { StorageError::unavailable(message) } else { StorageError::new(message) }
        };
        self.store.put(&probe, content.clone().into()).await.map_err(|e| failed("write an object", e))?;
        let read = async { self.store.get(&probe).await?.bytes().await }.await;
        let deleted = self.store.delete(&probe).await;
        let read = read.map_err(|e| failed("read an object back", e))?;
        deleted.map_err(|e| failed("delete an object", e))?;
        if read != content {
            return Err(StorageError::new(format!(
                "{}: an object read back differs from what was written",
                self.location
            )));
        }
        Ok(())
    }

    /// Deletes everything in the scratch directory (archives and workspaces a previous process left). Call only at
    /// start-up, before any work begins. Returns how many entries were removed.
    ///
    /// # Errors
    /// When the directory cannot be read or an entry cannot be deleted.
    pub async fn sweep_scratch(&self) -> std::io::Result<usize> {
        scratch::empty(&self.scratch).await
    }
}
