//! Archives built byte by byte for the tests, in shapes a zip writer refuses to produce: names stored twice,
//! records declaring other sizes than their data, records sharing a local header, hand-made ZIP64 end records.
//! Shared by the extraction unit tests of hub-storage-fs and the server's hostile-archive suite.

use std::io::{Cursor, Read, Write};

use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

/// One entry: a local header with its data, and its central record.
#[derive(Debug, Clone)]
pub struct Entry {
    name: Vec<u8>,
    flags: u16,
    method: u16,
    data: Vec<u8>,
    crc: u32,
    size: u32,
    declared: Option<u64>,
    zip64: bool,
    padding: usize,
    extra: Vec<u8>,
    record_of: Option<usize>,
}

impl Entry {
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
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        writer.start_file("x", SimpleFileOptions::default().compression_method(method).large_file(false)).unwrap();
        writer.write_all(bytes).unwrap();
        let mut archive = zip::ZipArchive::new(writer.finish().unwrap()).unwrap();
        let mut raw = archive.by_index_raw(0).unwrap();
        let crc = raw.crc32();
        let mut data = Vec::new();
        raw.read_to_end(&mut data).unwrap();
        Self {
            name: name.as_bytes().to_vec(),
            flags: 0,
            method: if method == CompressionMethod::Stored { 0 } else { 8 },
            data,
            crc,
            size: u32::try_from(bytes.len()).unwrap(),
            declared: None,
            zip64: false,
            padding: 0,
            extra: Vec::new(),
            record_of: None,
        }
    }

    /// Stores the name as these bytes with these general-purpose flags (bit 11: UTF-8).
    pub fn raw_name(mut self, name: &[u8], flags: u16) -> Self {
        self.name = name.to_vec();
        self.flags = flags;
        self
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

    /// The central record's extra field.
    pub fn extra(mut self, extra: Vec<u8>) -> Self {
        self.extra = extra;
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

fn push16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn push32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn push64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The archive of `entries`, local headers in order, then the central directory and its end record.
pub fn forge(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offsets: Vec<u32> = Vec::new();
    for e in entries {
        if let Some(index) = e.record_of {
            offsets.push(offsets[index]);
            continue;
        }
        offsets.push(u32::try_from(out.len()).unwrap());
        out.extend_from_slice(b"PK\x03\x04");
        for v in [20, e.flags, e.method, 0, 0x21] {
            push16(&mut out, v);
        }
        for v in [e.crc, u32::try_from(e.data.len()).unwrap(), e.size] {
            push32(&mut out, v);
        }
        push16(&mut out, u16::try_from(e.name.len()).unwrap());
        push16(&mut out, 0);
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&e.data);
        out.resize(out.len() + e.padding, 0);
    }
    let directory = out.len();
    for (e, offset) in entries.iter().zip(offsets) {
        let compressed = e.declared.unwrap_or(e.data.len() as u64);
        let mut extra = Vec::new();
        if e.zip64 {
            push16(&mut extra, 1);
            push16(&mut extra, 8);
            push64(&mut extra, compressed);
        }
        extra.extend_from_slice(&e.extra);
        out.extend_from_slice(b"PK\x01\x02");
        for v in [20, 20, e.flags, e.method, 0, 0x21] {
            push16(&mut out, v);
        }
        let compressed = if e.zip64 { u32::MAX } else { u32::try_from(compressed).unwrap() };
        for v in [e.crc, compressed, e.size] {
            push32(&mut out, v);
        }
        for v in [e.name.len(), extra.len(), 0, 0, 0] {
            push16(&mut out, u16::try_from(v).unwrap());
        }
        push32(&mut out, 0);
        push32(&mut out, offset);
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&extra);
    }
    let size = out.len() - directory;
    out.extend_from_slice(b"PK\x05\x06");
    for v in [0, 0, entries.len(), entries.len()] {
        push16(&mut out, u16::try_from(v).unwrap());
    }
    push32(&mut out, u32::try_from(size).unwrap());
    push32(&mut out, u32::try_from(directory).unwrap());
    push16(&mut out, 0);
    out
}

/// `zip` (a [`forge`]d archive, no comment) with ZIP64 end records declaring `entries`, and its end record's
/// count set to `count` and its directory offset to `u32::MAX` (which sends readers to the ZIP64 records).
pub fn with_zip64_end(zip: &[u8], entries: u64, count: u16) -> Vec<u8> {
    let at = zip.len() - 22;
    let size = u64::from(u32::from_le_bytes(zip[at + 12..at + 16].try_into().unwrap()));
    let offset = u64::from(u32::from_le_bytes(zip[at + 16..at + 20].try_into().unwrap()));
    let mut out = zip[..at].to_vec();
    out.extend_from_slice(b"PK\x06\x06");
    push64(&mut out, 44);
    push16(&mut out, 45);
    push16(&mut out, 45);
    push32(&mut out, 0);
    push32(&mut out, 0);
    for v in [entries, entries, size, offset] {
        push64(&mut out, v);
    }
    out.extend_from_slice(b"PK\x06\x07");
    push32(&mut out, 0);
    push64(&mut out, at as u64);
    push32(&mut out, 1);
    out.extend_from_slice(b"PK\x05\x06");
    for v in [0, 0, count, count] {
        push16(&mut out, v);
    }
    push32(&mut out, u32::try_from(size).unwrap());
    push32(&mut out, u32::MAX);
    push16(&mut out, 0);
    out
}

/// A central directory of `count` records (all pointing at the local header at offset 0) and its end record, for
/// a directory placed at offset `at`: hidden inside an entry's data, for a parser to find when it looks further.
pub fn hidden_directory(count: u16, at: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..count {
        out.extend_from_slice(b"PK\x01\x02");
        for v in [20, 20, 0, 0, 0, 0x21] {
            push16(&mut out, v);
        }
        for v in [0, 0, 0] {
            push32(&mut out, v);
        }
        for v in [5, 0, 0, 0, 0] {
            push16(&mut out, v);
        }
        push32(&mut out, 0);
        push32(&mut out, 0);
        out.extend_from_slice(format!("f{i:04}").as_bytes());
    }
    let size = u32::try_from(out.len()).unwrap();
    out.extend_from_slice(b"PK\x05\x06");
    for v in [0, 0, count, count] {
        push16(&mut out, v);
    }
    push32(&mut out, size);
    push32(&mut out, at);
    push16(&mut out, 0);
    out
}
