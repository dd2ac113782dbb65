//! The route table: every route of the API with its method, path, access rule and handler, in one list, and the
//! only place where a route's path is written.
//!
//! Registration wraps each route with [`enforce`] for its rule, answers `HEAD` wherever `GET` is served, and
//! gives each path a `405` with the `Allow` header for the methods it lacks. The OpenAPI document
//! ([`crate::openapi::document`]) places each handler's documented operation at its row's method and path, and
//! tests read the same table, so a route cannot exist without a rule or without documentation.

use std::any::type_name;
use std::sync::Arc;

use actix_web::body::BoxBody;
use actix_web::dev::ServiceRequest;
use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::{FromRequest, Handler, Responder, Route, web};
use hub_domain::model::access::Permission;

use crate::access::{Access, enforce};
use crate::error::ApiError;
use crate::handlers::settings::{allure, api_keys, disk, retention, users};
use crate::handlers::{auth, environments, health, nodes, notifications, oauth, overview, projects, reports, uploads};
use crate::openapi::{Documented, docs_page};

/// One route of the API.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// HTTP method (`HEAD` is added for every `GET`).
    pub method: Method,
    /// actix path pattern; segment names are the contract's (`{envId}`).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What the handler's `#[utoipa::path]` documents, placed at this method and path in the OpenAPI document.
    pub operation: Documented,
    handler: Routed,
}

/// A handler, as registration needs it: a factory of its actix route.
#[derive(Clone)]
struct Routed {
    /// The handler function's path, which the tests compare with the documented operation's.
    name: &'static str,
    route: Arc<dyn Fn() -> Route + Send + Sync>,
}

impl std::fmt::Debug for Routed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

fn endpoint(
    method: Method,
    path: &'static str,
    access: Access,
    (handler, operation): (Routed, Documented),
) -> Endpoint {
    Endpoint { method, path, access, operation, handler }
}

/// A handler and its documented operation, the `__path_<handler>` type that `#[utoipa::path]` generates next to
/// it; see [`to!`].
fn to<H, Args, P>(handler: H, _operation: P) -> (Routed, Documented)
where
    H: Handler<Args> + Send + Sync,
    Args: FromRequest + 'static,
    H::Output: Responder + 'static,
    P: utoipa::Path + utoipa::__dev::SchemaReferences + for<'t> utoipa::__dev::Tags<'t>,
{
    let route = Arc::new(move || web::to(handler.clone()));
    (Routed { name: type_name::<H>(), route }, Documented::of::<P>())
}

