//! `/auth/*` (§14): sign-in methods, local sign-in, sign-out and the current user.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::web::{Data, Json};
use actix_web::{HttpRequest, HttpResponse};
use hub_domain::model::access::{self, PrincipalRef};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{MaybePrincipal, Principal, SESSION_COOKIE, login_origin_ok};
use crate::dto::{MeDto, format_time, json_response};
use crate::error::ApiError;
use crate::openapi::IN_ROUTE_TABLE;
use crate::state::AppState;

/// Longest password accepted in a request.
const MAX_PASSWORD_CHARS: usize = 1024;

/// An enabled sign-in method.
#[derive(Serialize, ToSchema)]
#[schema(as = Provider)]
struct ProviderDto {
    #[schema(schema_with = crate::dto::names::provider)]
    id: &'static str,
    name: String,
    /// `oauth` or `local`.
    #[schema(pattern = "^(oauth|local)$")]
    kind: &'static str,
}

/// Body of `POST /auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    /// Email of a local account (compared lower-cased).
    #[serde(default)]
    #[schema(required = true, nullable = false, min_length = 1)]
    email: Option<String>,
    /// Its password, 1–1024 characters.
    #[serde(default)]
    #[schema(required = true, nullable = false, min_length = 1, max_length = 1024)]
    password: Option<String>,
}

/// The session cookie with the contract's attributes (also used by the OAuth callback).
pub(crate) fn session_cookie(state: &AppState, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookie)
        .max_age(CookieDuration::seconds(max_age_secs))
        .finish()
}

async fn me_of(state: &AppState, principal: &access::Principal) -> Result<MeDto, ApiError> {
    let (PrincipalRef::User(email), Some(session)) = (&principal.identity, &principal.session) else {
        return Err(ApiError::unauthorized("not authenticated"));
    };
    let user = state.auth.user(email).await?;
    Ok(MeDto {
        email: email.to_string(),
        name: user
            .as_ref()
            .map_or_else(|| email.as_str().split('@').next().unwrap_or_default().to_owned(), |u| u.name.clone()),
        avatar_url: user.and_then(|u| u.avatar_url),
        provider: session.provider.as_str(),
        role: principal.role.as_ref().map(|r| r.as_str().to_owned()),
        permissions: principal.permissions.iter().map(|p| p.as_str()).collect(),
        csrf_token: session.csrf_token.clone(),
        session_expires_at: format_time(session.expires_at),
    })
}

/// `GET /auth/providers`.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "auth",
    responses((status = 200, description = "enabled sign-in methods: google, github, gitlab, oidc, local", body = [ProviderDto])))]
pub async fn list_providers(state: Data<AppState>) -> HttpResponse {
    let oauth = state.identity.enabled();
    let mut providers: Vec<ProviderDto> =
        oauth.iter().map(|(p, name)| ProviderDto { id: p.as_str(), name: name.clone(), kind: "oauth" }).collect();
    if state.auth.local_login_enabled() {
        providers.push(ProviderDto { id: "local", name: "Email and password".into(), kind: "local" });
    }
    json_response(StatusCode::OK, &providers)
}

/// `POST /auth/login`.
#[utoipa::path(post, path = IN_ROUTE_TABLE, tag = "auth", request_body = LoginBody,
    responses(
        (status = 200, description = "signed in: the session cookie is set", body = MeDto,
            headers(("Set-Cookie" = String, description = "`allure_hub_session=…; Path=/; HttpOnly; SameSite=Lax`"))),
        (status = 400, description = "`email is required`, `password is required`, `password must be at most 1024 characters`"),
        (status = 401, description = "`invalid email or password`"),
        (status = 403, description = "`local login is disabled`, `cross-site request rejected`"),
        (status = 429, description = "`too many failed login attempts` (10 per client IP and email within 15 min)",
            headers(("Retry-After" = i64, description = "whole seconds to wait"))),
    ))]
pub async fn login(req: HttpRequest, state: Data<AppState>, body: Json<LoginBody>) -> Result<HttpResponse, ApiError> {
    if !login_origin_ok(&req, &state) {
        return Err(ApiError::forbidden("cross-site request rejected"));
    }
    let body = body.into_inner();
    let email =
        body.email.filter(|e| !e.trim().is_empty()).ok_or_else(|| ApiError::bad_request("email is required"))?;
    let password =
        body.password.filter(|p| !p.is_empty()).ok_or_else(|| ApiError::bad_request("password is required"))?;
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(ApiError::bad_request("password must be at most 1024 characters"));
    }
    let client_ip =
        crate::client_ip::client_ip(&req, state.config.trust_proxy).map(|ip| ip.to_string()).unwrap_or_default();
    let signed_in = state.auth.login_local(&email, &password, &client_ip).await?;
    let me = me_of(&state, &signed_in.principal).await?;
    let max_age = i64::try_from(state.config.session_ttl.as_secs()).unwrap_or(i64::MAX);
    let mut response = json_response(StatusCode::OK, &me);
    response.add_cookie(&session_cookie(&state, signed_in.token, max_age)).map_err(ApiError::internal)?;
    Ok(response)
}

/// `POST /auth/logout`: revokes the session (when there is one) and always expires the cookie.
#[utoipa::path(post, path = IN_ROUTE_TABLE, tag = "auth",
    responses(
        (status = 204, description = "signed out; the session cookie is expired",
            headers(("Set-Cookie" = String, description = "`allure_hub_session=; Max-Age=0`"))),
    ))]
pub async fn logout(
    req: HttpRequest,
    state: Data<AppState>,
    principal: MaybePrincipal,
) -> Result<HttpResponse, ApiError> {
    if principal.0.is_some()
        && let Some(cookie) = req.cookie(SESSION_COOKIE)
    {
        state.auth.logout(cookie.value()).await?;
    }
    let mut response = HttpResponse::NoContent().finish();
    response.add_cookie(&session_cookie(&state, String::new(), 0)).map_err(ApiError::internal)?;
    Ok(response)
}

/// `GET /auth/me`.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "auth",
    responses(
        (status = 200, description = "the signed-in user of this session", body = MeDto),
    ))]
pub async fn get_me(state: Data<AppState>, Principal(principal): Principal) -> Result<HttpResponse, ApiError> {
    Ok(json_response(StatusCode::OK, &me_of(&state, &principal).await?))
}
