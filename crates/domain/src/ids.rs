//! Identifier newtypes. Each is parsed once at the edge, so an invalid identifier cannot reach a service.

use std::fmt;

use thiserror::Error;

/// Why a string is not a valid identifier. The caller names the field in its own message
/// (`invalid envId`, `invalid id`), so the error itself carries no name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum IdError {
    /// The string does not match the identifier's format.
    #[error("invalid format")]
    Invalid,
    /// The string is the reserved build id `latest`.
    #[error("\"latest\" is reserved")]
    Reserved,
}

/// Whether `s` is a slug: `^[a-z0-9][a-z0-9-]{0,62}$`.
fn is_slug(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// Identifier of an environment: a slug chosen by the user.
    EnvId
);
string_id!(
    /// Identifier of a project, unique within its environment: a slug chosen by the user.
    ProjectId
);
string_id!(
    /// Identifier of a build, unique within its project, chosen by the uploader.
    BuildId
);

string_id!(
    /// Identifier of one server process among those sharing a database (`NODE_ID`): it names the node that holds
    /// a job, and the node in `/api/nodes` and `/api/healthz`.
    NodeId
);

impl NodeId {
    /// Parses 1 to 64 characters out of ASCII letters, digits, `.`, `_`, `-` and `:` (host names, pod names and
    /// `host:pid` all fit).
    ///
    /// # Errors
    /// [`IdError::Invalid`] for anything else.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let valid = (1..=64).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
        if valid { Ok(Self(s.to_owned())) } else { Err(IdError::Invalid) }
    }

    /// A node id made of `raw` (a host name, say): characters a node id cannot hold become `-`, and it is cut to
    /// 64 characters; `node` when nothing is left.
    pub fn sanitized(raw: &str) -> Self {
        let id: String = raw
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':') { c } else { '-' })
            .take(64)
            .collect();
        Self(if id.is_empty() { "node".to_owned() } else { id })
    }
}

impl EnvId {
    /// Parses a slug (`^[a-z0-9][a-z0-9-]{0,62}$`).
    ///
    /// # Errors
    /// [`IdError::Invalid`] when `s` is not a slug.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if is_slug(s) { Ok(Self(s.to_owned())) } else { Err(IdError::Invalid) }
    }

    /// The environment that exists from the first start and cannot be deleted.
    pub fn default_env() -> Self {
        Self(DEFAULT_ENV_ID.to_owned())
    }

    /// Whether this is the protected `default` environment.
    pub fn is_default(&self) -> bool {
        self.0 == DEFAULT_ENV_ID
    }
}

/// The id of the seeded environment.
pub const DEFAULT_ENV_ID: &str = "default";

impl ProjectId {
    /// Parses a slug (`^[a-z0-9][a-z0-9-]{0,62}$`).
    ///
    /// # Errors
    /// [`IdError::Invalid`] when `s` is not a slug.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if is_slug(s) { Ok(Self(s.to_owned())) } else { Err(IdError::Invalid) }
    }
}

impl BuildId {
    /// Parses `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`, refusing `latest` in any letter case, which names the
    /// newest report in report URLs.
    ///
    /// # Errors
    /// [`IdError::Invalid`] for a bad format, [`IdError::Reserved`] for `latest`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let bytes = s.as_bytes();
        let valid = !bytes.is_empty()
            && bytes.len() <= 128
            && bytes[0].is_ascii_alphanumeric()
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            Err(IdError::Invalid)
        } else if s.eq_ignore_ascii_case("latest") {
            Err(IdError::Reserved)
        } else {
            Ok(Self(s.to_owned()))
        }
    }
}

