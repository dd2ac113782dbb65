//! Allure CLI versions: the release numbers the settings API accepts (contract §13.5) and the version a CLI prints
//! for `--version`.

use std::fmt;

use thiserror::Error;

/// Why a requested version was refused; the texts are the contract's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum VersionError {
    /// Missing or empty.
    #[error("version is required")]
    Required,
    /// Not three decimal numbers without leading zeros (a pre-release or build suffix included).
    #[error("version must be MAJOR.MINOR.PATCH (for example 3.18.0)")]
    Format,
    /// A release of Allure 2 or older, whose command line the server does not speak.
    #[error("only Allure 3 versions are supported")]
    BeforeAllure3,
}

/// A release of the Allure CLI the server may install: `MAJOR.MINOR.PATCH` in decimal without leading zeros or
/// suffixes, major at least 3. Only digits and dots, so it is also safe as a directory name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllureVersion(String);

impl AllureVersion {
    /// Checks a requested version.
    ///
    /// # Errors
    /// [`VersionError`] naming the first rule broken.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        if text.is_empty() {
            return Err(VersionError::Required);
        }
        let parts: Vec<&str> = text.split('.').collect();
        let numeric = |part: &&str| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && (*part == "0" || !part.starts_with('0'))
                && part.parse::<u64>().is_ok()
        };
        if parts.len() != 3 || !parts.iter().all(numeric) {
            return Err(VersionError::Format);
        }
        if parts[0].parse::<u64>().map_or(true, |major| major < 3) {
            return Err(VersionError::BeforeAllure3);
        }
        Ok(Self(text.to_owned()))
    }

    /// The version as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AllureVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The first `MAJOR.MINOR.PATCH` in a text, without what follows it: what a CLI's `--version` output means
/// (`3.18.0`, `allure 3.18.0`, `v3.19.0-beta.1` all name a version).
pub fn first_version_in(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit() && c != '.').find_map(|token| {
        let parts: Vec<&str> = token.split('.').take(3).collect();
        (parts.len() == 3 && parts.iter().all(|p| !p.is_empty())).then(|| parts.join("."))
    })
}

/// The version a text names, with its pre-release part: what a CLI prints for `--version` (`3.18.0`,
/// `allure 3.18.0`, `v3.19.0-beta.1`) or the registry reports as its latest release.
pub fn version_in(text: &str) -> Option<semver::Version> {
    let spelled = text.split_whitespace().find_map(|word| {
        let word = word.trim_start_matches('v').trim_end_matches(['.', ',', ';', ')']);
        semver::Version::parse(word).ok()
    });
    spelled.or_else(|| semver::Version::parse(&first_version_in(text)?).ok())
}

/// Whether `latest` is a release later than the `installed` one, by semantic-versioning precedence (numbers, not
/// text, and `3.19.0` is later than an installed `3.19.0-beta.1`). A pre-release is never offered as an update:
/// choosing one is the operator's decision. `None` when either text names no version, for the caller to decide
/// what an unknown installation means.
pub fn is_newer_release(latest: &str, installed: &str) -> Option<bool> {
    let (latest, installed) = (version_in(latest)?, version_in(installed)?);
    Some(latest.pre.is_empty() && latest > installed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_release_is_recognised_by_precedence() {
        // (latest, installed) → newer release?
        let cases = [
            ("3.19.1", "3.18.0", Some(true)),
            ("3.10.0", "3.9.9", Some(true)),
            ("3.18.0", "3.18.0", Some(false)),
            ("3.17.0", "3.18.0", Some(false)),
            ("3.19.0", "3.19.0-beta.1", Some(true)),
            ("3.19.0", "allure 3.18.0\n", Some(true)),
            ("3.18.0-beta.1", "3.0.0", Some(false)),
            ("3.20.0-rc.1", "3.19.0", Some(false)),
            ("", "3.18.0", None),
            ("3.18.0", "", None),
            ("latest", "3.18.0", None),
        ];
        for (latest, installed, expected) in cases {
            assert_eq!(is_newer_release(latest, installed), expected, "{latest:?} over {installed:?}");
        }
        assert_eq!(version_in("v3.19.0-beta.1").map(|v| v.to_string()).as_deref(), Some("3.19.0-beta.1"));
        assert_eq!(version_in("node 20.1 / allure 3.18.0.").map(|v| v.to_string()).as_deref(), Some("3.18.0"));
    }

    #[test]
    fn requested_versions_follow_the_contracts_rules() {
        for good in ["3.18.0", "3.0.0", "4.12.103", "10.0.1"] {
            assert_eq!(AllureVersion::parse(good).map(|v| v.to_string()), Ok(good.to_owned()));
        }
        assert_eq!(AllureVersion::parse(""), Err(VersionError::Required));
        for bad in [
            "3.18",
            "3.18.0.1",
            "03.18.0",
            "3.018.0",
            "3.18.00",
            "3.19.0-beta.1",
            "3.18.0+build.5",
            "v3.18.0",
            " 3.18.0",
            "3..0",
            "3.18.x",
            "latest",
            "99999999999999999999.0.0",
        ] {
            assert_eq!(AllureVersion::parse(bad), Err(VersionError::Format), "{bad}");
        }
        for old in ["2.30.0", "0.1.0", "1.0.0"] {
            assert_eq!(AllureVersion::parse(old), Err(VersionError::BeforeAllure3), "{old}");
        }
    }

    #[test]
    fn the_first_version_in_cli_output_is_found() {
        assert_eq!(first_version_in("3.18.0\n").as_deref(), Some("3.18.0"));
        assert_eq!(first_version_in("allure version 3.19.1").as_deref(), Some("3.19.1"));
        assert_eq!(first_version_in("v3.19.0-beta.1").as_deref(), Some("3.19.0"));
        assert_eq!(first_version_in("node 20.1 / allure 3.18.0.").as_deref(), Some("3.18.0"));
        assert_eq!(first_version_in("1.2.3.4").as_deref(), Some("1.2.3"));
        assert_eq!(first_version_in("no version here 3.1"), None);
        assert_eq!(first_version_in(""), None);
    }
}
