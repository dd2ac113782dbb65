//! Uploads (§5, §6, §9): the streaming upload, the chunked protocol, upload sessions and their live stream.
//!
//! Request bodies are forwarded block by block from actix's payload (which lives on the worker thread) through a
//! small bounded channel to the upload use case, so a slow disk slows the client down instead of filling memory.
//!
//! One file past 500 lines: the streaming and the chunked routes share the body forwarding, the parsing of their
//! headers (also read by the `Expect: 100-continue` gate) and the `wait=true` answer, and the session routes are
//! the same sessions seen afterwards; split, each part would import the others' private helpers.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::web::{Bytes, Data, Payload};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;
use futures_util::future::{Either, select};
use hub_domain::ids::{BuildId, EnvId, IdError, ProjectId, UploadId};
use hub_domain::model::upload::{UploadSession, valid_file_name};
use hub_domain::ports::{BodyError, ByteStream, UploadEvent, UploadFilter};
use hub_domain::services::{ChunkUpload, ChunkedInit, Target, UploadError, UploadOptions};
use serde::Deserialize;
use tokio::sync::mpsc;
use utoipa::ToSchema;

use crate::access::Principal;
use crate::dto::{ChunkAckDto, UploadAcceptedDto, UploadCreatedDto, UploadSessionDto, json_response};
use crate::error::ApiError;
use crate::extract::{ProjectPath, QueryMap};
use crate::openapi::IN_ROUTE_TABLE;
use crate::openapi::formats;
use crate::openapi::params::{
    ChunkHeaders, ReplaceParams, ResultsHeaders, ResultsParams, UploadListParams, UploadStreamParams, WaitParams,
    ZipArchive,
};
use crate::sse;
use crate::state::AppState;

/// Blocks in flight between the payload and the disk writer (each at most actix's read size, ~64 KiB).
const BODY_CHANNEL_BLOCKS: usize = 8;
/// §5.2: the space written while a `wait=true` request waits.
const WAIT_HEARTBEAT: Duration = Duration::from_secs(15);

fn boolean(query: &HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match query.get(name) {
        None => Ok(false),
        Some(v) => hub_domain::model::syntax::boolean(v)
            .ok_or_else(|| ApiError::bad_request(format!("invalid {name}: must be true or false"))),
    }
}

/// A `buildId` parameter with the contract's 400s (§5.1).
pub(crate) fn build_id(value: Option<&str>) -> Result<BuildId, ApiError> {
    let value = value.ok_or_else(|| ApiError::bad_request("buildId is required"))?;
    BuildId::parse(value).map_err(|e| match e {
        IdError::Reserved => ApiError::bad_request("invalid buildId: \"latest\" is reserved"),
        IdError::Invalid => ApiError::bad_request("invalid buildId"),
    })
}

/// `buildId` of a JSON body (§6.1, §8.1): absent or `null` is missing, and a non-string is no valid id.
pub(crate) fn body_build_id(value: Option<&serde_json::Value>) -> Result<BuildId, ApiError> {
    build_id(match value {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(v.as_str().unwrap_or("\u{0}")),
    })
}

/// `reportConfig` of a JSON body (§6.1, §8.1): an object, or `None` when absent or `null`; its contents are the
/// use case's to check (§8.2).
pub(crate) fn body_report_config(value: Option<serde_json::Value>) -> Result<Option<serde_json::Value>, ApiError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(config @ serde_json::Value::Object(_)) => Ok(Some(config)),
        Some(_) => Err(ApiError::bad_request("reportConfig must be an object")),
    }
}

