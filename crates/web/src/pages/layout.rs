//! The frame around every page (`base.html`): title, navigation, the signed-in user, asset URLs and the footer
//! facts, gathered once per request for whichever page is shown.

use hub_domain::model::access::{Permission, Principal, PrincipalRef};
use hub_domain::ports::NotificationViewer;

use super::Ctx;
use crate::{assets, icons};

/// What every page's frame shows: title, navigation, the signed-in user, asset URLs and the footer facts.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Page title, before the product name.
    pub title: String,
    /// Which navigation entry is current (`overview`, `environments`, `profile` or empty).
    pub nav: &'static str,
    /// The signed-in user's display text; `None` hides the navigation.
    pub user: Option<String>,
    /// The session's CSRF token for scripted changes; empty without a session.
    pub csrf: String,
    /// URL of the hashed stylesheet.
    pub css: &'static str,
    /// URL of the hashed script.
    pub js: &'static str,
    /// URL of the hashed ZIP writer (loaded by the project page for folder uploads).
    pub zip_js: &'static str,
    /// Inline SVG of the logo.
    pub logo: &'static str,
    /// Inline SVG of the user icon.
    pub user_icon: &'static str,
    /// Inline SVG of the theme toggle.
    pub theme_icon: &'static str,
    /// Release version.
    pub version: String,
    /// Whether the database answered.
    pub healthy: bool,
    /// Whether the viewer holds `manage`: shows the Settings entry and management controls.
    pub manage: bool,
    /// Whether the viewer holds `upload`: shows the upload button and "Regenerate".
    pub upload: bool,
    /// Whether the viewer's role is `admin`: shows admin-only controls.
    pub admin: bool,
    /// The viewer's unread notifications; `None` hides the bell (no session, or the server wired no
    /// notifications).
    pub unread: Option<i64>,
    /// Inline SVG of the bell.
    pub bell_icon: &'static str,
}

/// The text shown for the signed-in principal.
pub(super) fn display(principal: &Principal) -> String {
    match &principal.identity {
        PrincipalRef::User(email) => email.to_string(),
        PrincipalRef::ApiKey { name, .. } => format!("API key {name}"),
    }
}

/// Who reads notifications: the principal's own read state, and operational ones only with `manage` (§10).
pub(super) fn notification_viewer(who: &Principal) -> NotificationViewer {
    NotificationViewer { principal: who.identity.owner_key(), operational: who.can(Permission::Manage) }
}

/// The frame of a page titled `title`, with the navigation entry `nav` current, as `who` sees it (anonymous when
/// `None`).
pub(super) async fn layout(
    state: &Ctx<'_>,
    title: impl Into<String>,
    nav: &'static str,
    who: Option<&Principal>,
) -> Layout {
    Layout {
        title: title.into(),
        nav,
        user: who.map(display),
        csrf: who.and_then(|p| p.session.as_ref()).map(|s| s.csrf_token.clone()).unwrap_or_default(),
        css: &assets::CSS.url,
        js: &assets::JS.url,
        zip_js: &assets::ZIP_JS.url,
        logo: icons::LOGO,
        user_icon: icons::USER,
        theme_icon: icons::THEME,
        bell_icon: icons::BELL,
        manage: who.is_some_and(|p| p.can(Permission::Manage)),
        upload: who.is_some_and(|p| p.can(Permission::Upload)),
        admin: who.is_some_and(Principal::is_admin),
        unread: match who {
            Some(p) if p.can(Permission::View) => {
                state.services.notifications.unread_count(&notification_viewer(p)).await.ok()
            }
            _ => None,
        },
        version: state.version.clone(),
        // Every page shows it: a database that hangs must not hang the page too (2 s, as `/api/healthz`).
        healthy: matches!(
            actix_web::rt::time::timeout(std::time::Duration::from_secs(2), state.health.ping()).await,
            Ok(Ok(()))
        ),
    }
}

/// A frame for template tests: signed in as `user` (with a CSRF token that needs escaping) or anonymous, with
/// the database down and no management rights.
#[cfg(test)]
pub(crate) fn fixture(user: Option<&str>) -> Layout {
    Layout {
        title: "T".into(),
        nav: "overview",
        user: user.map(str::to_owned),
        csrf: user.map(|_| "tok\"en".to_owned()).unwrap_or_default(),
        css: "/assets/app.1.css",
        js: "/assets/app.1.js",
        zip_js: "/assets/zip.1.js",
        logo: "",
        user_icon: "",
        theme_icon: "",
        version: "1.2.3".into(),
        healthy: false,
        manage: false,
        upload: false,
        admin: false,
        unread: None,
        bell_icon: "",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use askama::Template;

    use super::*;
    use crate::pages::error::ErrorPage;

    #[test]
    fn the_frame_marks_the_current_page_and_carries_the_csrf_token() {
        let page = ErrorPage { layout: fixture(Some("a@b.c")), status: 404, heading: "Page not found", message: "m" };
        let html = page.render().unwrap();
        assert!(html.contains(r#"<a href="/" aria-current="page">Overview</a>"#), "{html}");
        assert!(!html.contains(r#"href="/environments" aria-current"#));
        assert!(html.contains(r#"name="csrf-token" content="tok&#34;en""#) || html.contains("tok&quot;en"), "{html}");
        assert!(html.contains(r#"<link rel="stylesheet" href="/assets/app.1.css">"#));
    }

    #[test]
    fn the_settings_entry_and_the_unread_count_follow_the_role() {
        let mut viewer = fixture(Some("v@x.io"));
        viewer.unread = Some(0);
        let html = ErrorPage { layout: viewer.clone(), status: 404, heading: "h", message: "m" }.render().unwrap();
        assert!(!html.contains(r#"href="/settings/api-keys""#), "no Settings entry without manage");
        assert!(html.contains(r#"id="bell""#) && html.contains(r#"id="bell-count" hidden"#), "{html}");
        let mut manager = viewer.clone();
        manager.manage = true;
        manager.unread = Some(3);
        let html = ErrorPage { layout: manager, status: 404, heading: "h", message: "m" }.render().unwrap();
        assert!(html.contains(r#"href="/settings/api-keys""#));
        assert!(html.contains(r#"<span class="badge" id="bell-count">3</span>"#), "{html}");
    }
}
