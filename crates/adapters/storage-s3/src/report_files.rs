//! [`ReportFiles`] on object storage: a report is an archive and its index (see `report_pack`); the index, cached
//! in memory after the first request for the report, says whether a path is a file (and where its bytes lie in
//! the archive) or a directory, and a file's body is a ranged `GET` of the archive, streamed.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt;
use hub_domain::ports::{
    FileStream, Found, ReportBody, ReportFile, ReportFiles, ReportLocation, ReportPath, StorageError,
};
use object_store::path::Path as Key;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

use crate::report_pack::{Entry, ReportIndex};
use crate::{S3Storage, keys, objects};

/// The file a directory path serves.
const INDEX_HTML: &str = "index.html";

/// Why a report's index could not be had.
enum IndexFault {
    /// There is no index: nothing was published under this key (or it was deleted).
    Missing,
    /// The store failed.
    Store(object_store::Error),
    /// The index is not one `report_pack` wrote.
    Unreadable(serde_json::Error),
}

impl S3Storage {
    /// Opens `path` in the report published under `key`, whose objects are below `report`.
    async fn open_in(&self, report: &Key, key: &str, path: &ReportPath) -> Result<Found, StorageError> {
        let Some(index) = self.report_index(report).await? else { return Ok(Found::Missing) };
        let joined = path.segments().join("/");
        let file = |name: &str, entry: &Entry| {
            Found::File(ReportFile {
                name: name.to_owned(),
                len: entry.len,
                modified: Some(ReportIndex::modified(entry)),
                version: format!("{key}-{:08x}", entry.crc),
                body: Box::new(Slice {
                    store: Arc::clone(&self.store),
                    archive: keys::report_archive(report),
                    offset: entry.offset,
                }),
            })
        };
        if path.is_directory() {
            let page = if joined.is_empty() { INDEX_HTML.to_owned() } else { format!("{joined}/{INDEX_HTML}") };
            return Ok(index.file(&page).map_or(Found::Missing, |entry| file(INDEX_HTML, entry)));
        }
        if let (Some(name), Some(entry)) = (path.segments().last(), index.file(&joined)) {
            return Ok(file(name, entry));
        }
        Ok(if index.is_directory(&joined) { Found::Directory } else { Found::Missing })
    }

    /// The index of the report below `report`, `None` when there is none.
    async fn report_index(&self, report: &Key) -> Result<Option<Arc<ReportIndex>>, StorageError> {
        let load = || async {
            let got = match self.store.get(&keys::report_index(report)).await {
                Ok(got) => got,
                Err(object_store::Error::NotFound { .. }) => return Err(IndexFault::Missing),
                Err(e) => return Err(IndexFault::Store(e)),
            };
            let bytes = got.bytes().await.map_err(IndexFault::Store)?;
            serde_json::from_slice(&bytes).map_err(IndexFault::Unreadable)
        };
        match self.indexes.get(report.as_ref(), load).await {
            Ok(index) => Ok(Some(index)),
            Err(IndexFault::Missing) => Ok(None),
            Err(IndexFault::Store(e)) => Err(objects::storage("cannot open a report", &e)),
            Err(IndexFault::Unreadable(e)) => {
                Err(StorageError::new(format!("the index of {report} is unreadable: {e}")))
            }
        }
    }
}

/// An opened report file: its bytes in the report's archive. A published archive never changes (a new report gets
/// a new key), so the bytes read are those of the version that was opened.
struct Slice {
    store: Arc<dyn ObjectStore>,
    archive: Key,
    /// Where the file's bytes begin in the archive.
    offset: u64,
}

#[async_trait]
impl ReportBody for Slice {
    async fn read(self: Box<Self>, start: u64, len: u64) -> Result<FileStream, StorageError> {
        if len == 0 {
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        let start = self.offset + start;
        let options = GetOptions { range: Some(GetRange::Bounded(start..start + len)), ..GetOptions::default() };
        let got = self
            .store
            .get_opts(&self.archive, options)
            .await
            .map_err(|e| objects::storage("cannot read a report file", &e))?;
        let body = got.into_stream();
        // A body that ends before `len` bytes fails the stream, so a response is cut rather than short.
        let stream = futures_util::stream::unfold((body, len, false), |(mut body, remaining, done)| async move {
            if done {
                return None;
            }
            match body.next().await {
                Some(Ok(block)) => {
                    let left = remaining.saturating_sub(block.len() as u64);
                    Some((Ok(block), (body, left, false)))
                }
                Some(Err(e)) => Some((Err(objects::storage("cannot read a report file", &e)), (body, remaining, true))),
                None if remaining > 0 => {
                    let short = StorageError::new(format!("a report file ended {remaining} bytes early"));
                    Some((Err(short), (body, 0, true)))
                }
                None => None,
            }
        });
        Ok(Box::pin(stream))
    }
}

#[async_trait]
impl ReportFiles for S3Storage {
    async fn open(&self, report: &ReportLocation, path: &ReportPath) -> Result<Found, StorageError> {
        // Only a key this adapter could have written is followed.
        let Some(key) = keys::named_report(report.key.as_deref()) else {
            return Ok(Found::Missing);
        };
        self.open_in(&keys::report_prefix(&report.env, &report.project, &report.build, key), key, path).await
    }
}