fn upload_id(req: &HttpRequest, name: &str) -> Result<UploadId, ApiError> {
    let raw = req.match_info().get(name).unwrap_or_default();
    UploadId::parse(raw).map_err(|_| ApiError::bad_request(format!("invalid {name}")))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The media type without parameters, lower-case.
fn media_type(headers: &HeaderMap) -> Option<String> {
    header_str(headers, "content-type").map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    header_str(headers, "content-length").and_then(|v| v.trim().parse().ok())
}

/// Feeds the payload into `tx` until it ends, fails, stalls or the receiver is gone.
async fn pump(mut payload: Payload, tx: mpsc::Sender<Result<Bytes, BodyError>>, idle: Duration) {
    loop {
        let next = match tokio::time::timeout(idle, payload.next()).await {
            Err(_) => Some(Err(BodyError::Stalled)),
            Ok(None) => None,
            Ok(Some(Ok(bytes))) => Some(Ok(bytes)),
            Ok(Some(Err(_))) => Some(Err(BodyError::Interrupted)),
        };
        let Some(item) = next else { return };
        let stop = item.is_err();
        if tx.send(item).await.is_err() || stop {
            return;
        }
    }
}

/// Runs `work` with the request body as a [`ByteStream`], pumping the payload concurrently; the pump is dropped
/// as soon as `work` is done (a refusal before the body must not wait for it).
async fn with_body<T>(payload: Payload, idle: Duration, work: impl AsyncFnOnce(ByteStream) -> T) -> T {
    let (tx, mut rx) = mpsc::channel(BODY_CHANNEL_BLOCKS);
    let body: ByteStream = Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let work = std::pin::pin!(work(body));
    let pumping = std::pin::pin!(pump(payload, tx, idle));
    match select(work, pumping).await {
        Either::Left((result, _)) => result,
        Either::Right(((), work)) => work.await,
    }
}

/// `response` with `Location` set to the session's status endpoint (§6.3).
fn with_location(mut response: HttpResponse, session: &UploadSession) -> HttpResponse {
    let location =
        format!("/api/environments/{}/projects/{}/uploads/{}", session.env_id, session.project_id, session.id);
    if let Ok(value) = header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `202` with the short body of §5.1 / §6.4: which session reports the generation, and where its report goes.
fn accepted(session: &UploadSession) -> HttpResponse {
    with_location(json_response(StatusCode::ACCEPTED, &UploadAcceptedDto::from(session)), session)
}

/// §5.2: holds the response until the session is `done` or `failed` or the wait times out, writing a space every
/// 15 s so proxies keep the connection; the session JSON follows.
fn wait_response(state: Data<AppState>, session: UploadSession) -> HttpResponse {
    let events = state.uploads.events().subscribe();
    let timeout = state.config.upload_wait_timeout;
    let id = session.id;
    let finished = async move {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut events = events;
        // Subscribed before re-reading, so a change between the two is not missed.
        let mut latest = state.uploads.get(id).await.ok().flatten().unwrap_or(session);
        while latest.phase.is_active() {
            match tokio::time::timeout_at(deadline, events.next()).await {
                Ok(Some(Ok(UploadEvent::Updated(s)))) if s.id == id => latest = s,
                Ok(Some(Ok(_))) => {}
                // Fell behind or the bus closed: read the stored state instead.
                Ok(Some(Err(_)) | None) => {
                    latest = state.uploads.get(id).await.ok().flatten().unwrap_or(latest);
                    if latest.phase.is_active() {
                        events = state.uploads.events().subscribe();
                    }
                }
                Err(_) => break,
            }
        }
        latest
    };
    let body = futures_util::stream::unfold((Box::pin(finished), false), |(mut finished, done)| async move {
        if done {
            return None;
        }
        match tokio::time::timeout(WAIT_HEARTBEAT, &mut finished).await {
            Err(_) => Some((Ok::<_, actix_web::Error>(Bytes::from_static(b" ")), (finished, false))),
            Ok(session) => {
                let json = serde_json::to_vec(&UploadSessionDto::from(session)).unwrap_or_default();
                Some((Ok(Bytes::from(json)), (finished, true)))
            }
        }
    });
    HttpResponse::Ok().content_type("application/json; charset=utf-8").streaming(body)
}

/// What `POST …/results` learns before its body (§5.1).
pub(crate) struct StreamRequest {
    pub(crate) build: BuildId,
    pub(crate) options: UploadOptions,
    pub(crate) wait: bool,
    /// `Content-Length`, when sent.
    pub(crate) declared: Option<u64>,
}

/// Everything `POST …/results` checks before its body, in the contract's order: the query, `X-Filename`, the media
/// type, the declared length against `max_upload_bytes`. Shared by the handler and the `Expect: 100-continue` gate
/// ([`crate::expect`]), so both refuse alike.
pub(crate) fn stream_request(
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    max_upload_bytes: u64,
) -> Result<StreamRequest, ApiError> {
    let build = build_id(query.get("buildId").map(String::as_str))?;
    let report_name = match query.get("reportName") {
        Some(name) if (1..=200).contains(&name.chars().count()) => Some(name.clone()),
        Some(_) => return Err(ApiError::bad_request("invalid reportName")),
        None => None,
    };
    let replace = boolean(query, "replace")?;
    let wait = boolean(query, "wait")?;
    let file_name = match header_str(headers, "x-filename") {
        Some(name) if valid_file_name(name) => Some(name.to_owned()),
        Some(_) => return Err(ApiError::bad_request("invalid X-Filename")),
        None if headers.contains_key("x-filename") => return Err(ApiError::bad_request("invalid X-Filename")),
        None => None,
    };
    if !matches!(
        media_type(headers).as_deref(),
        Some("application/zip" | "application/x-zip-compressed" | "application/octet-stream")
    ) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/zip or application/octet-stream",
        ));
    }
    let declared = content_length(headers);
    if declared.is_some_and(|n| n > max_upload_bytes) {
        return Err(UploadError::TooLarge(max_upload_bytes).into());
    }
    let report_config = report_name.map(|name| serde_json::json!({ "name": name }));
    Ok(StreamRequest { build, options: UploadOptions { file_name, replace, report_config }, wait, declared })
}

