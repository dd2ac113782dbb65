//! Access rules of routes and their enforcement.
//!
//! Enforcement wraps each route of the table, so a route cannot be registered without a rule and no handler can
//! forget the check. It resolves the credential in the contract's order (a `Bearer ah_…` token, else
//! `X-API-Key`, else the session cookie), then checks session-only routes, the permission, the admin role and,
//! for cookie-authenticated changes, same-origin proof. The principal is then available to handlers through the
//! [`Principal`] extractor.

use std::future::{Ready, ready};

use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{AUTHORIZATION, COOKIE, HeaderMap, ORIGIN, REFERER};
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, ResponseError};
use hub_domain::model::access::{self, Permission};
use hub_domain::model::origin::Origin;

use crate::error::ApiError;
use crate::state::AppState;

pub use hub_domain::model::access::SESSION_COOKIE;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential needed; credentials sent are ignored.
    Public,
    /// A session or an API key granting the permission.
    Any(Permission),
    /// A session granting the permission; an API key is refused with 403.
    Session(Permission),
    /// A session granting the permission whose role is `admin`.
    SessionAdmin(Permission),
    /// Any valid session, no permission needed; API keys are ignored (`/auth/me`).
    SignedIn,
    /// A session if there is one (`/auth/logout`); same-origin proof is required when there is.
    OptionalSession,
}

impl Access {
    /// The permission the rule requires, if any.
    pub fn permission(self) -> Option<Permission> {
        match self {
            Self::Any(p) | Self::Session(p) | Self::SessionAdmin(p) => Some(p),
            _ => None,
        }
    }

    fn ignores_api_keys(self) -> bool {
        matches!(self, Self::SignedIn | Self::OptionalSession)
    }

    fn session_only(self) -> bool {
        matches!(self, Self::Session(_) | Self::SessionAdmin(_))
    }
}

/// The authenticated principal of a request, for handlers of non-public routes.
#[derive(Debug, Clone)]
pub struct Principal(pub access::Principal);

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<access::Principal>()
                .cloned()
                .map(Self)
                .ok_or_else(|| ApiError::unauthorized("not authenticated")),
        )
    }
}

/// The principal if the request has one (optional-session routes).
#[derive(Debug, Clone)]
pub struct MaybePrincipal(pub Option<access::Principal>);

impl FromRequest for MaybePrincipal {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self(req.extensions().get::<access::Principal>().cloned())))
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
    bearer.or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim))
}

/// Whether the origin of `url` is the main origin (an unparsable URL, `null` say, never is).
fn is_main(url: &str, main: Option<&Origin>) -> bool {
    Origin::parse(url).is_some_and(|origin| Some(&origin) == main)
}

/// What the access rules read of a request: its head, so they can be checked before any body is read, by
/// [`enforce`] and by the `Expect: 100-continue` gate ([`crate::expect`]) alike.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// The method (same-origin proof is needed for changes).
    pub method: &'a Method,
    /// The headers (credentials, `Origin`, `Referer`, `Host`).
    pub headers: &'a HeaderMap,
    /// Whether the connection itself is TLS (the scheme of the main origin when no proxy says otherwise).
    pub secure: bool,
}

impl<'a> RequestHead<'a> {
    /// The head of an application request.
    pub fn of(req: &'a HttpRequest) -> Self {
        Self { method: req.method(), headers: req.headers(), secure: req.app_config().secure() }
    }

    fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The value of the session cookie, read from the `Cookie` headers as `HttpRequest::cookie` reads them (pairs
    /// split at `;`, percent-decoded, the first of the name wins).
    fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(COOKIE)
            .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
            .flat_map(|v| v.split(';').map(str::trim).filter(|pair| !pair.is_empty()))
            .filter_map(|pair| actix_web::cookie::Cookie::parse_encoded(pair).ok())
            .find(|c| c.name() == SESSION_COOKIE)
            .map(|c| c.value().to_owned())
    }
}

/// The main origin: that of `BASE_URL`, or the one the request was addressed to.
pub fn main_origin(req: &HttpRequest, state: &AppState) -> Option<String> {
    main_origin_of(RequestHead::of(req), state).map(|origin| origin.to_url())
}

fn main_origin_of(head: RequestHead<'_>, state: &AppState) -> Option<Origin> {
    if let Some(base) = &state.config.base_url {
        return Origin::parse(base);
    }
    let header = |name: &str| head.header(name);
    // Behind trusted proxies, the address the browser used is in the forwarded headers (the last proxy's).
    let forwarded = |name: &str| {
        (state.config.trust_proxy > 0).then(|| header(name)).flatten().and_then(|v| v.rsplit(',').next()).map(str::trim)
    };
    let host = forwarded("x-forwarded-host").or_else(|| header("host"))?;
    let scheme = forwarded("x-forwarded-proto").unwrap_or(if head.secure { "https" } else { "http" });
    Origin::parse(&format!("{scheme}://{host}"))
}

