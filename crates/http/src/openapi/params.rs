//! Parameters shared by several routes: the path segments of the route table, each described once, and the query
//! parameters and headers for `params(...)` of `#[utoipa::path]`.
//!
//! Handlers parse these themselves (the extractors of [`crate::extract`] and a query map), so the contract's
//! exact `400` messages stay theirs; these types only describe the parameters. Identifier formats are those of
//! [`super::formats`].

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Ref, RefOr, Required, Schema};
use utoipa::{IntoParams, ToSchema};

use super::formats::{BuildId, Slug, Ulid};

/// A `{segment}` of the route table's paths. [`crate::openapi::document`] gives every route the parameters of its
/// path from here, so a segment is described the same way wherever it appears.
#[derive(Debug)]
pub struct Segment {
    /// The name in the path, without braces.
    pub name: &'static str,
    description: &'static str,
    schema: fn() -> RefOr<Schema>,
    /// Whether a malformed value is answered `400 invalid <name>` (otherwise it is simply not found).
    pub checked: bool,
}

impl Segment {
    /// The segment as a path parameter of the document.
    pub fn parameter(&self) -> Parameter {
        ParameterBuilder::new()
            .name(self.name)
            .parameter_in(ParameterIn::Path)
            .description(Some(self.description))
            .required(Required::True)
            .schema(Some((self.schema)()))
            .build()
    }
}

/// A reference to the document's schema of `T`, one of [`super::formats`].
fn reference<T: ToSchema>() -> RefOr<Schema> {
    Ref::from_schema_name(T::name()).into()
}

/// Every segment name of the route table.
pub fn segments() -> [Segment; 8] {
    [
        Segment { name: "envId", description: "Environment id (slug).", schema: reference::<Slug>, checked: true },
        Segment {
            name: "projectId",
            description: "Project id (slug), unique within its environment.",
            schema: reference::<Slug>,
            checked: true,
        },
        Segment {
            name: "buildId",
            description: "Build id; `latest` is reserved.",
            schema: reference::<BuildId>,
            checked: true,
        },
        Segment {
            name: "uploadId",
            description: "Upload session id (ULID).",
            schema: reference::<Ulid>,
            checked: true,
        },
        Segment { name: "id", description: "The object's id (ULID).", schema: reference::<Ulid>, checked: true },
        Segment {
            name: "email",
            description: "The user's email; need not have signed in yet.",
            schema: || {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(254))
                    .pattern(Some(r"^[^@\s]+@[^@\s]+$"))
                    .into()
            },
            checked: true,
        },
        Segment {
            name: "provider",
            description: "`google`, `github`, `gitlab` or `oidc`; an id that is not enabled is 404.",
            schema: || {
                ObjectBuilder::new().schema_type(Type::String).pattern(Some("^(google|github|gitlab|oidc)$")).into()
            },
            checked: false,
        },
        Segment {
            name: "file",
            description: "A file of Swagger UI's distribution (`swagger-ui-bundle.js`, `swagger-ui.css`, …).",
            schema: || ObjectBuilder::new().schema_type(Type::String).into(),
            checked: false,
        },
    ]
}

/// The `{segment}` names of `path`, in order.
pub fn segment_names(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
}

/// `limit` and `offset` of a paginated list (§1.8); the maximum and default are stated per route.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many items to return.
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    /// How many matching items to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// `search`, `limit` and `offset` of the settings lists (API keys: max 100, default 20; users: the same).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchPageParams {
    /// Case-insensitive substring to match; `%` and `_` are literal characters.
    pub search: Option<String>,
    /// How many items to return (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// How many matching items to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// Query of `GET …/reports` besides `limit` and `offset`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportFilterParams {
    /// Test outcome filter: `passed` = at least one test and no failures, `failed` = some failed or broken.
    #[param(inline, value_type = Option<OutcomeName>)]
    pub status: Option<String>,
    /// Alias of `status`.
    #[param(inline, value_type = Option<OutcomeName>)]
    pub filter: Option<String>,
}

/// The values of the outcome filter.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum OutcomeName {
    /// Every build.
    All,
    /// Builds whose tests all passed.
    Passed,
    /// Builds with failed or broken tests.
    Failed,
}

