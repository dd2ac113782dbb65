//! Safe extraction of an uploaded results archive (contract §7) into a staging directory, with the build
//! statistics of the extracted result files (§8.6).
//!
//! Runs on a blocking thread with the synchronous `zip` reader. Reading a zip safely needs the central directory
//! (entry types for symlinks and special files, encryption flags, the entry count before anything is written), so
//! the archive is read by seeking, not as a stream; the `zip` crate's `Read + Seek` interface lets the same code
//! read one received file or, through [`crate::chain::ChainedFiles`], the chunks of a chunked upload in place,
//! without joining them into another copy. (`async_zip` 0.0.19 deprecates its reading API.) Memory stays bounded:
//! entries are copied through a fixed buffer, and sizes are counted on the bytes actually produced, never on what
//! the archive declares.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use hub_domain::model::stats::{ResultSummary, compute_stats, longest_test_ms, unreadable_warnings};
use hub_domain::model::upload::UploadLimits;
use hub_domain::ports::{ArchiveError, Extracted};
use zip::CompressionMethod;

/// Entries below this size are never refused for their compression ratio (§7 rule 6).
const RATIO_MIN_BYTES: u64 = 1024 * 1024;
/// Longest entry name in bytes and deepest path (§7 rule 3).
const MAX_NAME_BYTES: usize = 1024;
const MAX_SEGMENTS: usize = 32;
/// The folder a zipped results directory usually has, stripped when everything is under it (§7 rule 7).
const RESULTS_FOLDER: &str = "allure-results";

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

/// One file entry that survived the checks: its index in the archive and its normalised path segments.
struct Planned {
    index: usize,
    name: String,
    segments: Vec<String>,
}

fn invalid(e: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Invalid(e.to_string())
}

fn storage(e: io::Error) -> ArchiveError {
    ArchiveError::Storage(format!("cannot write extracted files: {e}"))
}

/// Validates every entry of `reader`'s archive, then extracts the files into `staging` (which must not exist) and
/// computes the statistics. On error `staging` is removed.
///
/// # Errors
/// [`ArchiveError`] naming the first rule broken.
pub fn extract<R: Read + Seek>(reader: R, staging: &Path, limits: UploadLimits) -> Result<Extracted, ArchiveError> {
    let result = extract_inner(reader, staging, limits);
    if result.is_err() {
        let _ = fs::remove_dir_all(staging);
    }
    result
}

fn extract_inner<R: Read + Seek>(
    mut reader: R,
    staging: &Path,
    limits: UploadLimits,
) -> Result<Extracted, ArchiveError> {
    // Checked before the central directory is parsed: the parser keeps every entry in memory, so a forged count of
    // millions of tiny entries would exhaust memory before any limit could apply.
    if declared_entries(&mut reader).is_some_and(|n| n > limits.max_zip_entries) {
        return Err(ArchiveError::TooManyEntries(limits.max_zip_entries));
    }
    let mut archive = zip::ZipArchive::new(reader).map_err(|e| invalid(zip_reason(&e)))?;
    if archive.len() as u64 > limits.max_zip_entries {
        return Err(ArchiveError::TooManyEntries(limits.max_zip_entries));
    }
    let planned = plan(&mut archive)?;
    fs::DirBuilder::new().mode(0o755).create(staging).map_err(storage)?;
    let mut total = 0u64;
    let mut buffer = vec![0u8; 64 * 1024];
    for entry in &planned {
        let mut file = archive.by_index(entry.index).map_err(|e| invalid(zip_reason(&e)))?;
        let compressed = file.compressed_size().max(1);
        let mut path = staging.to_path_buf();
        for segment in &entry.segments[..entry.segments.len() - 1] {
            path.push(segment);
        }
        fs::DirBuilder::new().recursive(true).mode(0o755).create(&path).map_err(storage)?;
        path.push(&entry.segments[entry.segments.len() - 1]);
        let mut out = fs::OpenOptions::new().write(true).create_new(true).mode(0o644).open(&path).map_err(storage)?;
        let mut written = 0u64;
        loop {
            let n = match file.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.to_string().contains("Invalid checksum") => {
                    return Err(ArchiveError::Invalid(format!("CRC mismatch in \"{}\"", entry.name)));
                }
                Err(e) => return Err(invalid(format!("cannot read \"{}\": {e}", entry.name))),
            };
            written += n as u64;
            total += n as u64;
            if total > limits.max_decompressed_bytes {
                return Err(ArchiveError::TooLarge(limits.max_decompressed_bytes));
            }
            // Checked while copying, so a bomb is stopped at the first megabyte past the ratio, not at its end.
            if limits.max_compression_ratio > 0
                && written >= RATIO_MIN_BYTES
                && written / compressed > limits.max_compression_ratio
            {
                return Err(ArchiveError::Ratio(entry.name.clone()));
            }
            out.write_all(&buffer[..n]).map_err(storage)?;
        }
    }
    Ok(statistics(staging))
}

