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

/// One entry of an archive built byte by byte ([`forge`]): the forger the extraction unit tests use too.
pub use hub_test_support::zip_forge::{Entry as Forged, forge};

/// A deflated run of zeros of 2.5 MB (a ratio near 1000, under `MAX_DECOMPRESSED_BYTES` of the hostile-archive
/// test) whose record declares 40,000 more compressed bytes than its data has, padded so that they fit: its
/// declared ratio passes a limit of 100.
pub fn overstated_bomb() -> Forged {
    let bomb = Forged::deflated("zeros.bin", &vec![0u8; 2_500_000]);
    let declared = bomb.compressed_len() + 40_000;
    assert!(2_500_000 / declared <= 100, "the declared ratio passes the limit");
    bomb.padded(40_000).declaring(declared)
}
