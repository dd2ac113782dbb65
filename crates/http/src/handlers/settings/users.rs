//! `/api/settings/users`: the users who have signed in, and the role overrides that admins set for them.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{Data, Json};
use hub_domain::ids::Email;
use serde::Deserialize;
use utoipa::ToSchema;

use super::search_of;
use crate::access::Principal;
use crate::dto::{PageDto, UserDto, json_response};
use crate::error::ApiError;
use crate::extract::{QueryMap, page_request};
use crate::openapi::IN_ROUTE_TABLE;
use crate::openapi::params::SearchPageParams;
use crate::state::AppState;

/// Body of `PATCH /api/settings/users/{email}/role`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleBody {
    /// A role defined in the current policy.
    #[serde(default)]
    #[schema(required = true, nullable = false, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    role: Option<String>,
}

/// `GET /api/settings/users`.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "settings", params(SearchPageParams),
    responses(
        (status = 200, description = "users who signed in at least once, most recent sign-in first", body = PageDto<UserDto>),
        (status = 400, description = "`invalid limit: …`, `invalid offset: …`"),
    ))]
pub async fn list_users(state: Data<AppState>, query: QueryMap) -> Result<HttpResponse, ApiError> {
    let page = page_request(&query, 20, 100)?;
    let users = state.users.list(search_of(&query), page).await?;
    let body = PageDto { items: users.items.into_iter().map(UserDto::from).collect(), total: users.total };
    Ok(json_response(StatusCode::OK, &body))
}

fn email_of(path: &str) -> Result<Email, ApiError> {
    Email::parse(path).map_err(|_| ApiError::bad_request("invalid email"))
}

/// `PATCH /api/settings/users/{email}/role`.
#[utoipa::path(patch, path = IN_ROUTE_TABLE, tag = "settings",
    request_body = RoleBody,
    responses(
        (status = 204, description = "the override is stored and the user's sessions are revoked"),
        (status = 400, description = "`role is required`, `unknown role <role>`"),
        (status = 409, description = "`you cannot change your own role`"),
    ))]
pub async fn set_user_role(
    state: Data<AppState>,
    Principal(principal): Principal,
    path: actix_web::web::Path<String>,
    body: Json<RoleBody>,
) -> Result<HttpResponse, ApiError> {
    let email = email_of(&path)?;
    let role = body.into_inner().role.ok_or_else(|| ApiError::bad_request("role is required"))?;
    state.users.set_role(&principal, &email, &role).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/settings/users/{email}/role`.
#[utoipa::path(delete, path = IN_ROUTE_TABLE, tag = "settings",
    responses(
        (status = 204, description = "the override is removed (idempotent)"),
        (status = 409, description = "`you cannot change your own role`"),
    ))]
pub async fn reset_user_role(
    state: Data<AppState>,
    Principal(principal): Principal,
    path: actix_web::web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.users.reset_role(&principal, &email_of(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
