//! The formats of the server's identifiers, each written once: the pattern, and the schema that the OpenAPI
//! document names (`Slug`, `BuildId`, `Ulid`) and every path parameter, query parameter and field with that format
//! refers to (`#[schema(value_type = Slug)]`, `#[param(value_type = Option<Slug>)]`).
//!
//! The patterns restate the parsers of `hub_domain::ids` (`EnvId::parse`, `BuildId::parse`, the ULID ids), which
//! hold no pattern of their own; the tests check a few values against both.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// The slug format of environment and project ids.
pub const SLUG: &str = r"^[a-z0-9][a-z0-9-]{0,62}$";
/// The format of build ids (`latest` is reserved besides).
pub const BUILD_ID: &str = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$";
/// The format of server-made ids (upload sessions, API keys, notifications, cleanup runs).
pub const ULID: &str = r"^[0-9A-HJKMNP-TV-Z]{26}$";

fn string(pattern: &str, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)).description(Some(description)).into()
}

/// The schema `Slug`: an environment or project id.
#[derive(Debug)]
pub struct Slug;

impl PartialSchema for Slug {
    fn schema() -> RefOr<Schema> {
        string(SLUG, "An environment or project id: 1–63 lower-case letters, digits and `-`, not starting with `-`.")
    }
}

impl ToSchema for Slug {}

/// The schema `BuildId`: a build id, chosen by the uploader.
#[derive(Debug)]
pub struct BuildId;

impl PartialSchema for BuildId {
    fn schema() -> RefOr<Schema> {
        string(
            BUILD_ID,
            "A build id: 1–128 letters, digits, `.`, `_` and `-`, starting with a letter or digit; `latest` (in any \
             letter case) is reserved.",
        )
    }
}

impl ToSchema for BuildId {}

/// The schema `Ulid`: an id the server made (upload session, API key, notification, cleanup run).
#[derive(Debug)]
pub struct Ulid;

impl PartialSchema for Ulid {
    fn schema() -> RefOr<Schema> {
        string(ULID, "An id made by the server: a ULID, 26 upper-case Crockford base32 characters.")
    }
}

impl ToSchema for Ulid {}

#[cfg(test)]
mod tests {
    use hub_domain::ids::{BuildId as DomainBuildId, EnvId, UploadId};

    /// The parsers still accept and refuse what [`SLUG`](super::SLUG), [`BUILD_ID`](super::BUILD_ID) and
    /// [`ULID`](super::ULID) say of a few values on each side of their rules (hub-http has no regex engine, so the
    /// patterns' verdicts are written out here).
    #[test]
    fn the_patterns_state_the_domain_rules() {
        for (value, slug) in [("a", true), ("0-a", true), ("-a", false), ("A", false), ("a_b", false)] {
            assert_eq!(EnvId::parse(value).is_ok(), slug, "{value}");
        }
        assert!(EnvId::parse(&"a".repeat(63)).is_ok() && EnvId::parse(&"a".repeat(64)).is_err());
        for (value, ok) in [("B1.2_3-x", true), (".a", false), ("a/b", false), ("latest", false)] {
            assert_eq!(DomainBuildId::parse(value).is_ok(), ok, "{value}");
        }
        assert!(DomainBuildId::parse(&"a".repeat(128)).is_ok() && DomainBuildId::parse(&"a".repeat(129)).is_err());
        assert!(UploadId::parse("01ARZ3NDEKTSV4RRFFQ69G5FAV").is_ok());
        assert!(UploadId::parse("01arz3ndektsv4rrffq69g5fav").is_err(), "lower case is not the server's spelling");
    }
}
