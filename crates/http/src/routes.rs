//! The route table: every route of the API with its method, path and access rule, in one list.
//!
//! Registration wraps each route with [`enforce`] for its rule, answers `HEAD` wherever `GET` is served, and
//! gives each path a `405` with the `Allow` header for the methods it lacks. Tests read the same table, so a
//! route cannot exist without a rule.

use actix_web::body::BoxBody;
use actix_web::dev::ServiceRequest;
use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::{Route, web};
use hub_domain::model::access::Permission;

use crate::access::{Access, enforce};
use crate::error::ApiError;
use crate::handlers::settings::{allure, api_keys, disk, retention, users};
use crate::handlers::{auth, environments, health, notifications, oauth, overview, projects, reports, uploads};
use crate::openapi::docs_page;

/// One route of the API.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// HTTP method (`HEAD` is added for every `GET`).
    pub method: Method,
    /// actix path pattern; segment names are the contract's (`{envId}`).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    handler: fn() -> Route,
}

const fn endpoint(method: Method, path: &'static str, access: Access, handler: fn() -> Route) -> Endpoint {
    Endpoint { method, path, access, handler }
}

/// The streaming upload, whose body is an archive (also read by the `Expect: 100-continue` gate).
pub(crate) const RESULTS: &str = "/api/environments/{envId}/projects/{projectId}/results";
/// A chunked upload's session; `PUT` sends a chunk (also read by the `Expect: 100-continue` gate).
pub(crate) const UPLOAD_ID: &str = "/api/environments/{envId}/projects/{projectId}/uploads/{uploadId}";

const VIEW: Access = Access::Any(Permission::View);
const UPLOAD: Access = Access::Any(Permission::Upload);
const MANAGE: Access = Access::Any(Permission::Manage);
const SETTINGS: Access = Access::Session(Permission::Manage);
const SETTINGS_ADMIN: Access = Access::SessionAdmin(Permission::Manage);