/// Whether a request carries same-origin proof: a main-origin `Origin`, or (without `Origin`) a main-origin
/// `Referer`, or the session's CSRF token.
fn same_origin(head: RequestHead<'_>, state: &AppState, csrf_token: Option<&str>) -> bool {
    let main = main_origin_of(head, state);
    let header = |name: &str| head.header(name);
    let by_origin = match header(ORIGIN.as_str()) {
        Some(origin) => is_main(origin, main.as_ref()),
        None => header(REFERER.as_str()).is_some_and(|referer| is_main(referer, main.as_ref())),
    };
    let by_token = csrf_token.is_some_and(|t| header("x-csrf-token").is_some_and(|h| h == t));
    by_origin || by_token
}

/// The login variant of the CSRF rule: an `Origin`, when present, must be the main origin.
pub fn login_origin_ok(req: &HttpRequest, state: &AppState) -> bool {
    match req.headers().get(ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => is_main(origin, main_origin_of(RequestHead::of(req), state).as_ref()),
    }
}

fn is_mutating(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE)
}

/// The principal of a request's credential in the contract's order: its API key (unless `ignore_keys`; an
/// invalid key is a 401), else its session cookie (an unknown or expired one is the same as none).
pub async fn principal_of(
    req: &HttpRequest,
    state: &AppState,
    ignore_keys: bool,
) -> Result<Option<access::Principal>, ApiError> {
    principal_of_head(RequestHead::of(req), state, ignore_keys).await
}

async fn principal_of_head(
    head: RequestHead<'_>,
    state: &AppState,
    ignore_keys: bool,
) -> Result<Option<access::Principal>, ApiError> {
    match api_key_of(head.headers).filter(|_| !ignore_keys) {
        Some(key) => Ok(Some(state.auth.authenticate_api_key(key).await?)),
        None => match head.session_cookie() {
            Some(cookie) => Ok(state.auth.authenticate_session(&cookie).await?),
            None => Ok(None),
        },
    }
}

/// Resolves and checks the credential of a request against the route's rule, before any extractor or handler
/// runs (which gives 401 and 403 their precedence over every other error).
///
/// # Errors
/// The contract's 401 or 403, or a database failure.
pub async fn authorize(
    access: Access,
    head: RequestHead<'_>,
    state: &AppState,
) -> Result<Option<access::Principal>, ApiError> {
    let principal = principal_of_head(head, state, access.ignores_api_keys()).await?;
    // Only API keys authenticate without a session.
    if access.session_only() && principal.as_ref().is_some_and(|p| p.session.is_none()) {
        return Err(ApiError::forbidden("settings require a browser session"));
    }
    let Some(principal) = principal else {
        return match access {
            Access::OptionalSession => Ok(None),
            _ => Err(ApiError::unauthorized("not authenticated")),
        };
    };
    if let Some(permission) = access.permission()
        && !principal.can(permission)
    {
        return Err(ApiError::forbidden(format!("missing permission: {permission}")));
    }
    if matches!(access, Access::SessionAdmin(_)) && !principal.is_admin() {
        return Err(ApiError::forbidden("admin role required"));
    }
    if let Some(session) = &principal.session
        && is_mutating(head.method)
        && !same_origin(head, state, Some(&session.csrf_token))
    {
        return Err(ApiError::forbidden("cross-site request rejected"));
    }
    Ok(Some(principal))
}

/// Middleware wrapped around every route of the table with that route's rule.
pub async fn enforce(
    access: Access,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if access == Access::Public {
        return next.call(req).await;
    }
    let Some(state) = req.app_data::<Data<AppState>>().cloned() else {
        return Ok(req.into_response(ApiError::internal("application state missing").error_response()));
    };
    match authorize(access, RequestHead::of(req.request()), &state).await {
        Ok(Some(principal)) => {
            req.extensions_mut().insert(principal);
            next.call(req).await
        }
        Ok(None) => next.call(req).await,
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
        let h = headers(&[("authorization", "Basic dXNlcjpwYXNz"), ("x-api-key", "ah_two")]);
        assert_eq!(api_key_of(&h), Some("ah_two"));
        let h = headers(&[("authorization", "Bearer not-a-key")]);
        assert_eq!(api_key_of(&h), None);
    }

    #[test]
    fn the_main_origin_is_recognised_in_any_spelling_of_it() {
        let main = Origin::parse("https://hub.example.com");
        assert!(is_main("https://Hub.Example.com:443/page?x", main.as_ref()), "case and the default port");
        assert!(!is_main("https://hub.example.com:8443", main.as_ref()), "another port");
        assert!(!is_main("http://hub.example.com", main.as_ref()), "another scheme");
        assert!(!is_main("null", main.as_ref()));
        assert!(!is_main("https://hub.example.com", None), "no main origin known");
    }
}
