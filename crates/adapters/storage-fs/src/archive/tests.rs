//! Extraction end to end: the checks of `plan` and the measurement of bombs, on archives forged byte by byte.

use super::*;

use hub_test_support::zip_forge::{Entry, forge, hidden_directory, with_zip64_end};

/// The limits of the black-box hostile-archive test.
fn limits() -> UploadLimits {
    UploadLimits {
        max_compression_ratio: 100,
        max_decompressed_bytes: 3_000_000,
        max_zip_entries: 20,
        ..UploadLimits::default()
    }
}

/// Extracts `zip` into a fresh staging directory; the relative paths of the files extracted, or the error
/// (after which the staging directory must be gone).
fn extracted(zip: Vec<u8>) -> Result<Vec<String>, ArchiveError> {
    let dir = tempfile::tempdir().unwrap();
    let staging = dir.path().join("s");
    match extract(io::Cursor::new(zip), &staging, limits()) {
        Ok(_) => {
            let mut files = Vec::new();
            let mut stack = vec![staging.clone()];
            while let Some(d) = stack.pop() {
                for entry in fs::read_dir(&d).unwrap().map(Result::unwrap) {
                    if entry.file_type().unwrap().is_dir() {
                        stack.push(entry.path());
                    } else {
                        files.push(entry.path().strip_prefix(&staging).unwrap().display().to_string());
                    }
                }
            }
            files.sort();
            Ok(files)
        }
        Err(e) => {
            assert!(!staging.exists(), "{e}: the staging directory is removed");
            Err(e)
        }
    }
}

fn invalid_because(reason: &str) -> Result<Vec<String>, ArchiveError> {
    Err(ArchiveError::Invalid(reason.into()))
}

fn duplicate(name: &str) -> Result<Vec<String>, ArchiveError> {
    Err(ArchiveError::Duplicate(name.into()))
}

#[test]
fn the_declared_entry_count_is_checked_before_parsing() {
    let mut writer = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    for i in 0..25 {
        writer.start_file(format!("f{i}.txt"), zip::write::SimpleFileOptions::default()).unwrap();
    }
    writer.set_comment("a comment moves the record away from the end");
    let zip = writer.finish().unwrap().into_inner();
    assert_eq!(extracted(zip), Err(ArchiveError::TooManyEntries(20)));
}

#[test]
fn well_formed_archives_are_extracted_zip64_end_records_included() {
    let zip = forge(&[Entry::deflated("allure-results/a-result.json", b"{}"), Entry::stored("allure-results/d/", b"")]);
    assert_eq!(extracted(zip.clone()), Ok(vec!["a-result.json".to_owned()]));
    assert_eq!(extracted(with_zip64_end(&zip, 2, u16::MAX)), Ok(vec!["a-result.json".to_owned()]));
    let zip64 = forge(&[Entry::deflated("a.txt", b"hello").zip64(), Entry::stored("b.txt", b"").padded(3)]);
    assert_eq!(extracted(zip64), Ok(vec!["a.txt".to_owned(), "b.txt".to_owned()]));
}

#[test]
fn a_bomb_is_measured_on_the_bytes_it_consumes_not_on_the_size_it_declares() {
    let zeros = vec![0u8; 2_500_000];
    let bomb = Entry::deflated("zeros.bin", &zeros);
    let declared = bomb.compressed_len() + 40_000;
    assert!(2_500_000 / declared <= 100, "the declared size would pass the ratio");
    let ratio = Err(ArchiveError::Ratio("zeros.bin".into()));
    assert_eq!(extracted(forge(std::slice::from_ref(&bomb))), ratio, "declared honestly");
    let overstated = bomb.clone().padded(40_000).declaring(declared);
    assert_eq!(extracted(forge(std::slice::from_ref(&overstated))), ratio, "overstated in the record");
    assert_eq!(extracted(forge(&[overstated.zip64()])), ratio, "overstated in a ZIP64 extra field");
    let small = Entry::deflated("small.bin", &zeros[..1_000_000]).padded(40_000);
    assert_eq!(extracted(forge(&[small])), Ok(vec!["small.bin".to_owned()]), "below 1 MiB, never a bomb");
}

