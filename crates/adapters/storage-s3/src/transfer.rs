//! [`StorageTransfer`] on object storage: an item's archive is downloaded and extracted to export it, and packed
//! and uploaded to import it, as a generation's workspace is filled and its report published. A report imported
//! under the key the build's record names is written archive first and index last, so it is served whole or not
//! at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use hub_domain::ports::{StorageError, StorageTransfer, StoredItem};
use object_store::ObjectStoreExt;
use object_store::path::Path as Key;
use zip::CompressionMethod;

use crate::generation::unlimited;
use crate::objects::{self, Fault};
use crate::{S3Storage, history, keys, report_pack};

/// The history's file name in an exported item.
const HISTORY: &str = "history.jsonl";

impl S3Storage {
    /// A scratch file for one archive on its way in or out.
    fn transfer_file(&self) -> PathBuf {
        self.scratch.join(format!("transfer-{}.zip", ulid::Ulid::new()))
    }

    /// Downloads the archive `key` and extracts it into `dir`; `false` when there is no such object.
    async fn extract_object(&self, key: &Key, dir: &Path) -> Result<bool, StorageError> {
        let archive = self.transfer_file();
        let downloaded = objects::download_file(&self.store, key, &archive).await;
        let extracted = match downloaded {
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.storage("cannot copy out a stored item")),
            Ok(_) => {
                let (extractor, from, to) = (Arc::clone(&self.extractor), archive.clone(), dir.to_path_buf());
                tokio::task::spawn_blocking(move || extractor(&from, &to, unlimited()))
                    .await
                    .map_err(|e| StorageError::new(e.to_string()))?
                    .map(|_| true)
                    .map_err(|e| StorageError::new(format!("cannot extract {key}: {e}")))
            }
        };
        let _ = tokio::fs::remove_file(&archive).await;
        extracted
    }

    /// Packs `dir` and uploads it as `archive`, then (for a report) its index as `index`.
    async fn upload_packed(
        &self,
        dir: &Path,
        archive: Key,
        index: Option<Key>,
        method: CompressionMethod,
    ) -> Result<(), StorageError> {
        let local = self.transfer_file();
        let (root, path) = (dir.to_path_buf(), local.clone());
        let packed = tokio::task::spawn_blocking(move || report_pack::pack_with(&root, &path, method))
            .await
            .map_err(|e| StorageError::new(e.to_string()))?;
        let uploaded = async {
            let packed = packed?;
            objects::upload_file(&self.store, &local, archive).await?;
            if let Some(index) = index {
                let body = serde_json::to_vec(&packed).map_err(std::io::Error::other)?;
                self.store.put(&index, body.into()).await?;
            }
            Ok::<_, Fault>(())
        }
        .await;
        let _ = tokio::fs::remove_file(&local).await;
        uploaded.map_err(|e| e.storage("cannot store a copied item"))
    }
}

#[async_trait]
impl StorageTransfer for S3Storage {
    async fn export(&self, item: &StoredItem, dir: &Path) -> Result<bool, StorageError> {
        match item {
            StoredItem::History { env, project } => {
                let text = objects::read_text(&self.store, &keys::history(env, project))
                    .await
                    .map_err(|e| objects::storage("cannot copy out a history", &e))?;
                let Some((text, _)) = text else { return Ok(false) };
                let write = async {
                    tokio::fs::create_dir(dir).await?;
                    tokio::fs::write(dir.join(HISTORY), text).await
                };
                write.await.map(|()| true).map_err(|e| StorageError::new(format!("cannot copy out a history: {e}")))
            }
            StoredItem::Results { env, project, build } => {
                self.extract_object(&keys::results(env, project, build), dir).await
            }
            StoredItem::Report(at) => {
                let Some(key) = keys::named_report(at.key.as_deref()) else { return Ok(false) };
                let report = keys::report_prefix(&at.env, &at.project, &at.build, key);
                self.extract_object(&keys::report_archive(&report), dir).await
            }
        }
    }

    async fn import(&self, item: &StoredItem, dir: &Path) -> Result<(), StorageError> {
        match item {
            StoredItem::History { env, project } => {
                let text = tokio::fs::read_to_string(dir.join(HISTORY))
                    .await
                    .map_err(|e| StorageError::new(format!("cannot read a copied history: {e}")))?;
                history::update(&self.store, &keys::history(env, project), |current| {
                    (current != text).then(|| text.clone())
                })
                .await
                .map_err(|e| objects::storage("cannot store a copied history", &e))
            }
            StoredItem::Results { env, project, build } => {
                let archive = keys::results(env, project, build);
                self.upload_packed(dir, archive, None, CompressionMethod::Deflated).await
            }
            StoredItem::Report(at) => {
                let Some(key) = keys::named_report(at.key.as_deref()) else {
                    return Err(StorageError::new(format!("{item}: its key cannot name a report in object storage")));
                };
                let report = keys::report_prefix(&at.env, &at.project, &at.build, key);
                let (archive, index) = (keys::report_archive(&report), keys::report_index(&report));
                let imported = self.upload_packed(dir, archive, Some(index), CompressionMethod::Stored).await;
                self.indexes.forget_below(report.as_ref());
                imported
            }
        }
    }
}
