//! What the document says of a route without its attribute saying it: the parameters of its path, the
//! credentials it accepts, and the errors it shares with other routes, derived from the route table and the
//! operation itself so that they match what is enforced and are written once.
//!
//! An error status that the attribute also documents keeps the attribute's response (its headers and its
//! route-specific messages); the shared messages are joined to its description, the general ones first and the
//! request-level ones (`cross-site request rejected`, JSON parsing) last, so one status lists every message.

use actix_web::http::Method;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, Header, Ref, RefOr};

use super::{BEARER_SCHEME, HEADER_SCHEME, SESSION_SCHEME, params};
use crate::access::Access;
use crate::routes::Endpoint;

/// The parameters of a route's path segments ([`params::segments`]), first and in path order, except those that
/// its attribute describes itself; and the `400` of the segments parsed at the edge.
pub(super) fn path_parameters(operation: &mut Operation, path: &str) {
    let segments = params::segments();
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    let own = |name: &str| {
        parameters.iter().any(|p| matches!(p, RefOr::T(p) if p.name == name && p.parameter_in == ParameterIn::Path))
    };
    let described: Vec<&params::Segment> = params::segment_names(path)
        .filter(|name| !own(name))
        .filter_map(|name| segments.iter().find(|segment| segment.name == name))
        .collect();
    let invalid: Vec<String> = described
        .iter()
        .filter(|segment| segment.checked)
        .map(|segment| format!("`invalid {}`", segment.name))
        .collect();
    parameters.splice(0..0, described.iter().map(|segment| RefOr::T(segment.parameter())));
    if parameters.is_empty() {
        operation.parameters = None;
    }
    if !invalid.is_empty() {
        add_error(operation, "400", Some(&invalid.join(", ")), None);
    }
}

fn requirement(scheme: &str) -> SecurityRequirement {
    SecurityRequirement::new(scheme, Vec::<String>::new())
}

/// Security requirements and authentication errors of a route, from its access rule.
pub(super) fn access(operation: &mut Operation, endpoint: &Endpoint) {
    const KEY_OR_SESSION: &str = "`not authenticated`, `invalid API key`";
    const BROWSER: &str = "`settings require a browser session`";
    let csrf =
        (endpoint.method != Method::GET).then_some("`cross-site request rejected` (session without same-origin proof)");
    let every_credential =
        || Some(vec![requirement(SESSION_SCHEME), requirement(BEARER_SCHEME), requirement(HEADER_SCHEME)]);
    let (security, unauthorized, forbidden, forbidden_after) = match endpoint.access {
        Access::Public => (None, None, None, None),
        Access::Any(permission) => (
            every_credential(),
            Some(KEY_OR_SESSION.to_owned()),
            Some(format!("`missing permission: {permission}`")),
            csrf,
        ),
        Access::Session(permission) => (
            Some(vec![requirement(SESSION_SCHEME)]),
            Some(KEY_OR_SESSION.to_owned()),
            Some(format!("{BROWSER}, `missing permission: {permission}`")),
            csrf,
        ),
        Access::SessionAdmin(permission) => (
            Some(vec![requirement(SESSION_SCHEME)]),
            Some(KEY_OR_SESSION.to_owned()),
            Some(format!("{BROWSER}, `missing permission: {permission}`, `admin role required`")),
            csrf,
        ),
        Access::SignedIn => (
            Some(vec![requirement(SESSION_SCHEME)]),
            Some("`not authenticated` (API keys are not accepted here)".to_owned()),
            None,
            None,
        ),
        Access::OptionalSession => (
            Some(vec![SecurityRequirement::default(), requirement(SESSION_SCHEME)]),
            None,
            None,
            Some("`cross-site request rejected` (with a session, without same-origin proof)"),
        ),
    };
    operation.security = security;
    if unauthorized.is_some() {
        add_error(operation, "401", unauthorized.as_deref(), None);
    }
    if forbidden.is_some() || forbidden_after.is_some() {
        add_error(operation, "403", forbidden.as_deref(), forbidden_after);
    }
}

/// Errors that follow from the operation itself: JSON bodies, the rate limit, and the §1.7 body of every error
/// response.
pub(super) fn shared_errors(path: &str, operation: &mut Operation) {
    if takes_json(operation.request_body.as_ref()) {
        add_error(operation, "400", None, Some("`invalid JSON body: <parser message>`"));
        add_error(operation, "413", None, Some("`request body too large` (`MAX_JSON_BYTES`)"));
        add_error(operation, "415", None, Some("`Content-Type must be application/json`"));
    }
    // Every request to the main origin costs a token, except health checks and report links (§1.2).
    if path != "/api/healthz" && !path.starts_with("/reports/") {
        add_error(operation, "429", Some("`rate limit exceeded`"), None);
        if let Some(RefOr::T(response)) = operation.responses.responses.get_mut("429")
            && response.headers.is_empty()
        {
            let retry_after = Header::new(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)));
            response.headers.insert("Retry-After".to_owned(), RefOr::T(retry_after));
        }
    }
    for (status, response) in operation.responses.responses.iter_mut() {
        if let (true, RefOr::T(response)) = (status.starts_with('4') || status.starts_with('5'), response)
            && response.content.is_empty()
        {
            response.content.insert("application/json".to_owned(), error_content());
        }
    }
}

fn takes_json(body: Option<&RefOr<RequestBody>>) -> bool {
    matches!(body, Some(RefOr::T(b)) if b.content.contains_key("application/json"))
}

fn error_content() -> RefOr<Content> {
    RefOr::T(Content::new(Some(Ref::from_schema_name("Error"))))
}

/// Documents an error status with shared messages: `before` the route's own messages of that status (if its
/// attribute lists the status) and `after` them.
fn add_error(operation: &mut Operation, status: &str, before: Option<&str>, after: Option<&str>) {
    let response = operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(Response::builder().description("").build()));
    if let RefOr::T(response) = response {
        let own = std::mem::take(&mut response.description);
        let parts = [before, Some(own.as_str()), after];
        response.description =
            parts.into_iter().flatten().filter(|part| !part.is_empty()).collect::<Vec<_>>().join(", ");
    }
}
