//! A published report as two objects: `report.zip`, the generator's output as one zip archive whose entries are
//! stored uncompressed, and `index.json`, where each file's bytes start in it. A viewer's file is a ranged `GET` of
//! the archive at the offset the index gives, so a report costs two `PUT`s to publish (a multipart upload for a
//! large one) instead of one per file, and two objects to delete.
//!
//! Entries are stored, not deflated, so that any range of a file is a range of the archive; the HTTP layer
//! compresses what it sends. The archive is a standard zip an operator can download and open.

use std::collections::BTreeMap;
use std::io::Seek;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

/// Where one file of the report lies in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// The first byte of the file's data in the archive.
    pub offset: u64,
    /// The file's length.
    pub len: u64,
    /// CRC-32 of the file, part of its version (the report key makes it unique across publications).
    pub crc: u32,
    /// The generated file's modification time, seconds since the epoch.
    pub modified: u64,
}

/// Every file of a report by its path (names joined by `/`), sorted so that a directory's files are adjacent.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ReportIndex {
    files: BTreeMap<String, Entry>,
}

impl ReportIndex {
    /// The file at `path` (names joined by `/`).
    pub(crate) fn file(&self, path: &str) -> Option<&Entry> {
        self.files.get(path)
    }

    /// Whether some file lies below `path` (empty for the report's root), which is then a directory.
    pub(crate) fn is_directory(&self, path: &str) -> bool {
        if path.is_empty() {
            return !self.files.is_empty();
        }
        let below = format!("{path}/");
        self.files.range(below.clone()..).next().is_some_and(|(name, _)| name.starts_with(&below))
    }

    /// How many files the report has (the cache's measure of its size).
    pub(crate) fn len(&self) -> usize {
        self.files.len()
    }

    /// The modification time of an entry.
    pub(crate) fn modified(entry: &Entry) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(entry.modified)
    }
}

/// Writes every regular file below `root` into a new archive at `archive`, returns its index. Links are not
/// followed (the generator writes none; a link could lead anywhere on the node) and names that are not UTF-8,
/// which a viewer cannot ask for, are left out. Blocking.
pub(crate) fn pack(root: &Path, archive: &Path) -> std::io::Result<ReportIndex> {
    pack_with(root, archive, CompressionMethod::Stored)
}

/// Like [`pack`], with entries compressed by `method` (the offsets in the index then lead to compressed data).
pub(crate) fn pack_with(root: &Path, archive: &Path, method: CompressionMethod) -> std::io::Result<ReportIndex> {
    let mut files = Vec::new();
    collect(root, String::new(), &mut files)?;
    files.sort();
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::with_capacity(256 * 1024, read_write(archive)?));
    let mut modified = BTreeMap::new();
    for name in &files {
        let path = root.join(name);
        let meta = std::fs::metadata(&path)?;
        let options =
            SimpleFileOptions::default().compression_method(method).large_file(meta.len() >= u64::from(u32::MAX));
        zip.start_file(name.as_str(), options).map_err(std::io::Error::other)?;
        std::io::copy(&mut std::fs::File::open(&path)?, &mut zip)?;
        let seconds = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
        modified.insert(name.clone(), seconds);
    }
    let mut file = zip.finish().map_err(std::io::Error::other)?.into_inner().map_err(|e| e.into_error())?;
    file.rewind()?;
    let mut written = zip::ZipArchive::new(file).map_err(std::io::Error::other)?;
    let mut index = ReportIndex::default();
    for i in 0..written.len() {
        let entry = written.by_index_raw(i).map_err(std::io::Error::other)?;
        let name = entry.name().to_owned();
        let modified = modified.get(&name).copied().unwrap_or_default();
        let entry = Entry { offset: entry.data_start(), len: entry.size(), crc: entry.crc32(), modified };
        index.files.insert(name, entry);
    }
    Ok(index)
}

/// A new file at `path` (replacing any) that is read again once written.
fn read_write(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path)
}

/// Adds the names (below `root`, joined by `/`) of every regular file in `root/prefix` to `files`.
fn collect(root: &Path, prefix: String, files: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(&prefix))? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            tracing::warn!(path = %entry.path().display(), "report file name is not UTF-8: not published");
            continue;
        };
        let name = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(root, name, files)?;
        } else if kind.is_file() {
            files.push(name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn every_file_is_found_at_its_offset_in_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("report");
        std::fs::create_dir_all(root.join("data/attachments")).unwrap();
        std::fs::write(root.join("index.html"), "<html>report</html>").unwrap();
        std::fs::write(root.join("data/attachments/log.txt"), "x".repeat(100_000)).unwrap();
        std::fs::write(root.join("data/empty.json"), "").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("data/link")).unwrap();
        let archive = dir.path().join("report.zip");

        let index = pack(&root, &archive).unwrap();

        assert_eq!(index.len(), 3, "the link is left out: {index:?}");
        let mut bytes = Vec::new();
        std::fs::File::open(&archive).unwrap().read_to_end(&mut bytes).unwrap();
        for (name, content) in [
            ("index.html", "<html>report</html>".to_owned()),
            ("data/attachments/log.txt", "x".repeat(100_000)),
            ("data/empty.json", String::new()),
        ] {
            let entry = index.file(name).unwrap();
            let range = usize::try_from(entry.offset).unwrap()..usize::try_from(entry.offset + entry.len).unwrap();
            assert_eq!(&bytes[range], content.as_bytes(), "{name}");
            assert!(entry.modified > 0);
            // The archive is a zip anyone can open (reading an entry to its end checks its CRC too).
            let mut zip = zip::ZipArchive::new(std::fs::File::open(&archive).unwrap()).unwrap();
            let mut read = String::new();
            let mut file = zip.by_name(name).unwrap();
            file.read_to_string(&mut read).unwrap();
            assert_eq!((read, file.crc32()), (content, entry.crc), "{name}");
        }
    }

    #[test]
    fn directories_are_the_names_that_files_lie_below() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("report");
        std::fs::create_dir_all(root.join("data/test-results")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::write(root.join("data/test-results/a.json"), "{}").unwrap();
        std::fs::write(root.join("data-old"), "{}").unwrap();
        let index = pack(&root, &dir.path().join("report.zip")).unwrap();

        assert!(index.is_directory(""));
        assert!(index.is_directory("data"));
        assert!(index.is_directory("data/test-results"));
        assert!(!index.is_directory("data/test-results/a.json"));
        assert!(!index.is_directory("data-old"), "a file whose name extends a directory's is not one");
        assert!(!index.is_directory("dat"));
        assert!(!index.is_directory("empty"), "an empty directory holds nothing to serve");
        assert!(!ReportIndex::default().is_directory(""));
    }
}
