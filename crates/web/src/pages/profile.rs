//! `/profile`: who the viewer is signed in as, with which role, permissions and session.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use hub_domain::model::access::{Principal, PrincipalRef};

use super::format::time_text;
use super::layout::{Layout, display, layout};
use super::response::html;
use super::{Ctx, PageError};

/// `/profile`.
#[derive(Debug, Template)]
#[template(path = "profile.html")]
pub struct ProfilePage {
    /// Frame.
    pub layout: Layout,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Role name.
    pub role: String,
    /// Permissions, comma separated.
    pub permissions: String,
    /// Sign-in method.
    pub provider: String,
    /// Session expiry.
    pub expires: String,
}

/// The viewer's own profile.
pub(super) async fn profile(state: &Ctx<'_>, who: &Principal) -> Result<HttpResponse, PageError> {
    let user = match &who.identity {
        PrincipalRef::User(email) => state.auth.user(email).await.map_err(|e| PageError::Internal(e.to_string()))?,
        PrincipalRef::ApiKey { .. } => None,
    };
    let page = ProfilePage {
        layout: layout(state, "Profile", "profile", Some(who)).await,
        name: user.as_ref().map_or_else(|| display(who), |u| u.name.clone()),
        email: display(who),
        role: who.role.as_ref().map_or_else(|| "none".to_owned(), |r| r.as_str().to_owned()),
        permissions: if who.permissions.is_empty() {
            "none".to_owned()
        } else {
            who.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
        },
        provider: who.session.as_ref().map_or_else(|| "API key".to_owned(), |s| s.provider.as_str().to_owned()),
        expires: who.session.as_ref().map_or_else(|| "–".to_owned(), |s| time_text(&s.expires_at)),
    };
    Ok(html(StatusCode::OK, page.render()?))
}
