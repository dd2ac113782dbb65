//! hub-web: the web UI of allure-hub, a driving adapter beside `hub-http`.
//!
//! Pages are rendered on the server (askama templates compiled into the binary) from the same domain services the
//! API uses, with a little plain JavaScript for what must happen in the browser (theme, sign-in, sign-out). Every
//! asset is embedded and served under a content-hashed name; charts are SVG drawn here. Depends on `hub-domain`
//! only, never on `hub-http` or an adapter (ARCHITECTURE.md, dependency rule): the session cookie is resolved with
//! [`hub_domain::services::AuthService`], as the API does.

pub mod assets;
pub mod chart;
mod contrast;
pub mod html;
mod icons;
pub mod pages;
pub mod routes;
pub mod state;

use actix_web::guard::{self, GuardContext};
use actix_web::web::{self, Data, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

pub use state::{ReportOrigin, WebState};

/// Whether a request only reads: pages and assets answer `GET` and `HEAD`, and leave every other method to the
/// API's answers.
fn is_read(ctx: &GuardContext<'_>) -> bool {
    let method = ctx.head().method.as_str();
    method == "GET" || method == "HEAD"
}

/// Registers the UI on the main origin: `/assets/{name}`, every page template, and the default service, which
/// shows the 404 page for other page paths and answers everything else (reserved prefixes, other methods) with
/// `api_not_found`, the API's JSON 404. Register it after the API's routes and after the application's default
/// service, so that the API keeps every path it serves.
pub fn configure(state: Data<WebState>, api_not_found: fn() -> HttpResponse) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        cfg.app_data(state);
        cfg.service(web::resource("/assets/{name}").guard(guard::fn_guard(is_read)).to(assets::serve));
        for pattern in routes::PAGE_PATTERNS {
            cfg.service(web::resource(*pattern).guard(guard::fn_guard(is_read)).to(pages::dispatch));
        }
        cfg.default_service(web::to(move |req: HttpRequest, state: Data<WebState>| async move {
            let read = matches!(req.method().as_str(), "GET" | "HEAD");
            if read && !routes::is_reserved(req.path()) { pages::dispatch(req, state).await } else { api_not_found() }
        }));
    }
}
