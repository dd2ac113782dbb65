//! Where each entry's bytes lie in the archive, checked before anything is decompressed.
//!
//! The `zip` crate reads an entry from its local header for as many bytes as its record declares, wherever that
//! points. Records that declare more than the archive holds, or that share bytes (several records over one local
//! header, or one entry's data quoting the next entry's header: the overlapping-file zip bomb), are refused, so that
//! every compressed byte belongs to one entry and the declared sizes are at least possible.

/// The bytes of one entry: its local header and its data as declared.
#[derive(Debug)]
pub(super) struct Span {
    /// Entry name, for messages.
    pub name: String,
    /// Offset of the local header.
    pub start: u64,
    /// Offset just past the declared data (`None` when it overflows).
    pub end: Option<u64>,
}

/// Checks that every span lies before the central directory at `directory`, in an archive of `len` bytes, and that
/// no two spans share a byte.
///
/// # Errors
/// The reason the archive is invalid.
pub(super) fn check(spans: &mut [Span], directory: u64, len: u64) -> Result<(), String> {
    for span in spans.iter() {
        match span.end {
            Some(end) if end <= directory => {}
            Some(end) if end <= len => {
                return Err(format!("data of \"{}\" runs into the central directory", span.name));
            }
            _ => return Err(format!("data of \"{}\" runs past the end of the archive", span.name)),
        }
    }
    spans.sort_by_key(|s| s.start);
    for pair in spans.windows(2) {
        if pair[0].end.is_some_and(|end| end > pair[1].start) {
            return Err(format!("entries \"{}\" and \"{}\" overlap", pair[0].name, pair[1].name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(name: &str, start: u64, end: u64) -> Span {
        Span { name: name.into(), start, end: Some(end) }
    }

    #[test]
    fn spans_must_fit_before_the_directory_and_apart() {
        assert_eq!(check(&mut [span("b", 50, 90), span("a", 0, 50)], 100, 200), Ok(()));
        assert_eq!(check(&mut [], 0, 22), Ok(()));
        assert_eq!(
            check(&mut [span("a", 0, 50), span("b", 40, 90)], 100, 200),
            Err("entries \"a\" and \"b\" overlap".into())
        );
        assert_eq!(
            check(&mut [span("a", 0, 50), span("b", 0, 50)], 100, 200),
            Err("entries \"a\" and \"b\" overlap".into()),
            "two records over one local header"
        );
        assert_eq!(
            check(&mut [span("a", 0, 101)], 100, 200),
            Err("data of \"a\" runs into the central directory".into())
        );
        assert_eq!(
            check(&mut [span("a", 0, 201)], 100, 200),
            Err("data of \"a\" runs past the end of the archive".into())
        );
        assert_eq!(
            check(&mut [Span { name: "a".into(), start: 0, end: None }], 100, 200),
            Err("data of \"a\" runs past the end of the archive".into())
        );
    }
}