/// `POST /api/environments/{envId}/projects/{projectId}/results`: uploads a zipped `allure-results` directory as a
/// build in one request and queues its report.
#[utoipa::path(post, path = IN_ROUTE_TABLE, tag = "uploads",
    params(ResultsParams, ResultsHeaders),
    request_body(description = "the zipped allure-results directory",
        content((ZipArchive = "application/zip"), (ZipArchive = "application/x-zip-compressed"),
            (ZipArchive = "application/octet-stream"))),
    responses(
        (status = 202, description = "results saved, generation queued", body = UploadAcceptedDto,
            headers(("Location" = String, description = "the session's status endpoint, `…/uploads/{uploadId}`"))),
        (status = 200, description = "with `wait=true`: the session once finished, or still `generating` when the wait timed out", body = UploadSessionDto),
        (status = 400, description = "invalid query parameters (`buildId is required`, `invalid buildId`, `invalid reportName`, `invalid replace: must be true or false`, …), `invalid X-Filename`, `request body is empty`, `invalid zip archive: <reason>`, `unsafe archive entry \"<name>\": <reason>`, `duplicate archive entry \"<name>\"`, `archive contains no files`"),
        (status = 404, description = "`environment <envId> not found`, `project <projectId> not found in environment <envId>`"),
        (status = 408, description = "`upload stalled: no data received for <UPLOAD_IDLE_TIMEOUT>`"),
        (status = 409, description = "`build <buildId> already exists`, `build <buildId> has an upload in progress`, `build <buildId> is being generated`"),
        (status = 413, description = "`upload exceeds the maximum size of <MAX_UPLOAD_BYTES> bytes`, `archive has more than <n> entries`, `archive expands beyond <n> bytes`, `archive entry \"<name>\" exceeds the compression ratio limit`"),
        (status = 415, description = "`Content-Type must be application/zip or application/octet-stream`"),
        (status = 503, description = "`service unavailable`: the database is unavailable"),
    ))]
