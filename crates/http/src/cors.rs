//! Cross-origin access for browsers using API keys (§1.2 "CORS"): allowed origins only, never with credentials.

use actix_web::http::header::{self, HeaderMap, HeaderValue};

/// Which origins may call the API from a browser.
#[derive(Debug, Clone, Default)]
pub struct CorsConfig {
    /// `*` was configured: every origin.
    pub any: bool,
    /// Allowed origins, lower-cased, without trailing slash.
    pub origins: Vec<String>,
}

const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE";
const ALLOW_HEADERS: &str = "Authorization, X-API-Key, Content-Type, X-Filename, X-Chunk-Index, X-Total-Chunks, \
X-Chunk-Sha256, X-CSRF-Token, X-Request-Id";
const EXPOSE_HEADERS: &str = "Location, Retry-After, X-Request-Id";

impl CorsConfig {
    /// Parses `CORS_ALLOWED_ORIGINS`: comma-separated origins, or `*`.
    pub fn parse(value: &str) -> Self {
        let entries: Vec<String> = value
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        Self { any: entries.iter().any(|e| e == "*"), origins: entries.into_iter().filter(|e| e != "*").collect() }
    }

    /// The request's `Origin` when it is allowed.
    pub fn allowed_origin<'a>(&self, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?.to_ascii_lowercase();
        (self.any || self.origins.contains(&text)).then_some(origin)
    }
}

/// Adds the headers every response to an allowed origin carries.
pub fn add_response_headers(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSE_HEADERS));
}

/// Adds the preflight headers.
pub fn add_preflight_headers(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOW_METHODS));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOW_HEADERS));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSE_HEADERS));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_compared_without_case_or_trailing_slash() {
        let cors = CorsConfig::parse(" https://CI.example.com/ , http://localhost:3000");
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_static("https://ci.example.com"));
        assert!(cors.allowed_origin(&h).is_some());
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(cors.allowed_origin(&h).is_none());
        assert!(CorsConfig::parse("*").allowed_origin(&h).is_some());
        assert!(CorsConfig::parse("").allowed_origin(&h).is_none());
    }
}
