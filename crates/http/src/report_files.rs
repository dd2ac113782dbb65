//! Serving one build's report files on the report origin (contract §8.9.2, "File rules").
//!
//! Credentials, grants and routing happen before [`serve`], and the storage adapter finds and opens the file
//! ([`ReportFiles`]); this module turns an authorised request path into a file response: path decoding, directory
//! redirects, content types, validators and 304s, single byte ranges, streamed gzip for text assets, cache headers
//! and the security headers of every report response. Bodies are streamed in the storage's bounded blocks.

use std::future::Future;
use std::io::{self, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::body::{self, SizedStream};
use actix_web::http::StatusCode;
use actix_web::http::header::{
    self, EntityTag, Header, HeaderMap, HeaderValue, HttpDate, IfModifiedSince, IfNoneMatch, IfRange, Range,
};
use actix_web::web::{Bytes, BytesMut};
use actix_web::{HttpRequest, HttpResponse};
use flate2::Compression;
use flate2::write::GzEncoder;
use futures_util::{Stream, StreamExt};
use hub_domain::ports::{FileStream, Found, ReportFile, ReportPath, StorageError};

use crate::error::ApiError;

mod policy;
pub use policy::ReportPolicy;

/// Extensions sent gzip-encoded (when large enough and accepted) and always with `Vary: Accept-Encoding`.
const TEXT_LIKE: [&str; 10] = ["html", "js", "mjs", "css", "json", "svg", "txt", "csv", "xml", "map"];
/// Extensions whose hashed names mark a bundled asset that never changes under the same name.
const BUNDLED: [&str; 7] = ["js", "mjs", "css", "woff", "woff2", "ttf", "otf"];
/// Below this size gzip saves too little to be worth a compressor per request.
const GZIP_MIN_SIZE: u64 = 1024;
/// Size of the compressed chunks handed to the connection.
const CHUNK: usize = 64 * 1024;
/// Blocks queued on each side of the encoder thread: bounds memory per gzip response.
const GZIP_QUEUE: usize = 4;
const CACHE_IMMUTABLE: &str = "private, max-age=31536000, immutable";
/// Everything else may be replaced under the same name when a report is regenerated.
const CACHE_REVALIDATE: &str = "private, no-cache";

/// Serves the file `raw_path` names in a build's report for an already-authorised `GET` or `HEAD`, so the report
/// origin's handler only has to check credentials, find the build and say how its files are opened (`open`, a
/// call of [`ReportFiles::open`](hub_domain::ports::ReportFiles::open) for that build).
///
/// `raw_path` is the still percent-encoded URL tail after `/reports/{envId}/{projectId}/{buildId}/` (empty for the
/// report root, which the route reaches with its trailing slash). `main_origin` (as `https://hub.example.com`) is
/// the only other origin allowed to frame report pages, and `policy` what the pages may load. Every response,
/// errors included, carries the security headers.
pub async fn serve<F, Fut>(
    req: &HttpRequest,
    raw_path: &str,
    main_origin: &str,
    policy: &ReportPolicy,
    open: F,
) -> HttpResponse
where
    F: FnOnce(ReportPath) -> Fut,
    Fut: Future<Output = Result<Found, StorageError>>,
{
    let mut response = match respond(req, raw_path, open).await {
        Ok(response) => response,
        // from_error keeps the error on the response so the request log can show a 5xx cause.
        Err(err) => HttpResponse::from_error(err),
    };
    add_security_headers(response.headers_mut(), main_origin, policy);
    response
}

/// The headers every report-origin response carries (§8.9.2): `policy`, then `frame-ancestors` allowing this
/// origin and `main_origin` to frame the page.
pub(crate) fn add_security_headers(headers: &mut HeaderMap, main_origin: &str, policy: &ReportPolicy) {
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // An origin that cannot be part of a header value cannot frame us either: same-origin framing only then.
    let framing = if !main_origin.is_empty() && main_origin.bytes().all(|b| b.is_ascii_graphic()) {
        format!("frame-ancestors 'self' {main_origin}")
    } else {
        "frame-ancestors 'self'".to_owned()
    };
    let csp = HeaderValue::from_str(&format!("{policy}; {framing}"))
        // Not reached: a policy is visible ASCII by construction. Should it ever be, nothing loads rather than all.
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; frame-ancestors 'self'"));
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
}

async fn respond<F, Fut>(req: &HttpRequest, raw_path: &str, open: F) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(ReportPath) -> Fut,
    Fut: Future<Output = Result<Found, StorageError>>,
{
    let path = parse_path(raw_path).ok_or_else(|| ApiError::bad_request("invalid path"))?;
    match open(path).await? {
        Found::Missing => Err(ApiError::new(StatusCode::NOT_FOUND, "not found")),
        Found::Directory => Ok(redirect_to_directory(req)),
        Found::File(file) => file_response(req, file).await,
    }
}

/// Splits and percent-decodes the path per segment; `None` when a segment is empty, `.`, `..`, or holds NUL, `\` or
/// (from `%2F`) `/`, so that the path can only name something below the report's root. A path ending with a slash
/// names a directory (the empty path is the root, reached with one).
fn parse_path(raw: &str) -> Option<ReportPath> {
    let (body, trailing_slash) = match raw.strip_suffix('/') {
        Some(body) => (body, true),
        None => (raw, raw.is_empty()),
    };
    if body.is_empty() {
        // The root itself, or a lone "/" that would be an empty segment.
        return raw.is_empty().then(ReportPath::root);
    }
    let segments = body
        .split('/')
        // Non-UTF-8 names are never produced by the report generator, so they are refused like other bad paths.
        .map(|segment| percent_encoding::percent_decode_str(segment).decode_utf8().ok().map(|d| d.into_owned()))
        .collect::<Option<Vec<_>>>()?;
    ReportPath::new(segments, trailing_slash)
}

fn extension_of(name: &str) -> String {
    name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default()
}

/// `app-3f9a1c2b.js`, `main.a1b2c3d4e5.css`: a bundled extension, and a base name ending in `-` or `.` followed by
/// at least 8 of `[A-Za-z0-9_]`.
fn is_hashed_asset(name: &str) -> bool {
    let Some((base, ext)) = name.rsplit_once('.') else { return false };
    if !BUNDLED.contains(&ext.to_ascii_lowercase().as_str()) {
        return false;
    }
    // The hash is what follows the last separator, so it cannot itself contain one.
    let Some((_, hash)) = base.rsplit_once(['-', '.']) else { return false };
    hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn content_type(extension: &str) -> String {
    let essence = match extension {
        "html" => "text/html",
        "js" | "mjs" => "text/javascript",
        "css" => "text/css",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "xml" => "application/xml",
        other => {
            let guessed = mime_guess::from_ext(other).first_or_octet_stream();
            let text = guessed.type_() == mime_guess::mime::TEXT
                || matches!(guessed.suffix(), Some(s) if s == mime_guess::mime::XML || s == mime_guess::mime::JSON);
            return if text { format!("{}; charset=utf-8", guessed.essence_str()) } else { guessed.to_string() };
        }
    };
    format!("{essence}; charset=utf-8")
}

/// 301 to the same request path with a slash, keeping the query (it may carry parameters the report reads).
fn redirect_to_directory(req: &HttpRequest) -> HttpResponse {
    let mut location = format!("{}/", req.uri().path());
    if let Some(query) = req.uri().query() {
        location.push('?');
        location.push_str(query);
    }
    HttpResponse::MovedPermanently().insert_header((header::LOCATION, location)).finish()
}

async fn file_response(req: &HttpRequest, found: ReportFile) -> Result<HttpResponse, ApiError> {
    let extension = extension_of(&found.name);
    let text_like = TEXT_LIKE.contains(&extension.as_str());
    let range_requested = req.headers().contains_key(header::RANGE);
    let gzip = text_like && found.len >= GZIP_MIN_SIZE && !range_requested && accepts_gzip(req.headers());

    // One representation per encoding, so each has its own strong tag; the identity one changes with the file.
    let identity_tag = tag_of(&found.version);
    let etag = EntityTag::new_strong(if gzip { format!("{identity_tag}-gzip") } else { identity_tag });
    // HTTP dates have whole seconds; comparing against a truncated time keeps If-Modified-Since exact.
    let last_modified = found.modified.and_then(whole_seconds);

    let mut builder = HttpResponse::build(StatusCode::OK);
    builder.insert_header(header::ETag(etag.clone()));
    if let Some(time) = last_modified {
        builder.insert_header(header::LastModified(HttpDate::from(time)));
    }
    let cache = if is_hashed_asset(&found.name) { CACHE_IMMUTABLE } else { CACHE_REVALIDATE };
    builder.insert_header((header::CACHE_CONTROL, cache));
    if text_like {
        builder.insert_header((header::VARY, "Accept-Encoding"));
    }
    if not_modified(req, &etag, last_modified) {
        return Ok(builder.status(StatusCode::NOT_MODIFIED).finish());
    }
    builder.insert_header((header::CONTENT_TYPE, content_type(&extension)));
    let head = req.method() == actix_web::http::Method::HEAD;

    if gzip {
        builder.insert_header((header::CONTENT_ENCODING, "gzip"));
        // The compressed length is unknown until compressed: HEAD answers without one rather than compressing.
        if head {
            return Ok(builder.body(body::None::new()));
        }
        let bytes = found.body.read(0, found.len).await?;
        return Ok(builder.streaming(gzip_stream(bytes)));
    }

    builder.insert_header((header::ACCEPT_RANGES, "bytes"));
    let (start, len) = match requested_range(req, &etag, last_modified, found.len) {
        RangeAnswer::Whole => (0, found.len),
        RangeAnswer::Part(first, last) => {
            builder.status(StatusCode::PARTIAL_CONTENT);
            builder.insert_header((header::CONTENT_RANGE, format!("bytes {first}-{last}/{}", found.len)));
            (first, last - first + 1)
        }
        RangeAnswer::Unsatisfiable => {
            let mut response =
                HttpResponse::from_error(ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable"));
            let unsatisfied = HeaderValue::from_str(&format!("bytes */{}", found.len)).map_err(ApiError::internal)?;
            response.headers_mut().insert(header::CONTENT_RANGE, unsatisfied);
            return Ok(response);
        }
    };
    if head {
        // Declares the length without reading the file: the connection never sends a HEAD body anyway.
        return Ok(builder.body(SizedStream::new(len, futures_util::stream::empty::<io::Result<Bytes>>())));
    }
    let bytes = found.body.read(start, len).await?;
    Ok(builder.body(SizedStream::new(len, bytes)))
}

/// The storage's version as an entity-tag value: only the characters a tag may hold, so an adapter's version
/// (an object store's quoted hash, say) can never break the header.
fn tag_of(version: &str) -> String {
    version.chars().filter(|c| c.is_ascii_graphic() && *c != '"').collect()
}

fn whole_seconds(time: SystemTime) -> Option<SystemTime> {
    let since_epoch = time.duration_since(UNIX_EPOCH).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(since_epoch.as_secs()))
}

/// Whether the client may use gzip: an explicit `gzip` (or `x-gzip`) entry decides, else `*`; `q=0` refuses.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let (mut gzip, mut any) = (None, None);
    let values = headers.get_all(header::ACCEPT_ENCODING).filter_map(|v| v.to_str().ok());
    for item in values.flat_map(|v| v.split(',')) {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.trim().split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .map_or(1.0, |(_, q)| q.trim().parse::<f32>().unwrap_or(0.0));
        match coding.as_str() {
            "gzip" | "x-gzip" => gzip = Some(quality),
            "*" => any = Some(quality),
            _ => {}
        }
    }
    gzip.or(any).is_some_and(|q| q > 0.0)
}

/// `If-None-Match` (weak comparison, as RFC 9110 asks for it) decides when present; otherwise `If-Modified-Since`.
fn not_modified(req: &HttpRequest, etag: &EntityTag, last_modified: Option<SystemTime>) -> bool {
    if req.headers().contains_key(header::IF_NONE_MATCH) {
        return match IfNoneMatch::parse(req) {
            Ok(IfNoneMatch::Any) => true,
            Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(etag)),
            Err(_) => false,
        };
    }
    match (IfModifiedSince::parse(req), last_modified) {
        (Ok(IfModifiedSince(since)), Some(modified)) => modified <= SystemTime::from(since),
        _ => false,
    }
}

