//! The OpenAPI 3.1 document of the API (§15), generated from the handlers and the types they serialize, and the
//! page that renders it.
//!
//! Where each part of the document comes from:
//! * paths: the route table ([`routes::endpoints`]) is the one place where a route's method and path are written;
//!   [`document`] puts each row's operation at that method and path;
//! * operations: the `#[utoipa::path(...)]` attribute on each handler (parameters, request body, the success
//!   responses and the route-specific errors of the contract), which the table's row carries as a [`Documented`];
//! * schemas: the `ToSchema` derives of [`crate::dto`] and of the request bodies next to their handlers, collected
//!   from the operations that use them;
//! * security, path parameters and the errors every route shares: [`implied`] derives them from the route table
//!   and the operations themselves, so they match what is enforced: `401`/`403` and the accepted credentials
//!   from each route's access rule, the path's parameters and the `400` of malformed ones from its segments,
//!   `429` (rate limit), `400`/`413`/`415` for JSON bodies, and the §1.7 `Error` body on every 4xx/5xx that has
//!   none.
//!
//! # Documenting a new route
//! 1. Put `#[utoipa::path(...)]` on its handler: the method, `path = IN_ROUTE_TABLE` (utoipa requires a path; the
//!    real one is the table's), a `tag`, `params(...)` for its query parameters and headers (reuse [`params`] for
//!    paging; the parameters of the path come from [`params::segments`], where a new segment name is described),
//!    the `request_body` (derive `ToSchema` on the body struct; fields that are `Option` only to word the
//!    contract's own 400 get `#[schema(required = true, nullable = false)]`; ids take the schemas of [`formats`],
//!    `#[schema(value_type = formats::Slug)]`), and `responses(...)` with the success status and body (a DTO of
//!    [`crate::dto`] deriving `ToSchema`, named as in §16 with `#[schema(as = …)]`) and every route-specific error
//!    status of the contract with its own messages as the description. Errors without a `body` get the `Error`
//!    schema. Leave out what every route of its kind answers: the `401`/`403` of its access rule, `invalid
//!    <segment>` of its path, `429`, and the JSON body's `400`/`413`/`415` are written once, in [`implied`], and
//!    joined to the route's own messages of the same status.
//!
//!    Descriptions, and the `///` lines of handlers, schemas and their fields (utoipa copies them into the
//!    document), are read by people who have only this document: say what the route or field does, its rules and
//!    its messages, and never point to a section of the design documents. Notes for developers go in `//`
//!    comments. The test `the_document_refers_to_no_outside_specification` fails on `§` or "contract".
//! 2. Add the route to [`routes::endpoints`] with `to!(module::handler, __path_handler)`: the handler and the
//!    operation its attribute generated. The route table's tests check that the two belong together and that the
//!    attribute's method is the row's; schemathesis (`crates/server/tests/api/schemathesis.rs`) then checks that
//!    the responses match.
//!
//! Response fields are never omitted (§1.4): an `Option` field of a response DTO needs
//! `#[schema(required = true)]`, and closed sets of names use `schema_with` one of [`crate::dto::names`].

pub mod docs_page;
pub mod formats;
mod implied;
pub mod params;

use actix_web::http::Method;
use utoipa::OpenApi;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::{HttpMethod, Operation, PathItem};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::dto::ErrorDto;
use crate::handlers::report_links;
use crate::routes;

/// Name of the cookie credential in the document.
pub const SESSION_SCHEME: &str = "sessionCookie";
/// Name of the `Authorization: Bearer ah_…` credential.
pub const BEARER_SCHEME: &str = "bearerApiKey";
/// Name of the `X-API-Key` credential.
pub const HEADER_SCHEME: &str = "headerApiKey";

/// The operations and extra schemas of the document; [`document`] completes it.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "allure-hub", description = "Self-hosted Allure 3 report server: the JSON API under `/api`, \
        the sign-in endpoints under `/auth` and the report links under `/reports`.\n\n\
        Every error (4xx and 5xx) has the JSON body `{\"error\": \"<message>\"}`; a few add members, such as \
        `missingChunks`. 5xx bodies say only `internal server error` or `service unavailable`. Field names are \
        camelCase (the notification API uses snake_case), absent values are `null` rather than omitted, and times \
        are RFC 3339 in UTC with milliseconds (`2026-04-07T10:00:00.000Z`).\n\n\
        Paginated lists answer `{\"items\": […], \"total\": <count>}` and take `limit` and `offset`. Boolean \
        query parameters accept `true`, `false`, `1` and `0`. A query parameter given with an empty value \
        (`?search=&offset=`) counts as not given."),
    components(schemas(ErrorDto, formats::Slug, formats::BuildId, formats::Ulid)),
    tags(
        (name = "environments", description = "Environments (for example staging or production), each holding \
            projects. Reading needs `view`, changes need `manage`."),
        (name = "projects", description = "The projects of an environment; builds are uploaded into a project. \
            Reading needs `view`, changes need `manage`."),
        (name = "uploads", description = "Uploading a zipped `allure-results` directory as a build: in one \
            streaming request, or in resumable chunks (open a session, send the chunks, complete). Needs `upload`."),
        (name = "reports", description = "Builds and their generated reports: the list, statistics, generating a \
            report again, deleting a build, and the links that open a report."),
        (name = "upload sessions", description = "Every upload and report generation is tracked as an upload \
            session: the list, a live stream of changes, and deleting a finished session."),
        (name = "notifications", description = "Notifications about finished or failed reports and operational \
            events, with a read state of their own for each user or API key, and a live stream. Their fields are \
            snake_case (`created_at`)."),
        (name = "overview", description = "Dashboard figures over every build, or one environment or project."),
        (name = "health", description = "Readiness, the server's version, the server processes (nodes) sharing \
            the database, and Prometheus metrics."),
        (name = "settings", description = "API keys, user roles, disk usage, data retention and the Allure CLI. \
            Only with a browser session (API keys are refused) and the `manage` permission; some changes also \
            need the `admin` role."),
        (name = "auth", description = "Signing in (local account, or an OAuth or OpenID Connect provider), \
            signing out and the current user."),
        (name = "docs", description = "This document and the page that renders it."),
    )
)]
pub struct ApiDoc;

