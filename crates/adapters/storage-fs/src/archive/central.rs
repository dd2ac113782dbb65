//! The central directory read as it is stored, record by record.
//!
//! The `zip` crate keys the entries it parses by name, so of two records with one name it keeps only the last:
//! the first is never seen by the checks, and an archive could smuggle a second copy past them. Reading the records
//! here, before the crate parses them, shows every one, and gives the entry count before anything is allocated per
//! entry. Only what the checks need is kept (where each record is, its flags and its name); everything is bounded by
//! the bytes the archive really holds, and refused when the end records and the directory disagree.

use std::collections::HashSet;
use std::io::{self, Read, Seek, SeekFrom};

use hub_domain::ports::ArchiveError;

const END_SIGNATURE: [u8; 4] = *b"PK\x05\x06";
const ZIP64_LOCATOR_SIGNATURE: [u8; 4] = *b"PK\x06\x07";
const ZIP64_END_SIGNATURE: [u8; 4] = *b"PK\x06\x06";
const RECORD_SIGNATURE: [u8; 4] = *b"PK\x01\x02";
const END_LEN: usize = 22;
const ZIP64_LOCATOR_LEN: u64 = 20;
const ZIP64_END_LEN: usize = 56;
const RECORD_LEN: usize = 46;
const MAX_COMMENT: usize = 65_535;
/// General-purpose flag: the name is UTF-8 (otherwise CP437).
const UTF8_FLAG: u16 = 1 << 11;

/// What the end records say about the central directory.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct End {
    /// Length of the whole archive.
    pub len: u64,
    /// Number of records in the central directory.
    pub entries: u64,
    /// Where the central directory starts.
    pub offset: u64,
    /// Its declared size in bytes.
    pub size: u64,
    /// Where the end records start (the ZIP64 one when there is one); the directory lies before it.
    pub end: u64,
}

impl End {
    /// The most bytes the `zip` crate needs to read to parse this directory: the directory itself, plus a few
    /// passes over the end records as it searches for them. A parser that reads more has settled on another
    /// directory than this one (it tries earlier end records when one fails), whose records were never counted.
    pub fn parse_budget(&self) -> u64 {
        self.size.saturating_add((self.len - self.end).saturating_mul(3)).saturating_add(8192)
    }
}

/// One record of the central directory.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Record {
    /// Offset of the record, as the `zip` crate reports it (`central_header_start`).
    pub at: u64,
    /// General-purpose flags.
    pub flags: u16,
    /// The name's bytes as stored.
    pub name: Vec<u8>,
}

