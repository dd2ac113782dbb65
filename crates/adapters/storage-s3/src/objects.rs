//! Moving bytes between objects and local files with bounded memory, and removing everything below a prefix.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt};
use hub_domain::ports::StorageError;
use object_store::buffered::BufWriter;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Size of the parts of a multipart upload, and of the one buffered `PUT` below it: above S3's 5 MiB minimum, and
/// with [`UPLOAD_CONCURRENCY`] parts in flight an upload holds at most about three parts in memory.
pub(crate) const PART: usize = 8 * 1024 * 1024;
/// Parts of one upload sent at once.
const UPLOAD_CONCURRENCY: usize = 2;
/// Read size of local files being uploaded.
const READ_BLOCK: usize = 256 * 1024;

/// What went wrong moving bytes: the object store, or the local scratch directory.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Fault {
    /// The object store failed or refused.
    #[error("object storage: {0}")]
    Store(#[from] object_store::Error),
    /// A local file failed.
    #[error("local scratch: {0}")]
    Local(#[from] std::io::Error),
}

impl Fault {
    /// Whether the object asked for does not exist.
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, Self::Store(object_store::Error::NotFound { .. }))
    }

    /// The port's error, with what was being done.
    pub(crate) fn storage(&self, doing: &str) -> StorageError {
        StorageError(format!("{doing}: {self}"))
    }
}

/// The object store's error for `doing`, as the ports report storage failures.
pub(crate) fn storage(doing: &str, e: &object_store::Error) -> StorageError {
    StorageError(format!("{doing}: object storage: {e}"))
}

/// An upload into `key` that buffers one part and sends larger bodies as a multipart upload; the object appears
/// only when [`finish`] completes it.
pub(crate) fn writer(store: &Arc<dyn ObjectStore>, key: Key) -> BufWriter {
    BufWriter::with_capacity(Arc::clone(store), key, PART).with_max_concurrency(UPLOAD_CONCURRENCY)
}

/// Completes an upload begun with [`writer`].
pub(crate) async fn finish(mut writer: BufWriter) -> Result<(), Fault> {
    // The writer's errors arrive as I/O errors of its `AsyncWrite` face, but they are the object store's.
    writer.shutdown().await.map_err(|e| Fault::Store(object_store::Error::Generic { store: "S3", source: e.into() }))
}

/// Uploads the local file at `path` as `key`; returns its size. On failure nothing is left at `key` (a started
/// multipart upload is aborted).
pub(crate) async fn upload_file(store: &Arc<dyn ObjectStore>, path: &std::path::Path, key: Key) -> Result<u64, Fault> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut upload = writer(store, key);
    let sent = async {
        let mut size = 0u64;
        loop {
            let mut block = BytesMut::with_capacity(READ_BLOCK);
            if file.read_buf(&mut block).await? == 0 {
                return Ok::<_, Fault>(size);
            }
            size += block.len() as u64;
            upload.put(block.freeze()).await?;
        }
    }
    .await;
    match sent {
        Ok(size) => {
            finish(upload).await?;
            Ok(size)
        }
        Err(e) => {
            let _ = upload.abort().await;
            Err(e)
        }
    }
}

/// Appends the object `key` to `out` as it arrives, feeding `hasher` when given; returns the bytes written.
/// A missing object is [`Fault::is_not_found`].
pub(crate) async fn download(
    store: &Arc<dyn ObjectStore>,
    key: &Key,
    out: &mut (impl AsyncWrite + Unpin),
    mut hasher: Option<&mut Sha256>,
) -> Result<u64, Fault> {
    let mut body = store.get(key).await?.into_stream();
    let mut size = 0u64;
    while let Some(block) = body.next().await {
        let block: Bytes = block?;
        if let Some(hasher) = hasher.as_deref_mut() {
            hasher.update(&block);
        }
        out.write_all(&block).await?;
        size += block.len() as u64;
    }
    Ok(size)
}

/// Downloads `key` into a new local file at `path` (replacing any); returns its size.
pub(crate) async fn download_file(
    store: &Arc<dyn ObjectStore>,
    key: &Key,
    path: &std::path::Path,
) -> Result<u64, Fault> {
    let mut file = tokio::io::BufWriter::with_capacity(READ_BLOCK, tokio::fs::File::create(path).await?);
    let result = async {
        let size = download(store, key, &mut file, None).await?;
        file.flush().await?;
        Ok(size)
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(path).await;
    }
    result
}

/// Deletes every object below `prefix` (a listing and batch deletes of up to 1,000 keys each); returns how many
/// were deleted. Objects that vanish meanwhile are no error.
pub(crate) async fn delete_prefix(store: &Arc<dyn ObjectStore>, prefix: &Key) -> Result<usize, object_store::Error> {
    let listed = store.list(Some(prefix)).map_ok(|meta| meta.location).boxed();
    let mut deleted = store.delete_stream(listed);
    let mut count = 0;
    while let Some(result) = deleted.next().await {
        match result {
            Ok(_) => count += 1,
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(count)
}

/// Bytes of every object below `prefix`.
pub(crate) async fn bytes_below(store: &Arc<dyn ObjectStore>, prefix: &Key) -> Result<u64, object_store::Error> {
    store.list(Some(prefix)).try_fold(0u64, |sum, meta| async move { Ok(sum + meta.size) }).await
}

/// The object `key` as text, with the version a conditional put needs; `None` when it does not exist.
pub(crate) async fn read_text(
    store: &Arc<dyn ObjectStore>,
    key: &Key,
) -> Result<Option<(String, object_store::UpdateVersion)>, object_store::Error> {
    let got = match store.get(key).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let version = object_store::UpdateVersion { e_tag: got.meta.e_tag.clone(), version: got.meta.version.clone() };
    let bytes = got.bytes().await?;
    Ok(Some((String::from_utf8_lossy(&bytes).into_owned(), version)))
}
