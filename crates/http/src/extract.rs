//! Extractors that parse path identifiers at the edge, giving the contract's `400 invalid <name>`, and the query map.
//!
//! They run before body extractors in a handler's argument list, which gives path errors precedence over
//! `415` and `413` as the contract orders them.

use std::collections::HashMap;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use hub_domain::ids::{BuildId, EnvId, IdError, ProjectId};

use crate::error::ApiError;

fn segment<'a>(req: &'a HttpRequest, name: &str) -> Result<&'a str, ApiError> {
    req.match_info().get(name).ok_or_else(|| ApiError::internal(format!("route has no {{{name}}} segment")))
}

fn invalid(name: &str) -> impl Fn(IdError) -> ApiError + '_ {
    move |_| ApiError::bad_request(format!("invalid {name}"))
}

/// The `{envId}` path segment, parsed.
#[derive(Debug)]
pub struct EnvPath(pub EnvId);

impl FromRequest for EnvPath {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(segment(req, "envId").and_then(|s| EnvId::parse(s).map(Self).map_err(invalid("envId"))))
    }
}

/// The `{envId}` and `{projectId}` path segments, parsed in that order.
#[derive(Debug)]
pub struct ProjectPath(pub EnvId, pub ProjectId);

impl FromRequest for ProjectPath {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let env = EnvId::parse(segment(req, "envId")?).map_err(invalid("envId"))?;
            let project = ProjectId::parse(segment(req, "projectId")?).map_err(invalid("projectId"))?;
            Ok(Self(env, project))
        })())
    }
}

/// The `{envId}`, `{projectId}` and `{buildId}` path segments, parsed in that order.
#[derive(Debug)]
pub struct BuildPath(pub EnvId, pub ProjectId, pub BuildId);

impl FromRequest for BuildPath {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        ready(ProjectPath::from_request(req, payload).into_inner().and_then(|ProjectPath(env, project)| {
            let build = BuildId::parse(segment(req, "buildId")?).map_err(invalid("buildId"))?;
            Ok(Self(env, project, build))
        }))
    }
}

/// Deserializes a field that may be absent (`None`), `null` (`Some(None)`) or a value (`Some(Some(v))`), for
/// partial updates where `null` means something other than absence.
pub fn nullable_field<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

/// `limit` and `offset` of a paginated list (§1.8), validated against the endpoint's default and maximum.
pub fn page_request(
    query: &HashMap<String, String>,
    default_limit: i64,
    max_limit: i64,
) -> Result<hub_domain::model::page::PageRequest, ApiError> {
    let limit = match query.get("limit") {
        None => default_limit,
        Some(v) => v.parse().ok().filter(|n| (1..=max_limit).contains(n)).ok_or_else(|| {
            ApiError::bad_request(format!("invalid limit: must be an integer between 1 and {max_limit}"))
        })?,
    };
    let offset = match query.get("offset") {
        None => 0,
        Some(v) => v
            .parse()
            .ok()
            .filter(|n: &i64| *n >= 0)
            .ok_or_else(|| ApiError::bad_request("invalid offset: must be a non-negative integer"))?,
    };
    Ok(hub_domain::model::page::PageRequest { limit, offset })
}

/// The query string as a map, without the parameters given with an empty value: `?search=&offset=` means the
/// same as no query at all, everywhere (clients fill a form's empty fields in). Of a name given twice, the last
/// non-empty value counts. Unknown parameters are ignored by callers.
#[derive(Debug, Default)]
pub struct QueryMap(HashMap<String, String>);

impl QueryMap {
    /// Parses a raw query string (without `?`); the `Expect: 100-continue` gate reads queries with it too, so it
    /// judges them as the handler will.
    ///
    /// # Errors
    /// A query string that does not decode as `name=value` pairs.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let pairs = actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?;
        Ok(Self(pairs.into_inner().into_iter().filter(|(_, value)| !value.is_empty()).collect()))
    }
}

impl std::ops::Deref for QueryMap {
    type Target = HashMap<String, String>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl FromRequest for QueryMap {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req.query_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_query_values_are_not_given() {
        let query = QueryMap::parse("search=&offset=&limit=5&flag").unwrap();
        assert_eq!(query.get("limit").map(String::as_str), Some("5"));
        for name in ["search", "offset", "flag", "absent"] {
            assert_eq!(query.get(name), None, "{name}");
        }
        assert_eq!(page_request(&query, 20, 100).unwrap().offset, 0);
        let twice = QueryMap::parse("status=failed&status=").unwrap();
        assert_eq!(twice.get("status").map(String::as_str), Some("failed"));
        assert_eq!(QueryMap::parse("a=%20").unwrap().get("a").map(String::as_str), Some(" "));
    }
}