enum RangeAnswer {
    Whole,
    /// First and last byte, inclusive.
    Part(u64, u64),
    Unsatisfiable,
}

/// A single `bytes` range gives a part; malformed, multiple or other-unit ranges, and an `If-Range` that no longer
/// matches, give the whole file, as RFC 9110 allows a server to ignore `Range`.
fn requested_range(req: &HttpRequest, etag: &EntityTag, last_modified: Option<SystemTime>, len: u64) -> RangeAnswer {
    if !req.headers().contains_key(header::RANGE) {
        return RangeAnswer::Whole;
    }
    if req.headers().contains_key(header::IF_RANGE) {
        let current = match IfRange::parse(req) {
            Ok(IfRange::EntityTag(tag)) => tag.strong_eq(etag),
            Ok(IfRange::Date(date)) => last_modified == Some(SystemTime::from(date)),
            Err(_) => false,
        };
        if !current {
            return RangeAnswer::Whole;
        }
    }
    match Range::parse(req) {
        Ok(Range::Bytes(specs)) if specs.len() == 1 => match specs[0].to_satisfiable_range(len) {
            Some((first, last)) => RangeAnswer::Part(first, last),
            None => RangeAnswer::Unsatisfiable,
        },
        _ => RangeAnswer::Whole,
    }
}

