//! Making process output fit for API answers: the absolute `DATA_DIR` written `$DATA_DIR` (the contract never shows
//! server paths) and only the end kept, since the last lines of a failing tool say what went wrong.

use std::path::Path;

/// `text` with `data_dir` replaced by `$DATA_DIR`, cut to its last `max_bytes` bytes (at a character boundary).
pub(crate) fn scrubbed_tail(text: &str, data_dir: &Path, max_bytes: usize) -> String {
    let data_dir = data_dir.display().to_string();
    let text = if data_dir.is_empty() { text.to_owned() } else { text.replace(&data_dir, "$DATA_DIR") };
    let mut start = text.len().saturating_sub(max_bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_hidden_and_only_the_end_is_kept() {
        let dir = Path::new("/srv/hub/data");
        assert_eq!(scrubbed_tail("cannot write /srv/hub/data/allure/x", dir, 100), "cannot write $DATA_DIR/allure/x");
        assert_eq!(scrubbed_tail("abcdef", dir, 3), "def");
        // Never splits a character: "é" is two bytes.
        assert_eq!(scrubbed_tail("aé", dir, 1), "");
    }
}
