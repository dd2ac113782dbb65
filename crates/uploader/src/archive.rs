//! Turning the input into zip bytes: a directory is zipped entry by entry into any async writer (a pipe for the
//! streaming upload, a temporary file for a chunked one); a `.zip` file is used as it is.

use std::path::{Path, PathBuf};

use async_zip::base::write::ZipFileWriter;
use async_zip::{Compression, ZipEntryBuilder};
use futures_util::AsyncWriteExt as _;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt as _};

use crate::error::UploadError;

/// What the user pointed at.
#[derive(Debug, Clone)]
pub enum Input {
    /// A results directory and its files (relative paths with `/`, sorted so the same tree zips to the same bytes,
    /// which lets a re-run find its unfinished chunked upload again) and their total size.
    Directory { root: PathBuf, files: Vec<String>, total_bytes: u64 },
    /// A ready archive and its size.
    Zip { path: PathBuf, size: u64 },
}

impl Input {
    /// Inspects `path`: a directory is listed (recursively, following no symbolic links), anything else must be a
    /// regular file.
    pub fn open(path: &Path) -> Result<Self, UploadError> {
        let meta = std::fs::metadata(path).map_err(|e| UploadError::other(format!("{}: {e}", path.display())))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            let mut total_bytes = 0;
            list(path, "", &mut files, &mut total_bytes)?;
            if files.is_empty() {
                return Err(UploadError::other(format!("{}: the directory has no files", path.display())));
            }
            files.sort();
            Ok(Self::Directory { root: path.to_path_buf(), files, total_bytes })
        } else if meta.is_file() {
            Ok(Self::Zip { path: path.to_path_buf(), size: meta.len() })
        } else {
            Err(UploadError::other(format!("{}: neither a directory nor a file", path.display())))
        }
    }

    /// The name the server stores as `fileName`.
    pub fn file_name(&self) -> String {
        match self {
            Self::Zip { path, .. } => path.file_name().map(|n| n.to_string_lossy().into_owned()),
            Self::Directory { root, .. } => root.file_name().map(|n| format!("{}.zip", n.to_string_lossy())),
        }
        .filter(|n| !n.is_empty() && n.is_ascii() && !n.contains(['/', '\\', '"']))
        .unwrap_or_else(|| "results.zip".to_owned())
    }
}

fn list(dir: &Path, prefix: &str, files: &mut Vec<String>, total: &mut u64) -> Result<(), UploadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| UploadError::other(format!("{}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| UploadError::other(format!("{}: {e}", dir.display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        let kind = entry.file_type().map_err(|e| UploadError::other(format!("{rel}: {e}")))?;
        if kind.is_dir() {
            list(&entry.path(), &rel, files, total)?;
        } else if kind.is_file() {
            *total += entry.metadata().map(|m| m.len()).unwrap_or(0);
            files.push(rel);
        }
    }
    Ok(())
}

/// Writes the zip of `files` under `root` into `out` and shuts it down (so a pipe's reader sees the end).
pub async fn write_zip<W: AsyncWrite + Unpin>(root: &Path, files: &[String], out: W) -> Result<(), UploadError> {
    let zip_err = |e: async_zip::error::ZipError| UploadError::other(format!("zip: {e}"));
    let mut zip = ZipFileWriter::with_tokio(out);
    let mut buf = vec![0u8; 64 * 1024];
    for rel in files {
        let path = root.join(rel);
        let mut file =
            tokio::fs::File::open(&path).await.map_err(|e| UploadError::other(format!("{}: {e}", path.display())))?;
        let mut entry = zip
            .write_entry_stream(ZipEntryBuilder::new(rel.clone().into(), Compression::Deflate))
            .await
            .map_err(zip_err)?;
        loop {
            let n = file.read(&mut buf).await.map_err(|e| UploadError::other(format!("{}: {e}", path.display())))?;
            if n == 0 {
                break;
            }
            entry.write_all(&buf[..n]).await.map_err(|e| UploadError::other(format!("zip: {e}")))?;
        }
        entry.close().await.map_err(zip_err)?;
    }
    let mut out = zip.close().await.map_err(zip_err)?.into_inner();
    out.shutdown().await.map_err(|e| UploadError::other(format!("zip: {e}")))?;
    Ok(())
}

/// SHA-256 (lower-case hex) of everything `reader` yields.
pub async fn sha256_of<R: AsyncRead + Unpin>(mut reader: R) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Read as _;

    use super::*;

    #[tokio::test]
    async fn a_directory_zips_to_the_same_readable_bytes_every_time() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/deep")).unwrap();
        std::fs::write(dir.path().join("b-result.json"), b"{\"status\":\"passed\"}").unwrap();
        std::fs::write(dir.path().join("data/deep/a.txt"), "log line\n".repeat(1000)).unwrap();
        std::fs::write(dir.path().join("a-container.json"), b"{}").unwrap();
        let Input::Directory { root, files, total_bytes } = Input::open(dir.path()).unwrap() else { panic!() };
        assert_eq!(files, ["a-container.json", "b-result.json", "data/deep/a.txt"], "sorted, with / separators");
        assert_eq!(total_bytes, 2 + 19 + 9000);

        let mut first = Vec::new();
        write_zip(&root, &files, &mut first).await.unwrap();
        let mut second = Vec::new();
        write_zip(&root, &files, &mut second).await.unwrap();
        assert_eq!(first, second, "a re-run must find its resumable upload again");
        assert!(first.len() < 9000, "deflated: {}", first.len());

        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(first)).unwrap();
        let mut text = String::new();
        archive.by_name("data/deep/a.txt").unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "log line\n".repeat(1000));
        assert_eq!(archive.len(), 3);
    }

    #[test]
    fn an_empty_directory_or_a_missing_path_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Input::open(dir.path()).unwrap_err().to_string();
        assert!(err.ends_with("the directory has no files"), "{err}");
        assert!(Input::open(&dir.path().join("missing")).is_err());
    }
}