impl Record {
    /// The name decoded as stored (UTF-8 when flagged, CP437 otherwise), for messages.
    pub fn name(&self) -> String {
        if self.flags & UTF8_FLAG != 0 {
            String::from_utf8_lossy(&self.name).into_owned()
        } else {
            self.name
                .iter()
                .map(|&b| if b < 0x80 { char::from(b) } else { CP437_HIGH[usize::from(b - 0x80)] })
                .collect()
        }
    }
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn io_reason(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::UnexpectedEof { "unexpected end of data".into() } else { e.to_string() }
}

/// Finds the end-of-central-directory record (the last one whose comment fits in the archive, as the `zip` crate
/// looks for it) and its ZIP64 form when the record defers to it, and checks that they describe one directory.
///
/// # Errors
/// The reason the archive is invalid.
pub(super) fn find_end<R: Read + Seek>(reader: &mut R) -> Result<End, String> {
    let len = reader.seek(SeekFrom::End(0)).map_err(|e| io_reason(&e))?;
    let tail_len = len.min((END_LEN + MAX_COMMENT) as u64);
    let tail_start = len - tail_len;
    reader.seek(SeekFrom::Start(tail_start)).map_err(|e| io_reason(&e))?;
    let mut tail = vec![0u8; usize::try_from(tail_len).map_err(|e| e.to_string())?];
    reader.read_exact(&mut tail).map_err(|e| io_reason(&e))?;
    let found = tail.len().checked_sub(END_LEN).and_then(|last| {
        (0..=last).rev().find(|&i| {
            tail[i..i + 4] == END_SIGNATURE && i + END_LEN + usize::from(u16_at(&tail, i + 20)) <= tail.len()
        })
    });
    let Some(at) = found else { return Err("no end of central directory record".into()) };
    let record = &tail[at..at + END_LEN];
    let position = tail_start + at as u64;
    let (on_disk, entries) = (u16_at(record, 8), u16_at(record, 10));
    let (size, offset) = (u32_at(record, 12), u32_at(record, 16));
    // The conditions under which the `zip` crate reads the ZIP64 records: any other choice could count entries
    // from one record while the crate parses them from another.
    if (entries == u16::MAX || offset == u32::MAX) && position >= ZIP64_LOCATOR_LEN {
        let mut locator = [0u8; ZIP64_LOCATOR_LEN as usize];
        reader.seek(SeekFrom::Start(position - ZIP64_LOCATOR_LEN)).map_err(|e| io_reason(&e))?;
        reader.read_exact(&mut locator).map_err(|e| io_reason(&e))?;
        if locator[..4] == ZIP64_LOCATOR_SIGNATURE {
            return find_zip64_end(reader, len, position - ZIP64_LOCATOR_LEN, &locator);
        }
    }
    if u16_at(record, 4) != 0 || u16_at(record, 6) != 0 {
        return Err("multi-disk archives are not supported".into());
    }
    if on_disk != entries {
        return Err("the end record's entry counts disagree".into());
    }
    directory(len, u64::from(entries), u64::from(offset), u64::from(size), position)
}

fn find_zip64_end<R: Read + Seek>(reader: &mut R, len: u64, locator_at: u64, locator: &[u8]) -> Result<End, String> {
    let at = u64_at(locator, 8);
    if u32_at(locator, 4) != 0 || u32_at(locator, 16) > 1 {
        return Err("multi-disk archives are not supported".into());
    }
    if at.checked_add(ZIP64_END_LEN as u64).is_none_or(|end| end > locator_at) {
        return Err("the ZIP64 end record is out of place".into());
    }
    let mut record = [0u8; ZIP64_END_LEN];
    reader.seek(SeekFrom::Start(at)).map_err(|e| io_reason(&e))?;
    reader.read_exact(&mut record).map_err(|e| io_reason(&e))?;
    if record[..4] != ZIP64_END_SIGNATURE || u64_at(&record, 4).checked_add(12) != Some(locator_at - at) {
        return Err("the ZIP64 end record is out of place".into());
    }
    if u32_at(&record, 16) != 0 || u32_at(&record, 20) != 0 {
        return Err("multi-disk archives are not supported".into());
    }
    let (on_disk, entries) = (u64_at(&record, 24), u64_at(&record, 32));
    if on_disk != entries {
        return Err("the ZIP64 end record's entry counts disagree".into());
    }
    directory(len, entries, u64_at(&record, 48), u64_at(&record, 40), at)
}

fn directory(len: u64, entries: u64, offset: u64, size: u64, end: u64) -> Result<End, String> {
    if offset.checked_add(size).is_none_or(|stop| stop > end) {
        return Err("the central directory runs past its end record".into());
    }
    // Every record takes at least 46 bytes: a count the directory cannot hold is refused before it is believed.
    if entries > size / RECORD_LEN as u64 {
        return Err(format!("a central directory of {size} bytes cannot hold {entries} entries"));
    }
    Ok(End { len, entries, offset, size, end })
}

/// Reads the `end.entries` records of the directory, each of which must lie inside it, with names of at most
/// `max_name` bytes (a longer one is refused here, so that no such name is held in memory, here or by the parser).
///
/// # Errors
/// [`ArchiveError::Invalid`] with the reason the archive is invalid; [`ArchiveError::Unsafe`] for a long name.
pub(super) fn read_records<R: Read + Seek>(
    reader: &mut R,
    end: &End,
    max_name: usize,
) -> Result<Vec<Record>, ArchiveError> {
    let unreadable = |e: io::Error| ArchiveError::Invalid(io_reason(&e));
    reader.seek(SeekFrom::Start(end.offset)).map_err(unreadable)?;
    let stop = end.offset + end.size;
    // `find_end` bounds the count by the directory's size, itself bounded by the archive's length.
    let mut records = Vec::with_capacity(usize::try_from(end.entries).unwrap_or(0));
    let mut at = end.offset;
    let mut fixed = [0u8; RECORD_LEN];
    for index in 0..end.entries {
        let past = || ArchiveError::Invalid(format!("central directory record {index} runs past the directory"));
        if at + RECORD_LEN as u64 > stop {
            return Err(past());
        }
        reader.read_exact(&mut fixed).map_err(unreadable)?;
        if fixed[..4] != RECORD_SIGNATURE {
            return Err(ArchiveError::Invalid(format!("central directory record {index} has no signature")));
        }
        let name_len = usize::from(u16_at(&fixed, 28));
        let rest = u64::from(u16_at(&fixed, 30)) + u64::from(u16_at(&fixed, 32));
        let next = at + (RECORD_LEN + name_len) as u64 + rest;
        if next > stop {
            return Err(past());
        }
        let mut name = vec![0u8; name_len];
        reader.read_exact(&mut name).map_err(unreadable)?;
        let record = Record { at, flags: u16_at(&fixed, 8), name };
        if name_len > max_name {
            return Err(ArchiveError::Unsafe { name: record.name(), reason: "invalid name" });
        }
        // The extra field and comment are not needed: skipped by reading, so a buffered reader keeps its buffer.
        let skipped = io::copy(&mut reader.by_ref().take(rest), &mut io::sink()).map_err(unreadable)?;
        if skipped != rest {
            return Err(ArchiveError::Invalid("unexpected end of data".into()));
        }
        records.push(record);
        at = next;
    }
    Ok(records)
}

/// The first record the `zip` crate's parse would hide: a name stored twice (compared as stored, flags aside), or a
/// record the parse dropped because a later one decodes to the same name (`kept`: where the records it kept are).
pub(super) fn duplicate<'a>(records: &'a [Record], kept: &HashSet<u64>) -> Option<&'a Record> {
    let mut names = HashSet::with_capacity(records.len());
    records.iter().find(|r| !names.insert(r.name.as_slice())).or_else(|| records.iter().find(|r| !kept.contains(&r.at)))
}