pub async fn upload_results(
    req: HttpRequest,
    state: Data<AppState>,
    ProjectPath(env, project): ProjectPath,
    principal: Principal,
    query: QueryMap,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let StreamRequest { build, options, wait, declared } =
        stream_request(req.headers(), &query, state.uploads.limits().max_upload_bytes)?;
    let target = Target { env, project, build };
    let principal = principal.0;
    let session = with_body(payload, state.config.upload_idle_timeout, async |body| {
        state.uploads.upload_stream(&principal, target, options, declared, body).await
    })
    .await?;
    Ok(if wait { wait_response(state, session) } else { accepted(&session) })
}

// Fields stay raw JSON so a wrong type gets the contract's message.
/// Body of `POST …/uploads`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitBody {
    /// The build these results are for; `latest` is reserved.
    #[serde(default)]
    #[schema(value_type = formats::BuildId, required = true)]
    build_id: Option<serde_json::Value>,
    /// Display name of the archive (default `results.zip`).
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 255)]
    file_name: Option<serde_json::Value>,
    /// Size of the whole archive in bytes, at most `MAX_UPLOAD_BYTES`.
    #[serde(default)]
    #[schema(value_type = i64, required = true, minimum = 1)]
    total_size: Option<serde_json::Value>,
    /// Number of chunks, at most `MAX_CHUNKS` and at most `totalSize`.
    #[serde(default)]
    #[schema(value_type = i64, required = true, minimum = 1)]
    total_chunks: Option<serde_json::Value>,
    /// SHA-256 of the whole archive (64 hex digits), checked at completion.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^[0-9A-Fa-f]{64}$")]
    sha256: Option<serde_json::Value>,
    /// Report config for the generation queued at completion, with the same rules as in `POST …/reports`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    report_config: Option<serde_json::Value>,
}

fn sha256_value(value: &str) -> Option<String> {
    (value.len() == 64 && value.chars().all(|c| c.is_ascii_hexdigit())).then(|| value.to_ascii_lowercase())
}

/// `POST /api/environments/{envId}/projects/{projectId}/uploads`: opens a chunked upload session.
#[utoipa::path(post, path = IN_ROUTE_TABLE, tag = "uploads",
    params(ReplaceParams), request_body = InitBody,
    responses(
        (status = 201, description = "the chunked upload session is open", body = UploadCreatedDto,
            headers(("Location" = String, description = "the session's status endpoint, `…/uploads/{uploadId}`"))),
        (status = 400, description = "`invalid replace: must be true or false`, `buildId is required`, `invalid buildId`, `invalid fileName`, `totalSize is required`, `totalSize must be a positive integer`, `totalChunks is required`, `totalChunks must be between 1 and <MAX_CHUNKS>`, `invalid sha256`, `reportConfig must be an object`, a refused `reportConfig` (`reportConfig.<key> is not allowed`, `reportConfig.plugins.<key> is not an allowed plugin`, …)"),
        (status = 404, description = "`environment <envId> not found`, `project <projectId> not found in environment <envId>`"),
        (status = 409, description = "`build <buildId> already exists`, `build <buildId> has an upload in progress`, `build <buildId> is being generated`"),
        (status = 413, description = "`totalSize exceeds the maximum upload size of <MAX_UPLOAD_BYTES> bytes`"),
    ))]
