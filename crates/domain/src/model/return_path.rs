//! Where a browser is sent after signing in: the `next` parameter of the sign-in page and of the OAuth flow
//! (§14.2), checked once here so that every place accepting it applies the same rule.
//!
//! The danger is an open redirect: a value the server takes for a local path but the browser, after its own URL
//! parsing, resolves to another site. Browsers (the WHATWG URL standard) drop tabs and newlines anywhere, strip
//! leading and trailing control characters and spaces, read `\` as `/` in `http` and `https` URLs, and resolve
//! `.` and `..` segments (also written `%2e`), so `/\t/evil.example`, `/\evil.example` and `/.//evil.example` all
//! end up as `//evil.example`, a reference to another host. Rather than imitate every such repair, a return path
//! may only contain visible ASCII, which is all a URL needs (browsers percent-encode anything else before it
//! reaches the server); within that, `\` is refused and the path after resolving dot segments must begin with
//! exactly one `/`.

use std::fmt;

use thiserror::Error;

/// Why a `next` value is not used. Callers fall back to their default target instead of reporting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReturnPathError {
    /// Empty, or not starting with `/` (a URL with a scheme, or a relative reference).
    #[error("not an absolute path")]
    NotAPath,
    /// Longer than [`ReturnPath::MAX_LEN`].
    #[error("longer than {} characters", ReturnPath::MAX_LEN)]
    TooLong,
    /// A character outside visible ASCII (control, space, non-ASCII) or a backslash.
    #[error("character not allowed in a return path")]
    Character,
    /// After resolving dot segments the path starts with `//`, which browsers read as another host.
    #[error("names another host")]
    OtherHost,
}

/// A path and query on this origin that is safe to redirect a browser to, as it will be read by the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnPath(String);

impl ReturnPath {
    /// Longest value kept (§14.2), in characters (all ASCII).
    pub const MAX_LEN: usize = 2048;

    /// Checks a `next` value as it arrives after query decoding. Dot segments of the path are resolved the way a
    /// browser resolves them, so the value kept is the one checked.
    ///
    /// # Errors
    /// [`ReturnPathError`] naming the first rule the value breaks.
    pub fn parse(raw: &str) -> Result<Self, ReturnPathError> {
        if !raw.starts_with('/') {
            return Err(ReturnPathError::NotAPath);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(ReturnPathError::TooLong);
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
            return Err(ReturnPathError::Character);
        }
        let split = raw.find(['?', '#']).unwrap_or(raw.len());
        let (path, rest) = raw.split_at(split);
        let path = resolve_dot_segments(path);
        if path.starts_with("//") {
            return Err(ReturnPathError::OtherHost);
        }
        Ok(Self(path + rest))
    }

