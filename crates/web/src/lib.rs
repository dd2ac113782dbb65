//! hub-web: the web UI of allure-hub, a driving adapter beside `hub-http`.
//!
//! Pages are rendered on the server (askama templates compiled into the binary) from the same domain services the
//! API uses, with a little plain JavaScript for what must happen in the browser (theme, sign-in, sign-out). Every
//! asset is embedded and served under a content-hashed name; charts are SVG drawn here. Depends on `hub-domain`
//! only, never on `hub-http` or an adapter (ARCHITECTURE.md, dependency rule): the session cookie is resolved with
//! [`hub_domain::services::AuthService`], as the API does.

pub mod assets;
pub mod chart;
pub mod html;
mod icons;
pub mod pages;
pub mod routes;
pub mod state;
pub mod views;

use actix_web::guard::{self, GuardContext};
use actix_web::web::{self, Data, ServiceConfig};

pub use state::WebState;

/// Whether a request is a page request: a `GET` or `HEAD` outside the reserved prefixes. Anything else falls
/// through to the API's JSON answers.
fn is_page_request(ctx: &GuardContext<'_>) -> bool {
    let method = ctx.head().method.as_str();
    (method == "GET" || method == "HEAD") && !routes::is_reserved(ctx.head().uri.path())
}

/// Whether a request reads an embedded asset.
fn is_asset_read(ctx: &GuardContext<'_>) -> bool {
    let method = ctx.head().method.as_str();
    method == "GET" || method == "HEAD"
}

/// Registers the UI on the main origin: `/assets/{name}` and every page path. Register it after the API's
/// routes, so that the API keeps every path it serves.
pub fn configure(state: Data<WebState>) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        cfg.app_data(state)
            .service(web::resource("/assets/{name}").guard(guard::fn_guard(is_asset_read)).to(assets::serve))
            .service(web::resource("/{tail:.*}").guard(guard::fn_guard(is_page_request)).to(pages::dispatch));
    }
}