/// `to!(module::handler, __path_handler)`: [`to`] with the module written once. The operation's type is named in
/// full because `macro_rules!` cannot build an identifier; the tests check that the two names belong together.
macro_rules! to {
    ($module:ident :: $handler:ident, $operation:ident) => {
        to($module::$handler, $module::$operation)
    };
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
const PUBLIC: Access = Access::Public;

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
    const OAUTH_CALLBACK: &str = "/auth/{provider}/callback";
    const DOCS_ASSET: &str = "/api/docs/{file}";
    const KEYS: &str = "/api/settings/apikeys";
    const KEY: &str = "/api/settings/apikeys/{id}";
    const USER_ROLE: &str = "/api/settings/users/{email}/role";
    const ALLURE: &str = "/api/settings/allure";
    const DISK_THRESHOLD: &str = "/api/settings/disk/notification-threshold";
    const RETENTION: &str = "/api/settings/retention";
    const CLEANUP_RUNS: &str = "/api/settings/retention/runs";
    const CLEANUP_RUN: &str = "/api/settings/retention/run";
    const NOTES: &str = "/api/notifications";
    const NOTE_STREAM: &str = "/api/notifications/stream";
    const ALL_READ: &str = "/api/notifications/read";
    const NOTE: &str = "/api/notifications/{id}";
    const NOTE_READ: &str = "/api/notifications/{id}/read";
    vec![
        endpoint(Method::GET, ENVS, VIEW, to!(environments::list_environments, __path_list_environments)),
        endpoint(Method::POST, ENVS, MANAGE, to!(environments::create_environment, __path_create_environment)),
        endpoint(Method::PATCH, ENV, MANAGE, to!(environments::update_environment, __path_update_environment)),
        endpoint(Method::DELETE, ENV, MANAGE, to!(environments::delete_environment, __path_delete_environment)),
        endpoint(Method::GET, PROJECTS, VIEW, to!(projects::list_projects, __path_list_projects)),
        endpoint(Method::POST, PROJECTS, MANAGE, to!(projects::create_project, __path_create_project)),
        endpoint(Method::DELETE, PROJECT, MANAGE, to!(projects::delete_project, __path_delete_project)),
        endpoint(Method::POST, RESULTS, UPLOAD, to!(uploads::upload_results, __path_upload_results)),
        endpoint(Method::POST, UPLOADS, UPLOAD, to!(uploads::init_upload, __path_init_upload)),
        endpoint(Method::PUT, UPLOAD_ID, UPLOAD, to!(uploads::put_chunk, __path_put_chunk)),
        endpoint(Method::GET, UPLOAD_ID, VIEW, to!(uploads::upload_status, __path_upload_status)),
        endpoint(Method::POST, COMPLETE, UPLOAD, to!(uploads::complete_upload, __path_complete_upload)),
        endpoint(Method::GET, REPORTS, VIEW, to!(reports::list_reports, __path_list_reports)),
        endpoint(Method::POST, REPORTS, UPLOAD, to!(reports::regenerate_report, __path_regenerate_report)),
        // Before `{buildId}`, which would otherwise take `stats` as a build id.
        endpoint(Method::GET, REPORT_STATS, VIEW, to!(reports::report_stats, __path_report_stats)),
        endpoint(Method::GET, REPORT, VIEW, to!(reports::get_report, __path_get_report)),
        endpoint(Method::DELETE, REPORT, MANAGE, to!(reports::delete_report, __path_delete_report)),
        endpoint(Method::GET, "/api/uploads", VIEW, to!(uploads::list_uploads, __path_list_uploads)),
        endpoint(Method::GET, "/api/uploads/stream", VIEW, to!(uploads::upload_stream, __path_upload_stream)),
        endpoint(Method::DELETE, "/api/uploads/{id}", MANAGE, to!(uploads::delete_upload, __path_delete_upload)),
        endpoint(Method::GET, NOTES, VIEW, to!(notifications::list_notifications, __path_list_notifications)),
        endpoint(Method::GET, NOTE_STREAM, VIEW, to!(notifications::notification_stream, __path_notification_stream)),
        endpoint(Method::GET, "/api/notifications/unread", VIEW, to!(notifications::unread_count, __path_unread_count)),
        endpoint(Method::POST, ALL_READ, VIEW, to!(notifications::mark_all_read, __path_mark_all_read)),
        endpoint(Method::PATCH, NOTE_READ, VIEW, to!(notifications::mark_read, __path_mark_read)),
        endpoint(Method::DELETE, NOTE, VIEW, to!(notifications::delete_notification, __path_delete_notification)),
        endpoint(Method::GET, "/api/overview", VIEW, to!(overview::get_overview, __path_get_overview)),
        endpoint(Method::GET, "/api/healthz", PUBLIC, to!(health::get_health, __path_get_health)),
        endpoint(Method::GET, "/api/version", PUBLIC, to!(health::get_version, __path_get_version)),
        endpoint(Method::GET, "/api/nodes", MANAGE, to!(nodes::list_nodes, __path_list_nodes)),
        endpoint(Method::GET, KEYS, SETTINGS, to!(api_keys::list_api_keys, __path_list_api_keys)),
        endpoint(Method::POST, KEYS, SETTINGS, to!(api_keys::create_api_key, __path_create_api_key)),
        endpoint(Method::DELETE, KEY, SETTINGS, to!(api_keys::delete_api_key, __path_delete_api_key)),
        endpoint(Method::GET, "/api/settings/users", SETTINGS, to!(users::list_users, __path_list_users)),
        endpoint(Method::PATCH, USER_ROLE, SETTINGS_ADMIN, to!(users::set_user_role, __path_set_user_role)),
        endpoint(Method::DELETE, USER_ROLE, SETTINGS_ADMIN, to!(users::reset_user_role, __path_reset_user_role)),
        endpoint(Method::GET, "/api/settings/disk", SETTINGS, to!(disk::get_disk_usage, __path_get_disk_usage)),
        endpoint(Method::GET, DISK_THRESHOLD, SETTINGS, to!(disk::get_disk_threshold, __path_get_disk_threshold)),
        endpoint(Method::PUT, DISK_THRESHOLD, SETTINGS, to!(disk::put_disk_threshold, __path_put_disk_threshold)),
        endpoint(Method::GET, ALLURE, SETTINGS, to!(allure::get_allure, __path_get_allure)),
        endpoint(Method::PUT, ALLURE, SETTINGS_ADMIN, to!(allure::put_allure, __path_put_allure)),
        endpoint(Method::GET, RETENTION, SETTINGS, to!(retention::get_retention, __path_get_retention)),
        endpoint(Method::PUT, RETENTION, SETTINGS, to!(retention::put_retention, __path_put_retention)),
        endpoint(Method::GET, CLEANUP_RUNS, SETTINGS, to!(retention::list_cleanup_runs, __path_list_cleanup_runs)),
        endpoint(Method::POST, CLEANUP_RUN, SETTINGS, to!(retention::run_cleanup, __path_run_cleanup)),
        endpoint(Method::GET, "/auth/providers", PUBLIC, to!(auth::list_providers, __path_list_providers)),
        endpoint(Method::POST, "/auth/login", PUBLIC, to!(auth::login, __path_login)),
        endpoint(Method::POST, "/auth/logout", Access::OptionalSession, to!(auth::logout, __path_logout)),
        endpoint(Method::GET, "/auth/me", Access::SignedIn, to!(auth::get_me, __path_get_me)),
        // After the fixed /auth routes, which the table registers first: those names are never provider ids.
        endpoint(Method::GET, "/auth/{provider}", PUBLIC, to!(oauth::start_oauth, __path_start_oauth)),
        endpoint(Method::GET, OAUTH_CALLBACK, PUBLIC, to!(oauth::oauth_callback, __path_oauth_callback)),
        endpoint(Method::GET, "/api/openapi.json", PUBLIC, to!(docs_page::get_openapi, __path_get_openapi)),
        endpoint(Method::GET, "/api/docs", PUBLIC, to!(docs_page::get_docs, __path_get_docs)),
        endpoint(Method::GET, DOCS_ASSET, PUBLIC, to!(docs_page::get_docs_asset, __path_get_docs_asset)),
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
            resource = resource.route(guarded((e.handler.route)(), e.method.clone(), e.access));
            allowed.push(e.method.as_str());
            if e.method == Method::GET {
                resource = resource.route(guarded((e.handler.route)(), Method::HEAD, e.access));
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

    /// A row's operation is its own handler's, and its attribute names no path or other method that the document
    /// would ignore.
    #[test]
    fn every_row_is_documented_by_its_own_handler_at_its_own_method() {
        for e in endpoints() {
            let (module, handler) = e.handler.name.rsplit_once("::").unwrap();
            assert_eq!(e.operation.name(), format!("{module}::__path_{handler}"), "{} {}", e.method, e.path);
            assert_eq!(e.operation.path(), crate::openapi::IN_ROUTE_TABLE, "{}: path = IN_ROUTE_TABLE", e.handler.name);
            let methods: Vec<String> =
                e.operation.methods().iter().map(|m| serde_json::to_value(m).unwrap().to_string()).collect();
            let method = format!("\"{}\"", e.method.as_str().to_ascii_lowercase());
            assert_eq!(methods, [method], "{}: the attribute's method is the row's", e.handler.name);
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