/// Characters 0x80–0xFF of code page 437, the encoding of names not flagged as UTF-8.
const CP437_HIGH: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', //
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ', //
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º', '¿', '⌐', '¬', '½', '¼', '¡', '«', '»', //
    '░', '▒', '▓', '│', '┤', '╡', '╢', '╖', '╕', '╣', '║', '╗', '╝', '╜', '╛', '┐', //
    '└', '┴', '┬', '├', '─', '┼', '╞', '╟', '╚', '╔', '╩', '╦', '╠', '═', '╬', '╧', //
    '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘', '┌', '█', '▄', '▌', '▐', '▀', //
    'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', 'Φ', 'Θ', 'Ω', 'δ', '∞', 'φ', 'ε', '∩', //
    '≡', '±', '≥', '≤', '⌠', '⌡', '÷', '≈', '°', '∙', '·', '√', 'ⁿ', '²', '■', '\u{a0}', //
];

#[cfg(test)]
mod tests {
    use super::*;
    use hub_test_support::zip_forge::{Entry, forge, with_zip64_end};

    fn end_of(zip: &[u8]) -> Result<End, String> {
        find_end(&mut io::Cursor::new(zip))
    }

    fn records_of(zip: &[u8]) -> Result<Vec<Record>, ArchiveError> {
        let mut reader = io::Cursor::new(zip);
        let end = find_end(&mut reader).map_err(ArchiveError::Invalid)?;
        read_records(&mut reader, &end, 1024)
    }

    fn invalid(reason: &str) -> Result<Vec<Record>, ArchiveError> {
        Err(ArchiveError::Invalid(reason.into()))
    }

    /// Sets the little-endian `bytes` at `at`.
    fn patch(mut zip: Vec<u8>, at: usize, bytes: &[u8]) -> Vec<u8> {
        zip[at..at + bytes.len()].copy_from_slice(bytes);
        zip
    }