pub async fn init_upload(
    state: Data<AppState>,
    ProjectPath(env, project): ProjectPath,
    principal: Principal,
    query: QueryMap,
    body: actix_web::web::Json<InitBody>,
) -> Result<HttpResponse, ApiError> {
    let replace = boolean(&query, "replace")?;
    let body = body.into_inner();
    let build = body_build_id(body.build_id.as_ref())?;
    let file_name = match body.file_name {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(name)) if valid_file_name(&name) => Some(name),
        Some(_) => return Err(ApiError::bad_request("invalid fileName")),
    };
    let total_size = match body.total_size {
        None | Some(serde_json::Value::Null) => return Err(ApiError::bad_request("totalSize is required")),
        Some(v) => v.as_i64().filter(|n| *n >= 1).ok_or_else(|| {
            if v.as_u64().is_some() {
                UploadError::TotalSizeTooLarge(state.uploads.limits().max_upload_bytes).into()
            } else {
                ApiError::bad_request("totalSize must be a positive integer")
            }
        })?,
    };
    let max_chunks = state.uploads.limits().max_chunks;
    let total_chunks = match body.total_chunks {
        None | Some(serde_json::Value::Null) => return Err(ApiError::bad_request("totalChunks is required")),
        Some(v) => v
            .as_i64()
            .ok_or_else(|| ApiError::bad_request(format!("totalChunks must be between 1 and {max_chunks}")))?,
    };
    let sha256 = match body.sha256 {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => {
            Some(sha256_value(&s).ok_or_else(|| ApiError::bad_request("invalid sha256"))?)
        }
        Some(_) => return Err(ApiError::bad_request("invalid sha256")),
    };
    let report_config = body_report_config(body.report_config)?;
    let options = UploadOptions { file_name, replace, report_config };
    let init = ChunkedInit { total_size, total_chunks, sha256 };
    let session = state.uploads.init_chunked(&principal.0, Target { env, project, build }, options, init).await?;
    let response = json_response(StatusCode::CREATED, &UploadCreatedDto { upload_id: session.id.to_string() });
    Ok(with_location(response, &session))
}

/// The chunk headers of `PUT …/uploads/{uploadId}` (§6.2).
pub(crate) struct ChunkRequest {
    pub(crate) index: i64,
    pub(crate) total_chunks: i64,
    pub(crate) sha256: Option<String>,
}

/// Everything a chunk checks before its body, in the contract's order: the chunk headers, the media type, the
/// declared length against `max_chunk_bytes`. Shared by the handler and the `Expect: 100-continue` gate.
pub(crate) fn chunk_request(headers: &HeaderMap, max_chunk_bytes: u64) -> Result<ChunkRequest, ApiError> {
    let index =
        header_str(headers, "x-chunk-index").ok_or_else(|| ApiError::bad_request("X-Chunk-Index is required"))?;
    let total =
        header_str(headers, "x-total-chunks").ok_or_else(|| ApiError::bad_request("X-Total-Chunks is required"))?;
    // Range errors need the session's totalChunks: the use case words them; a non-number can never be in range.
    let index: i64 = index.trim().parse().unwrap_or(-1);
    let total_chunks: i64 = total.trim().parse().unwrap_or(-1);
    let sha256 = match header_str(headers, "x-chunk-sha256") {
        None => None,
        Some(v) => Some(sha256_value(v.trim()).ok_or_else(|| ApiError::bad_request("invalid X-Chunk-Sha256"))?),
    };
    if let Some(media) = media_type(headers)
        && media != "application/octet-stream"
        && media != "application/zip"
    {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/octet-stream"));
    }
    if content_length(headers).is_some_and(|n| n > max_chunk_bytes) {
        return Err(UploadError::ChunkTooLarge(max_chunk_bytes).into());
    }
    Ok(ChunkRequest { index, total_chunks, sha256 })
}

