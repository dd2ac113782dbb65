//! Prometheus metrics (contract §12.3): the process's recorder, the functions the rest of the server records
//! through, the request-counting middleware and the `GET /metrics` route.
//!
//! One recorder serves the whole process (the `metrics` facade has a single global slot): it is installed on first
//! use and every later caller, a second server in the same test process included, shares it. Series are labelled
//! only with bounded values (route templates, known methods and fixed enumerations), so their number stays small
//! however many distinct URLs are requested.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::CONTENT_TYPE as CONTENT_TYPE_HEADER;
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, HttpResponse, web};
use hub_domain::model::access::Permission;
use hub_domain::model::retention::CleanupStatus;
use hub_domain::model::upload::UploadKind;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::access::{Access, enforce};
use crate::error::ApiError;

/// `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const BUILD_INFO: &str = "allure_hub_build_info";
const HTTP_REQUESTS: &str = "allure_hub_http_requests_total";
const HTTP_DURATION: &str = "allure_hub_http_request_duration_seconds";
const UPLOADS: &str = "allure_hub_uploads_total";
const UPLOAD_BYTES: &str = "allure_hub_upload_bytes_total";
const GENERATION_JOBS: &str = "allure_hub_generation_jobs";
const GENERATIONS: &str = "allure_hub_generations_total";
const GENERATION_DURATION: &str = "allure_hub_generation_duration_seconds";
const SSE_CONNECTIONS: &str = "allure_hub_sse_connections";
const DISK_USED: &str = "allure_hub_disk_used_bytes";
const DISK_FREE: &str = "allure_hub_disk_free_bytes";
const DISK_TOTAL: &str = "allure_hub_disk_total_bytes";
const CLEANUP_RUNS: &str = "allure_hub_cleanup_runs_total";
const RATE_LIMITED: &str = "allure_hub_rate_limited_total";

/// Request latencies: API calls take milliseconds, uploads and `wait=true` up to minutes.
const HTTP_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];
/// Generation times: seconds for small runs up to the default one-hour CLI timeout.
const GENERATION_BUCKETS: &[f64] = &[1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];

/// How often histogram samples are folded into their buckets when nobody scrapes (they pile up until then).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The route label of requests no route template matched.
pub const UNMATCHED: &str = "unmatched";
/// The route label of report files, which are served by a fallback rather than a route of the table (§8.9).
pub const REPORT_FILES: &str = "/reports/{envId}/{projectId}/{buildId}/{path}";

/// The process's metrics, for rendering the scrape.
#[derive(Debug, Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

static GLOBAL: OnceLock<Metrics> = OnceLock::new();

impl Metrics {
    /// The process's metrics, installing the recorder on first use.
    pub fn global() -> &'static Self {
        GLOBAL.get_or_init(install)
    }

    /// The current values in the Prometheus text format.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

fn install() -> Metrics {
    let buckets = [(HTTP_DURATION, HTTP_BUCKETS), (GENERATION_DURATION, GENERATION_BUCKETS)];
    let builder = buckets.into_iter().try_fold(PrometheusBuilder::new(), |builder, (name, values)| {
        builder.set_buckets_for_metric(Matcher::Full(name.to_owned()), values)
    });
    let recorder = match builder {
        Ok(builder) => builder.build_recorder(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics histograms fall back to summaries");
            PrometheusBuilder::new().build_recorder()
        }
    };
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        // Only possible if something else in the process installed one first: ours then stays empty.
        tracing::warn!("another metrics recorder is installed; /metrics will not see this server's metrics");
    }
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
        loop {
            std::thread::sleep(UPKEEP_EVERY);
            upkeep.run_upkeep();
        }
    });
    if let Err(e) = spawned {
        // Scrapes still drain the samples; only memory between scrapes is unbounded.
        tracing::warn!(error = %e, "cannot start the metrics upkeep thread");
    }
    describe_and_zero();
    Metrics { handle }
}