    #[test]
    fn the_entry_count_is_read_from_the_end_record_past_a_comment() {
        let mut writer = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        for i in 0..25 {
            writer.start_file(format!("f{i}.txt"), zip::write::SimpleFileOptions::default()).unwrap();
        }
        writer.set_comment("a comment moves the record away from the end");
        let zip = writer.finish().unwrap().into_inner();
        let end = end_of(&zip).unwrap();
        assert_eq!((end.entries, end.len), (25, zip.len() as u64));
        assert_eq!(end.offset + end.size, end.end, "the directory ends where the end record starts");
        assert_eq!(end_of(b"not a zip"), Err("no end of central directory record".into()));
        assert_eq!(end_of(b""), Err("no end of central directory record".into()));
    }

    #[test]
    fn every_record_is_read_as_stored_where_the_zip_crate_finds_it() {
        let zip = forge(&[
            Entry::stored("a.txt", b"1"),
            Entry::stored("b.txt", b"2"),
            Entry::stored("x", b"3").raw_name(b"a.txt", 0),
        ]);
        let records = records_of(&zip).unwrap();
        let names: Vec<&[u8]> = records.iter().map(|r| r.name.as_slice()).collect();
        assert_eq!(names, [b"a.txt".as_slice(), b"b.txt", b"a.txt"], "both copies of a.txt");
        // The crate keeps one entry per name: the last record's, where the raw reader found it.
        let mut archive = zip::ZipArchive::new(io::Cursor::new(zip)).unwrap();
        assert_eq!(archive.len(), 2);
        let a = archive.by_name("a.txt").unwrap().central_header_start();
        assert_eq!(a, records[2].at);
        let kept: HashSet<u64> = [records[1].at, records[2].at].into();
        assert_eq!(duplicate(&records, &kept).map(Record::name), Some("a.txt".into()));
    }

    #[test]
    fn a_record_the_zip_crate_merges_under_another_name_is_a_duplicate() {
        // "b.txt" renamed "a.txt" by an Info-ZIP Unicode Path extra field (version 1, CRC-32 of the stored name).
        let crc = {
            let mut writer = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
            writer.start_file("x", zip::write::SimpleFileOptions::default()).unwrap();
            std::io::Write::write_all(&mut writer, b"b.txt").unwrap();
            zip::ZipArchive::new(writer.finish().unwrap()).unwrap().by_index_raw(0).unwrap().crc32()
        };
        let mut unicode = vec![0x75, 0x70, 10, 0, 1];
        unicode.extend_from_slice(&crc.to_le_bytes());
        unicode.extend_from_slice(b"a.txt");
        let zip = forge(&[Entry::stored("a.txt", b"1"), Entry::stored("b.txt", b"2").extra(unicode)]);
        let records = records_of(&zip).unwrap();
        let mut archive = zip::ZipArchive::new(io::Cursor::new(zip)).unwrap();
        assert_eq!(archive.len(), 1, "the crate merged the two");
        let kept: HashSet<u64> = [archive.by_index_raw(0).unwrap().central_header_start()].into();
        assert_eq!(duplicate(&records, &kept).map(Record::name), Some("a.txt".into()), "the dropped record");
        let all: HashSet<u64> = records.iter().map(|r| r.at).collect();
        assert_eq!(duplicate(&records, &all), None, "names stored apart, none dropped");
    }

    #[test]
    fn names_are_decoded_as_the_zip_crate_decodes_them() {
        let high: Vec<u8> = (0x80..=0xFF).collect();
        let zip = forge(&[
            Entry::stored("x", b"1").raw_name(&high, 0),
            Entry::stored("y", b"2").raw_name("żółw/ß.txt".as_bytes(), UTF8_FLAG),
        ]);
        let records = records_of(&zip).unwrap();
        let mut archive = zip::ZipArchive::new(io::Cursor::new(zip)).unwrap();
        for (index, record) in records.iter().enumerate() {
            assert_eq!(record.name(), archive.by_index_raw(index).unwrap().name(), "record {index}");
        }
    }

