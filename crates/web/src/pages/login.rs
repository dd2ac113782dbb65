//! `/login`: the sign-in page, with a button per identity provider and the local form, and where anonymous
//! visitors of any other page are sent.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use hub_domain::model::access::Principal;
use hub_domain::model::return_path::ReturnPath;

use super::layout::{Layout, layout};
use super::response::{html, redirect};
use super::{Ctx, PageError};
use crate::html::query_value;

/// A sign-in button.
#[derive(Debug, Clone)]
pub struct ProviderLink {
    /// Provider id (the `/auth/{id}` path segment).
    pub id: String,
    /// Display name.
    pub name: String,
}

/// `/login`.
#[derive(Debug, Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    /// Frame.
    pub layout: Layout,
    /// OAuth providers.
    pub providers: Vec<ProviderLink>,
    /// Whether the local form is shown.
    pub local: bool,
    /// Where to go after sign-in, already checked as a path of this origin
    /// ([`hub_domain::model::return_path::ReturnPath`]); the page's script checks it again before following it.
    pub next: String,
    /// `next`, encoded for a query.
    pub next_query: String,
    /// A sign-in failure reported by the OAuth callback.
    pub error: Option<String>,
}

/// Where an anonymous visitor of `path_and_query` is sent: the sign-in page, which returns there afterwards.
pub fn login_location(path_and_query: &str) -> String {
    format!("/login?next={}", query_value(path_and_query))
}

/// The message for an `error` code of the OAuth callback (§14.3).
fn sign_in_error(code: &str) -> Option<String> {
    let text = match code {
        "invalid_state" => "The sign-in expired or was started in another window. Please try again.",
        "access_denied" => "The sign-in was cancelled at the provider.",
        "provider_error" => "The identity provider reported an error. Please try again.",
        "email_missing" => "The provider did not share an email address.",
        "email_unverified" => "The email address is not verified at the provider.",
        _ => return None,
    };
    Some(text.to_owned())
}

/// The sign-in page, or a redirect to `next` for a visitor already signed in.
pub(super) async fn login(
    state: &Ctx<'_>,
    who: Option<&Principal>,
    query: &HashMap<String, String>,
) -> Result<HttpResponse, PageError> {
    // One check for every use below: the redirect, the form's target and the provider links (§14.2).
    let next = match query.get("next").map(|n| ReturnPath::parse(n)) {
        Some(Ok(next)) => next,
        Some(Err(why)) => {
            tracing::info!(reason = %why, "sign-in page: next refused");
            ReturnPath::root()
        }
        None => ReturnPath::root(),
    };
    if who.is_some() {
        return Ok(redirect(next.as_str()));
    }
    let page = LoginPage {
        layout: layout(state, "Sign in", "", None).await,
        providers: state
            .identity
            .enabled()
            .into_iter()
            .map(|(provider, name)| ProviderLink { id: provider.as_str().to_owned(), name })
            .collect(),
        local: state.auth.local_login_enabled(),
        next: next.as_str().to_owned(),
        next_query: query_value(next.as_str()),
        error: query.get("error").and_then(|code| sign_in_error(code)),
    };
    Ok(html(StatusCode::OK, page.render()?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::pages::layout::fixture;

    #[test]
    fn anonymous_visitors_are_sent_to_sign_in_with_their_page() {
        assert_eq!(login_location("/"), "/login?next=/");
        assert_eq!(
            login_location("/environments/staging/projects/web?status=failed&page=2"),
            "/login?next=/environments/staging/projects/web%3Fstatus%3Dfailed%26page%3D2"
        );
    }

    #[test]
    fn only_known_oauth_errors_get_a_message() {
        assert!(sign_in_error("access_denied").is_some());
        assert!(sign_in_error("<script>").is_none());
    }

    #[test]
    fn the_sign_in_page_links_each_provider_with_the_next_page() {
        let page = LoginPage {
            layout: fixture(None),
            providers: vec![ProviderLink { id: "github".into(), name: "GitHub".into() }],
            local: false,
            next: "/a?b=1&c".into(),
            next_query: crate::html::query_value("/a?b=1&c"),
            error: Some("The sign-in was cancelled <at> the provider.".into()),
        };
        let html = page.render().unwrap();
        assert!(html.contains(r#"href="/auth/github?next=/a%3Fb%3D1%26c""#), "{html}");
        assert!(html.contains("Sign in with GitHub"));
        assert!(!html.contains("id=\"password\""), "no local form when local sign-in is off");
        assert!(!html.contains("<at>"), "messages are escaped");
        // Anonymous: no navigation, no CSRF token; the footer says the database is down.
        assert!(!html.contains("aria-label=\"Main\"") && !html.contains("csrf-token"));
        assert!(html.contains("Database unavailable") && html.contains("Allure Hub 1.2.3"));
    }
}
