//! `GET /auth/{provider}` and `GET /auth/{provider}/callback` (§14.2–14.3): the OAuth/OIDC sign-in flow.
//!
//! The flow's secrets (provider, `state`, PKCE verifier, `nonce`, `next`, expiry) travel in the
//! `allure_hub_oauth` cookie, encrypted and authenticated with the session secret, so no server-side state is
//! needed and any node can finish a flow another node started.

use std::str::FromStr;

use actix_web::cookie::{Cookie, CookieJar, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use hub_domain::model::return_path::ReturnPath;
use hub_domain::model::user::Provider;
use hub_domain::ports::IdentityError;
use hub_domain::services::AuthError;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::QueryMap;
use crate::openapi::IN_ROUTE_TABLE;
use crate::openapi::params::{CallbackParams, StartParams};
use crate::state::AppState;

/// Name of the flow cookie.
pub const FLOW_COOKIE: &str = "allure_hub_oauth";
/// Lifetime of a sign-in flow, in seconds.
const FLOW_TTL_SECS: i64 = 600;

#[derive(Debug, Serialize, Deserialize)]
struct Flow {
    provider: String,
    state: String,
    verifier: String,
    nonce: String,
    next: String,
    /// Unix seconds after which the flow is void (the cookie's Max-Age is only advice to the browser).
    expires: i64,
}

/// The enabled OAuth provider named by the path, or `404 unknown provider <id>`.
fn oauth_provider(state: &AppState, id: &str) -> Result<Provider, ApiError> {
    Provider::from_str(id)
        .ok()
        .filter(|p| *p != Provider::Local && state.identity.enabled().iter().any(|(e, _)| e == p))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("unknown provider {id}")))
}

fn redirect_uri(state: &AppState, provider: Provider) -> Result<String, ApiError> {
    let base = state.config.base_url.as_deref().ok_or_else(|| ApiError::internal("BASE_URL is not set"))?;
    Ok(format!("{base}/auth/{provider}/callback"))
}

/// `next` when a browser will read it as a path of this origin ([`ReturnPath`]), else `fallback`
/// (`AUTH_AFTER_LOGIN_URL`).
fn safe_next(next: Option<&str>, fallback: &str) -> String {
    match next.map(ReturnPath::parse) {
        Some(Ok(next)) => next.as_str().to_owned(),
        Some(Err(why)) => {
            tracing::info!(reason = %why, "sign-in: next refused");
            fallback.to_owned()
        }
        None => fallback.to_owned(),
    }
}

fn flow_cookie(state: &AppState, value: String, max_age: i64) -> Cookie<'static> {
    Cookie::build(FLOW_COOKIE, value)
        .path("/auth/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookie)
        .max_age(CookieDuration::seconds(max_age))
        .finish()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// `GET /auth/{provider}`: redirects to the provider with a fresh flow.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "auth", params(StartParams),
    responses(
        (status = 302, description = "to the provider's authorization URL, with the flow cookie `allure_hub_oauth`",
            headers(("Location" = String, description = "the provider's authorization URL"))),
        (status = 404, description = "`unknown provider <provider>`"),
        (status = 503, description = "`identity provider unavailable`"),
    ))]
pub async fn start_oauth(
    state: Data<AppState>,
    provider: Path<String>,
    query: QueryMap,
) -> Result<HttpResponse, ApiError> {
    let provider = oauth_provider(&state, &provider)?;
    let redirect = redirect_uri(&state, provider)?;
    let request = match state.identity.authorization_request(provider, &redirect).await {
        Ok(request) => request,
        Err(IdentityError::UnknownProvider) => {
            return Err(ApiError::new(StatusCode::NOT_FOUND, format!("unknown provider {provider}")));
        }
        Err(e) => {
            tracing::warn!(%provider, error = %e, "cannot start sign-in");
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "identity provider unavailable"));
        }
    };
    let flow = Flow {
        provider: provider.to_string(),
        state: request.state,
        verifier: request.pkce_verifier,
        nonce: request.nonce,
        next: safe_next(query.get("next").map(String::as_str), &state.config.after_login_url),
        expires: now_secs() + FLOW_TTL_SECS,
    };
    let mut jar = CookieJar::new();
    jar.private_mut(&state.cookie_key).add(flow_cookie(
        &state,
        serde_json::to_string(&flow).map_err(ApiError::internal)?,
        FLOW_TTL_SECS,
    ));
    let sealed = jar.get(FLOW_COOKIE).cloned().ok_or_else(|| ApiError::internal("flow cookie not sealed"))?;
    Ok(HttpResponse::Found().insert_header((LOCATION, request.url)).cookie(sealed).finish())
}