#[test]
fn declared_data_must_fit_before_the_central_directory() {
    let past = invalid_because("data of \"a.txt\" runs past the end of the archive");
    assert_eq!(extracted(forge(&[Entry::deflated("a.txt", b"hello").declaring(100_000)])), past);
    assert_eq!(extracted(forge(&[Entry::deflated("a.txt", b"hello").declaring(1 << 62).zip64()])), past);
    assert_eq!(extracted(forge(&[Entry::deflated("a.txt", b"hello").declaring(u64::MAX).zip64()])), past);
    let hello = Entry::stored("a.txt", b"hello");
    let into = hello.compressed_len() + 10;
    assert_eq!(
        extracted(forge(&[hello.declaring(into)])),
        invalid_because("data of \"a.txt\" runs into the central directory")
    );
}

#[test]
fn records_sharing_bytes_are_refused() {
    let shared = forge(&[Entry::stored("a.txt", b"hello"), Entry::stored("b.txt", b"").record_of(0)]);
    let overlap = invalid_because("entries \"a.txt\" and \"b.txt\" overlap");
    assert_eq!(extracted(shared), overlap, "two records over one local header");
    // The first entry's data quotes the second's local header, the overlapping-file bomb's shape.
    let quoting = Entry::stored("a.txt", b"hello");
    let declared = quoting.compressed_len() + 30 + 5 + 1;
    assert_eq!(extracted(forge(&[quoting.declaring(declared), Entry::stored("b.txt", b"x")])), overlap);
}

#[test]
fn every_form_of_duplicate_name_is_refused() {
    let twice = forge(&[Entry::stored("a.txt", b"1"), Entry::stored("a.txt", b"2")]);
    assert_eq!(extracted(twice), duplicate("a.txt"), "stored twice, which the zip crate merges");
    let dotted = forge(&[Entry::stored("a.txt", b"1"), Entry::stored("./a.txt", b"2")]);
    assert_eq!(extracted(dotted), duplicate("./a.txt"));
    let slashes = forge(&[Entry::stored("a\\b.txt", b"1"), Entry::stored("a/b.txt", b"2")]);
    assert_eq!(extracted(slashes), duplicate("a/b.txt"));
    let strip = forge(&[Entry::stored("allure-results/x", b"1"), Entry::stored("allure-results//x", b"2")]);
    assert_eq!(extracted(strip), duplicate("allure-results//x"));
    let prefix = forge(&[Entry::stored("x", b"1"), Entry::stored("x/y.txt", b"2")]);
    assert_eq!(extracted(prefix), duplicate("x"));
    let directory = forge(&[Entry::stored("x", b"1"), Entry::stored("x/", b"")]);
    assert_eq!(extracted(directory), duplicate("x"), "a file and a directory entry of one name");
    let code_pages = forge(&[
        Entry::stored("c", b"1").raw_name(&[0x80], 0),
        Entry::stored("c", b"2").raw_name("Ç".as_bytes(), 1 << 11),
    ]);
    assert_eq!(extracted(code_pages), duplicate("Ç"), "CP437 and UTF-8 spellings of one name");
    let flags = forge(&[
        Entry::stored("c", b"1").raw_name(&[0xC3, 0x87], 0),
        Entry::stored("c", b"2").raw_name(&[0xC3, 0x87], 1 << 11),
    ]);
    assert_eq!(extracted(flags), duplicate("Ç"), "one stored name, flagged two ways");
}

#[test]
fn a_results_folder_beside_a_file_of_its_name_is_kept_whole() {
    let zip = forge(&[Entry::stored("allure-results/x", b"1"), Entry::stored("x", b"2")]);
    assert_eq!(extracted(zip), Ok(vec!["allure-results/x".to_owned(), "x".to_owned()]));
}

#[test]
fn a_parser_that_settles_on_another_directory_is_stopped() {
    // The record of "a.bin" carries an extra field the zip crate rejects (an AES field of the wrong length), so
    // the crate looks for an earlier end record: one hidden in a.bin's data (at 35: after the 30-byte local
    // header and the name), one of 10 entries, then one of more than allowed.
    let aes = vec![0x01, 0x99, 1, 0, 0];
    for count in [10, 2_000] {
        let zip = forge(&[Entry::stored("a.bin", &hidden_directory(count, 35)).extra(aes.clone())]);
        assert_eq!(extracted(zip), invalid_because(OTHER_DIRECTORY), "{count} hidden entries");
    }
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