    #[test]
    fn the_zip64_end_record_is_read_when_the_end_record_defers_to_it() {
        let zip = forge(&[Entry::stored("a.txt", b"1"), Entry::stored("b.txt", b"2")]);
        // Only the directory offset is saturated: the count of the plain record (1) is not the one parsed.
        let zip64 = with_zip64_end(&zip, 2, 1);
        let end = end_of(&zip64).unwrap();
        assert_eq!(end.entries, 2);
        assert_eq!(end.end, zip.len() as u64 - 22, "the directory lies before the ZIP64 end record");
        assert_eq!(zip::ZipArchive::new(io::Cursor::new(zip64.clone())).unwrap().len(), 2, "as the crate reads it");
        assert_eq!(records_of(&zip64).unwrap().len(), 2);
        let locator = zip64.len() - 22 - 20;
        let zip64_end = locator - 56;
        let lying = patch(zip64.clone(), zip64_end + 24, &1u64.to_le_bytes());
        assert_eq!(end_of(&lying), Err("the ZIP64 end record's entry counts disagree".into()));
        let misplaced = patch(zip64.clone(), locator + 8, &(zip64_end as u64 - 1).to_le_bytes());
        assert_eq!(end_of(&misplaced), Err("the ZIP64 end record is out of place".into()));
        let elsewhere = patch(zip64.clone(), locator + 8, &u64::MAX.to_le_bytes());
        assert_eq!(end_of(&elsewhere), Err("the ZIP64 end record is out of place".into()));
        let split = patch(zip64, zip64_end + 16, &1u32.to_le_bytes());
        assert_eq!(end_of(&split), Err("multi-disk archives are not supported".into()));
    }

    #[test]
    fn a_name_too_long_to_extract_is_refused_before_any_is_kept() {
        let long = "x".repeat(1025);
        let zip = forge(&[Entry::stored("a.txt", b"1"), Entry::stored(&long, b"2")]);
        assert_eq!(records_of(&zip), Err(ArchiveError::Unsafe { name: long, reason: "invalid name" }));
        assert_eq!(records_of(&forge(&[Entry::stored(&"x".repeat(1024), b"1")])).map(|r| r.len()), Ok(1));
    }

    #[test]
    fn end_records_that_do_not_describe_the_directory_are_refused() {
        let zip = forge(&[Entry::stored("a.txt", b"1"), Entry::stored("b.txt", b"2")]);
        let at = zip.len() - 22;
        let end = end_of(&zip).unwrap();
        assert_eq!((end.entries, end.offset + end.size, end.end), (2, at as u64, at as u64));
        // The zip crate counts the entries "on this disk", the previous check read the total: both must agree.
        let counts = patch(zip.clone(), at + 8, &60_000u16.to_le_bytes());
        assert_eq!(end_of(&counts), Err("the end record's entry counts disagree".into()));
        let disks = patch(zip.clone(), at + 4, &1u16.to_le_bytes());
        assert_eq!(end_of(&disks), Err("multi-disk archives are not supported".into()));
        let long = patch(zip.clone(), at + 12, &(end.size as u32 + 1).to_le_bytes());
        assert_eq!(end_of(&long), Err("the central directory runs past its end record".into()));
        let many = patch(patch(zip.clone(), at + 8, &3u16.to_le_bytes()), at + 10, &3u16.to_le_bytes());
        assert_eq!(end_of(&many), Err(format!("a central directory of {} bytes cannot hold 3 entries", end.size)));
        let shifted = patch(zip.clone(), at + 16, &(end.offset as u32 + 1).to_le_bytes());
        assert_eq!(records_of(&shifted), invalid("the central directory runs past its end record"));
        let unsigned = patch(zip.clone(), end.offset as usize + 46 + 5, b"PK\x01\x03");
        assert_eq!(records_of(&unsigned), invalid("central directory record 1 has no signature"));
        // The second record's name said to be 100 bytes long runs past the directory.
        let overlong = patch(zip.clone(), end.offset as usize + 46 + 5 + 28, &100u16.to_le_bytes());
        assert_eq!(records_of(&overlong), invalid("central directory record 1 runs past the directory"));
        // A comment longer than what follows the record: not an end record (as for the zip crate).
        let comment = patch(zip, at + 20, &1u16.to_le_bytes());
        assert_eq!(end_of(&comment), Err("no end of central directory record".into()));
    }
}