/// Reads and checks the flow cookie against the callback's provider and `state`.
fn open_flow(req: &HttpRequest, state: &AppState, provider: Provider, returned_state: Option<&String>) -> Option<Flow> {
    let mut jar = CookieJar::new();
    jar.add_original(req.cookie(FLOW_COOKIE)?);
    let opened = jar.private(&state.cookie_key).get(FLOW_COOKIE)?;
    let flow: Flow = serde_json::from_str(opened.value()).ok()?;
    let valid = flow.provider == provider.as_str() && flow.expires > now_secs() && returned_state == Some(&flow.state);
    valid.then_some(flow)
}

fn finish(state: &AppState, location: &str) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::SeeOther();
    response.insert_header((LOCATION, location.to_owned())).cookie(flow_cookie(state, String::new(), 0));
    response
}

fn failure(state: &AppState, code: &str) -> HttpResponse {
    finish(state, &format!("/login?error={code}")).finish()
}

/// `GET /auth/{provider}/callback`: finishes the flow and opens a session, or sends the browser to the login
/// page with an error code.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "auth", params(CallbackParams),
    responses(
        (status = 303, description = "signed in (to `next`, with the session cookie) or failed (to `/login?error=<code>`)",
            headers(("Location" = String, description = "where the browser goes next"))),
        (status = 404, description = "`unknown provider <provider>`"),
    ))]
pub async fn oauth_callback(
    req: HttpRequest,
    state: Data<AppState>,
    provider: Path<String>,
    query: QueryMap,
) -> Result<HttpResponse, ApiError> {
    let provider = oauth_provider(&state, &provider)?;
    let Some(flow) = open_flow(&req, &state, provider, query.get("state")) else {
        return Ok(failure(&state, "invalid_state"));
    };
    if let Some(error) = query.get("error") {
        tracing::info!(%provider, error, "the provider returned an error");
        return Ok(failure(&state, if error == "access_denied" { "access_denied" } else { "provider_error" }));
    }
    let Some(code) = query.get("code") else { return Ok(failure(&state, "provider_error")) };
    let redirect = redirect_uri(&state, provider)?;
    let identity = match state.identity.exchange(provider, &redirect, code, &flow.verifier, &flow.nonce).await {
        Ok(identity) => identity,
        Err(e) => {
            tracing::warn!(%provider, error = %e, "sign-in failed at the provider");
            return Ok(failure(&state, "provider_error"));
        }
    };
    let signed_in = match state.auth.sign_in_external(provider, identity).await {
        Ok(signed_in) => signed_in,
        Err(AuthError::EmailMissing) => return Ok(failure(&state, "email_missing")),
        Err(AuthError::EmailUnverified) => return Ok(failure(&state, "email_unverified")),
        Err(e) => return Err(e.into()),
    };
    let max_age = i64::try_from(state.config.session_ttl.as_secs()).unwrap_or(i64::MAX);
    let session = super::auth::session_cookie(&state, signed_in.token, max_age);
    // Checked again: a flow cookie sealed by an earlier version, under a weaker rule, is valid for ten minutes.
    let next = safe_next(Some(&flow.next), &state.config.after_login_url);
    Ok(finish(&state, &next).cookie(session).finish())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_kept_as_next() {
        let keep = |n: &str| safe_next(Some(n), "/");
        assert_eq!(keep("/environments/staging?x=1"), "/environments/staging?x=1");
        for bad in [
            "//evil.example/x",
            "https://evil.example",
            "/a\\b",
            "relative",
            "/\t/evil.example/x",
            "/.//evil.example",
            &format!("/{}", "a".repeat(2048)),
        ] {
            assert_eq!(keep(bad), "/", "{bad}");
        }
        assert_eq!(safe_next(None, "/home"), "/home");
    }
}