macro_rules! ulid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(ulid::Ulid);

        impl $name {
            /// Parses 26 upper-case Crockford base32 characters, the only spelling the server writes.
            ///
            /// # Errors
            /// [`IdError::Invalid`] for anything else.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let canonical = s.len() == 26
                    && s.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
                if !canonical {
                    return Err(IdError::Invalid);
                }
                ulid::Ulid::from_string(s).map(Self).map_err(|_| IdError::Invalid)
            }
        }

        impl From<ulid::Ulid> for $name {
            fn from(value: ulid::Ulid) -> Self {
                Self(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

ulid_id!(
    /// Identifier of an upload session (also called `uploadId`).
    UploadId
);
ulid_id!(
    /// Identifier of a generation job.
    JobId
);
ulid_id!(
    /// Identifier of an API key record (not the secret).
    ApiKeyId
);
ulid_id!(
    /// Identifier of a cleanup run.
    CleanupRunId
);
ulid_id!(
    /// Identifier of a notification.
    NotificationId
);

/// A user's identity: an email address, lower-cased and trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Trims, lower-cases and checks `^[^@\s]+@[^@\s]+$` with at most 254 characters.
    ///
    /// # Errors
    /// [`IdError::Invalid`] when the result is not an email address.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let email = s.trim().to_lowercase();
        let mut parts = email.splitn(2, '@');
        let local = parts.next().unwrap_or_default();
        let domain = parts.next().unwrap_or_default();
        let ok = !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && !email.chars().any(char::is_whitespace)
            && email.chars().count() <= 254;
        if ok { Ok(Self(email)) } else { Err(IdError::Invalid) }
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_accept_lower_case_digits_and_inner_dashes() {
        for ok in ["a", "0", "staging", "eu-west-1", &"a".repeat(63)] {
            assert!(EnvId::parse(ok).is_ok(), "{ok}");
            assert!(ProjectId::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn slugs_refuse_upper_case_leading_dash_and_overlong_values() {
        for bad in ["", "-a", "Staging", "a_b", "a b", "a/b", &"a".repeat(64), "é"] {
            assert_eq!(EnvId::parse(bad), Err(IdError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn build_ids_allow_dots_and_underscores_but_reserve_latest() {
        assert!(BuildId::parse("2026-04-07.042_b").is_ok());
        assert!(BuildId::parse(&"9".repeat(128)).is_ok());
        assert_eq!(BuildId::parse(&"9".repeat(129)), Err(IdError::Invalid));
        assert_eq!(BuildId::parse(".hidden"), Err(IdError::Invalid));
        assert_eq!(BuildId::parse("LaTeSt"), Err(IdError::Reserved));
        assert_eq!(BuildId::parse("latest2").map(|b| b.to_string()), Ok("latest2".into()));
    }

    #[test]
    fn node_ids_are_host_names_pod_names_or_host_and_pid() {
        for ok in ["web-1", "allure-hub-7d9f8c-x2k4q", "ip-10-0-0-1.ec2.internal:4242", &"n".repeat(64)] {
            assert!(NodeId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "é", "a\n", &"n".repeat(65)] {
            assert_eq!(NodeId::parse(bad), Err(IdError::Invalid), "{bad:?}");
            let made = NodeId::sanitized(bad);
            assert_eq!(NodeId::parse(made.as_str()), Ok(made.clone()), "{bad:?} made {made}");
        }
        assert_eq!(NodeId::sanitized("a b/é").as_str(), "a-b--");
    }

    #[test]
    fn ulids_must_be_canonical_upper_case() {
        let id = "01JR8X7Q2M5N9P3V4W6Y8Z0ABC";
        assert_eq!(UploadId::parse(id).map(|u| u.to_string()), Ok(id.to_owned()));
        assert_eq!(UploadId::parse(&id.to_lowercase()), Err(IdError::Invalid));
        assert_eq!(UploadId::parse("01JR8X7Q2M5N9P3V4W6Y8Z0AB"), Err(IdError::Invalid));
        // U is not a Crockford base32 digit.
        assert_eq!(UploadId::parse("01JR8X7Q2M5N9P3V4W6Y8Z0ABU"), Err(IdError::Invalid));
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(Email::parse("  Ops@Example.COM ").map(|e| e.to_string()), Ok("ops@example.com".into()));
        assert!(Email::parse("admin@localhost").is_ok());
        for bad in ["", "a", "@b", "a@", "a@b@c", "a b@c"] {
            assert_eq!(Email::parse(bad), Err(IdError::Invalid), "{bad:?}");
        }
    }
}