    /// The root of the site, where a sign-in without a usable `next` ends.
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    /// The path as text, for a `Location` header or a page.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReturnPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ReturnPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// `.` in a path segment, as the URL standard recognises it.
fn is_single_dot(segment: &str) -> bool {
    segment == "." || segment.eq_ignore_ascii_case("%2e")
}

/// `..` in a path segment, as the URL standard recognises it (`.%2e`, `%2E.`, … included).
fn is_double_dot(segment: &str) -> bool {
    matches!(segment.to_ascii_lowercase().as_str(), ".." | ".%2e" | "%2e." | "%2e%2e")
}

/// Resolves the `.` and `..` segments of `path` (which starts with `/`) as a browser does for an `http` URL: a dot
/// segment at the end leaves a trailing slash, and `..` never climbs above the root.
fn resolve_dot_segments(path: &str) -> String {
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len() - 1;
    let mut kept: Vec<&str> = Vec::with_capacity(segments.len());
    for (i, segment) in segments.into_iter().enumerate() {
        if is_double_dot(segment) {
            kept.pop();
            if i == last {
                kept.push("");
            }
        } else if is_single_dot(segment) {
            if i == last {
                kept.push("");
            }
        } else {
            kept.push(segment);
        }
    }
    format!("/{}", kept.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values as they arrive after query decoding, and what is kept (`None`: refused).
    const CASES: &[(&str, Option<&str>)] = &[
        // Local paths are kept as they are.
        ("/", Some("/")),
        ("/environments/x?y=1", Some("/environments/x?y=1")),
        (
            "/environments/staging/projects/web?status=failed&page=2",
            Some("/environments/staging/projects/web?status=failed&page=2"),
        ),
        ("/a//b", Some("/a//b")),
        ("/x#frag", Some("/x#frag")),
        // The query and fragment may hold anything visible: they never change the host.
        ("/x?next=//evil.example", Some("/x?next=//evil.example")),
        ("/?//evil.example", Some("/?//evil.example")),
        ("/x#//evil.example", Some("/x#//evil.example")),
        // Percent-encoded slashes, backslashes and controls are text of the path: URL parsing does not decode them.
        ("/%2F%2Fevil.example", Some("/%2F%2Fevil.example")),
        ("/%2f/evil.example", Some("/%2f/evil.example")),
        ("/%5Cevil.example", Some("/%5Cevil.example")),
        ("/%09/evil.example", Some("/%09/evil.example")),
        // Dot segments are resolved as a browser does.
        ("/a/../b?c=1", Some("/b?c=1")),
        ("/a/./b", Some("/a/b")),
        ("/a/..", Some("/")),
        ("/a/.", Some("/a/")),
        ("/..", Some("/")),
        ("/./", Some("/")),
        ("/a/%2e%2E/b", Some("/b")),
        ("/a/%2e/b", Some("/a/b")),
        ("/.../x", Some("/.../x")),
        // Not a path.
        ("", None),
        ("relative", None),
        ("https://evil.example/", None),
        ("javascript:alert(1)", None),
        (" /x", None),
        ("\t/x", None),
        // Another host, written plainly or through what browsers repair.
        ("//evil.example", None),
        ("//evil.example/x", None),
        ("///evil.example", None),
        ("/\\evil.example", None),
        ("\\/evil.example", None),
        ("/\\/evil.example", None),
        ("/a\\b", None),
        ("/\t/evil.example/x", None),
        ("/\n/evil.example", None),
        ("/\r/evil.example", None),
        ("/\r\n/evil.example", None),
        ("/\0/evil.example", None),
        ("/\u{7f}/evil.example", None),
        ("/\u{85}/evil.example", None),
        ("/\u{a0}/evil.example", None),
        ("/\u{2028}/evil.example", None),
        ("/\u{2029}/evil.example", None),
        ("/\u{200b}/evil.example", None),
        ("/\u{feff}/evil.example", None),
        ("/ /evil.example", None),
        ("/x ", None),
        ("/x\t", None),
        ("/x\n", None),
        ("/environments/café", None),
        ("/.//evil.example", None),
        ("/..//evil.example", None),
        ("/%2e//evil.example", None),
        ("/%2E%2E//evil.example", None),
        ("/a/..//evil.example", None),
        ("/a/b/../..//evil.example", None),
    ];

    #[test]
    fn only_paths_a_browser_keeps_on_this_origin_are_accepted() {
        for (raw, kept) in CASES {
            assert_eq!(ReturnPath::parse(raw).ok().as_ref().map(ReturnPath::as_str), *kept, "{raw:?}");
        }
    }

    #[test]
    fn refusals_name_their_reason() {
        assert_eq!(ReturnPath::parse("https://evil.example"), Err(ReturnPathError::NotAPath));
        assert_eq!(ReturnPath::parse("/\t/evil.example"), Err(ReturnPathError::Character));
        assert_eq!(ReturnPath::parse("/\\evil.example"), Err(ReturnPathError::Character));
        assert_eq!(ReturnPath::parse("/.//evil.example"), Err(ReturnPathError::OtherHost));
        assert_eq!(ReturnPath::parse("//evil.example"), Err(ReturnPathError::OtherHost));
    }

    #[test]
    fn the_length_limit_is_2048_characters() {
        let longest = format!("/{}", "a".repeat(ReturnPath::MAX_LEN - 1));
        assert_eq!(ReturnPath::parse(&longest).map(|p| p.as_str().len()), Ok(ReturnPath::MAX_LEN));
        assert_eq!(ReturnPath::parse(&format!("{longest}a")), Err(ReturnPathError::TooLong));
    }

    #[test]
    fn every_kept_value_is_a_single_slash_path_of_visible_ascii() {
        for (raw, _) in CASES {
            if let Ok(path) = ReturnPath::parse(raw) {
                let s = path.as_str();
                assert!(s.starts_with('/') && !s.starts_with("//"), "{raw:?} → {s:?}");
                assert!(s.bytes().all(|b| b.is_ascii_graphic() && b != b'\\'), "{raw:?} → {s:?}");
            }
        }
        assert_eq!(ReturnPath::root().as_str(), "/");
    }
}
