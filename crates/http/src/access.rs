//! Access rules of routes and their enforcement.
//!
//! Until user authentication exists, every non-public route requires the bootstrap token from the
//! configuration, sent like an API key (`Authorization: Bearer …` or `X-API-Key`). Enforcement wraps each route
//! of the table, so a route cannot be registered without a rule and no handler can forget the check.

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{Error, ResponseError};
use hub_domain::model::access::Permission;

use crate::error::ApiError;
use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential needed; credentials sent are ignored.
    Public,
    /// A credential granting this permission.
    Permission(Permission),
}

/// The temporary shared credential. Its `Debug` output hides the value.
#[derive(Clone)]
pub struct BootstrapToken(String);

impl BootstrapToken {
    /// Wraps the configured token.
    pub fn new(token: String) -> Self {
        Self(token)
    }
}

impl std::fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BootstrapToken(***)")
    }
}

/// The API key of a request, by the contract's resolution order: a `Bearer` token starting with `ah_`, else
/// the `X-API-Key` header. Other `Authorization` values (a proxy's `Basic`, say) are ignored.
pub fn api_key_of(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| token.starts_with("ah_"));
    bearer.or_else(|| {
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    })
}

/// Compares without an early exit, so the time taken does not reveal how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the request against the route's rule before any extractor or handler runs, which gives 401 its
/// precedence over every other error.
pub async fn enforce(
    access: Access,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if access == Access::Public {
        return next.call(req).await;
    }
    let verdict = match (api_key_of(req.headers()), req.app_data::<Data<AppState>>()) {
        (None, _) => Err(ApiError::unauthorized("not authenticated")),
        (Some(key), Some(state))
            if constant_time_eq(key.as_bytes(), state.bootstrap.0.as_bytes()) =>
        {
            Ok(())
        }
        (Some(_), _) => Err(ApiError::unauthorized("invalid API key")),
    };
    match verdict {
        Ok(()) => next.call(req).await,
        Err(err) => Ok(req.into_response(err.error_response())),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn a_prefixed_bearer_token_wins_over_the_api_key_header() {
        let h = headers(&[("authorization", "Bearer ah_one"), ("x-api-key", "ah_two")]);
        assert_eq!(api_key_of(&h), Some("ah_one"));
    }

    #[test]
    fn other_authorization_values_fall_back_to_the_api_key_header() {
        let h = headers(&[
            ("authorization", "Basic dXNlcjpwYXNz"),
            ("x-api-key", "ah_two"),
        ]);
        assert_eq!(api_key_of(&h), Some("ah_two"));
        let h = headers(&[("authorization", "Bearer not-a-key")]);
        assert_eq!(api_key_of(&h), None);
    }

    #[test]
    fn tokens_compare_equal_only_when_identical() {
        assert!(constant_time_eq(b"ah_abc", b"ah_abc"));
        assert!(!constant_time_eq(b"ah_abc", b"ah_abd"));
        assert!(!constant_time_eq(b"ah_abc", b"ah_ab"));
    }
}
