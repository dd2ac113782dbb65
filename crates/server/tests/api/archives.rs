//! Zip archives built by the tests: realistic results, and hostile ones made byte by byte where a writer would
//! refuse to produce them.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// A deflated zip of `(name, bytes)` entries, names written exactly as given.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(entries, CompressionMethod::Deflated)
}

/// A zip whose entries are stored (not compressed), for byte-level tampering.
pub fn stored_zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(entries, CompressionMethod::Stored)
}

fn zip_with(entries: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(method).large_file(false);
    for (name, bytes) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// A zip with one symbolic link entry beside a normal file.
pub fn zip_with_symlink() -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    writer.start_file("ok-result.json", options).unwrap();
    writer.write_all(b"{}").unwrap();
    writer.add_symlink("link", "/etc/passwd", options).unwrap();
    writer.finish().unwrap().into_inner()
}

/// An empty but well-formed zip.
pub fn empty_zip() -> Vec<u8> {
    ZipWriter::new(Cursor::new(Vec::new())).finish().unwrap().into_inner()
}

fn positions(haystack: &[u8], signature: [u8; 4]) -> Vec<usize> {
    haystack.windows(4).enumerate().filter(|(_, w)| *w == signature).map(|(i, _)| i).collect()
}

/// Sets the "encrypted" bit of every entry in the local and central headers.
pub fn mark_encrypted(mut zip: Vec<u8>) -> Vec<u8> {
    for at in positions(&zip, [0x50, 0x4b, 0x03, 0x04]) {
        zip[at + 6] |= 1;
    }
    for at in positions(&zip, [0x50, 0x4b, 0x01, 0x02]) {
        zip[at + 8] |= 1;
    }
    zip
}

/// Flips a byte inside the data of the first (stored) entry, so its CRC no longer matches.
pub fn corrupt_first_entry(mut zip: Vec<u8>) -> Vec<u8> {
    let at = positions(&zip, [0x50, 0x4b, 0x03, 0x04])[0];
    let name_len = u16::from_le_bytes([zip[at + 26], zip[at + 27]]) as usize;
    let extra_len = u16::from_le_bytes([zip[at + 28], zip[at + 29]]) as usize;
    zip[at + 30 + name_len + extra_len] ^= 0xff;
    zip
}

/// One Allure result file.
pub fn result_json(name: &str, history: &str, status: &str, start: i64, stop: i64) -> Vec<u8> {
    serde_json::json!({
        "uuid": name, "name": name, "historyId": history, "status": status, "start": start, "stop": stop,
        "attachments": [{"name": "log", "source": format!("{name}-attachment.txt"), "type": "text/plain"}]
    })
    .to_string()
    .into_bytes()
}

/// A zipped `allure-results/` folder: four tests, one of them retried, an attachment in a sub-folder, macOS
/// clutter, and one unreadable result file.
///
/// Counted as Allure does: `login` (retried; the later attempt passed), `cart` failed, `pay` broken, `search`
/// skipped: total 4, passed 1, failed 1, broken 1, skipped 1; duration 9000 − 1500 = 7500 ms (the first `login`
/// attempt, which started at 1000, is not counted).
pub fn results_zip() -> Vec<u8> {
    zip_of(&[
        ("allure-results/login1-result.json", &result_json("login1", "login", "failed", 1_000, 2_000)),
        ("allure-results/login2-result.json", &result_json("login2", "login", "passed", 3_000, 4_000)),
        ("allure-results/cart-result.json", &result_json("cart", "cart", "failed", 1_500, 9_000)),
        ("allure-results/pay-result.json", &result_json("pay", "pay", "broken", 2_000, 3_000)),
        ("allure-results/search-result.json", &result_json("search", "search", "skipped", 2_000, 2_500)),
        ("allure-results/broken-result.json", b"{not json"),
        ("allure-results/abc-container.json", b"{\"uuid\":\"abc\",\"children\":[]}"),
        ("allure-results/data/login1-attachment.txt", b"log line"),
        ("allure-results/.DS_Store", b"junk"),
        ("__MACOSX/allure-results/._login1-result.json", b"junk"),
    ])
}

/// One entry of an archive built byte by byte ([`forge`]): a local header with its data, and its central record,
/// which may declare another compressed size than the data's, or point at another entry's local header.
#[derive(Debug, Clone)]
pub struct Forged {
    name: String,
    method: u16,
    data: Vec<u8>,
    crc: u32,
    size: u32,
    declared: Option<u64>,
    zip64: bool,
    padding: usize,
    record_of: Option<usize>,
}

impl Forged {
    /// `bytes` stored.
    pub fn stored(name: &str, bytes: &[u8]) -> Self {
        Self::packed(name, bytes, CompressionMethod::Stored)
    }

