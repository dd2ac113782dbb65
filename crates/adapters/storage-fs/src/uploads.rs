//! [`UploadFiles`] on the filesystem:
//!
//! ```text
//! tmp/upload-<id>.zip                          body of a streaming upload
//! tmp/staging-<id>/                            extraction in progress
//! tmp/chunk-<id>-<index>-<nonce>.part          a chunk being received
//! envs/<env>/<project>/uploads/<id>/<i>.chunk  stored chunks (kept across restarts, so uploads resume)
//! envs/<env>/<project>/builds/<build>/results  a build's results
//! ```
//!
//! Everything is written under a temporary name and renamed into place when complete; `tmp/` is emptied at
//! start-up, so a crash never leaves a half-written file where it could be read.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures_util::StreamExt;
use hub_domain::ids::{BuildId, EnvId, ProjectId, UploadId};
use hub_domain::model::secret::hex;
use hub_domain::model::upload::UploadLimits;
use hub_domain::ports::{
    ArchiveError, ArchiveSource, BodyMeter, ByteStream, ChunkWrite, Extracted, ReceiveError, StorageError, UploadFiles,
};
use sha2::{Digest, Sha256};

use crate::FsResultStore;
use crate::archive;
use crate::chain::ChainedFiles;

/// Write buffer of received bodies: large enough for few system calls, small enough to stay flat.
const WRITE_BUFFER: usize = 256 * 1024;

fn storage(what: &str, e: &io::Error) -> StorageError {
    StorageError::new(format!("{what}: {e}"))
}

impl FsResultStore {
    fn received_path(&self, upload: UploadId) -> PathBuf {
        self.tmp.join(format!("upload-{upload}.zip"))
    }

    fn staging_path(&self, upload: UploadId) -> PathBuf {
        self.tmp.join(format!("staging-{upload}"))
    }

    fn chunk_dir(&self, env: &EnvId, project: &ProjectId, upload: UploadId) -> PathBuf {
        self.envs.join(env.as_str()).join(project.as_str()).join("uploads").join(upload.to_string())
    }

    /// The directory of a build's files (`results/`, `report/`).
    pub fn build_dir(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> PathBuf {
        self.envs.join(env.as_str()).join(project.as_str()).join("builds").join(build.as_str())
    }
}

/// What [`write_body`] must do besides copying.
#[derive(Clone, Copy)]
struct WriteMode {
    /// Compute the SHA-256 of the bytes (only when a checksum was declared: it costs a pass of the CPU).
    hash: bool,
    /// Flush to stable storage before returning (chunks, which a client resumes after a crash; a streaming
    /// body is extracted at once and needs no durability).
    durable: bool,
}

/// Blocks queued between the request and the writer thread.
const WRITER_QUEUE: usize = 8;

/// Copies `body` into `path` (created new), stopping at `max_bytes`; returns the size and, when asked, the
/// SHA-256. On any error the file is removed.
///
/// One blocking thread writes the whole body with plain `std::fs` calls, fed the received blocks through a small
/// queue (no copies: blocks are reference-counted). `tokio::fs` would hop every write to whichever pool thread is
/// free, and with glibc's per-thread arenas each of those threads keeps its own copy buffers: measured with
/// `just bench-upload`, the resident set then grew with the upload size.
async fn write_body(
    path: &Path,
    mut body: ByteStream,
    max_bytes: u64,
    mode: WriteMode,
) -> Result<(u64, Option<String>), ReceiveError> {
    let (blocks, queue) = tokio::sync::mpsc::channel::<bytes::Bytes>(WRITER_QUEUE);
    let target = path.to_path_buf();
    let writer = tokio::task::spawn_blocking(move || write_blocks(&target, queue, mode.durable));
    let received = async {
        let mut meter = BodyMeter::new(max_bytes, mode.hash);
        while let Some(block) = body.next().await {
            let block = block?;
            meter.take(&block)?;
            if blocks.send(block).await.is_err() {
                // The writer stopped: its own error says why.
                break;
            }
        }
        meter.finish()
    }
    .await;
    drop(blocks);
    let written = writer.await.map_err(|e| StorageError::new(e.to_string())).and_then(|r| r);
    let result = match (received, written) {
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(e.into()),
        (Ok(done), Ok(())) => Ok(done),
    };
    if result.is_err() {
        let _ = tokio::fs::remove_file(path).await;
    }
    result
}

/// The writer thread of [`write_body`]: creates `path` and appends every queued block.
fn write_blocks(
    path: &Path,
    mut queue: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    durable: bool,
) -> Result<(), StorageError> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| storage("cannot create a temporary file", &e))?;
    while let Some(block) = queue.blocking_recv() {
        file.write_all(&block).map_err(|e| storage("cannot write the upload", &e))?;
    }
    if durable {
        // Chunks must survive a crash of the machine, not only of the process: they are what a client resumes.
        file.sync_data().map_err(|e| storage("cannot write the upload", &e))?;
    }
    Ok(())
}