/// Describes every series and creates the fixed ones at zero, so a scrape shows them before the first event.
fn describe_and_zero() {
    metrics::describe_gauge!(BUILD_INFO, "Build information (always 1).");
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route template and status.");
    metrics::describe_histogram!(HTTP_DURATION, "HTTP request latency in seconds (event streams excluded).");
    metrics::describe_counter!(UPLOADS, "Uploads that reached generating (accepted) or failed before it.");
    metrics::describe_counter!(UPLOAD_BYTES, "Archive bytes received.");
    metrics::describe_gauge!(GENERATION_JOBS, "Report generation jobs by state.");
    metrics::describe_counter!(GENERATIONS, "Finished report generations.");
    metrics::describe_histogram!(GENERATION_DURATION, "Report generation time in seconds, from job start to end.");
    metrics::describe_gauge!(SSE_CONNECTIONS, "Open server-sent event streams.");
    metrics::describe_gauge!(DISK_USED, "Bytes of all files under DATA_DIR at the last measurement.");
    metrics::describe_gauge!(DISK_FREE, "Bytes available on the filesystem of DATA_DIR at the last measurement.");
    metrics::describe_gauge!(DISK_TOTAL, "Capacity of the filesystem of DATA_DIR at the last measurement.");
    metrics::describe_counter!(CLEANUP_RUNS, "Retention cleanup runs by status.");
    metrics::describe_counter!(RATE_LIMITED, "Requests answered 429.");
    // Adding zero creates a series without changing one that exists.
    for kind in ["stream", "chunked"] {
        for result in [UploadResult::Accepted, UploadResult::Failed] {
            metrics::counter!(UPLOADS, "kind" => kind, "result" => result.as_str()).increment(0);
        }
        metrics::counter!(UPLOAD_BYTES, "kind" => kind).increment(0);
    }
    for state in ["queued", "running"] {
        metrics::gauge!(GENERATION_JOBS, "state" => state).increment(0.0);
    }
    for result in [GenerationResult::Success, GenerationResult::Failure] {
        metrics::counter!(GENERATIONS, "result" => result.as_str()).increment(0);
    }
    for stream in [SseStream::Uploads, SseStream::Notifications] {
        metrics::gauge!(SSE_CONNECTIONS, "stream" => stream.as_str()).increment(0.0);
    }
    for gauge in [DISK_USED, DISK_FREE, DISK_TOTAL] {
        metrics::gauge!(gauge).increment(0.0);
    }
    for status in [CleanupStatus::Success, CleanupStatus::Failed] {
        metrics::counter!(CLEANUP_RUNS, "status" => status.as_str()).increment(0);
    }
    metrics::counter!(RATE_LIMITED).increment(0);
}

/// Records through the process's recorder, installing it first if nothing has yet.
fn ensure_installed() {
    let _ = Metrics::global();
}

/// Sets `allure_hub_build_info{version,git_commit}` to 1.
pub fn record_build_info(version: &str, git_commit: &str) {
    ensure_installed();
    metrics::gauge!(BUILD_INFO, "version" => version.to_owned(), "git_commit" => git_commit.to_owned()).set(1.0);
}

/// How an upload ended, for `allure_hub_uploads_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadResult {
    /// It reached `generating`.
    Accepted,
    /// It failed before that.
    Failed,
}

impl UploadResult {
    fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Failed => "failed",
        }
    }
}

/// The `kind` label of an upload; regenerations are not uploads and are not counted.
fn upload_kind(kind: UploadKind) -> Option<&'static str> {
    match kind {
        UploadKind::Stream => Some("stream"),
        UploadKind::Chunked => Some("chunked"),
        UploadKind::Regenerate => None,
    }
}

/// Counts an upload that reached `generating` or failed before it (`allure_hub_uploads_total{kind,result}`).
pub fn record_upload(kind: UploadKind, result: UploadResult) {
    ensure_installed();
    if let Some(kind) = upload_kind(kind) {
        metrics::counter!(UPLOADS, "kind" => kind, "result" => result.as_str()).increment(1);
    }
}

/// Adds received archive bytes (`allure_hub_upload_bytes_total{kind}`).
pub fn record_upload_bytes(kind: UploadKind, bytes: u64) {
    ensure_installed();
    if let Some(kind) = upload_kind(kind) {
        metrics::counter!(UPLOAD_BYTES, "kind" => kind).increment(bytes);
    }
}

/// Sets the queue depth (`allure_hub_generation_jobs{state}`).
pub fn set_generation_jobs(queued: i64, running: i64) {
    ensure_installed();
    // Job counts are far below 2^53: the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    {
        metrics::gauge!(GENERATION_JOBS, "state" => "queued").set(queued as f64);
        metrics::gauge!(GENERATION_JOBS, "state" => "running").set(running as f64);
    }
}

/// How a generation ended, for `allure_hub_generations_total` and its duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerationResult {
    /// A report was published.
    Success,
    /// The job failed.
    Failure,
}

