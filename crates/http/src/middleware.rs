//! Request-wide middleware: the request id, security and caching headers, and the log line of each request.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CACHE_CONTROL, HeaderName, HeaderValue, X_CONTENT_TYPE_OPTIONS};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Instrument;

/// The id of the current request, as echoed in `X-Request-Id` and written in its log lines.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client-supplied id is kept when it is 1–64 characters of `[A-Za-z0-9._-]`.
fn acceptable_request_id(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Assigns the request id, logs the request (with the cause of any 5xx), and sets the headers every API
/// response carries.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v))
        .map_or_else(|| ulid::Ulid::new().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let is_api = req.path().starts_with("/api/") || req.path().starts_with("/auth/");
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let started = Instant::now();

    let mut res = next.call(req).instrument(span.clone()).await?;

    let status = res.status();
    let elapsed_ms = started.elapsed().as_millis();
    match res.response().error() {
        Some(err) if status.is_server_error() => {
            tracing::error!(parent: &span, status = status.as_u16(), elapsed_ms, error = %err, "request failed");
        }
        _ => tracing::info!(parent: &span, status = status.as_u16(), elapsed_ms, "request"),
    }

    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(X_REQUEST_ID, value);
    }
    if is_api {
        if !headers.contains_key(CACHE_CONTROL) {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    }
    Ok(res)
}

/// CORS and rate limiting, in front of routing: `OPTIONS` is answered here on every path (so it never meets
/// authentication or a 405), each other request to the main origin costs a token of its client's bucket, and
/// responses to allowed origins get their CORS headers (429s included).
pub async fn cors_and_rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, Error> {
    use actix_web::ResponseError;
    use actix_web::http::Method;

    use crate::cors::{add_preflight_headers, add_response_headers};

    let Some(state) = req.app_data::<actix_web::web::Data<crate::state::AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let origin = state.config.cors.allowed_origin(req.headers()).cloned();
    if req.method() == Method::OPTIONS {
        let mut res = actix_web::HttpResponse::NoContent().finish();
        if let Some(origin) = origin {
            add_preflight_headers(res.headers_mut(), origin);
        }
        return Ok(req.into_response(res));
    }
    // Health checks and report files are exempt (§1.2).
    let exempt = req.path() == "/api/healthz" || req.path().starts_with("/reports/");
    if let (Some(limiter), false) = (&state.limiter, exempt)
        && let Some(ip) = crate::client_ip::client_ip(req.request(), state.config.trust_proxy)
        && let Err(retry_after) = limiter.acquire(ip, Instant::now())
    {
        let mut res = crate::error::ApiError::rate_limited(retry_after).error_response();
        if let Some(origin) = origin {
            add_response_headers(res.headers_mut(), origin);
        }
        return Ok(req.into_response(res));
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    if let Some(origin) = origin {
        add_response_headers(res.headers_mut(), origin);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::acceptable_request_id;

    #[test]
    fn request_ids_are_echoed_only_when_short_and_plain() {
        assert!(acceptable_request_id("abc-123_X.y"));
        assert!(acceptable_request_id(&"a".repeat(64)));
        assert!(!acceptable_request_id(""));
        assert!(!acceptable_request_id(&"a".repeat(65)));
        assert!(!acceptable_request_id("a b"));
        assert!(!acceptable_request_id("a/b"));
    }
}