    /// `bytes` deflated.
    pub fn deflated(name: &str, bytes: &[u8]) -> Self {
        Self::packed(name, bytes, CompressionMethod::Deflated)
    }

    /// The compressed bytes and CRC the zip writer makes, taken back out of its archive.
    fn packed(name: &str, bytes: &[u8], method: CompressionMethod) -> Self {
        let mut archive = zip::ZipArchive::new(Cursor::new(zip_with(&[("x", bytes)], method))).unwrap();
        let mut raw = archive.by_index_raw(0).unwrap();
        let crc = raw.crc32();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut raw, &mut data).unwrap();
        Self {
            name: name.to_owned(),
            method: if method == CompressionMethod::Stored { 0 } else { 8 },
            data,
            crc,
            size: u32::try_from(bytes.len()).unwrap(),
            declared: None,
            zip64: false,
            padding: 0,
            record_of: None,
        }
    }

    /// The central record declares this compressed size.
    pub fn declaring(mut self, compressed: u64) -> Self {
        self.declared = Some(compressed);
        self
    }

    /// The central record declares its compressed size in a ZIP64 extra field.
    pub fn zip64(mut self) -> Self {
        self.zip64 = true;
        self
    }

    /// `n` zero bytes follow the data.
    pub fn padded(mut self, n: usize) -> Self {
        self.padding = n;
        self
    }

    /// Only a central record, pointing at the local header of entry `index` (an earlier one).
    pub fn record_of(mut self, index: usize) -> Self {
        self.record_of = Some(index);
        self
    }

    /// The real compressed size.
    pub fn compressed_len(&self) -> u64 {
        self.data.len() as u64
    }
}

fn le(out: &mut Vec<u8>, fields: &[(u64, usize)]) {
    for &(value, width) in fields {
        out.extend_from_slice(&value.to_le_bytes()[..width]);
    }
}

/// The archive of `entries`: local headers in order, then the central directory and its end record, every field
/// written as given (names are not checked for duplicates, sizes not checked against the data).
pub fn forge(entries: &[Forged]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offsets: Vec<u64> = Vec::new();
    for e in entries {
        if let Some(index) = e.record_of {
            offsets.push(offsets[index]);
            continue;
        }
        offsets.push(out.len() as u64);
        out.extend_from_slice(b"PK\x03\x04");
        let (method, crc, size) = (u64::from(e.method), u64::from(e.crc), u64::from(e.size));
        le(&mut out, &[(20, 2), (0, 2), (method, 2), (0, 2), (0x21, 2), (crc, 4), (e.compressed_len(), 4)]);
        le(&mut out, &[(size, 4), (e.name.len() as u64, 2), (0, 2)]);
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(&e.data);
        out.resize(out.len() + e.padding, 0);
    }
    let directory = out.len() as u64;
    for (e, offset) in entries.iter().zip(offsets) {
        let compressed = e.declared.unwrap_or(e.compressed_len());
        let mut extra = Vec::new();
        if e.zip64 {
            le(&mut extra, &[(1, 2), (8, 2), (compressed, 8)]);
        }
        let compressed = if e.zip64 { u64::from(u32::MAX) } else { compressed };
        out.extend_from_slice(b"PK\x01\x02");
        let (method, crc, size) = (u64::from(e.method), u64::from(e.crc), u64::from(e.size));
        le(&mut out, &[(20, 2), (20, 2), (0, 2), (method, 2), (0, 2), (0x21, 2), (crc, 4), (compressed, 4)]);
        le(&mut out, &[(size, 4), (e.name.len() as u64, 2), (extra.len() as u64, 2), (0, 2), (0, 2), (0, 2)]);
        le(&mut out, &[(0, 4), (offset, 4)]);
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(&extra);
    }
    let (count, size) = (entries.len() as u64, out.len() as u64 - directory);
    out.extend_from_slice(b"PK\x05\x06");
    le(&mut out, &[(0, 2), (0, 2), (count, 2), (count, 2), (size, 4), (directory, 4), (0, 2)]);
    out
}

/// A deflated run of zeros of 2.5 MB (a ratio near 1000, under `MAX_DECOMPRESSED_BYTES` of the hostile-archive
/// test) whose record declares 40,000 more compressed bytes than its data has, padded so that they fit: its
/// declared ratio passes a limit of 100.
pub fn overstated_bomb() -> Forged {
    let bomb = Forged::deflated("zeros.bin", &vec![0u8; 2_500_000]);
    let declared = bomb.compressed_len() + 40_000;
    assert!(2_500_000 / declared <= 100, "the declared ratio passes the limit");
    bomb.padded(40_000).declaring(declared)
}
