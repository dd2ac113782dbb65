//! Validated display strings shared by several entities.

use std::fmt;

use thiserror::Error;

/// Why a display name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum NameError {
    /// Missing, or empty after trimming.
    #[error("name is required")]
    Required,
    /// Longer than the limit after trimming.
    #[error("name must be at most {0} characters")]
    TooLong(usize),
}

/// The display name of an environment or project: 1–80 characters after trimming, stored trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Longest name, in characters.
    pub const MAX_CHARS: usize = 80;

    /// Trims and checks the length.
    ///
    /// # Errors
    /// [`NameError`] when the trimmed name is empty or too long.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            Err(NameError::Required)
        } else if trimmed.chars().count() > Self::MAX_CHARS {
            Err(NameError::TooLong(Self::MAX_CHARS))
        } else {
            Ok(Self(trimmed.to_owned()))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Material Symbols icon name shown beside an environment: `^[a-z0-9_]{1,64}$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icon(String);

/// The icon was not a valid Material Symbols name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("invalid icon")]
pub struct InvalidIcon;

impl Icon {
    /// The icon used when none is given.
    pub const DEFAULT: &'static str = "deployed_code";

    /// Parses an optional icon: absent or empty means [`Icon::DEFAULT`].
    ///
    /// # Errors
    /// [`InvalidIcon`] for a value outside `^[a-z0-9_]{1,64}$`.
    pub fn parse_or_default(s: Option<&str>) -> Result<Self, InvalidIcon> {
        match s {
            None | Some("") => Ok(Self::default()),
            Some(s)
                if s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
            {
                Ok(Self(s.to_owned()))
            }
            Some(_) => Err(InvalidIcon),
        }
    }

    /// The icon name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Icon {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_limited_to_80_characters() {
        assert_eq!(DisplayName::parse("  Staging ").map(|n| n.to_string()), Ok("Staging".into()));
        assert_eq!(DisplayName::parse(" \t "), Err(NameError::Required));
        assert!(DisplayName::parse(&"é".repeat(80)).is_ok(), "characters, not bytes, are counted");
        assert_eq!(DisplayName::parse(&"x".repeat(81)), Err(NameError::TooLong(80)));
    }

    #[test]
    fn icons_default_when_missing_or_empty_and_refuse_other_characters() {
        assert_eq!(Icon::parse_or_default(None).map(|i| i.as_str().to_owned()), Ok("deployed_code".into()));
        assert_eq!(Icon::parse_or_default(Some("")).map(|i| i.as_str().to_owned()), Ok("deployed_code".into()));
        assert_eq!(Icon::parse_or_default(Some("science_2")).map(|i| i.as_str().to_owned()), Ok("science_2".into()));
        for bad in ["Science", "a-b", "a b", &"a".repeat(65)] {
            assert_eq!(Icon::parse_or_default(Some(bad)), Err(InvalidIcon), "{bad}");
        }
    }
}
