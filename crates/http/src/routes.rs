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
use crate::handlers::{environments, health, projects};

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

const fn endpoint(
    method: Method,
    path: &'static str,
    access: Access,
    handler: fn() -> Route,
) -> Endpoint {
    Endpoint {
        method,
        path,
        access,
        handler,
    }
}

const VIEW: Access = Access::Permission(Permission::View);
const MANAGE: Access = Access::Permission(Permission::Manage);

/// Every route of the API.
pub fn endpoints() -> Vec<Endpoint> {
    const ENVS: &str = "/api/environments";
    const ENV: &str = "/api/environments/{envId}";
    const PROJECTS: &str = "/api/environments/{envId}/projects";
    const PROJECT: &str = "/api/environments/{envId}/projects/{projectId}";
    vec![
        endpoint(Method::GET, ENVS, VIEW, || {
            web::to(environments::list_environments)
        }),
        endpoint(Method::POST, ENVS, MANAGE, || {
            web::to(environments::create_environment)
        }),
        endpoint(Method::PATCH, ENV, MANAGE, || {
            web::to(environments::update_environment)
        }),
        endpoint(Method::DELETE, ENV, MANAGE, || {
            web::to(environments::delete_environment)
        }),
        endpoint(Method::GET, PROJECTS, VIEW, || {
            web::to(projects::list_projects)
        }),
        endpoint(Method::POST, PROJECTS, MANAGE, || {
            web::to(projects::create_project)
        }),
        endpoint(Method::DELETE, PROJECT, MANAGE, || {
            web::to(projects::delete_project)
        }),
        endpoint(Method::GET, "/api/healthz", Access::Public, || {
            web::to(health::get_health)
        }),
        endpoint(Method::GET, "/api/version", Access::Public, || {
            web::to(health::get_version)
        }),
    ]
}

fn guarded(route: Route, method: Method, access: Access) -> Route {
    route
        .method(method)
        .wrap(from_fn(move |req: ServiceRequest, next: Next<BoxBody>| {
            enforce(access, req, next)
        }))
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
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} {} twice",
                    a.method,
                    a.path
                );
            }
        }
    }

    #[test]
    fn only_health_and_version_are_public() {
        let public: Vec<&str> = endpoints()
            .iter()
            .filter(|e| e.access == Access::Public)
            .map(|e| e.path)
            .collect();
        assert_eq!(public, ["/api/healthz", "/api/version"]);
    }
}
