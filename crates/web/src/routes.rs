//! Which page a path names. The UI owns every GET of the main origin outside the API's prefixes, so a browser
//! navigation never collides with `/api`, `/auth`, `/reports` or `/metrics`, whose unknown paths keep their JSON
//! 404s. Parsing the path here, instead of in a route table, keeps ids validated once and makes the mapping
//! testable without a server.

use hub_domain::ids::{BuildId, EnvId, ProjectId};

/// Path prefixes that belong to the API, sign-in endpoints, reports and metrics, never to pages.
pub const RESERVED_PREFIXES: &[&str] = &["/api", "/auth", "/reports", "/metrics", "/assets"];

/// The route templates of the pages, registered one by one so that metrics label each page request with its
/// template. Other page paths (the 404 page) reach the UI through the default service.
pub const PAGE_PATTERNS: &[&str] = &[
    "/",
    "/login",
    "/environments",
    "/environments/{envId}",
    "/environments/{envId}/projects/{projectId}",
    "/environments/{envId}/projects/{projectId}/builds/{buildId}",
    "/profile",
    "/uploads",
    "/notifications",
    "/settings",
    "/settings/{tab}",
];

/// A tab of the settings page, named by the path segment after `/settings/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsTab {
    /// `/settings/api-keys`.
    ApiKeys,
    /// `/settings/users`.
    Users,
    /// `/settings/disk`.
    Disk,
    /// `/settings/allure`.
    Allure,
    /// `/settings/retention`.
    Retention,
}

impl SettingsTab {
    /// Every tab, in the order shown.
    pub const ALL: [Self; 5] = [Self::ApiKeys, Self::Users, Self::Disk, Self::Allure, Self::Retention];

    /// Its path segment.
    pub fn slug(self) -> &'static str {
        match self {
            Self::ApiKeys => "api-keys",
            Self::Users => "users",
            Self::Disk => "disk",
            Self::Allure => "allure",
            Self::Retention => "retention",
        }
    }

    /// Its label.
    pub fn label(self) -> &'static str {
        match self {
            Self::ApiKeys => "API keys",
            Self::Users => "Users",
            Self::Disk => "Disk",
            Self::Allure => "Allure CLI",
            Self::Retention => "Retention",
        }
    }
}

/// Whether `path` lies under a reserved prefix (the prefix itself or below it).
pub fn is_reserved(path: &str) -> bool {
    RESERVED_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
    })
}

/// A page of the UI. [`crate::pages`] shows each, in a module named for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/login`.
    Login,
    /// `/`: the overview dashboard.
    Overview,
    /// `/environments`.
    Environments,
    /// `/environments/{envId}`.
    Environment(EnvId),
    /// `/environments/{envId}/projects/{projectId}`.
    Project(EnvId, ProjectId),
    /// `/environments/{envId}/projects/{projectId}/builds/{buildId}`.
    Build(EnvId, ProjectId, BuildId),
    /// `/profile`.
    Profile,
    /// `/uploads`.
    Uploads,
    /// `/notifications`.
    Notifications,
    /// `/settings`: sends on to its first tab.
    Settings,
    /// `/settings/{tab}`.
    SettingsTab(SettingsTab),
    /// Anything else: the 404 page.
    NotFound,
}

impl Route {
    /// The page `path` (without query) names; malformed ids are the 404 page.
    pub fn parse(path: &str) -> Self {
        let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
        match segments.as_slice() {
            [""] => Self::Overview,
            ["login"] => Self::Login,
            ["environments"] => Self::Environments,
            ["profile"] => Self::Profile,
            ["uploads"] => Self::Uploads,
            ["notifications"] => Self::Notifications,
            ["settings"] => Self::Settings,
            ["settings", tab] => {
                SettingsTab::ALL.into_iter().find(|t| t.slug() == *tab).map_or(Self::NotFound, Self::SettingsTab)
            }
            ["environments", env] => EnvId::parse(env).map_or(Self::NotFound, Self::Environment),
            ["environments", env, "projects", project] => match (EnvId::parse(env), ProjectId::parse(project)) {
                (Ok(env), Ok(project)) => Self::Project(env, project),
                _ => Self::NotFound,
            },
            ["environments", env, "projects", project, "builds", build] => {
                match (EnvId::parse(env), ProjectId::parse(project), BuildId::parse(build)) {
                    (Ok(env), Ok(project), Ok(build)) => Self::Build(env, project, build),
                    _ => Self::NotFound,
                }
            }
            _ => Self::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn page_paths_name_their_pages() {
        assert_eq!(Route::parse("/"), Route::Overview);
        assert_eq!(Route::parse("/login"), Route::Login);
        assert_eq!(Route::parse("/environments"), Route::Environments);
        assert_eq!(Route::parse("/profile"), Route::Profile);
        assert_eq!(Route::parse("/uploads"), Route::Uploads);
        assert_eq!(Route::parse("/notifications"), Route::Notifications);
        assert_eq!(Route::parse("/settings"), Route::Settings);
        for tab in SettingsTab::ALL {
            assert_eq!(Route::parse(&format!("/settings/{}", tab.slug())), Route::SettingsTab(tab));
        }
        assert_eq!(Route::parse("/environments/staging"), Route::Environment(EnvId::parse("staging").unwrap()));
        assert_eq!(
            Route::parse("/environments/staging/projects/checkout"),
            Route::Project(EnvId::parse("staging").unwrap(), ProjectId::parse("checkout").unwrap())
        );
        assert_eq!(
            Route::parse("/environments/staging/projects/checkout/builds/2026-04-07.1"),
            Route::Build(
                EnvId::parse("staging").unwrap(),
                ProjectId::parse("checkout").unwrap(),
                BuildId::parse("2026-04-07.1").unwrap()
            )
        );
    }

    #[test]
    fn every_registered_template_names_a_page() {
        for pattern in PAGE_PATTERNS {
            let path = pattern
                .replace("{envId}", "e")
                .replace("{projectId}", "p")
                .replace("{buildId}", "b")
                .replace("{tab}", "disk");
            assert_ne!(Route::parse(&path), Route::NotFound, "{pattern}");
            assert!(!is_reserved(&path), "{pattern}");
        }
    }

    #[test]
    fn other_paths_and_malformed_ids_are_the_404_page() {
        for path in [
            "/nope",
            "/environments/",
            "/login/",
            "/environments/staging/projects",
            "/environments/staging/projects/checkout/extra",
            "/environments/Bad%20Id",
            "/environments/bad id/projects/x",
            "/environments/staging/projects/checkout/builds/latest",
            "/environments/staging/projects/checkout/builds",
            "/settings/",
            "/settings/nope",
            "/settings/disk/x",
            "/uploads/1",
        ] {
            assert_eq!(Route::parse(path), Route::NotFound, "{path}");
        }
    }

    #[test]
    fn api_paths_are_reserved_and_look_alikes_are_not() {
        for path in ["/api", "/api/environments", "/auth/login", "/reports/a/b/c/", "/metrics", "/assets/app.css"] {
            assert!(is_reserved(path), "{path}");
        }
        for path in ["/", "/apix", "/authors", "/environments", "/reportsx/1", "/login"] {
            assert!(!is_reserved(path), "{path}");
        }
    }
}
