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
        (name = "health", description = "Readiness, the server's version and Prometheus metrics."),
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
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    fn doc() -> Value {
        serde_json::to_value(document("9.9.9")).unwrap()
    }

    /// The document is read by people who have only it: no text may point to a specification they do not have.
    #[test]
    fn the_document_refers_to_no_outside_specification() {
        fn walk(value: &Value, at: &str, found: &mut Vec<String>) {
            match value {
                Value::String(text) if text.contains('§') || text.to_lowercase().contains("contract") => {
                    found.push(format!("{at}: {text}"));
                }
                Value::Object(map) => map.iter().for_each(|(k, v)| walk(v, &format!("{at}/{k}"), found)),
                Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| walk(v, &format!("{at}/{i}"), found)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        walk(&doc(), "", &mut found);
        assert!(found.is_empty(), "{} texts refer to the specification:\n{}", found.len(), found.join("\n"));
    }

    #[test]
    fn an_api_key_needs_only_a_name_and_is_a_developer_key_by_default() {
        let body = &doc()["components"]["schemas"]["CreateKeyBody"];
        assert_eq!(body["required"], serde_json::json!(["name"]), "{body}");
        assert_eq!(body["properties"]["role"]["default"], "developer", "{body}");
    }

    #[test]
    fn every_route_of_the_table_is_documented() {
        let doc = doc();
        let missing: Vec<String> = routes::endpoints()
            .iter()
            .filter(|e| doc["paths"][e.path][e.method.as_str().to_ascii_lowercase()].is_null())
            .map(|e| format!("{} {}", e.method, e.path))
            .collect();
        assert!(missing.is_empty(), "routes without documentation (see the openapi module's comment): {missing:?}");
    }

    #[test]
    fn every_documented_operation_is_a_route_or_one_served_outside_the_table() {
        let table: BTreeSet<(String, String)> =
            routes::endpoints().iter().map(|e| (e.method.as_str().to_ascii_lowercase(), e.path.to_owned())).collect();
        let outside = ["/metrics", "/reports/{envId}/{projectId}/{buildId}/{path}"];
        for (path, item) in doc()["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                let known = table.contains(&(method.clone(), path.clone())) || outside.contains(&path.as_str());
                assert!(known, "{method} {path} is documented but not served");
            }
        }
    }

    #[test]
    fn every_path_segment_of_the_table_is_described() {
        let described: Vec<&str> = params::segments().iter().map(|segment| segment.name).collect();
        for e in routes::endpoints() {
            for name in params::segment_names(e.path) {
                assert!(described.contains(&name), "{{{name}}} of {} {} is not in params::segments", e.method, e.path);
            }
        }
    }

    /// Ids are described by the `Slug`, `BuildId` and `Ulid` schemas; no parameter or field repeats their patterns.
    #[test]
    fn the_id_patterns_appear_once_in_their_own_schemas() {
        fn walk(value: &Value, at: &str, found: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(pattern)) = map.get("pattern")
                        && [formats::SLUG, formats::BUILD_ID, formats::ULID].contains(&pattern.as_str())
                    {
                        found.push(at.to_owned());
                    }
                    map.iter().for_each(|(k, v)| walk(v, &format!("{at}/{k}"), found));
                }
                Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| walk(v, &format!("{at}/{i}"), found)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        walk(&doc(), "", &mut found);
        assert_eq!(found, ["/components/schemas/BuildId", "/components/schemas/Slug", "/components/schemas/Ulid"]);
        let doc = doc();
        let env = &doc["paths"]["/api/environments/{envId}"]["delete"]["parameters"][0];
        assert_eq!(env["schema"]["$ref"], "#/components/schemas/Slug", "{env}");
        let body = &doc["components"]["schemas"]["CreateProjectBody"]["properties"]["id"];
        assert_eq!(body["$ref"], "#/components/schemas/Slug", "{body}");
    }

    #[test]
    fn parameters_appear_once_with_their_own_description() {
        let doc = doc();
        let params =
            doc["paths"]["/api/settings/users/{email}/role"]["patch"]["parameters"].as_array().unwrap().clone();
        assert_eq!(params.len(), 1, "{params:?}");
        assert!(params[0]["schema"]["pattern"].is_string(), "the described parameter is kept: {params:?}");
    }

    #[test]
    fn operation_ids_are_the_handler_names_and_unique() {
        let doc = doc();
        let mut ids = BTreeSet::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let id = op["operationId"].as_str().unwrap().to_owned();
                assert!(ids.insert(id.clone()), "{id} twice");
            }
        }
        assert_eq!(doc["paths"]["/api/environments"]["get"]["operationId"], "list_environments");
        assert_eq!(doc["paths"]["/api/settings/apikeys"]["post"]["operationId"], "create_api_key");
    }

    /// Every `$ref` points at something the document defines.
    #[test]
    fn every_reference_resolves() {
        fn walk(value: &Value, doc: &Value, seen: &mut usize) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("external $ref {target}"));
                        assert!(doc.pointer(pointer).is_some(), "unresolved $ref {target}");
                        *seen += 1;
                    }
                    map.values().for_each(|v| walk(v, doc, seen));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, doc, seen)),
                _ => {}
            }
        }
        let doc = doc();
        let mut seen = 0;
        walk(&doc, &doc, &mut seen);
        assert!(seen > 50, "only {seen} references: the walk did not reach the operations");
    }

    #[test]
    fn the_document_is_openapi_3_1_with_the_server_version_and_the_three_credentials() {
        let doc = doc();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["title"], "allure-hub");
        assert_eq!(doc["info"]["version"], "9.9.9");
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(
            schemes["sessionCookie"],
            serde_json::json!({"type": "apiKey", "in": "cookie", "name": "allure_hub_session", "description": schemes["sessionCookie"]["description"]})
        );
        assert_eq!(schemes["bearerApiKey"]["type"], "http");
        assert_eq!(schemes["bearerApiKey"]["scheme"], "bearer");
        assert_eq!(schemes["headerApiKey"]["in"], "header");
        assert_eq!(schemes["headerApiKey"]["name"], "X-API-Key");
        // The round trip through utoipa's own types keeps everything.
        let parsed: utoipa::openapi::OpenApi = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(serde_json::to_value(parsed).unwrap(), doc);
    }

    #[test]
    fn the_section_16_schemas_are_components() {
        let doc = doc();
        for name in [
            "Environment",
            "Project",
            "BuildSummary",
            "Build",
            "BuildStats",
            "QualityGateResult",
            "UploadSession",
            "ApiKey",
            "User",
            "Me",
            "Error",
            "UploadAccepted",
            "ChunkAck",
            "ReportStats",
            "Provider",
            "AllureVersion",
            "Health",
            "Version",
            "Notification",
            "UnreadCount",
            "Overview",
            "DiskUsage",
            "DiskThreshold",
            "RetentionSettings",
            "CleanupRun",
        ] {
            assert!(doc["components"]["schemas"][name].is_object(), "schema {name} missing");
        }
        // Fields are never omitted (§1.4): nullable ones are still required.
        let build = &doc["components"]["schemas"]["Build"];
        let required: Vec<&str> = build["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        for field in ["completedAt", "qualityGate", "error", "config", "status"] {
            assert!(required.contains(&field), "Build.{field} not required: {required:?}");
        }
        assert_eq!(
            build["properties"]["status"]["enum"],
            serde_json::json!(["pending", "generating", "ready", "failed"])
        );
    }

    #[test]
    fn access_rules_become_security_and_auth_errors() {
        let doc = doc();
        let op = |path: &str, method: &str| doc["paths"][path][method].clone();
        let schemes = |op: &Value| -> Vec<String> {
            op["security"].as_array().map_or_else(Vec::new, |reqs| {
                reqs.iter().flat_map(|r| r.as_object().unwrap().keys().cloned().collect::<Vec<_>>()).collect()
            })
        };
        let list = op("/api/environments", "get");
        assert_eq!(schemes(&list), ["sessionCookie", "bearerApiKey", "headerApiKey"]);
        assert!(list["responses"]["401"].is_object() && list["responses"]["403"].is_object());
        assert_eq!(
            list["responses"]["403"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error"
        );
        let keys = op("/api/settings/apikeys", "get");
        assert_eq!(schemes(&keys), ["sessionCookie"]);
        let health = op("/api/healthz", "get");
        assert!(health["security"].is_null() && health["responses"]["401"].is_null());
        assert!(health["responses"]["429"].is_null(), "health checks are not rate limited");
        assert_eq!(
            health["responses"]["503"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Health"
        );
        let create = op("/api/environments", "post");
        for status in ["400", "413", "415", "429"] {
            assert!(create["responses"][status].is_object(), "POST /api/environments lacks {status}");
        }
        // The route's own messages of a status are kept, joined to the shared ones, each written once.
        let text = |op: &Value, status: &str| op["responses"][status]["description"].as_str().unwrap().to_owned();
        assert!(text(&create, "400").contains("id is required"));
        assert!(text(&create, "400").ends_with("`invalid JSON body: <parser message>`"));
        let key = text(&op("/api/settings/apikeys", "post"), "403");
        assert!(
            key.starts_with("`settings require a browser session`, `missing permission: manage`, `only admins"),
            "{key}"
        );
        assert_eq!(key.matches("cross-site request rejected").count(), 1, "{key}");
        let chunk = text(&op("/api/environments/{envId}/projects/{projectId}/uploads/{uploadId}", "put"), "400");
        assert!(chunk.starts_with("`invalid envId`, `invalid projectId`, `invalid uploadId`, missing"), "{chunk}");
    }
}
