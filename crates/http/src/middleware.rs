//! Request-wide middleware: the request id, security and caching headers, the contract's form for every error,
//! and the log line of each request.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue,
    X_CONTENT_TYPE_OPTIONS,
};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError};
use tracing::Instrument;

use crate::error::ApiError;

/// The id of the current request, as echoed in `X-Request-Id` and written in its log lines.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client-supplied id is kept when it is 1–64 characters of `[A-Za-z0-9._-]`.
fn acceptable_request_id(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Path prefixes whose errors are always the contract's JSON (§1.7); elsewhere (the web UI) an HTML error page is
/// the right form too.
const JSON_ERROR_PREFIXES: [&str; 4] = ["/api", "/auth", "/metrics", "/reports"];

/// Whether errors under `path` must be JSON.
fn json_errors_only(path: &str) -> bool {
    JSON_ERROR_PREFIXES
        .iter()
        .any(|prefix| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

/// Whether an error response already has its contract form: JSON, or (outside the API's prefixes) the web UI's
/// HTML error page.
fn has_contract_body(path: &str, headers: &HeaderMap) -> bool {
    let media = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().trim_start();
    let media = media.to_ascii_lowercase();
    media.starts_with("application/json") || (!json_errors_only(path) && media.starts_with("text/html"))
}

/// The message of an error some layer answered without one: the status's name, and for 5xx only the two the
/// contract allows (§1.7).
fn bare_error_message(status: StatusCode) -> String {
    match status {
        StatusCode::SERVICE_UNAVAILABLE => "service unavailable".to_owned(),
        s if s.is_server_error() => "internal server error".to_owned(),
        // As the JSON body limit words it.
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large".to_owned(),
        s => s.canonical_reason().map_or_else(|| "request failed".to_owned(), str::to_ascii_lowercase),
    }
}

/// Turns an error response that did not come from [`ApiError`] or a page (actix's plain text for an extractor
/// or body-limit failure, the `500` of a response builder given a header value it cannot encode, an empty body)
/// into the contract's JSON error with the same status. Headers such as `Allow`, `Retry-After` and CORS are kept,
/// and so is the original error, for the log line.
pub fn contract_error_body(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || has_contract_body(res.request().path(), res.headers())
    {
        return res;
    }
    let (_, body) = ApiError::new(status, bare_error_message(status)).error_response().into_parts();
    res.map_body(|head, _| {
        head.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        head.headers.remove(CONTENT_LENGTH);
        head.headers.remove(CONTENT_ENCODING);
        body
    })
}

/// [`contract_error_body`] for an error returned instead of a response.
fn contract_error(err: Error) -> Error {
    let response = err.error_response();
    if has_contract_body("/api", response.headers()) {
        return err;
    }
    let status = response.status();
    ApiError::new(status, bare_error_message(status)).into()
}

/// Assigns the request id, gives every error its contract form ([`contract_error_body`]), logs the request (with
/// the cause of any 5xx), and sets the headers every API response carries.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
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

    let mut res = match next.call(req).instrument(span.clone()).await {
        Ok(res) => contract_error_body(res.map_into_boxed_body()),
        // An error instead of a response (our middleware answers with responses; this is for anything else): actix
        // renders it after this point, so it is logged here and given the contract's form.
        Err(err) => {
            let status = err.as_response_error().status_code();
            tracing::error!(parent: &span, status = status.as_u16(), error = %err, "request failed");
            return Err(contract_error(err));
        }
    };

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
    use actix_web::body::to_bytes;
    use actix_web::http::header::{LOCATION, RETRY_AFTER};
    use actix_web::middleware::from_fn;
    use actix_web::test::{TestRequest, init_service, try_call_service};
    use actix_web::web::{self, Bytes, PayloadConfig};
    use actix_web::{App, HttpResponse};

    use super::*;

    /// What a request to an app with [`request_context`] and some handlers that answer bare errors gets: status,
    /// content type, `Retry-After` and body.
    async fn answer(req: TestRequest) -> (u16, String, Option<String>, String) {
        let app = init_service(
            App::new()
                .app_data(PayloadConfig::new(16))
                .route(
                    "/api/redirect",
                    web::get().to(|| async { HttpResponse::SeeOther().insert_header((LOCATION, "/\n")).finish() }),
                )
                .route("/api/body", web::post().to(|body: Bytes| async move { HttpResponse::Ok().body(body) }))
                .route(
                    "/api/plain",
                    web::get().to(|| async {
                        HttpResponse::ServiceUnavailable().insert_header((RETRY_AFTER, "7")).body("try later")
                    }),
                )
                .route(
                    "/api/html",
                    web::get().to(|| async { HttpResponse::NotFound().content_type("text/html").body("<p>") }),
                )
                .route(
                    "/page",
                    web::get().to(|| async { HttpResponse::NotFound().content_type("text/html").body("<p>") }),
                )
                .route("/page/empty", web::get().to(|| async { HttpResponse::Forbidden().finish() }))
                .route("/api/ok", web::get().to(|| async { HttpResponse::Ok().body("plain") }))
                .route(
                    "/api/refused",
                    web::get().to(|| async { HttpResponse::Ok().finish() }).wrap(from_fn(
                        |_: ServiceRequest, _: Next<BoxBody>| async {
                            Err::<ServiceResponse<BoxBody>, _>(actix_web::error::ErrorBadRequest("no"))
                        },
                    )),
                )
                .wrap(from_fn(request_context)),
        )
        .await;
        // What actix's server does with an error that reaches it instead of a response.
        let res = match try_call_service(&app, req.to_request()).await {
            Ok(res) => res.into_parts().1,
            Err(err) => err.error_response(),
        };
        let header = |name| res.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_owned);
        let (status, media, retry) =
            (res.status().as_u16(), header(CONTENT_TYPE).unwrap_or_default(), header(RETRY_AFTER));
        let body = String::from_utf8(to_bytes(res.into_body()).await.unwrap().to_vec()).unwrap();
        (status, media, retry, body)
    }

    fn json_error(status: u16, message: &str) -> (u16, String, Option<String>, String) {
        (status, "application/json".to_owned(), None, serde_json::json!({ "error": message }).to_string())
    }

    #[tokio::test]
    async fn a_header_that_cannot_be_encoded_is_a_json_500() {
        assert_eq!(answer(TestRequest::get().uri("/api/redirect")).await, json_error(500, "internal server error"));
    }

    #[tokio::test]
    async fn extractor_and_middleware_errors_are_json() {
        let big = TestRequest::post().uri("/api/body").set_payload(vec![b'x'; 64]);
        assert_eq!(answer(big).await, json_error(413, "request body too large"));
        assert_eq!(answer(TestRequest::get().uri("/api/refused")).await, json_error(400, "bad request"));
    }

    #[tokio::test]
    async fn plain_errors_become_json_keeping_their_headers() {
        let (status, media, retry, body) = answer(TestRequest::get().uri("/api/plain")).await;
        assert_eq!((status, media.as_str(), retry.as_deref()), (503, "application/json", Some("7")));
        assert_eq!(body, r#"{"error":"service unavailable"}"#);
        assert_eq!(
            answer(TestRequest::get().uri("/api/html")).await,
            json_error(404, "not found"),
            "API errors are JSON"
        );
    }

    #[tokio::test]
    async fn pages_keep_their_html_errors_and_successes_are_untouched() {
        let (status, media, _, body) = answer(TestRequest::get().uri("/page")).await;
        assert_eq!((status, media.as_str(), body.as_str()), (404, "text/html", "<p>"));
        assert_eq!(answer(TestRequest::get().uri("/page/empty")).await, json_error(403, "forbidden"));
        let (status, _, _, body) = answer(TestRequest::get().uri("/api/ok")).await;
        assert_eq!((status, body.as_str()), (200, "plain"));
    }

    #[test]
    fn json_only_prefixes_match_whole_segments() {
        for path in ["/api", "/api/x", "/auth/github", "/metrics", "/reports/e/p/b/"] {
            assert!(json_errors_only(path), "{path}");
        }
        for path in ["/", "/apis", "/environments", "/login", "/reportsx"] {
            assert!(!json_errors_only(path), "{path}");
        }
    }

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
