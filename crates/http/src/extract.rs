//! Extractors that parse path identifiers at the edge, giving the contract's `400 invalid <name>`.
//!
//! They run before body extractors in a handler's argument list, which gives path errors precedence over
//! `415` and `413` as the contract orders them.

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
    query: &std::collections::HashMap<String, String>,
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

/// The query string as a map; unknown parameters are ignored by callers.
pub type QueryMap = actix_web::web::Query<std::collections::HashMap<String, String>>;
