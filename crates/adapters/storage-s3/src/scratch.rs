//! The node's local scratch directory: a received archive while it is checked, the extraction made for its
//! statistics, and generation workspaces. Nothing here outlives the request or job that made it, and the
//! directory is emptied at start-up.
//!
//! ```text
//! upload-<id>.zip          a streamed body, or the chunks of an upload joined, until published as the results
//! staging-<id>/            the extraction that checks an archive and counts its results
//! job-<id>-<attempt>/      one generation's workspace (results, report, work, history copy and its plan)
//! ```

use std::io;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use hub_domain::ids::UploadId;
use hub_domain::model::job::GenerationJob;
use hub_domain::ports::{BodyMeter, ByteStream, ReceiveError, StorageError};

/// Blocks queued between the request and the writer thread.
const WRITER_QUEUE: usize = 8;

/// The received archive of an upload.
pub(crate) fn received(scratch: &Path, upload: UploadId) -> PathBuf {
    scratch.join(format!("upload-{upload}.zip"))
}

/// The extraction of an upload.
pub(crate) fn staging(scratch: &Path, upload: UploadId) -> PathBuf {
    scratch.join(format!("staging-{upload}"))
}

/// The workspace of one attempt of a job: the CLI of an attempt cut short may still be writing to its own.
pub(crate) fn job(scratch: &Path, job: &GenerationJob) -> PathBuf {
    scratch.join(format!("job-{}-{}", job.id, job.attempts))
}

/// Removes a file or a directory tree; one that does not exist is fine.
pub(crate) async fn remove(path: &Path) -> io::Result<()> {
    let result = match tokio::fs::symlink_metadata(path).await {
        Ok(meta) if meta.is_dir() => tokio::fs::remove_dir_all(path).await,
        Ok(_) => tokio::fs::remove_file(path).await,
        Err(e) => Err(e),
    };
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Removes every entry of `dir`; returns how many there were.
pub(crate) async fn empty(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        remove(&entry.path()).await?;
        removed += 1;
    }
    Ok(removed)
}

/// Copies `body` into a new file at `path`, stopping at `max_bytes`; returns the size. On any error the file is
/// removed.
///
/// One blocking thread writes the whole body with plain `std::fs` calls, fed the received blocks through a small
/// queue (blocks are reference-counted, not copied): writing through `tokio::fs` hops between pool threads, and
/// the filesystem adapter measured the resident set growing with the upload size that way.
pub(crate) async fn write_body(path: &Path, mut body: ByteStream, max_bytes: u64) -> Result<u64, ReceiveError> {
    let (blocks, queue) = tokio::sync::mpsc::channel::<bytes::Bytes>(WRITER_QUEUE);
    let target = path.to_path_buf();
    let writer = tokio::task::spawn_blocking(move || write_blocks(&target, queue));
    let received = async {
        let mut meter = BodyMeter::new(max_bytes, false);
        while let Some(block) = body.next().await {
            let block = block?;
            meter.take(&block)?;
            if blocks.send(block).await.is_err() {
                // The writer stopped: its own error says why.
                break;
            }
        }
        meter.check(None)
    }
    .await;
    drop(blocks);
    let written = writer.await.map_err(|e| StorageError::new(e.to_string())).and_then(|r| r);
    let result = match (received, written) {
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(e.into()),
        (Ok(size), Ok(())) => Ok(size),
    };
    if result.is_err() {
        let _ = tokio::fs::remove_file(path).await;
    }
    result
}

/// The writer thread of [`write_body`]: creates `path` and appends every queued block.
fn write_blocks(path: &Path, mut queue: tokio::sync::mpsc::Receiver<bytes::Bytes>) -> Result<(), StorageError> {
    use std::io::Write;
    let failed = |e: io::Error| StorageError::new(format!("cannot write the upload to local scratch: {e}"));
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(failed)?;
    while let Some(block) = queue.blocking_recv() {
        file.write_all(&block).map_err(failed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use hub_domain::ports::BodyError;

    fn body(blocks: Vec<Result<&'static [u8], BodyError>>) -> ByteStream {
        Box::pin(futures_util::stream::iter(blocks.into_iter().map(|b| b.map(Bytes::from_static))))
    }

    #[tokio::test]
    async fn a_body_is_written_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.zip");
        assert_eq!(write_body(&path, body(vec![Ok(b"abc"), Ok(b"de")]), 5).await.unwrap(), 5);
        assert_eq!(std::fs::read(&path).unwrap(), b"abcde");

        let too_large = dir.path().join("b.zip");
        let err = write_body(&too_large, body(vec![Ok(b"abc"), Ok(b"de")]), 4).await.unwrap_err();
        assert!(matches!(err, ReceiveError::TooLarge(4)), "{err:?}");
        assert!(!too_large.exists());

        let cut = dir.path().join("c.zip");
        let err = write_body(&cut, body(vec![Ok(b"abc"), Err(BodyError::Interrupted)]), 10).await.unwrap_err();
        assert!(matches!(err, ReceiveError::Body(BodyError::Interrupted)), "{err:?}");
        assert!(!cut.exists());

        let err = write_body(&dir.path().join("d.zip"), body(vec![]), 10).await.unwrap_err();
        assert!(matches!(err, ReceiveError::Empty), "{err:?}");
    }

    #[tokio::test]
    async fn emptying_removes_files_and_trees() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("job-1/report/data")).unwrap();
        std::fs::write(dir.path().join("upload-1.zip"), b"zip").unwrap();
        assert_eq!(empty(dir.path()).await.unwrap(), 2);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        remove(&dir.path().join("gone")).await.unwrap();
    }
}
