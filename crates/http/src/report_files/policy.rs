//! The content security policy of the report origin: what a report's pages may load, and from where.
//!
//! Allure's generated pages embed a Google Tag Manager script (hard-coded in its plugins) that would send the
//! report's id to an outside host whenever a report is opened. The default policy lets a report load only from the
//! report origin itself, plus what the generated pages really need (checked in Chromium against reports of Allure
//! 3.18, every bundled plugin, single-file reports and their attachment previews):
//!
//! - `script-src 'unsafe-inline' data:`: every page sets its options and its `<base>` in inline scripts; single-file
//!   reports and the summary page of several plugins load their bundle from a `data:` URL;
//! - `style-src 'unsafe-inline'`: the bundles insert `<style>` elements and set `style` attributes;
//! - `img-src data: blob:`, `font-src data:`: the favicon and fonts are `data:` URLs, image attachments are shown
//!   from `blob:` URLs;
//! - `connect-src data:`: single-file reports read their data by fetching `data:` URLs;
//! - `media-src blob:`: video attachments; `frame-src blob:`: the (sandboxed) previews of HTML and Markdown
//!   attachments, which inherit this policy;
//! - `worker-src 'self'`: no `data:` or `blob:` workers (none is used);
//! - `object-src 'none'`, `base-uri 'self'`, `form-action 'none'`: nothing a report needs either.
//!
//! `frame-ancestors` is never part of it: it is always `'self'` and the main origin (the web UI frames reports), added
//! per response.

use std::fmt;

/// A policy for report-origin responses, without `frame-ancestors`: the default, or the administrator's
/// `REPORT_CSP`, parsed once at start-up so that every response can carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPolicy(String);

impl ReportPolicy {
    /// What report pages may load when `REPORT_CSP` is unset (see the module documentation for why each source).
    pub const DEFAULT: &'static str = "default-src 'self'; script-src 'self' 'unsafe-inline' data:; \
        style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; \
        connect-src 'self' data:; media-src 'self' blob:; frame-src 'self' blob:; worker-src 'self'; \
        object-src 'none'; base-uri 'self'; form-action 'none'";

    /// Reads an administrator's policy: one policy of `;`-separated directives in visible ASCII, each named by
    /// letters, digits and `-`, and without `frame-ancestors` (the server's own). Empty directives are dropped and
    /// the rest joined with `; `.
    ///
    /// # Errors
    /// What is wrong with the value, to be shown beside the variable's name.
    pub fn parse(value: &str) -> Result<Self, String> {
        if !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
            return Err("must be visible ASCII characters and spaces on one line".into());
        }
        if value.contains(',') {
            return Err("must be one policy: a comma would start a second one".into());
        }
        let directives: Vec<&str> = value.split(';').map(str::trim).filter(|d| !d.is_empty()).collect();
        if directives.is_empty() {
            return Err("has no directive".into());
        }
        for directive in &directives {
            let name = directive.split(' ').next().unwrap_or_default();
            if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(format!("`{name}` is not a directive name (directives are separated by `;`)"));
            }
            if name.eq_ignore_ascii_case("frame-ancestors") {
                return Err("must not set frame-ancestors: the server always sets it to the report origin and the \
                            main origin, which frames reports"
                    .into());
            }
        }
        Ok(Self(directives.join("; ")))
    }

    /// The policy's directives, as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ReportPolicy {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

impl fmt::Display for ReportPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_itself_a_valid_override() {
        assert_eq!(ReportPolicy::parse(ReportPolicy::DEFAULT).unwrap(), ReportPolicy::default());
        let default = ReportPolicy::default();
        assert!(!default.as_str().contains("  "), "one space between sources: {default}");
        for directive in ["default-src 'self'", "connect-src 'self' data:", "form-action 'none'"] {
            assert!(default.as_str().split("; ").any(|d| d == directive), "{directive}: {default}");
        }
        assert!(!default.as_str().contains("http"), "no other host is allowed anything: {default}");
    }

    #[test]
    fn an_override_is_kept_as_written_with_empty_directives_dropped() {
        let policy = ReportPolicy::parse("default-src 'self' https://cdn.example.com;;  img-src * ; ").unwrap();
        assert_eq!(policy.as_str(), "default-src 'self' https://cdn.example.com; img-src *");
        assert_eq!(ReportPolicy::parse("sandbox").unwrap().to_string(), "sandbox");
    }

    #[test]
    fn overrides_that_cannot_be_one_header_policy_are_refused() {
        for (value, reason) in [
            ("default-src 'self'\nimg-src *", "visible ASCII"),
            ("default-src\t'self'", "visible ASCII"),
            ("default-src 'sélf'", "visible ASCII"),
            ("default-src 'self', img-src *", "one policy"),
            (" ; ;", "no directive"),
            ("default-src: 'self'", "`default-src:` is not a directive name"),
            ("'self'", "is not a directive name"),
            ("default-src 'self'; frame-ancestors *", "frame-ancestors"),
            ("FRAME-ANCESTORS 'none'", "frame-ancestors"),
        ] {
            let err = ReportPolicy::parse(value).unwrap_err();
            assert!(err.contains(reason), "{value:?}: {err}");
        }
    }
}
