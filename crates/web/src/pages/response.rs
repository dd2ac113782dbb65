//! The headers every page answer carries: HTML with a strict content security policy and no caching, and the
//! redirects between pages.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};

/// What pages send: strict same-origin rules (no inline script or style, no other host), no caching of
/// per-user markup, and no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// An HTML response with the page headers.
pub(super) fn html(status: StatusCode, body: String) -> HttpResponse {
    html_with(status, body, CSP)
}

/// The policy of a page that frames the report origin `report_origin`, and nothing else (`'self'` is the start of
/// the frame's navigation: the main origin's `/reports/…` redirects to the report origin with a grant).
pub fn framing_csp(report_origin: &str) -> String {
    format!("{CSP}; frame-src 'self' {report_origin}")
}

/// An HTML response with the page headers and the policy `csp`.
pub(super) fn html_with(status: StatusCode, body: String, csp: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header(("Content-Security-Policy", csp))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "same-origin"))
        .body(body)
}

/// A `303 See Other` to `location`.
pub(super) fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((LOCATION, location)).insert_header((CACHE_CONTROL, "no-store")).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_framing_page_allows_the_report_origin_only_besides_its_own_redirect() {
        let csp = framing_csp("https://reports.example.com");
        assert!(csp.ends_with("; frame-src 'self' https://reports.example.com"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"));
    }
}
