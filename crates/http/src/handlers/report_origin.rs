//! The report origin (§8.9.2, §8.9.3): serves the files of published reports to viewers who arrive with a grant,
//! the report cookie it leaves, or an API key. The main session cookie is never accepted here: report content is
//! untrusted, and on this origin it can reach nothing but report files.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::Method;
use actix_web::http::header::HeaderValue;
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use hub_domain::model::access::{Permission, Principal};
use hub_domain::model::grant::{GrantSubject, GrantUse};

use super::report_links::{ReportPath, is_navigation, published_build, redirect, report_not_found, with_port};
use crate::access::{api_key_of, main_origin};
use crate::error::ApiError;
use crate::state::AppState;

/// The report origin's own cookie; it names the same principal as the grant that set it.
pub const REPORT_COOKIE: &str = "allure_hub_report";
/// Longest life of the report cookie (capped at the session's remaining life).
const COOKIE_SECS: i64 = 12 * 3600;

/// The grant of the query string, if any.
fn grant_param(req: &HttpRequest) -> Option<&str> {
    req.uri().query()?.split('&').find_map(|p| p.strip_prefix("grant="))
}

/// The viewer, by the contract's order of credentials, and the cookie to set when a grant introduced them.
async fn viewer(req: &HttpRequest, state: &AppState) -> Result<Option<(Principal, Option<Cookie<'static>>)>, ApiError> {
    let now = chrono::Utc::now().timestamp();
    if let Some(subject) = grant_param(req).and_then(|g| state.grants.verify(g, GrantUse::Link, now))
        && let Some(principal) = state.auth.authenticate_grant(&subject).await?
    {
        let expires =
            principal.session.as_ref().map_or(now + COOKIE_SECS, |s| (now + COOKIE_SECS).min(s.expires_at.timestamp()));
        let value = state.grants.sign(GrantUse::Cookie, &GrantSubject::of(&principal), expires);
        let cookie = Cookie::build(REPORT_COOKIE, value)
            .path("/reports/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(state.config.secure_cookie)
            .max_age(time::Duration::seconds(expires - now))
            .finish();
        return Ok(Some((principal, Some(cookie))));
    }
    if let Some(subject) = req.cookie(REPORT_COOKIE).and_then(|c| state.grants.verify(c.value(), GrantUse::Cookie, now))
        && let Some(principal) = state.auth.authenticate_grant(&subject).await?
    {
        return Ok(Some((principal, None)));
    }
    match api_key_of(req.headers()) {
        // An invalid key is the same as no credential here: the browser is sent back for a new hand-over.
        Some(key) => Ok(state.auth.authenticate_api_key(key).await.ok().map(|p| (p, None))),
        None => Ok(None),
    }
}

/// The main origin: `BASE_URL`, or this request's host with the main listener's port.
fn main_origin_of(req: &HttpRequest, state: &AppState) -> String {
    let origin = main_origin(req, state).unwrap_or_default();
    if state.config.base_url.is_some() { origin } else { with_port(&origin, state.config.main_port) }
}

/// Every request of the report origin.
pub async fn serve_report(req: HttpRequest, state: Data<AppState>) -> HttpResponse {
    let mut res = if !req.path().starts_with("/reports/") {
        ApiError::route_not_found().error_response()
    } else if !matches!(*req.method(), Method::GET | Method::HEAD) {
        ApiError::method_not_allowed("GET, HEAD".to_owned()).error_response()
    } else {
        match serve(&req, &state).await {
            Ok(res) => res,
            Err(err) => HttpResponse::from_error(err),
        }
    };
    let policy = &state.config.report_policy;
    crate::report_files::add_security_headers(res.headers_mut(), &main_origin_of(&req, &state), policy);
    res
}

async fn serve(req: &HttpRequest, state: &AppState) -> Result<HttpResponse, ApiError> {
    let main = main_origin_of(req, state);
    let Some((principal, cookie)) = viewer(req, state).await? else {
        if is_navigation(req) {
            // Back to the main origin, which checks the viewer's session and hands over again.
            let path = req.uri().path_and_query().map_or_else(|| req.path().to_owned(), |pq| pq.as_str().to_owned());
            return Ok(redirect(&format!("{main}{path}")));
        }
        return Err(ApiError::unauthorized("not authenticated"));
    };
    if !principal.can(Permission::View) {
        return Err(ApiError::forbidden("missing permission: view"));
    }
    let path = ReportPath::of(req).ok_or_else(report_not_found)?;
    let report = published_build(state, &path).await?;
    let mut res = if path.build.is_none() {
        redirect(&path.url_for(&report.build, None))
    } else {
        let tail = path.tail.strip_prefix('/').unwrap_or(&path.tail);
        if path.tail.is_empty() {
            // `/reports/e/p/b` names the report's directory: the same rule as any directory without its slash.
            let location = format!("{}/", req.path());
            let mut res = HttpResponse::MovedPermanently().finish();
            if let Ok(value) = HeaderValue::from_str(&location) {
                res.headers_mut().insert(actix_web::http::header::LOCATION, value);
            }
            res
        } else {
            let (files, report) = (&state.report_files, &report);
            let open = |wanted| async move { files.open(report, &wanted).await };
            crate::report_files::serve(req, tail, &main, &state.config.report_policy, open).await
        }
    };
    if let Some(cookie) = cookie {
        let _ = res.add_cookie(&cookie);
    }
    Ok(res)
}