impl GenerationResult {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

impl From<bool> for GenerationResult {
    fn from(success: bool) -> Self {
        if success { Self::Success } else { Self::Failure }
    }
}

/// Counts a finished generation and observes its duration from job start to end.
pub fn record_generation(result: GenerationResult, seconds: f64) {
    ensure_installed();
    metrics::counter!(GENERATIONS, "result" => result.as_str()).increment(1);
    metrics::histogram!(GENERATION_DURATION, "result" => result.as_str()).record(seconds);
}

/// Publishes the last disk measurement (§13.3).
pub fn set_disk(used: i64, free: i64, total: i64) {
    ensure_installed();
    // Byte counts lose precision only above 2^53 (8 PiB), where the last digits do not matter.
    #[allow(clippy::cast_precision_loss)]
    {
        metrics::gauge!(DISK_USED).set(used as f64);
        metrics::gauge!(DISK_FREE).set(free as f64);
        metrics::gauge!(DISK_TOTAL).set(total as f64);
    }
}

/// What every finished sweep leaves behind, scheduled or manual: its metric and its log lines (in a dry run, one
/// per build that would have been deleted: the domain does not log).
pub fn observe_sweep(report: &hub_domain::services::SweepReport) {
    for build in &report.would_delete {
        tracing::info!(env = %build.env, project = %build.project, build = %build.build, "dry run: would delete");
    }
    let run = &report.run;
    record_cleanup_run(run.status);
    tracing::info!(
        run = %run.id, status = run.status.as_str(), trigger = run.trigger.as_str(), deleted = run.deleted_count,
        skipped = run.skipped_count, freed_bytes = run.freed_bytes, dry_run = run.dry_run, "cleanup run finished"
    );
}

/// Counts a finished cleanup run (`allure_hub_cleanup_runs_total{status}`).
pub fn record_cleanup_run(status: CleanupStatus) {
    ensure_installed();
    metrics::counter!(CLEANUP_RUNS, "status" => status.as_str()).increment(1);
}

/// The event streams of the API (`stream` label of `allure_hub_sse_connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseStream {
    /// `GET /api/uploads/stream`.
    Uploads,
    /// `GET /api/notifications/stream`.
    Notifications,
}

impl SseStream {
    fn as_str(self) -> &'static str {
        match self {
            Self::Uploads => "uploads",
            Self::Notifications => "notifications",
        }
    }
}

/// Counts one open event stream for as long as it lives: keep it inside the response body, whose drop (the client
/// went away, the stream ended, the server shut down) closes the count.
#[derive(Debug)]
pub struct SseConnection {
    stream: SseStream,
}

impl SseConnection {
    /// Counts a stream that starts now.
    pub fn open(stream: SseStream) -> Self {
        ensure_installed();
        metrics::gauge!(SSE_CONNECTIONS, "stream" => stream.as_str()).increment(1.0);
        Self { stream }
    }
}

impl Drop for SseConnection {
    fn drop(&mut self) {
        metrics::gauge!(SSE_CONNECTIONS, "stream" => self.stream.as_str()).decrement(1.0);
    }
}

/// The `method` label: the standard methods as they are, anything else as `other` (a client could otherwise make
/// up a new series per request).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Marks a response of the application's default service (the JSON 404 for paths no route serves).
///
/// actix finds `match_pattern` by path alone, ignoring guards, so a guarded catch-all (the web UI's pages) would
/// otherwise lend its template to API paths it declined.
#[derive(Debug, Clone, Copy)]
pub struct Unmatched;

/// The `route` label: the matched route's template, never the raw path.
fn route_label(pattern: Option<String>, path: &str, unmatched: bool) -> String {
    match pattern {
        Some(pattern) if !unmatched => pattern,
        _ if path.starts_with("/reports/") => REPORT_FILES.to_owned(),
        _ => UNMATCHED.to_owned(),
    }
}

/// Counts every answered request by method, route template and status, and times it unless it is an event stream
/// (whose lifetime is not a latency). Also counts 429 answers, wherever they come from.
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    ensure_installed();
    let started = Instant::now();
    let method = method_label(req.method());
    let res = next.call(req).await?;
    let unmatched = res.response().extensions().contains::<Unmatched>();
    let route = route_label(res.request().match_pattern(), res.request().path(), unmatched);
    let status = res.status();
    metrics::counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status.as_u16().to_string())
        .increment(1);
    let streaming = res
        .headers()
        .get(CONTENT_TYPE_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !streaming {
        metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route).record(started.elapsed());
    }
    if status == actix_web::http::StatusCode::TOO_MANY_REQUESTS {
        metrics::counter!(RATE_LIMITED).increment(1);
    }
    Ok(res)
}

/// `GET /metrics`.
async fn get_metrics() -> HttpResponse {
    HttpResponse::Ok().content_type(CONTENT_TYPE).body(Metrics::global().render())
}

/// Who may scrape: anyone with `METRICS_PUBLIC=true`, else `view` with any credential (§12.3).
pub fn access(public: bool) -> Access {
    if public { Access::Public } else { Access::Any(Permission::View) }
}

/// Registers `GET /metrics` (and `HEAD`) with the access rule of [`access`], through the same enforcement as the
/// route table, and a 405 for other methods.
pub fn configure(cfg: &mut web::ServiceConfig, public: bool) {
    let rule = access(public);
    let guarded = move |route: actix_web::Route| {
        route.wrap(from_fn(move |req: ServiceRequest, next: Next<BoxBody>| enforce(rule, req, next)))
    };
    cfg.service(
        web::resource("/metrics")
            .route(guarded(web::get().to(get_metrics)))
            .route(guarded(web::head().to(get_metrics)))
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(ApiError::method_not_allowed("GET, HEAD".to_owned()))
            })),
    );
}

#[cfg(test)]
mod tests;