/// Every route of the API.
pub fn endpoints() -> Vec<Endpoint> {
    const ENVS: &str = "/api/environments";
    const ENV: &str = "/api/environments/{envId}";
    const PROJECTS: &str = "/api/environments/{envId}/projects";
    const PROJECT: &str = "/api/environments/{envId}/projects/{projectId}";
    const UPLOADS: &str = "/api/environments/{envId}/projects/{projectId}/uploads";
    const COMPLETE: &str = "/api/environments/{envId}/projects/{projectId}/uploads/{uploadId}/complete";
    const REPORTS: &str = "/api/environments/{envId}/projects/{projectId}/reports";
    const REPORT_STATS: &str = "/api/environments/{envId}/projects/{projectId}/reports/stats";
    const REPORT: &str = "/api/environments/{envId}/projects/{projectId}/reports/{buildId}";
    const KEYS: &str = "/api/settings/apikeys";
    const KEY: &str = "/api/settings/apikeys/{id}";
    const USER_ROLE: &str = "/api/settings/users/{email}/role";
    const ALLURE: &str = "/api/settings/allure";
    const DISK_THRESHOLD: &str = "/api/settings/disk/notification-threshold";
    const RETENTION: &str = "/api/settings/retention";
    const NOTIFICATION: &str = "/api/notifications/{id}";
    const NOTIFICATION_READ: &str = "/api/notifications/{id}/read";
    vec![
        endpoint(Method::GET, ENVS, VIEW, || web::to(environments::list_environments)),
        endpoint(Method::POST, ENVS, MANAGE, || web::to(environments::create_environment)),
        endpoint(Method::PATCH, ENV, MANAGE, || web::to(environments::update_environment)),
        endpoint(Method::DELETE, ENV, MANAGE, || web::to(environments::delete_environment)),
        endpoint(Method::GET, PROJECTS, VIEW, || web::to(projects::list_projects)),
        endpoint(Method::POST, PROJECTS, MANAGE, || web::to(projects::create_project)),
        endpoint(Method::DELETE, PROJECT, MANAGE, || web::to(projects::delete_project)),
        endpoint(Method::POST, RESULTS, UPLOAD, || web::to(uploads::upload_results)),
        endpoint(Method::POST, UPLOADS, UPLOAD, || web::to(uploads::init_upload)),
        endpoint(Method::PUT, UPLOAD_ID, UPLOAD, || web::to(uploads::put_chunk)),
        endpoint(Method::GET, UPLOAD_ID, VIEW, || web::to(uploads::upload_status)),
        endpoint(Method::POST, COMPLETE, UPLOAD, || web::to(uploads::complete_upload)),
        endpoint(Method::GET, REPORTS, VIEW, || web::to(reports::list_reports)),
        endpoint(Method::POST, REPORTS, UPLOAD, || web::to(reports::regenerate_report)),
        // Before `{buildId}`, which would otherwise take `stats` as a build id.
        endpoint(Method::GET, REPORT_STATS, VIEW, || web::to(reports::report_stats)),
        endpoint(Method::GET, REPORT, VIEW, || web::to(reports::get_report)),
        endpoint(Method::DELETE, REPORT, MANAGE, || web::to(reports::delete_report)),
        endpoint(Method::GET, "/api/uploads", VIEW, || web::to(uploads::list_uploads)),
        endpoint(Method::GET, "/api/uploads/stream", VIEW, || web::to(uploads::upload_stream)),
        endpoint(Method::DELETE, "/api/uploads/{id}", MANAGE, || web::to(uploads::delete_upload)),
        endpoint(Method::GET, "/api/notifications", VIEW, || web::to(notifications::list_notifications)),
        endpoint(Method::GET, "/api/notifications/stream", VIEW, || web::to(notifications::notification_stream)),
        endpoint(Method::GET, "/api/notifications/unread", VIEW, || web::to(notifications::unread_count)),
        endpoint(Method::POST, "/api/notifications/read", VIEW, || web::to(notifications::mark_all_read)),
        endpoint(Method::PATCH, NOTIFICATION_READ, VIEW, || web::to(notifications::mark_read)),
        endpoint(Method::DELETE, NOTIFICATION, VIEW, || web::to(notifications::delete_notification)),
        endpoint(Method::GET, "/api/overview", VIEW, || web::to(overview::get_overview)),
        endpoint(Method::GET, "/api/healthz", Access::Public, || web::to(health::get_health)),
        endpoint(Method::GET, "/api/version", Access::Public, || web::to(health::get_version)),
        endpoint(Method::GET, KEYS, SETTINGS, || web::to(api_keys::list_api_keys)),
        endpoint(Method::POST, KEYS, SETTINGS, || web::to(api_keys::create_api_key)),
        endpoint(Method::DELETE, KEY, SETTINGS, || web::to(api_keys::delete_api_key)),
        endpoint(Method::GET, "/api/settings/users", SETTINGS, || web::to(users::list_users)),
        endpoint(Method::PATCH, USER_ROLE, SETTINGS_ADMIN, || web::to(users::set_user_role)),
        endpoint(Method::DELETE, USER_ROLE, SETTINGS_ADMIN, || web::to(users::reset_user_role)),
        endpoint(Method::GET, "/api/settings/disk", SETTINGS, || web::to(disk::get_disk_usage)),
        endpoint(Method::GET, DISK_THRESHOLD, SETTINGS, || web::to(disk::get_disk_threshold)),
        endpoint(Method::PUT, DISK_THRESHOLD, SETTINGS, || web::to(disk::put_disk_threshold)),
        endpoint(Method::GET, ALLURE, SETTINGS, || web::to(allure::get_allure)),
        endpoint(Method::PUT, ALLURE, SETTINGS_ADMIN, || web::to(allure::put_allure)),
        endpoint(Method::GET, RETENTION, SETTINGS, || web::to(retention::get_retention)),
        endpoint(Method::PUT, RETENTION, SETTINGS, || web::to(retention::put_retention)),
        endpoint(Method::GET, "/api/settings/retention/runs", SETTINGS, || web::to(retention::list_cleanup_runs)),
        endpoint(Method::POST, "/api/settings/retention/run", SETTINGS, || web::to(retention::run_cleanup)),
        endpoint(Method::GET, "/auth/providers", Access::Public, || web::to(auth::list_providers)),
        endpoint(Method::POST, "/auth/login", Access::Public, || web::to(auth::login)),
        endpoint(Method::POST, "/auth/logout", Access::OptionalSession, || web::to(auth::logout)),
        endpoint(Method::GET, "/auth/me", Access::SignedIn, || web::to(auth::get_me)),
        // After the fixed /auth routes, which the table registers first: those names are never provider ids.
        endpoint(Method::GET, "/auth/{provider}", Access::Public, || web::to(oauth::start_oauth)),
        endpoint(Method::GET, "/auth/{provider}/callback", Access::Public, || web::to(oauth::oauth_callback)),
        endpoint(Method::GET, "/api/openapi.json", Access::Public, || web::to(docs_page::get_openapi)),
        endpoint(Method::GET, "/api/docs", Access::Public, || web::to(docs_page::get_docs)),
        endpoint(Method::GET, "/api/docs/{file}", Access::Public, || web::to(docs_page::get_docs_asset)),
    ]
}

fn guarded(route: Route, method: Method, access: Access) -> Route {
    route.method(method).wrap(from_fn(move |req: ServiceRequest, next: Next<BoxBody>| enforce(access, req, next)))
}

/// Registers the table: one actix resource per path.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let table = endpoints();
    let mut paths: Vec<&'static str> = Vec::new();
    for e in table.iter() {
        if !paths.contains(&e.path) {
            paths.push(e.path);
        }
    }
    for path in paths {
        let mut resource = web::resource(path);
        let mut allowed: Vec<&str> = Vec::new();
        for e in table.iter().filter(|e| e.path == path) {
            resource = resource.route(guarded((e.handler)(), e.method.clone(), e.access));
            allowed.push(e.method.as_str());
            if e.method == Method::GET {
                resource = resource.route(guarded((e.handler)(), Method::HEAD, e.access));
                allowed.push("HEAD");
            }
        }
        let allow = allowed.join(", ");
        resource = resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move { Err::<actix_web::HttpResponse, _>(ApiError::method_not_allowed(allow)) }
        }));
        cfg.service(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_and_path_pair_appears_once() {
        let table = endpoints();
        for (i, a) in table.iter().enumerate() {
            for b in &table[i + 1..] {
                assert!(!(a.method == b.method && a.path == b.path), "{} {} twice", a.method, a.path);
            }
        }
    }

    #[test]
    fn every_settings_route_needs_a_session_with_manage() {
        for e in endpoints().iter().filter(|e| e.path.starts_with("/api/settings")) {
            let ok = matches!(e.access, Access::Session(Permission::Manage) | Access::SessionAdmin(Permission::Manage));
            assert!(ok, "{} {}", e.method, e.path);
        }
    }
}