/// What the feeder hands the encoder thread.
enum Feed {
    Data(Bytes),
    /// The whole file has been read: the encoder may write the gzip trailer.
    End,
    Failed(io::Error),
}

/// The file gzip-compressed by a blocking-pool thread: a task reads the storage's blocks into one bounded channel,
/// the thread compresses them into another, so the connection's pace limits both and a closed connection stops
/// them at their next block. A read that fails, or ends without [`Feed::End`], fails the body instead of closing
/// a valid but short gzip stream.
fn gzip_stream(mut bytes: FileStream) -> impl Stream<Item = io::Result<Bytes>> {
    let (feed, mut input) = tokio::sync::mpsc::channel(GZIP_QUEUE);
    let (tx, rx) = tokio::sync::mpsc::channel(GZIP_QUEUE);
    actix_web::rt::spawn(async move {
        while let Some(block) = bytes.next().await {
            let failed = block.is_err();
            let item = block.map_or_else(|err| Feed::Failed(io::Error::other(err)), Feed::Data);
            if feed.send(item).await.is_err() || failed {
                return;
            }
        }
        let _ = feed.send(Feed::End).await;
    });
    actix_web::rt::task::spawn_blocking(move || {
        let sink = ChannelWriter { tx: tx.clone(), buf: BytesMut::with_capacity(CHUNK) };
        let mut encoder = GzEncoder::new(sink, Compression::default());
        let compressed = loop {
            match input.blocking_recv() {
                Some(Feed::Data(block)) => {
                    if let Err(err) = encoder.write_all(&block) {
                        break Err(err);
                    }
                }
                Some(Feed::End) => break encoder.finish().and_then(|mut sink| sink.flush()),
                Some(Feed::Failed(err)) => break Err(err),
                None => break Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            }
        };
        if let Err(err) = compressed {
            // Fails the body so the client sees a cut connection, not a truncated file; ignored when it has gone.
            let _ = tx.blocking_send(Err(err));
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) })
}

/// Collects compressed output into chunks of [`CHUNK`] bytes and sends them, waiting while the channel is full.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
    buf: BytesMut,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        let chunk = self.buf.split().freeze();
        self.tx.blocking_send(Ok(chunk)).map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() { Ok(()) } else { self.send() }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