/// `PUT /api/environments/{envId}/projects/{projectId}/uploads/{uploadId}`: stores one chunk; chunks may come in any
/// order and be sent again.
#[utoipa::path(put, path = IN_ROUTE_TABLE, tag = "uploads",
    params(ChunkHeaders),
    request_body(description = "1 to `MAX_CHUNK_BYTES` bytes of the archive",
        content((ZipArchive = "application/octet-stream"), (ZipArchive = "application/zip"))),
    responses(
        (status = 200, description = "the chunk is stored", body = ChunkAckDto),
        (status = 400, description = "missing or invalid chunk headers, `chunk checksum mismatch`, `request body is empty`"),
        (status = 403, description = "`upload <uploadId> belongs to another principal`"),
        (status = 404, description = "`upload <uploadId> not found`"),
        (status = 408, description = "`upload stalled: no data received for <UPLOAD_IDLE_TIMEOUT>`"),
        (status = 409, description = "`upload <uploadId> is not a chunked upload`, `upload <uploadId> is not accepting chunks (phase <phase>)`"),
        (status = 413, description = "`chunk exceeds the maximum size of <MAX_CHUNK_BYTES> bytes`, `chunks exceed the declared totalSize of <totalSize> bytes`"),
        (status = 415, description = "`Content-Type must be application/octet-stream`"),
    ))]
pub async fn put_chunk(
    req: HttpRequest,
    state: Data<AppState>,
    ProjectPath(env, project): ProjectPath,
    principal: Principal,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let id = upload_id(&req, "uploadId")?;
    let ChunkRequest { index, total_chunks, sha256 } =
        chunk_request(req.headers(), state.uploads.limits().max_chunk_bytes)?;
    let principal = principal.0;
    let session = with_body(payload, state.config.upload_idle_timeout, async |body| {
        let chunk = ChunkUpload { index, total_chunks, sha256, body };
        state.uploads.put_chunk(&principal, &env, &project, id, chunk).await
    })
    .await?;
    Ok(json_response(StatusCode::OK, &ChunkAckDto::from(&session)))
}

/// `GET /api/environments/{envId}/projects/{projectId}/uploads/{uploadId}`: a session with the chunks it still
/// misses, to resume an interrupted upload.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "uploads",
    responses(
        (status = 200, description = "the session with `missingChunks`", body = UploadSessionDto),
        (status = 404, description = "`upload <uploadId> not found`"),
    ))]
pub async fn upload_status(
    req: HttpRequest,
    state: Data<AppState>,
    ProjectPath(env, project): ProjectPath,
) -> Result<HttpResponse, ApiError> {
    let id = upload_id(&req, "uploadId")?;
    let status = state.uploads.status(&env, &project, id).await?;
    Ok(json_response(StatusCode::OK, &UploadSessionDto::from(status)))
}

/// `POST /api/environments/{envId}/projects/{projectId}/uploads/{uploadId}/complete`: assembles the chunks, saves the
/// results and queues the report.
#[utoipa::path(post, path = IN_ROUTE_TABLE,
    tag = "uploads", params(WaitParams),
    responses(
        (status = 202, description = "assembled and saved, generation queued (or already completed)", body = UploadAcceptedDto,
            headers(("Location" = String, description = "the session's status endpoint, `…/uploads/{uploadId}`"))),
        (status = 200, description = "with `wait=true`: the session once finished, or still `generating` when the wait timed out", body = UploadSessionDto),
        (status = 400, description = "`invalid wait: must be true or false`, missing chunks (with `missingChunks`), size or checksum mismatch, `invalid zip archive: <reason>`, `unsafe archive entry \"<name>\": <reason>`, `duplicate archive entry \"<name>\"`, `archive contains no files`"),
        (status = 403, description = "`upload <uploadId> belongs to another principal`"),
        (status = 404, description = "`upload <uploadId> not found`"),
        (status = 409, description = "`upload <uploadId> is not a chunked upload`, `upload <uploadId> is being assembled`, `upload <uploadId> has failed`"),
        (status = 413, description = "`archive has more than <n> entries`, `archive expands beyond <n> bytes`, `archive entry \"<name>\" exceeds the compression ratio limit`"),
    ))]
pub async fn complete_upload(
    req: HttpRequest,
    state: Data<AppState>,
    ProjectPath(env, project): ProjectPath,
    principal: Principal,
    query: QueryMap,
) -> Result<HttpResponse, ApiError> {
    let id = upload_id(&req, "uploadId")?;
    let wait = boolean(&query, "wait")?;
    let session = state.uploads.complete(&principal.0, &env, &project, id).await?;
    Ok(if wait { wait_response(state, session) } else { accepted(&session) })
}

