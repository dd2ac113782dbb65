//! [`UploadFiles`] on object storage.
//!
//! A streamed body is received, checked and published within one request, so it goes to local scratch only. The
//! chunks of a chunked upload arrive in separate requests, possibly at different nodes, so each is an object,
//! written straight from the request body (buffered up to one part, then as a multipart upload) and appearing only
//! when complete and valid. Completion joins them into a local file, checks it with the [`Extractor`], and
//! publishing writes the archive as the build's results: one object, replaced in one step.
//!
//! [`Extractor`]: crate::Extractor

use std::collections::HashMap;

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use hub_domain::ids::{BuildId, EnvId, ProjectId, UploadId};
use hub_domain::model::secret::hex;
use hub_domain::model::upload::UploadLimits;
use hub_domain::ports::{
    ArchiveError, ArchiveSource, BodyMeter, ByteStream, ChunkWrite, Extracted, ReceiveError, StorageError, UploadFiles,
};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::objects::{self, Fault};
use crate::{S3Storage, keys, scratch};

impl S3Storage {
    /// Joins the chunks `0..count` of an upload into the local file `into`, checking the declared size before any
    /// is read and the declared SHA-256 after.
    async fn join_chunks(
        &self,
        env: &EnvId,
        project: &ProjectId,
        upload: UploadId,
        (count, total_size, sha256): (i64, u64, Option<String>),
        into: &std::path::Path,
    ) -> Result<(), ArchiveError> {
        const DOING: &str = "cannot read the chunks";
        let prefix = keys::upload_prefix(env, project, upload);
        let listed: Vec<_> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| ArchiveError::Storage(objects::storage(DOING, &e)))?;
        let sizes: HashMap<i64, u64> =
            listed.iter().filter_map(|meta| Some((keys::chunk_index(meta.location.filename()?)?, meta.size))).collect();
        let mut declared = 0u64;
        for index in 0..count {
            let size = sizes.get(&index).ok_or_else(|| {
                ArchiveError::Storage(StorageError::new(format!("chunk {index} is unreadable: it is not stored")))
            })?;
            declared += size;
        }
        if declared != total_size {
            return Err(ArchiveError::SizeMismatch { actual: declared, expected: total_size });
        }
        let mut hasher = sha256.is_some().then(Sha256::new);
        let joined = async {
            let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, tokio::fs::File::create(into).await?);
            let mut size = 0u64;
            for index in 0..count {
                let key = keys::chunk(env, project, upload, index);
                size += objects::download(&self.store, &key, &mut out, hasher.as_mut()).await?;
            }
            out.flush().await?;
            Ok::<_, Fault>(size)
        }
        .await;
        let size = joined.map_err(|e| ArchiveError::Storage(e.storage(DOING)))?;
        // A chunk stored again between the listing and its download.
        if size != total_size {
            return Err(ArchiveError::SizeMismatch { actual: size, expected: total_size });
        }
        if let (Some(expected), Some(hasher)) = (sha256, hasher) {
            let actual = hex(&hasher.finalize());
            if !actual.eq_ignore_ascii_case(&expected) {
                return Err(ArchiveError::ChecksumMismatch { expected, actual });
            }
        }
        Ok(())
    }
}

#[async_trait]
impl UploadFiles for S3Storage {
    async fn receive(&self, upload: UploadId, body: ByteStream, max_bytes: u64) -> Result<u64, ReceiveError> {
        scratch::write_body(&scratch::received(&self.scratch, upload), body, max_bytes).await
    }

    async fn store_chunk(
        &self,
        env: &EnvId,
        project: &ProjectId,
        upload: UploadId,
        mut body: ByteStream,
        chunk: ChunkWrite,
    ) -> Result<u64, ReceiveError> {
        let ChunkWrite { index, max_bytes, sha256 } = chunk;
        let mut writer = objects::writer(&self.store, keys::chunk(env, project, upload, index));
        let received = async {
            let mut meter = BodyMeter::new(max_bytes, sha256.is_some());
            while let Some(block) = body.next().await {
                let block = block?;
                meter.take(&block)?;
                writer.put(block).await.map_err(|e| objects::storage("cannot store the chunk", &e))?;
            }
            meter.check(sha256.as_deref())
        }
        .await;
        match received {
            // Completing the upload is what makes the chunk (or its new copy) visible, in one step.
            Ok(size) => {
                objects::finish(writer).await.map_err(|e| e.storage("cannot store the chunk"))?;
                Ok(size)
            }
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    async fn extract(
        &self,
        env: &EnvId,
        project: &ProjectId,
        upload: UploadId,
        source: ArchiveSource,
        limits: UploadLimits,
    ) -> Result<Extracted, ArchiveError> {
        let archive = scratch::received(&self.scratch, upload);
        if let ArchiveSource::Chunks { count, total_size, sha256 } = source {
            self.join_chunks(env, project, upload, (count, total_size, sha256), &archive).await?;
        }
        let staging = scratch::staging(&self.scratch, upload);
        let _ = scratch::remove(&staging).await;
        let extractor = std::sync::Arc::clone(&self.extractor);
        let checked = staging.clone();
        let extracted = tokio::task::spawn_blocking(move || extractor(&archive, &checked, limits))
            .await
            .map_err(|e| ArchiveError::Storage(StorageError::new(e.to_string())))?;
        // The archive itself is what is kept; the extraction was for its checks and statistics.
        let _ = scratch::remove(&staging).await;
        extracted
    }

    async fn publish(
        &self,
        env: &EnvId,
        project: &ProjectId,
        build: &BuildId,
        upload: UploadId,
    ) -> Result<(), StorageError> {
        let archive = scratch::received(&self.scratch, upload);
        objects::upload_file(&self.store, &archive, keys::results(env, project, build))
            .await
            .map(drop)
            .map_err(|e| e.storage("cannot store the build's results"))
    }

    async fn discard(&self, env: &EnvId, project: &ProjectId, upload: UploadId) -> Result<(), StorageError> {
        for path in [scratch::received(&self.scratch, upload), scratch::staging(&self.scratch, upload)] {
            scratch::remove(&path)
                .await
                .map_err(|e| StorageError::new(format!("cannot remove {}: {e}", path.display())))?;
        }
        objects::delete_prefix(&self.store, &keys::upload_prefix(env, project, upload))
            .await
            .map(drop)
            .map_err(|e| objects::storage("cannot delete the upload's chunks", &e))
    }
}
