//! Safe extraction of an uploaded results archive (contract §7) into a staging directory, with the build
//! statistics of the extracted result files (§8.6).
//!
//! Runs on a blocking thread with the synchronous `zip` reader. Reading a zip safely needs the central directory
//! (entry types for symlinks and special files, encryption flags, the entry count before anything is written), so
//! the archive is read by seeking, not as a stream; the `zip` crate's `Read + Seek` interface lets the same code
//! read one received file or, through [`crate::chain::ChainedFiles`], the chunks of a chunked upload in place,
//! without joining them into another copy. (`async_zip` 0.0.19 deprecates its reading API.) Memory stays bounded:
//! entries are copied through a fixed buffer, and sizes are counted on the bytes actually produced and consumed,
//! never on what the archive declares.
//!
//! The `zip` crate is trusted to decode, not to judge the archive's shape: it keeps one entry per name, and reads
//! each entry from wherever its record points for as many bytes as the record declares. So the central directory
//! is first read as stored ([`central`]: the entry count before anything is allocated per entry, and every record,
//! duplicates included); the crate may then parse only that directory ([`meter`]); and the bytes of the entries
//! must lie apart, inside the archive ([`layout`]), before anything is written.

mod central;
mod layout;
mod meter;
mod stats;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::rc::Rc;

use hub_domain::model::upload::UploadLimits;
use hub_domain::ports::{ArchiveError, Extracted, StorageError};
use zip::CompressionMethod;
use zip::read::{ArchiveOffset, Config};

use layout::Span;
use meter::{Meter, Metered};
pub use stats::statistics;

/// Entries below this size are never refused for their compression ratio (§7 rule 6).
const RATIO_MIN_BYTES: u64 = 1024 * 1024;
/// Longest entry name in bytes and deepest path (§7 rule 3).
const MAX_NAME_BYTES: usize = 1024;
const MAX_SEGMENTS: usize = 32;
/// The folder a zipped results directory usually has, stripped when everything is under it (§7 rule 7).
const RESULTS_FOLDER: &str = "allure-results";
/// Why the parsed directory is refused when it is not the one [`central`] read.
const OTHER_DIRECTORY: &str = "the central directory is not the one the end record describes";

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
    ArchiveError::Storage(StorageError::new(format!("cannot write extracted files: {e}")))
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
    let end = central::find_end(&mut reader).map_err(ArchiveError::Invalid)?;
    // Checked before any record is read: the parser keeps every entry in memory, so a forged count of millions of
    // tiny entries would exhaust memory before any limit could apply.
    if end.entries > limits.max_zip_entries {
        return Err(ArchiveError::TooManyEntries(limits.max_zip_entries));
    }
    let records = central::read_records(&mut reader, &end, MAX_NAME_BYTES)?;
    let meter = Rc::new(Meter::default());
    meter.allow(Some(end.parse_budget()));
    // The archive starts at its first byte: by default the crate looks elsewhere for a directory when the end
    // record's offset does not point at one, and would parse records that were never counted or read above.
    let config = Config { archive_offset: ArchiveOffset::Known(0) };
    let parsed = zip::ZipArchive::with_config(config, Metered::new(reader, Rc::clone(&meter)));
    meter.allow(None);
    let mut archive =
        parsed.map_err(|e| if meter.exceeded() { invalid(OTHER_DIRECTORY) } else { invalid(zip_reason(&e)) })?;
    if archive.central_directory_start() != end.offset {
        return Err(invalid(OTHER_DIRECTORY));
    }
    let planned = plan(&mut archive, &records, &end)?;
    fs::DirBuilder::new().mode(0o755).create(staging).map_err(storage)?;
    let mut total = 0u64;
    let mut buffer = vec![0u8; 64 * 1024];
    for entry in &planned {
        let mut file = archive.by_index(entry.index).map_err(|e| invalid(zip_reason(&e)))?;
        // The entry's compressed bytes, counted as the decoder takes them from the archive: what it consumed, plus at
        // most the 8 KiB the crate reads ahead into its buffer, and never past the declared data, which `plan` has
        // kept inside the archive and apart from the other entries.
        let start = meter.read();
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
            let consumed = (meter.read() - start).max(1);
            if limits.max_compression_ratio > 0
                && written >= RATIO_MIN_BYTES
                && written / consumed > limits.max_compression_ratio
            {
                return Err(ArchiveError::Ratio(entry.name.clone()));
            }
            out.write_all(&buffer[..n]).map_err(storage)?;
        }
    }
    Ok(statistics(staging))
}

/// First pass over the central directory: every rule that needs no decompression, so nothing is written for an
/// archive that is refused on form.
fn plan<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    records: &[central::Record],
    end: &central::End,
) -> Result<Vec<Planned>, ArchiveError> {
    let stored: HashSet<u64> = records.iter().map(|r| r.at).collect();
    let mut kept = HashSet::new();
    let mut spans = Vec::with_capacity(archive.len());
    let mut directories = Vec::new();
    let mut planned = Vec::new();
    for index in 0..archive.len() {
        let file = archive.by_index_raw(index).map_err(|e| invalid(zip_reason(&e)))?;
        let name = file.name().to_owned();
        // Every entry the crate parsed must be one of the records read as stored, or the duplicate check below
        // would be about another directory.
        if !stored.contains(&file.central_header_start()) {
            return Err(invalid(OTHER_DIRECTORY));
        }
        kept.insert(file.central_header_start());
        let data_end = file.data_start().checked_add(file.compressed_size());
        spans.push(Span { name: name.clone(), start: file.header_start(), end: data_end });
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
        let ignored =
            segments.is_empty() || segments[0] == "__MACOSX" || segments.last().is_some_and(|s| s == ".DS_Store");
        if is_dir {
            // Not extracted, but a file may not take its path (below).
            directories.push(segments);
        } else if !ignored {
            planned.push(Planned { index, name, segments });
        }
    }
    layout::check(&mut spans, end.offset, end.len).map_err(ArchiveError::Invalid)?;
    if let Some(record) = central::duplicate(records, &kept) {
        return Err(ArchiveError::Duplicate(record.name()));
    }
    if planned.is_empty() {
        return Err(ArchiveError::NoFiles);
    }
    check_duplicates(&planned, &directories)?;
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

/// Two files with one path, or a file whose path another file or a directory entry needs as a directory (§7
/// rule 5).
fn check_duplicates(planned: &[Planned], directories: &[Vec<String>]) -> Result<(), ArchiveError> {
    let mut files = HashSet::new();
    let mut dirs: HashSet<String> = directories.iter().map(|d| d.join("/")).collect();
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