/// `envId` / `projectId` filters of the session list and stream (§9.1, §9.2).
fn filter(query: &QueryMap) -> Result<UploadFilter, ApiError> {
    Ok(UploadFilter {
        env: query
            .get("envId")
            .map(|v| EnvId::parse(v).map_err(|_| ApiError::bad_request("invalid envId")))
            .transpose()?,
        project: query
            .get("projectId")
            .map(|v| ProjectId::parse(v).map_err(|_| ApiError::bad_request("invalid projectId")))
            .transpose()?,
    })
}

/// `GET /api/uploads`: upload sessions of every kind, newest first.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "upload sessions", params(UploadListParams),
    responses(
        (status = 200, description = "sessions, newest first", body = [UploadSessionDto]),
        (status = 400, description = "`invalid limit: …`, `invalid envId`, `invalid projectId`"),
    ))]
pub async fn list_uploads(state: Data<AppState>, query: QueryMap) -> Result<HttpResponse, ApiError> {
    let limit = crate::extract::page_request(&query, 100, 500)?.limit;
    let sessions = state.uploads.list(filter(&query)?, limit).await?;
    Ok(json_response(StatusCode::OK, &sessions.into_iter().map(UploadSessionDto::from).collect::<Vec<_>>()))
}

/// `GET /api/uploads/stream`: every change of an upload session, live.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "upload sessions", params(UploadStreamParams),
    responses(
        (status = 200, description = "server-sent events `update` and `deleted`, each with an UploadSession as `data`; a keep-alive comment every 15 s",
            content_type = "text/event-stream", body = String),
        (status = 400, description = "`invalid envId`, `invalid projectId`"),
    ))]
pub async fn upload_stream(
    req: HttpRequest,
    state: Data<AppState>,
    principal: Principal,
    query: QueryMap,
) -> Result<HttpResponse, ApiError> {
    let filter = filter(&query)?;
    let events = state.uploads.events().subscribe().filter_map(move |event| {
        let event = match event {
            Ok(event) => event,
            // §1.10: a subscriber that fell 256 events behind is disconnected.
            Err(_) => return std::future::ready(Some(Err(()))),
        };
        let session = event.session();
        let wanted = filter.env.as_ref().is_none_or(|e| e == &session.env_id)
            && filter.project.as_ref().is_none_or(|p| p == &session.project_id);
        std::future::ready(wanted.then(|| {
            let (name, session) = match event {
                UploadEvent::Updated(s) => ("update", s),
                UploadEvent::Deleted(s) => ("deleted", s),
            };
            Ok(sse::Event { name, data: serde_json::to_string(&UploadSessionDto::from(session)).unwrap_or_default() })
        }))
    });
    Ok(sse::response(&req, state, principal.0, Box::pin(events)))
}

/// `DELETE /api/uploads/{id}`: deletes a session that is no longer in progress, with its own files.
#[utoipa::path(delete, path = IN_ROUTE_TABLE, tag = "upload sessions",
    responses(
        (status = 204, description = "the session record and its own files are deleted"),
        (status = 404, description = "`upload <id> not found`"),
        (status = 409, description = "`upload <id> cannot be deleted while <phase>`"),
    ))]
pub async fn delete_upload(req: HttpRequest, state: Data<AppState>) -> Result<HttpResponse, ApiError> {
    let id = upload_id(&req, "id")?;
    state.uploads.delete(id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_file_names() {
        assert!(valid_file_name("results.zip"));
        for bad in ["", "a/b.zip", "a\\b", "tab\there", &"x".repeat(256)] {
            assert!(!valid_file_name(bad), "{bad:?}");
        }
        assert_eq!(sha256_value(&"AB".repeat(32)), Some("ab".repeat(32)));
        assert_eq!(sha256_value("abc"), None);
    }
}
