//! The 404, 403 and 500 pages: what every route answers when its page cannot be shown.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use hub_domain::model::access::Principal;

use super::Ctx;
use super::layout::{Layout, layout};
use super::response::html;

/// The 404, 403 and 500 pages.
#[derive(Debug, Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// Frame.
    pub layout: Layout,
    /// HTTP status.
    pub status: u16,
    /// Headline.
    pub heading: &'static str,
    /// Explanation.
    pub message: &'static str,
}

/// What is sent when even the error page cannot be rendered: still HTML, as every page error is.
pub(super) const BARE_ERROR_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
    <title>Something went wrong</title></head><body><h1>Something went wrong</h1><p>The server could not show this \
    page. Try again in a moment.</p></body></html>\n";

/// The 404, 403 or 500 page.
pub(super) async fn error_page(state: &Ctx<'_>, status: StatusCode, who: Option<&Principal>) -> HttpResponse {
    let (heading, message) = match status.as_u16() {
        404 => ("Page not found", "There is nothing at this address. It may have been deleted or mistyped."),
        403 => ("Not allowed", "Your role does not allow you to see this page."),
        _ => ("Something went wrong", "The server could not show this page. Try again in a moment."),
    };
    let page = ErrorPage { layout: layout(state, heading, "", who).await, status: status.as_u16(), heading, message };
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "error page failed to render");
            html(status, BARE_ERROR_PAGE.to_owned())
        }
    }
}