/// Sequential SHA-256 of a whole chained archive (a separate pass: extraction reads by seeking).
fn sha256_of(mut reader: impl io::Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        match reader.read(&mut buffer)? {
            0 => return Ok(hex(&hasher.finalize())),
            n => hasher.update(&buffer[..n]),
        }
    }
}

#[async_trait]
impl UploadFiles for FsResultStore {
    async fn receive(&self, upload: UploadId, body: ByteStream, max_bytes: u64) -> Result<u64, ReceiveError> {
        let mode = WriteMode { hash: false, durable: false };
        Ok(write_body(&self.received_path(upload), body, max_bytes, mode).await?.0)
    }

    async fn store_chunk(
        &self,
        env: &EnvId,
        project: &ProjectId,
        upload: UploadId,
        body: ByteStream,
        chunk: ChunkWrite,
    ) -> Result<u64, ReceiveError> {
        let ChunkWrite { index, max_bytes, sha256 } = chunk;
        let part = self.tmp.join(format!("chunk-{upload}-{index}-{}.part", ulid::Ulid::new()));
        let mode = WriteMode { hash: sha256.is_some(), durable: true };
        let (size, digest) = write_body(&part, body, max_bytes, mode).await?;
        if sha256.is_some_and(|expected| Some(expected.to_ascii_lowercase()) != digest) {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(ReceiveError::ChecksumMismatch);
        }
        let dir = self.chunk_dir(env, project, upload);
        let stored = async {
            tokio::fs::create_dir_all(&dir).await?;
            // Replaces an earlier copy of the index in one step: readers see the old chunk or the new one.
            tokio::fs::rename(&part, dir.join(format!("{index}.chunk"))).await
        }
        .await;
        if let Err(e) = stored {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(storage("cannot store the chunk", &e).into());
        }
        Ok(size)
    }

    async fn extract(
        &self,
        env: &EnvId,
        project: &ProjectId,
        upload: UploadId,
        source: ArchiveSource,
        limits: UploadLimits,
    ) -> Result<Extracted, ArchiveError> {
        let staging = self.staging_path(upload);
        let received = self.received_path(upload);
        let chunks = self.chunk_dir(env, project, upload);
        let work = move || -> Result<Extracted, ArchiveError> {
            let _ = std::fs::remove_dir_all(&staging);
            match source {
                ArchiveSource::Received => {
                    let file = std::fs::File::open(&received)
                        .map_err(|e| ArchiveError::Storage(storage("cannot open the upload", &e)))?;
                    archive::extract(io::BufReader::with_capacity(WRITE_BUFFER, file), &staging, limits)
                }
                ArchiveSource::Chunks { count, total_size, sha256 } => {
                    let mut parts = Vec::new();
                    for index in 0..count {
                        let path = chunks.join(format!("{index}.chunk"));
                        let size = std::fs::metadata(&path)
                            .map_err(|e| ArchiveError::Storage(storage(&format!("chunk {index} is unreadable"), &e)))?
                            .len();
                        parts.push((path, size));
                    }
                    let chain = ChainedFiles::new(parts.clone());
                    if chain.len() != total_size {
                        return Err(ArchiveError::SizeMismatch { actual: chain.len(), expected: total_size });
                    }
                    if let Some(expected) = sha256 {
                        let actual = sha256_of(io::BufReader::with_capacity(WRITE_BUFFER, chain))
                            .map_err(|e| ArchiveError::Storage(storage("cannot read the chunks", &e)))?;
                        if !actual.eq_ignore_ascii_case(&expected) {
                            return Err(ArchiveError::ChecksumMismatch { expected, actual });
                        }
                    }
                    let chain = ChainedFiles::new(parts);
                    archive::extract(io::BufReader::with_capacity(WRITE_BUFFER, chain), &staging, limits)
                }
            }
        };
        self.extractors.run(work).await.map_err(|e| ArchiveError::Storage(StorageError::new(e)))?
    }

    async fn publish(
        &self,
        env: &EnvId,
        project: &ProjectId,
        build: &BuildId,
        upload: UploadId,
    ) -> Result<(), StorageError> {
        let dir = self.build_dir(env, project, build);
        tokio::fs::create_dir_all(&dir).await.map_err(|e| storage("cannot create the build directory", &e))?;
        let results = dir.join("results");
        // The previous results of a replaced build leave first (moved aside in one step, deleted in the background).
        self.discard_dir(results.clone()).await?;
        tokio::fs::rename(self.staging_path(upload), &results)
            .await
            .map_err(|e| storage("cannot move the results into place", &e))
    }

    async fn discard(&self, env: &EnvId, project: &ProjectId, upload: UploadId) -> Result<(), StorageError> {
        match tokio::fs::remove_file(self.received_path(upload)).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(storage("cannot remove the temporary archive", &e)),
        }
        self.discard_dir(self.staging_path(upload)).await?;
        self.discard_dir(self.chunk_dir(env, project, upload)).await
    }
}