/// The number of entries the archive's end-of-central-directory record declares (its ZIP64 form when present);
/// `None` when there is no such record (the zip parser then reports the archive as invalid).
fn declared_entries<R: Read + Seek>(reader: &mut R) -> Option<u64> {
    const EOCD: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    const ZIP64_LOCATOR: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
    const ZIP64_EOCD: [u8; 4] = [0x50, 0x4b, 0x06, 0x06];
    let len = reader.seek(io::SeekFrom::End(0)).ok()?;
    // The record is 22 bytes plus a comment of at most 65,535 bytes, at the very end.
    let tail_len = len.min(22 + 65_535 + 20);
    reader.seek(io::SeekFrom::Start(len - tail_len)).ok()?;
    let mut tail = vec![0u8; usize::try_from(tail_len).ok()?];
    reader.read_exact(&mut tail).ok()?;
    let at = (0..=tail.len().checked_sub(22)?).rev().find(|&i| tail[i..i + 4] == EOCD)?;
    let count = u64::from(u16::from_le_bytes([tail[at + 10], tail[at + 11]]));
    if count != 0xFFFF || at < 20 || tail[at - 20..at - 16] != ZIP64_LOCATOR {
        return Some(count);
    }
    let zip64_offset = u64::from_le_bytes(tail[at - 12..at - 4].try_into().ok()?);
    reader.seek(io::SeekFrom::Start(zip64_offset)).ok()?;
    let mut record = [0u8; 40];
    reader.read_exact(&mut record).ok()?;
    if record[..4] != ZIP64_EOCD {
        return Some(count);
    }
    Some(u64::from_le_bytes(record[32..40].try_into().ok()?))
}

/// First pass over the central directory: every rule that needs no decompression, so nothing is written for an
/// archive that is refused on form.
fn plan<R: Read + Seek>(archive: &mut zip::ZipArchive<R>) -> Result<Vec<Planned>, ArchiveError> {
    let mut planned = Vec::new();
    for index in 0..archive.len() {
        let file = archive.by_index_raw(index).map_err(|e| invalid(zip_reason(&e)))?;
        let name = file.name().to_owned();
        let unsafe_entry = |reason| ArchiveError::Unsafe { name: name.clone(), reason };
        let segments = normalise(&name).map_err(unsafe_entry)?;
        let mode = file.unix_mode().map(|m| m & S_IFMT);
        let is_dir = file.is_dir() || mode == Some(S_IFDIR);
        match mode {
            Some(S_IFLNK) => return Err(unsafe_entry("symbolic link")),
            Some(m) if m != 0 && m != S_IFREG && m != S_IFDIR => return Err(unsafe_entry("special file")),
            _ => {}
        }
        if file.encrypted() {
            return Err(unsafe_entry("encrypted entry"));
        }
        if !matches!(file.compression(), CompressionMethod::Stored | CompressionMethod::Deflated) {
            return Err(unsafe_entry("unsupported compression method"));
        }
        let ignored = is_dir
            || segments.is_empty()
            || segments[0] == "__MACOSX"
            || segments.last().is_some_and(|s| s == ".DS_Store");
        if !ignored {
            planned.push(Planned { index, name, segments });
        }
    }
    if planned.is_empty() {
        return Err(ArchiveError::NoFiles);
    }
    check_duplicates(&planned)?;
    if planned.iter().all(|p| p.segments.len() > 1 && p.segments[0] == RESULTS_FOLDER) {
        for p in &mut planned {
            p.segments.remove(0);
        }
    }
    Ok(planned)
}

/// Splits an entry name into safe path segments (`\` read as `/`, empty and `.` segments dropped).
fn normalise(name: &str) -> Result<Vec<String>, &'static str> {
    if name.contains('\0') || name.len() > MAX_NAME_BYTES {
        return Err("invalid name");
    }
    let name = name.replace('\\', "/");
    let bytes = name.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if name.starts_with('/') || drive {
        return Err("absolute path");
    }
    let segments: Vec<String> = name.split('/').filter(|s| !s.is_empty() && *s != ".").map(str::to_owned).collect();
    if segments.iter().any(|s| s == "..") {
        return Err("parent directory reference");
    }
    if segments.len() > MAX_SEGMENTS {
        return Err("invalid name");
    }
    Ok(segments)
}

