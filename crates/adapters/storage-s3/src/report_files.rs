//! [`ReportFiles`] on object storage: a path is looked up with a `HEAD` of its exact key; a name without an object
//! is a directory when some object lies below it (a listing of one key); bodies are ranged `GET`s, streamed.
//!
//! Object stores have no directories and no links, so a report holds only what publishing wrote: regular files,
//! whose keys are the viewer's checked names encoded segment by segment.

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use futures_util::StreamExt;
use hub_domain::ports::{
    FileStream, Found, ReportBody, ReportFile, ReportFiles, ReportLocation, ReportPath, StorageError,
};
use object_store::path::Path as Key;
use object_store::{GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::{S3Storage, keys, objects};

/// The longest key S3 accepts, in bytes: a longer path names nothing, and is answered without asking.
const MAX_KEY_BYTES: usize = 1024;
/// The file a directory path serves.
const INDEX: &str = "index.html";

impl S3Storage {
    /// Opens `path` in the report published under `report` (its key prefix).
    pub(crate) async fn open_in(&self, report: &Key, path: &ReportPath) -> Result<Found, StorageError> {
        let segments = path.segments().iter().map(String::as_str);
        if path.is_directory() {
            let index = keys::report_file(report, segments.chain([INDEX]));
            return Ok(self
                .head(&index)
                .await?
                .map_or(Found::Missing, |meta| Found::File(self.file(INDEX, index, &meta))));
        }
        let Some(name) = path.segments().last() else {
            // The report's root named without its slash.
            return Ok(if self.has_objects_below(report).await? { Found::Directory } else { Found::Missing });
        };
        let key = keys::report_file(report, segments);
        if let Some(meta) = self.head(&key).await? {
            return Ok(Found::File(self.file(name, key, &meta)));
        }
        Ok(if self.has_objects_below(&key).await? { Found::Directory } else { Found::Missing })
    }

    /// The object's metadata, `None` when there is no such object.
    async fn head(&self, key: &Key) -> Result<Option<ObjectMeta>, StorageError> {
        if key.as_ref().len() > MAX_KEY_BYTES {
            return Ok(None);
        }
        match self.store.head(key).await {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(objects::storage("cannot open a report file", &e)),
        }
    }

    /// Whether any object's key starts with `prefix/`: the prefix is then a directory of the report.
    async fn has_objects_below(&self, prefix: &Key) -> Result<bool, StorageError> {
        if prefix.as_ref().len() >= MAX_KEY_BYTES {
            return Ok(false);
        }
        // Only the first page of the listing is fetched, and one key is enough to say it is a directory.
        match self.store.list(Some(prefix)).next().await {
            None | Some(Err(object_store::Error::NotFound { .. })) => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(objects::storage("cannot open a report file", &e)),
        }
    }

    /// The opened file `key` (not the metadata's location, which a prefixed store reports with its prefix).
    fn file(&self, name: &str, key: Key, meta: &ObjectMeta) -> ReportFile {
        ReportFile {
            name: name.to_owned(),
            len: meta.size,
            modified: Some(SystemTime::from(meta.last_modified)),
            version: version(meta),
            body: Box::new(Object { store: Arc::clone(&self.store), key }),
        }
    }
}

/// The object's entity tag without its quotes (visible ASCII without `"`, as the port asks); for a store that
/// gives none, its version or its size and time, which change with a new copy as well.
fn version(meta: &ObjectMeta) -> String {
    let usable = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic() && b != b'"');
    let tag = meta.e_tag.as_deref().map(|t| t.trim_start_matches("W/").trim_matches('"'));
    match (tag, meta.version.as_deref()) {
        (Some(tag), _) if usable(tag) => tag.to_owned(),
        (_, Some(version)) if usable(version) => version.to_owned(),
        _ => format!("{:x}-{:x}", meta.size, meta.last_modified.timestamp_nanos_opt().unwrap_or_default()),
    }
}

/// An opened report file: the object its lookup found. A published report's objects never change (a new report
/// gets a new key), so the bytes read are those of the version that was opened.
struct Object {
    store: Arc<dyn ObjectStore>,
    key: Key,
}

#[async_trait]
impl ReportBody for Object {
    async fn read(self: Box<Self>, start: u64, len: u64) -> Result<FileStream, StorageError> {
        if len == 0 {
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        let options = GetOptions { range: Some(GetRange::Bounded(start..start + len)), ..GetOptions::default() };
        let got = self
            .store
            .get_opts(&self.key, options)
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
        // Every report on object storage was published with a key; only a key this adapter makes is followed.
        let Some(key) = report.key.as_deref().filter(|key| keys::is_report_key(key)) else {
            return Ok(Found::Missing);
        };
        self.open_in(&keys::report_prefix(&report.env, &report.project, &report.build, key), path).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(e_tag: Option<&str>, version: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            location: Key::from("a"),
            last_modified: Default::default(),
            size: 10,
            e_tag: e_tag.map(str::to_owned),
            version: version.map(str::to_owned),
        }
    }

    #[test]
    fn versions_are_entity_tags_without_quotes() {
        assert_eq!(
            version(&meta(Some("\"9a0364b9e99bb480dd25e1f0284c8555\""), None)),
            "9a0364b9e99bb480dd25e1f0284c8555"
        );
        assert_eq!(version(&meta(Some("\"abc-3\""), Some("v1"))), "abc-3", "multipart tags keep their part count");
        assert_eq!(version(&meta(Some("W/\"weak\""), None)), "weak");
        assert_eq!(version(&meta(None, Some("v7"))), "v7");
        assert_eq!(version(&meta(Some("has space"), None)), "a-0");
    }
}