/// Query of `POST …/results` (§5.1).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ResultsParams {
    /// The build these results are for; `latest` is reserved.
    #[param(value_type = BuildId)]
    pub build_id: String,
    /// Report title for this build's generation, 1–200 characters.
    #[param(min_length = 1, max_length = 200)]
    pub report_name: Option<String>,
    /// Replace an existing `ready` or `failed` build with this id.
    pub replace: Option<bool>,
    /// Hold the response until the report is finished or `UPLOAD_WAIT_TIMEOUT` has passed; the answer is then 200
    /// with the session (phase `done`, `failed`, or `generating` after a timeout). A space is written every 15 s
    /// before the JSON so that proxies keep the connection open.
    pub wait: Option<bool>,
}

/// Headers of `POST …/results` (§5.1).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct ResultsHeaders {
    /// Display name stored as the session's `fileName` (default `results.zip`): 1–255 characters, no control
    /// characters, `/` or `\` (and, being a header, printable ASCII).
    #[param(
        rename = "X-Filename",
        nullable = false,
        min_length = 1,
        max_length = 255,
        pattern = r"^[\x21-\x2e\x30-\x5b\x5d-\x7e]+$"
    )]
    pub x_filename: Option<String>,
}

/// A zip archive of an `allure-results` directory, as raw bytes. Entries with absolute paths, `..`, links or
/// special files are refused; a single top-level `allure-results/` folder is removed; at least one file must
/// remain.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ZipArchive(pub Vec<u8>);

/// `replace` of `POST …/uploads` (§6.1).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReplaceParams {
    /// Replace an existing `ready` or `failed` build with this id.
    pub replace: Option<bool>,
}

/// `wait` of `POST …/complete` (§6.4).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitParams {
    /// Hold the response until the report is finished or `UPLOAD_WAIT_TIMEOUT` has passed; the answer is then 200
    /// with the session (phase `done`, `failed`, or `generating` after a timeout). A space is written every 15 s
    /// before the JSON so that proxies keep the connection open.
    pub wait: Option<bool>,
}

/// Headers of a chunk (§6.2).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct ChunkHeaders {
    /// 0-based index of this chunk, below the session's `totalChunks`.
    #[param(rename = "X-Chunk-Index", minimum = 0)]
    pub x_chunk_index: i64,
    /// Must equal the session's `totalChunks`.
    #[param(rename = "X-Total-Chunks", minimum = 1)]
    pub x_total_chunks: i64,
    /// SHA-256 of this chunk's body, 64 hex digits.
    #[param(rename = "X-Chunk-Sha256", nullable = false, pattern = r"^[0-9A-Fa-f]{64}$")]
    pub x_chunk_sha256: Option<String>,
}

/// Filters of the session list (§9.1).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct UploadListParams {
    /// How many sessions to return (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Only sessions of this environment.
    #[param(value_type = Option<Slug>)]
    pub env_id: Option<String>,
    /// Only sessions of projects with this id.
    #[param(value_type = Option<Slug>)]
    pub project_id: Option<String>,
}

/// Filters of the session stream (§9.2).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct UploadStreamParams {
    /// Only sessions of this environment.
    #[param(value_type = Option<Slug>)]
    pub env_id: Option<String>,
    /// Only sessions of projects with this id.
    #[param(value_type = Option<Slug>)]
    pub project_id: Option<String>,
}

/// Query of `GET /auth/{provider}`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartParams {
    /// Local path to return to after signing in (one leading `/`, no `\`, at most 2048 characters); anything
    /// else is ignored.
    pub next: Option<String>,
}

/// Query of the callback, as the provider sends it.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    /// Authorization code.
    pub code: Option<String>,
    /// The flow's `state`.
    pub state: Option<String>,
    /// The provider's error code (`access_denied`, …).
    pub error: Option<String>,
}

/// `action` of `DELETE /api/settings/apikeys/{id}`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeyActionParams {
    /// `revoke` (default): the key stops working and stays listed; `delete`: the record is removed.
    #[param(pattern = "^(revoke|delete)$")]
    pub action: Option<String>,
}

/// Path of a report file URL on the main origin.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct ReportFileParams {
    /// Environment id.
    pub env_id: String,
    /// Project id.
    pub project_id: String,
    /// Build id, or `latest` for the project's newest build whose report is ready.
    pub build_id: String,
    /// Path of the file inside the report (may have several segments, or be empty).
    pub path: String,
}