/// Two files with one path, or a file whose path another file needs as a directory (§7 rule 5).
fn check_duplicates(planned: &[Planned]) -> Result<(), ArchiveError> {
    let mut files = HashSet::new();
    let mut dirs = HashSet::new();
    for p in planned {
        if !files.insert(p.segments.join("/")) {
            return Err(ArchiveError::Duplicate(p.name.clone()));
        }
        for depth in 1..p.segments.len() {
            dirs.insert(p.segments[..depth].join("/"));
        }
    }
    match planned.iter().find(|p| dirs.contains(&p.segments.join("/"))) {
        Some(p) => Err(ArchiveError::Duplicate(p.name.clone())),
        None => Ok(()),
    }
}

fn zip_reason(e: &zip::result::ZipError) -> String {
    match e {
        zip::result::ZipError::InvalidArchive(reason) => reason.to_string(),
        zip::result::ZipError::UnsupportedArchive(reason) => reason.to_string(),
        zip::result::ZipError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => "unexpected end of data".into(),
        other => other.to_string(),
    }
}

/// The fields of a result file the statistics read; any JSON object parses (unknown fields ignored, odd types
/// count as missing).
#[derive(serde::Deserialize)]
struct ResultFile {
    #[serde(default, rename = "historyId")]
    history_id: serde_json::Value,
    #[serde(default)]
    status: serde_json::Value,
    #[serde(default)]
    start: serde_json::Value,
    #[serde(default)]
    stop: serde_json::Value,
}

/// §8.6: the statistics of the `*-result.json` files at the top level of `results`.
pub fn statistics(results: &Path) -> Extracted {
    let mut summaries = Vec::new();
    let mut unreadable = Vec::new();
    let Ok(entries) = fs::read_dir(results) else { return Extracted::default() };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with("-result.json"))
        .collect();
    names.sort();
    for name in names {
        let parsed = fs::File::open(results.join(&name))
            .ok()
            .and_then(|f| serde_json::from_reader::<_, ResultFile>(io::BufReader::new(f)).ok());
        match parsed {
            Some(r) => summaries.push(ResultSummary {
                file_name: name,
                history_id: r.history_id.as_str().map(str::to_owned),
                status: r.status.as_str().map(str::to_owned),
                start: r.start.as_i64(),
                stop: r.stop.as_i64(),
            }),
            None => unreadable.push(name),
        }
    }
    Extracted {
        longest_test_ms: longest_test_ms(&summaries),
        stats: compute_stats(summaries),
        warnings: unreadable_warnings(&unreadable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declared_entry_count_is_read_before_parsing() {
        let mut writer = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        for i in 0..25 {
            writer.start_file(format!("f{i}.txt"), zip::write::SimpleFileOptions::default()).unwrap();
        }
        writer.set_comment("a comment moves the record away from the end");
        let mut zip = writer.finish().unwrap();
        assert_eq!(declared_entries(&mut zip), Some(25));
        assert_eq!(declared_entries(&mut io::Cursor::new(b"not a zip".to_vec())), None);
        let dir = tempfile::tempdir().unwrap();
        let limits = UploadLimits { max_zip_entries: 20, ..UploadLimits::default() };
        zip.set_position(0);
        assert_eq!(extract(zip, &dir.path().join("s"), limits).unwrap_err(), ArchiveError::TooManyEntries(20));
        assert!(!dir.path().join("s").exists());
    }

    #[test]
    fn names_are_normalised_or_refused() {
        assert_eq!(normalise("a\\b/./c"), Ok(vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]));
        assert_eq!(normalise("/etc/passwd"), Err("absolute path"));
        assert_eq!(normalise("C:\\x"), Err("absolute path"));
        assert_eq!(normalise("a/../../b"), Err("parent directory reference"));
        assert_eq!(normalise("a\0b"), Err("invalid name"));
        assert_eq!(normalise(&"a/".repeat(33)), Err("invalid name"));
        assert_eq!(normalise(&"x".repeat(1025)), Err("invalid name"));
        assert_eq!(normalise("..."), Ok(vec!["...".to_owned()]), "only `..` itself is a parent reference");
    }
}