// Served outside the route table (its access depends on `METRICS_PUBLIC`), so its operation is declared here.
/// `GET /metrics`: the server's metrics in the Prometheus text format (requests, uploads, generations, event
/// streams, disk, cleanup runs). Public with `METRICS_PUBLIC=true`, otherwise it needs `view`.
#[utoipa::path(get, path = "/metrics", tag = "health", operation_id = "get_metrics",
    security((), ("sessionCookie" = []), ("bearerApiKey" = []), ("headerApiKey" = [])),
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain; version=0.0.4; charset=utf-8",
            body = String),
        (status = 401, description = "`not authenticated`, `invalid API key` (unless `METRICS_PUBLIC=true`)"),
        (status = 403, description = "`missing permission: view` (unless `METRICS_PUBLIC=true`)"),
    ))]
#[allow(dead_code)]
fn metrics_doc() {}

/// What `path = …` of a routed handler's `#[utoipa::path]` says. utoipa requires a path there, but a route's path
/// is written only in the route table ([`routes::endpoints`]), from which [`document`] places the operation; the
/// tests check that no routed handler names a path of its own.
pub const IN_ROUTE_TABLE: &str = "(the route table)";

/// A handler's documented operation, read through the `__path_<handler>` type that its `#[utoipa::path]`
/// generates: the operation itself, the schemas it refers to, and the method and path written in the attribute.
#[derive(Debug, Clone, Copy)]
pub struct Documented {
    operation: fn() -> Operation,
    schemas: fn(&mut Vec<(String, RefOr<Schema>)>),
    methods: fn() -> Vec<HttpMethod>,
    path: fn() -> String,
    /// The type's path, which the tests compare with the handler's.
    name: &'static str,
}

impl Documented {
    /// The operation documented by `P`, a `__path_<handler>` type.
    pub fn of<P>() -> Self
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences + for<'t> utoipa::__dev::Tags<'t>,
    {
        Self {
            operation: tagged_operation::<P>,
            schemas: <P as utoipa::__dev::SchemaReferences>::schemas,
            methods: P::methods,
            path: P::path,
            name: std::any::type_name::<P>(),
        }
    }

    /// The operation, with the tags of its attribute.
    pub fn operation(&self) -> Operation {
        (self.operation)()
    }

    /// The methods written in the attribute.
    pub fn methods(&self) -> Vec<HttpMethod> {
        (self.methods)()
    }

    /// The path written in the attribute: [`IN_ROUTE_TABLE`] for a route of the table.
    pub fn path(&self) -> String {
        (self.path)()
    }

    /// The path of the `__path_<handler>` type, such as `hub_http::handlers::health::__path_get_health`.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// utoipa keeps an operation's tags apart from it (the `OpenApi` derive adds them when it lists the path).
fn tagged_operation<P>() -> Operation
where
    P: utoipa::Path + for<'t> utoipa::__dev::Tags<'t>,
{
    let mut operation = P::operation();
    let tags = <P as utoipa::__dev::Tags<'static>>::tags();
    if !tags.is_empty() {
        operation.tags.get_or_insert_with(Vec::new).extend(tags.into_iter().map(str::to_owned));
    }
    operation
}

/// The operations served outside the route table; their attributes carry their own paths.
fn outside_the_table() -> [Documented; 2] {
    [Documented::of::<__path_metrics_doc>(), Documented::of::<report_links::__path_main_origin_reports>()]
}

/// The complete document: [`ApiDoc`] with `info.version` set to the server's version, the security schemes, the
/// operation of every route of the table at its path, and what the route table and the operations imply.
pub fn document(version: &str) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = version.to_owned();
    let mut schemas = Vec::new();
    for endpoint in routes::endpoints() {
        let mut operation = endpoint.operation.operation();
        (endpoint.operation.schemas)(&mut schemas);
        implied::path_parameters(&mut operation, endpoint.path);
        implied::access(&mut operation, &endpoint);
        doc.paths.add_path_operation(endpoint.path, vec![http_method(&endpoint.method)], operation);
    }
    for outside in outside_the_table() {
        (outside.schemas)(&mut schemas);
        doc.paths.add_path_operation(outside.path(), outside.methods(), outside.operation());
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        for operation in operations_mut(item) {
            implied::shared_errors(path, operation);
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
    components.add_security_scheme(
        SESSION_SCHEME,
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            crate::access::SESSION_COOKIE,
            "Browser session cookie set by `POST /auth/login` or an OAuth sign-in. Requests that change \
             something also need same-origin proof: an `Origin` or `Referer` header of this server, or the \
             `csrfToken` of `GET /auth/me` in `X-CSRF-Token`.",
        ))),
    );
    components.add_security_scheme(
        BEARER_SCHEME,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "API key `ah_…` created in the settings (`POST /api/settings/apikeys`), sent as \
                     `Authorization: Bearer ah_…`",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        HEADER_SCHEME,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-API-Key",
            "The same API key `ah_…`, sent as `X-API-Key: ah_…`",
        ))),
    );
    doc
}

/// The document's name for a method of the route table (which serves no others).
fn http_method(method: &Method) -> HttpMethod {
    match *method {
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
}

#[cfg(test)]
mod tests;
