//! Static serving of one build's report directory on the report origin (contract §8.9.2, "File rules").
//!
//! Credentials, grants and routing happen before [`serve`]; this module only turns an authorised request path into a
//! file response: path checks, no symbolic links, directory redirects and index files, content types, validators and
//! 304s, single byte ranges, streamed gzip for text assets, cache headers and the security headers of every report
//! response. Files are always streamed in bounded chunks, and filesystem calls run on the blocking pool.

use std::fs::{File, Metadata};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::body::{self, SizedStream};
use actix_web::http::StatusCode;
use actix_web::http::header::{
    self, EntityTag, Header, HeaderMap, HeaderValue, HttpDate, IfModifiedSince, IfNoneMatch, IfRange, Range,
};
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpRequest, HttpResponse};
use flate2::Compression;
use flate2::write::GzEncoder;
use futures_util::Stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::error::ApiError;

mod policy;
pub use policy::ReportPolicy;

/// Extensions sent gzip-encoded (when large enough and accepted) and always with `Vary: Accept-Encoding`.
const TEXT_LIKE: [&str; 10] = ["html", "js", "mjs", "css", "json", "svg", "txt", "csv", "xml", "map"];
/// Extensions whose hashed names mark a bundled asset that never changes under the same name.
const BUNDLED: [&str; 7] = ["js", "mjs", "css", "woff", "woff2", "ttf", "otf"];
/// The longest file name (in bytes) of the filesystems a report is stored on (`NAME_MAX` of Linux).
const MAX_SEGMENT_BYTES: usize = 255;
/// Below this size gzip saves too little to be worth a compressor per request.
const GZIP_MIN_SIZE: u64 = 1024;
/// Read size of file bodies; also the size of the compressed chunks handed to the connection.
const CHUNK: usize = 64 * 1024;
/// Compressed chunks queued between the encoder thread and the connection: bounds memory per gzip response.
const GZIP_QUEUE: usize = 4;
const CACHE_IMMUTABLE: &str = "private, max-age=31536000, immutable";
/// Everything else may be replaced under the same name when a report is regenerated.
const CACHE_REVALIDATE: &str = "private, no-cache";

/// Serves the file `raw_path` names inside `report_dir` for an already-authorised `GET` or `HEAD`, so the report
/// origin's handler only has to check credentials and find the build's directory.
///
/// `raw_path` is the still percent-encoded URL tail after `/reports/{envId}/{projectId}/{buildId}/` (empty for the
/// report root, which the route reaches with its trailing slash). `main_origin` (as `https://hub.example.com`) is
/// the only other origin allowed to frame report pages, and `policy` what the pages may load. Every response,
/// errors included, carries the security headers.
pub async fn serve(
    req: &HttpRequest,
    report_dir: &Path,
    raw_path: &str,
    main_origin: &str,
    policy: &ReportPolicy,
) -> HttpResponse {
    let mut response = match respond(req, report_dir, raw_path).await {
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

async fn respond(req: &HttpRequest, report_dir: &Path, raw_path: &str) -> Result<HttpResponse, ApiError> {
    let (segments, trailing_slash) = parse_path(raw_path).ok_or_else(|| ApiError::bad_request("invalid path"))?;
    let dir = report_dir.to_path_buf();
    let found = web::block(move || resolve(dir, &segments, trailing_slash)).await.map_err(ApiError::internal)?;
    match found.map_err(|err| {
        if names_nothing(&err) { ApiError::new(StatusCode::NOT_FOUND, "not found") } else { ApiError::internal(err) }
    })? {
        Found::Directory => Ok(redirect_to_directory(req)),
        Found::File(file) => file_response(req, file).await,
    }
}

/// Whether a failed lookup means the client's path names no file (404), as opposed to a fault of the server's disk
/// (500). The path is the client's choice, so every error its shape can cause counts as "no such file": a name too
/// long for the filesystem, a file used as a directory.
fn names_nothing(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound
            | io::ErrorKind::NotADirectory
            | io::ErrorKind::IsADirectory
            | io::ErrorKind::InvalidFilename
            | io::ErrorKind::InvalidInput
    )
}

/// Splits and percent-decodes the path per segment; `None` when a segment is empty, `.`, `..`, or holds NUL, `\` or
/// (from `%2F`) `/`, so that the joined path can only name something below the report directory. Also tells whether
/// the path ends with a slash (the empty path is the root, reached with one).
fn parse_path(raw: &str) -> Option<(Vec<String>, bool)> {
    let (body, trailing_slash) = match raw.strip_suffix('/') {
        Some(body) => (body, true),
        None => (raw, raw.is_empty()),
    };
    if body.is_empty() {
        // The root itself, or a lone "/" that would be an empty segment.
        return raw.is_empty().then(|| (Vec::new(), true));
    }
    let segments = body
        .split('/')
        .map(|segment| {
            // Non-UTF-8 names are never produced by the report generator, so they are refused like other bad paths.
            let decoded = percent_encoding::percent_decode_str(segment).decode_utf8().ok()?;
            let invalid =
                decoded.is_empty() || decoded == "." || decoded == ".." || decoded.contains(['\0', '\\', '/']);
            (!invalid).then(|| decoded.into_owned())
        })
        .collect::<Option<Vec<_>>>()?;
    Some((segments, trailing_slash))
}

/// What a valid path names.
enum Found {
    /// A directory requested without its trailing slash.
    Directory,
    File(OpenFile),
}

/// A regular file opened for serving, with what its headers are made of.
struct OpenFile {
    file: File,
    /// Lower-case extension of the served name (`html` for a directory's index).
    extension: String,
    /// Whether the name has the contract's content-hash shape.
    hashed_name: bool,
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

/// Walks `segments` below `dir` without following any symbolic link: each component is checked with
/// `symlink_metadata`, and the opened file must be the very inode that was checked (a link swapped in between would
/// be another one). Links, special files and missing entries are all `NotFound`.
fn resolve(dir: PathBuf, segments: &[String], trailing_slash: bool) -> io::Result<Found> {
    let mut path = dir;
    let mut meta = std::fs::metadata(&path)?;
    if !meta.is_dir() {
        return Err(io::ErrorKind::NotFound.into());
    }
    for segment in segments {
        // No file of a report has a longer name than the filesystem allows; such a segment names nothing, and is
        // answered before the filesystem has to say so.
        if !meta.is_dir() || segment.len() > MAX_SEGMENT_BYTES {
            return Err(io::ErrorKind::NotFound.into());
        }
        path.push(segment);
        meta = no_link(&path)?;
    }
    if meta.is_dir() {
        if !trailing_slash {
            return Ok(Found::Directory);
        }
        path.push("index.html");
        meta = no_link(&path)?;
    } else if trailing_slash {
        return Err(io::ErrorKind::NotFound.into());
    }
    if !meta.is_file() {
        return Err(io::ErrorKind::NotFound.into());
    }
    let file = File::open(&path)?;
    let opened = file.metadata()?;
    if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
        return Err(io::ErrorKind::NotFound.into());
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    Ok(Found::File(OpenFile {
        extension: extension_of(name),
        hashed_name: is_hashed_asset(name),
        len: opened.len(),
        modified: opened.modified().ok(),
        inode: opened.ino(),
        file,
    }))
}

fn no_link(path: &Path) -> io::Result<Metadata> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Err(io::ErrorKind::NotFound.into());
    }
    Ok(meta)
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

async fn file_response(req: &HttpRequest, found: OpenFile) -> Result<HttpResponse, ApiError> {
    let text_like = TEXT_LIKE.contains(&found.extension.as_str());
    let range_requested = req.headers().contains_key(header::RANGE);
    let gzip = text_like && found.len >= GZIP_MIN_SIZE && !range_requested && accepts_gzip(req.headers());

    // One representation per encoding, so each has its own strong tag; the identity one changes with the file.
    let modified_ns = found.modified.and_then(|m| m.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    let identity_tag = format!("{:x}-{:x}-{:x}", found.inode, found.len, modified_ns);
    let etag = EntityTag::new_strong(if gzip { format!("{identity_tag}-gzip") } else { identity_tag });
    // HTTP dates have whole seconds; comparing against a truncated time keeps If-Modified-Since exact.
    let last_modified = found.modified.and_then(whole_seconds);

    let mut builder = HttpResponse::build(StatusCode::OK);
    builder.insert_header(header::ETag(etag.clone()));
    if let Some(time) = last_modified {
        builder.insert_header(header::LastModified(HttpDate::from(time)));
    }
    builder.insert_header((header::CACHE_CONTROL, if found.hashed_name { CACHE_IMMUTABLE } else { CACHE_REVALIDATE }));
    if text_like {
        builder.insert_header((header::VARY, "Accept-Encoding"));
    }
    if not_modified(req, &etag, last_modified) {
        return Ok(builder.status(StatusCode::NOT_MODIFIED).finish());
    }
    builder.insert_header((header::CONTENT_TYPE, content_type(&found.extension)));
    let head = req.method() == actix_web::http::Method::HEAD;

    if gzip {
        builder.insert_header((header::CONTENT_ENCODING, "gzip"));
        // The compressed length is unknown until compressed: HEAD answers without one rather than compressing.
        return Ok(if head { builder.body(body::None::new()) } else { builder.streaming(gzip_stream(found.file)) });
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
    let mut file = tokio::fs::File::from_std(found.file);
    file.seek(io::SeekFrom::Start(start)).await.map_err(ApiError::internal)?;
    Ok(builder.body(SizedStream::new(len, file_stream(file, len))))
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

/// `len` bytes from the file's current position, in chunks of at most [`CHUNK`]. A file that ends early fails the
/// body, so the connection is cut instead of sending fewer bytes than its `Content-Length`.
fn file_stream(file: tokio::fs::File, len: u64) -> impl Stream<Item = io::Result<Bytes>> {
    futures_util::stream::try_unfold((file, len), |(mut file, remaining)| async move {
        if remaining == 0 {
            return Ok(None);
        }
        let mut buf = vec![0; usize::try_from(remaining).map_or(CHUNK, |r| r.min(CHUNK))];
        let read = file.read(&mut buf).await?;
        if read == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        buf.truncate(read);
        Ok(Some((Bytes::from(buf), (file, remaining - read as u64))))
    })
}

/// The file gzip-compressed by a blocking-pool thread that hands chunks over a bounded channel: the connection's
/// pace limits the encoder, and a closed connection stops it at its next chunk.
fn gzip_stream(mut file: File) -> impl Stream<Item = io::Result<Bytes>> {
    let (tx, rx) = tokio::sync::mpsc::channel(GZIP_QUEUE);
    actix_web::rt::task::spawn_blocking(move || {
        let sink = ChannelWriter { tx: tx.clone(), buf: BytesMut::with_capacity(CHUNK) };
        let mut encoder = GzEncoder::new(sink, Compression::default());
        let compressed =
            io::copy(&mut file, &mut encoder).and_then(|_| encoder.finish()).and_then(|mut sink| sink.flush());
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
mod tests {
    use std::io::Read;

    use actix_web::body::{BodySize, MessageBody, to_bytes};
    use actix_web::test::TestRequest;
    use flate2::read::GzDecoder;

    use super::*;

    const ORIGIN: &str = "http://127.0.0.1:8080";
    const PREFIX: &str = "/reports/staging/checkout/b1/";

    /// A report directory beside a secret file and directory that must stay out of reach.
    struct Fixture {
        root: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Self {
            let root = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(root.path().join("report/sub")).unwrap();
            std::fs::create_dir_all(root.path().join("report/empty")).unwrap();
            std::fs::create_dir_all(root.path().join("outside")).unwrap();
            std::fs::write(root.path().join("secret.txt"), "secret").unwrap();
            std::fs::write(root.path().join("outside/file.txt"), "outside").unwrap();
            let fixture = Self { root };
            fixture.write("index.html", b"<html>root</html>");
            fixture.write("sub/index.html", b"<html>sub</html>");
            fixture
        }

        fn report(&self) -> PathBuf {
            self.root.path().join("report")
        }

        fn write(&self, name: &str, content: &[u8]) {
            std::fs::write(self.report().join(name), content).unwrap();
        }

        async fn call(&self, req: TestRequest, raw: &str) -> (StatusCode, HeaderMap, Bytes) {
            let res = self.response(req, raw).await;
            let (status, headers) = (res.status(), res.headers().clone());
            (status, headers, to_bytes(res.into_body()).await.unwrap())
        }

        async fn response(&self, req: TestRequest, raw: &str) -> HttpResponse {
            let req = req.uri(&format!("{PREFIX}{raw}")).to_http_request();
            serve(&req, &self.report(), raw, ORIGIN, &ReportPolicy::default()).await
        }

        async fn get(&self, raw: &str) -> (StatusCode, HeaderMap, Bytes) {
            self.call(TestRequest::get(), raw).await
        }
    }

    fn text_of(headers: &HeaderMap, name: header::HeaderName) -> &str {
        headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    /// Varied text that still compresses, so a wrong byte would show after decoding.
    fn script(len: usize) -> Vec<u8> {
        (0..len).map(|i| b"abcdefghij;\n"[(i * 7 + i / 13) % 12]).collect()
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
        out
    }

    fn assert_security_headers(headers: &HeaderMap) {
        assert_eq!(text_of(headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(text_of(headers, header::REFERRER_POLICY), "no-referrer");
        assert_eq!(
            text_of(headers, header::CONTENT_SECURITY_POLICY),
            format!("{}; frame-ancestors 'self' {ORIGIN}", ReportPolicy::DEFAULT)
        );
    }

    #[actix_web::test]
    async fn traversal_and_malformed_paths_are_400() {
        let fx = Fixture::new();
        for raw in [
            "..",
            "../secret.txt",
            "%2e%2e/secret.txt",
            "%2E%2E",
            "sub/../../secret.txt",
            "a%2f..",
            "sub%2F..%2F..%2Fsecret.txt",
            ".",
            "./index.html",
            "%00",
            "index.html%00.png",
            "a\\b",
            "..\\secret.txt",
            "a%5cb",
            "sub//index.html",
            "/index.html",
            "/",
            "sub//",
            "%ff",
        ] {
            let (status, headers, body) = fx.get(raw).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{raw}");
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
                serde_json::json!({"error": "invalid path"})
            );
            assert_eq!(text_of(&headers, header::CONTENT_TYPE), "application/json");
            assert_security_headers(&headers);
        }
    }

    #[actix_web::test]
    async fn percent_encoded_names_are_decoded_per_segment() {
        let fx = Fixture::new();
        fx.write("sub/a b%.txt", b"spaced");
        let (status, _, body) = fx.get("sub/a%20b%25.txt").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body[..], b"spaced");
    }

    #[actix_web::test]
    async fn symbolic_links_are_never_followed() {
        let fx = Fixture::new();
        let report = fx.report();
        std::os::unix::fs::symlink(fx.root.path().join("secret.txt"), report.join("secret.txt")).unwrap();
        std::os::unix::fs::symlink(fx.root.path().join("outside"), report.join("linked")).unwrap();
        // Even a link to a file inside the report is refused: links are not followed at all.
        std::os::unix::fs::symlink(report.join("index.html"), report.join("alias.html")).unwrap();
        std::os::unix::fs::symlink(fx.root.path().join("outside/file.txt"), report.join("sub/index.html.tmp")).unwrap();
        for raw in ["secret.txt", "linked/file.txt", "linked/", "linked", "alias.html"] {
            let (status, headers, body) = fx.get(raw).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{raw}");
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
                serde_json::json!({"error": "not found"})
            );
            assert_security_headers(&headers);
        }
        // A directory whose index.html is a link has no index.
        std::fs::remove_file(report.join("sub/index.html")).unwrap();
        std::os::unix::fs::symlink(report.join("index.html"), report.join("sub/index.html")).unwrap();
        assert_eq!(fx.get("sub/").await.0, StatusCode::NOT_FOUND);
    }

    #[actix_web::test]
    async fn names_longer_than_the_filesystem_allows_are_404_not_500() {
        let fx = Fixture::new();
        let long = "a".repeat(256);
        for raw in [format!("{long}.html"), format!("sub/{long}"), format!("{long}/index.html"), format!("{long}/")] {
            let (status, _, body) = fx.get(&raw).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{raw}");
            assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["error"], "not found");
        }
        // The filesystem's own refusal of such a name (reached by a path that passes the segment check) is no
        // server fault either.
        let too_long = std::fs::metadata(fx.report().join("x".repeat(300))).unwrap_err();
        assert!(names_nothing(&too_long), "{too_long:?}");
        assert!(!names_nothing(&io::Error::other("disk failed")));
    }

    #[actix_web::test]
    async fn missing_files_and_special_paths_are_404() {
        let fx = Fixture::new();
        for raw in ["nope.html", "sub/nope.js", "nope/", "empty/", "index.html/", "index.html/x"] {
            assert_eq!(fx.get(raw).await.0, StatusCode::NOT_FOUND, "{raw}");
        }
        // A missing report directory too.
        let req = TestRequest::get().uri(PREFIX).to_http_request();
        let res = serve(&req, &fx.root.path().join("absent"), "", ORIGIN, &ReportPolicy::default()).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }

    #[actix_web::test]
    async fn a_directory_without_slash_redirects_keeping_the_query() {
        let fx = Fixture::new();
        let req = TestRequest::get().uri(&format!("{PREFIX}sub?grant=abc&x=1")).to_http_request();
        let res = serve(&req, &fx.report(), "sub", ORIGIN, &ReportPolicy::default()).await;
        assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(text_of(res.headers(), header::LOCATION), format!("{PREFIX}sub/?grant=abc&x=1"));
        assert_security_headers(res.headers());

        let (status, headers, _) = fx.get("sub").await;
        assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
        assert_eq!(text_of(&headers, header::LOCATION), format!("{PREFIX}sub/"));
    }

    #[actix_web::test]
    async fn a_directory_is_served_as_its_index() {
        let fx = Fixture::new();
        let (status, headers, body) = fx.get("").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body[..], b"<html>root</html>");
        assert_eq!(text_of(&headers, header::CONTENT_TYPE), "text/html; charset=utf-8");
        assert_eq!(text_of(&headers, header::CACHE_CONTROL), "private, no-cache");
        let (status, _, body) = fx.get("sub/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body[..], b"<html>sub</html>");
    }

    #[actix_web::test]
    async fn content_type_follows_the_extension() {
        let fx = Fixture::new();
        for (name, expected) in [
            ("page.html", "text/html; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("mod.mjs", "text/javascript; charset=utf-8"),
            ("data.json", "application/json; charset=utf-8"),
            ("app.js.map", "application/json; charset=utf-8"),
            ("style.css", "text/css; charset=utf-8"),
            ("icon.svg", "image/svg+xml; charset=utf-8"),
            ("run.log", "text/plain; charset=utf-8"),
            ("shot.png", "image/png"),
            ("SHOT.PNG", "image/png"),
            ("blob.qqqq", "application/octet-stream"),
            ("noextension", "application/octet-stream"),
        ] {
            fx.write(name, b"x");
            let (status, headers, _) = fx.get(name).await;
            assert_eq!(status, StatusCode::OK, "{name}");
            assert_eq!(text_of(&headers, header::CONTENT_TYPE), expected, "{name}");
        }
    }

    #[actix_web::test]
    async fn strong_validators_give_304() {
        let fx = Fixture::new();
        fx.write("data.json", b"{\"a\":1}");
        let (status, headers, _) = fx.get("data.json").await;
        assert_eq!(status, StatusCode::OK);
        let etag = text_of(&headers, header::ETAG).to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2, "{etag}");
        let last_modified = text_of(&headers, header::LAST_MODIFIED).to_owned();
        assert!(!last_modified.is_empty());

        for (name, value) in [
            (header::IF_NONE_MATCH, etag.clone()),
            (header::IF_NONE_MATCH, format!("\"other\", {etag}")),
            (header::IF_NONE_MATCH, format!("W/{etag}")),
            (header::IF_NONE_MATCH, "*".to_owned()),
            (header::IF_MODIFIED_SINCE, last_modified.clone()),
        ] {
            let (status, headers, body) = fx.call(TestRequest::get().insert_header((name, value)), "data.json").await;
            assert_eq!(status, StatusCode::NOT_MODIFIED);
            assert!(body.is_empty());
            assert_eq!(text_of(&headers, header::ETAG), etag);
            assert_eq!(text_of(&headers, header::CACHE_CONTROL), "private, no-cache");
            assert_security_headers(&headers);
        }

        let stale = TestRequest::get().insert_header((header::IF_NONE_MATCH, "\"other\""));
        assert_eq!(fx.call(stale, "data.json").await.0, StatusCode::OK);
        let old = HttpDate::from(SystemTime::now() - Duration::from_secs(86_400 * 365));
        let before = TestRequest::get().insert_header((header::IF_MODIFIED_SINCE, old.to_string()));
        assert_eq!(fx.call(before, "data.json").await.0, StatusCode::OK);
        // If-None-Match decides when both are sent.
        let both = TestRequest::get()
            .insert_header((header::IF_NONE_MATCH, "\"other\""))
            .insert_header((header::IF_MODIFIED_SINCE, last_modified));
        assert_eq!(fx.call(both, "data.json").await.0, StatusCode::OK);

        // Rewriting the file changes the tag.
        std::fs::remove_file(fx.report().join("data.json")).unwrap();
        fx.write("data.json", b"{\"a\":22}");
        let (_, headers, _) = fx.get("data.json").await;
        assert_ne!(text_of(&headers, header::ETAG), etag);
    }

    #[actix_web::test]
    async fn single_ranges_give_206_and_unsatisfiable_ones_416() {
        let fx = Fixture::new();
        let content: Vec<u8> = (0..100u8).collect();
        fx.write("shot.png", &content);
        let range = |value: &str| TestRequest::get().insert_header((header::RANGE, value.to_owned()));
        for (value, first, last) in
            [("bytes=10-19", 10, 19), ("bytes=-5", 95, 99), ("bytes=90-", 90, 99), ("bytes=98-500", 98, 99)]
        {
            let (status, headers, body) = fx.call(range(value), "shot.png").await;
            assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{value}");
            assert_eq!(text_of(&headers, header::CONTENT_RANGE), format!("bytes {first}-{last}/100"));
            assert_eq!(&body[..], &content[first..=last]);
            assert_eq!(text_of(&headers, header::CONTENT_TYPE), "image/png");
        }

        for value in ["bytes=100-", "bytes=500-600", "bytes=-0"] {
            let (status, headers, body) = fx.call(range(value), "shot.png").await;
            assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE, "{value}");
            assert_eq!(text_of(&headers, header::CONTENT_RANGE), "bytes */100");
            assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["error"], "range not satisfiable");
            assert_security_headers(&headers);
        }

        // Several ranges, another unit or garbage: the whole file.
        for value in ["bytes=0-1,5-6", "items=0-1", "bytes=x"] {
            let (status, _, body) = fx.call(range(value), "shot.png").await;
            assert_eq!(status, StatusCode::OK, "{value}");
            assert_eq!(&body[..], &content[..]);
        }

        let (_, headers, _) = fx.get("shot.png").await;
        let etag = text_of(&headers, header::ETAG).to_owned();
        let current = range("bytes=0-0").insert_header((header::IF_RANGE, etag));
        assert_eq!(fx.call(current, "shot.png").await.0, StatusCode::PARTIAL_CONTENT);
        let changed = range("bytes=0-0").insert_header((header::IF_RANGE, "\"old\""));
        let (status, _, body) = fx.call(changed, "shot.png").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body.len(), 100);
    }

    #[actix_web::test]
    async fn large_text_files_are_gzipped_when_accepted() {
        let fx = Fixture::new();
        let content = script(2048);
        fx.write("app.js", &content);
        let (_, identity_headers, _) = fx.get("app.js").await;
        let identity_tag = text_of(&identity_headers, header::ETAG).to_owned();
        assert_eq!(text_of(&identity_headers, header::VARY), "Accept-Encoding");
        assert_eq!(text_of(&identity_headers, header::CONTENT_ENCODING), "");

        for accept in ["gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "*", "x-gzip"] {
            let req = TestRequest::get().insert_header((header::ACCEPT_ENCODING, accept));
            let (status, headers, body) = fx.call(req, "app.js").await;
            assert_eq!(status, StatusCode::OK, "{accept}");
            assert_eq!(text_of(&headers, header::CONTENT_ENCODING), "gzip", "{accept}");
            assert_eq!(text_of(&headers, header::VARY), "Accept-Encoding");
            assert_eq!(text_of(&headers, header::CONTENT_TYPE), "text/javascript; charset=utf-8");
            assert!(body.len() < content.len());
            assert_eq!(gunzip(&body), content);
            let gzip_tag = text_of(&headers, header::ETAG);
            assert_ne!(gzip_tag, identity_tag);
            assert_eq!(gzip_tag, format!("{}-gzip\"", identity_tag.trim_end_matches('"')));
        }

        let gzip_tag = format!("{}-gzip\"", identity_tag.trim_end_matches('"'));
        let cached = TestRequest::get()
            .insert_header((header::ACCEPT_ENCODING, "gzip"))
            .insert_header((header::IF_NONE_MATCH, gzip_tag.clone()));
        let (status, headers, _) = fx.call(cached, "app.js").await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert_eq!(text_of(&headers, header::ETAG), gzip_tag);
        assert_eq!(text_of(&headers, header::VARY), "Accept-Encoding");
        // The identity tag does not validate the gzip variant, nor the other way round.
        let wrong_variant = TestRequest::get()
            .insert_header((header::ACCEPT_ENCODING, "gzip"))
            .insert_header((header::IF_NONE_MATCH, identity_tag.clone()));
        assert_eq!(fx.call(wrong_variant, "app.js").await.0, StatusCode::OK);
        let no_gzip = TestRequest::get().insert_header((header::IF_NONE_MATCH, gzip_tag));
        assert_eq!(fx.call(no_gzip, "app.js").await.0, StatusCode::OK);
    }

    #[actix_web::test]
    async fn gzip_is_skipped_for_small_files_ranges_refusals_and_binary_types() {
        let fx = Fixture::new();
        fx.write("app.js", &script(2048));
        fx.write("small.js", &script(1023));
        fx.write("shot.png", &script(4096));
        let gzip = |accept: &str| TestRequest::get().insert_header((header::ACCEPT_ENCODING, accept.to_owned()));

        let (_, headers, body) = fx.call(gzip("gzip"), "small.js").await;
        assert_eq!(text_of(&headers, header::CONTENT_ENCODING), "");
        assert_eq!(text_of(&headers, header::VARY), "Accept-Encoding");
        assert_eq!(&body[..], &script(1023)[..]);

        for accept in ["gzip;q=0", "gzip; q=0.0, *", "br, deflate", "identity", "*;q=0"] {
            let (status, headers, body) = fx.call(gzip(accept), "app.js").await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(text_of(&headers, header::CONTENT_ENCODING), "", "{accept}");
            assert_eq!(&body[..], &script(2048)[..]);
        }

        let ranged = gzip("gzip").insert_header((header::RANGE, "bytes=0-99"));
        let (status, headers, body) = fx.call(ranged, "app.js").await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(text_of(&headers, header::CONTENT_ENCODING), "");
        assert_eq!(&body[..], &script(2048)[..100]);

        let (_, headers, body) = fx.call(gzip("gzip"), "shot.png").await;
        assert_eq!(text_of(&headers, header::CONTENT_ENCODING), "");
        assert_eq!(text_of(&headers, header::VARY), "");
        assert_eq!(body.len(), 4096);
    }

    #[actix_web::test]
    async fn large_files_stream_in_chunks_both_ways() {
        let fx = Fixture::new();
        let content = script(3 * CHUNK + 123);
        fx.write("data.json", &content);
        let res = fx.response(TestRequest::get(), "data.json").await;
        assert_eq!(res.body().size(), BodySize::Sized(content.len() as u64));
        assert_eq!(to_bytes(res.into_body()).await.unwrap(), content);

        let req = TestRequest::get().insert_header((header::ACCEPT_ENCODING, "gzip"));
        let res = fx.response(req, "data.json").await;
        assert_eq!(res.body().size(), BodySize::Stream);
        assert_eq!(gunzip(&to_bytes(res.into_body()).await.unwrap()), content);
    }

    #[actix_web::test]
    async fn hashed_bundled_assets_are_immutable_and_the_rest_revalidated() {
        let fx = Fixture::new();
        for (name, cache) in [
            ("app-3f9a1c2b.js", CACHE_IMMUTABLE),
            ("main.a1b2c3d4e5.css", CACHE_IMMUTABLE),
            ("font.Ab_12345.woff2", CACHE_IMMUTABLE),
            ("chunk-3f9a1c2b.mjs", CACHE_IMMUTABLE),
            ("app-3f9a1c2.js", CACHE_REVALIDATE),
            ("app3f9a1c2b.js", CACHE_REVALIDATE),
            ("app-3f9a1c2b.json", CACHE_REVALIDATE),
            ("shot-3f9a1c2b.png", CACHE_REVALIDATE),
            ("index.html", CACHE_REVALIDATE),
        ] {
            fx.write(name, b"x");
            let (status, headers, _) = fx.get(name).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(text_of(&headers, header::CACHE_CONTROL), cache, "{name}");
        }
        assert!(!is_hashed_asset("app-3f9a!c2b.js"));
        assert!(!is_hashed_asset(".js"));
    }

    #[actix_web::test]
    async fn security_headers_are_on_every_response() {
        let fx = Fixture::new();
        for raw in ["index.html", "nope.html", "..", "sub", "sub/"] {
            let (_, headers, _) = fx.get(raw).await;
            assert_security_headers(&headers);
        }
    }

    #[actix_web::test]
    async fn the_default_policy_lets_reports_load_only_from_their_own_origin() {
        let fx = Fixture::new();
        let (_, headers, _) = fx.get("index.html").await;
        let csp = text_of(&headers, header::CONTENT_SECURITY_POLICY);
        let directives: Vec<&str> = csp.split("; ").collect();
        for directive in [
            "default-src 'self'",
            "script-src 'self' 'unsafe-inline' data:",
            "connect-src 'self' data:",
            "img-src 'self' data: blob:",
            "object-src 'none'",
            "form-action 'none'",
        ] {
            assert!(directives.contains(&directive), "{directive}: {csp}");
        }
        // No other host anywhere but in frame-ancestors, the last directive.
        assert_eq!(directives.last(), Some(&format!("frame-ancestors 'self' {ORIGIN}").as_str()), "{csp}");
        assert!(!directives[..directives.len() - 1].iter().any(|d| d.contains("http")), "{csp}");
    }

    #[actix_web::test]
    async fn an_administrators_policy_replaces_the_default_and_keeps_the_framing_rule() {
        let fx = Fixture::new();
        let policy = ReportPolicy::parse("default-src 'self' https://cdn.example.com; img-src *").unwrap();
        let expected =
            format!("default-src 'self' https://cdn.example.com; img-src *; frame-ancestors 'self' {ORIGIN}");
        for raw in ["index.html", "nope.html", "..", "sub"] {
            let req = TestRequest::get().uri(&format!("{PREFIX}{raw}")).to_http_request();
            let res = serve(&req, &fx.report(), raw, ORIGIN, &policy).await;
            assert_eq!(text_of(res.headers(), header::CONTENT_SECURITY_POLICY), expected, "{raw}");
            assert_eq!(text_of(res.headers(), header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        }
    }

    #[test]
    fn a_main_origin_unfit_for_a_header_leaves_same_origin_framing_only() {
        for origin in ["", "http://bad host", "http://h\u{7f}"] {
            let mut headers = HeaderMap::new();
            add_security_headers(&mut headers, origin, &ReportPolicy::default());
            assert_eq!(
                text_of(&headers, header::CONTENT_SECURITY_POLICY),
                format!("{}; frame-ancestors 'self'", ReportPolicy::DEFAULT),
                "{origin:?}"
            );
        }
    }

    #[actix_web::test]
    async fn head_answers_headers_without_a_body() {
        let fx = Fixture::new();
        let content = script(2048);
        fx.write("app.js", &content);

        let res = fx.response(TestRequest::default().method(actix_web::http::Method::HEAD), "app.js").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.body().size(), BodySize::Sized(2048));
        assert_eq!(text_of(res.headers(), header::CONTENT_TYPE), "text/javascript; charset=utf-8");
        assert!(!text_of(res.headers(), header::ETAG).is_empty());
        assert_security_headers(res.headers());
        assert!(to_bytes(res.into_body()).await.unwrap().is_empty());

        let gzip = TestRequest::default()
            .method(actix_web::http::Method::HEAD)
            .insert_header((header::ACCEPT_ENCODING, "gzip"));
        let (status, headers, body) = fx.call(gzip, "app.js").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(text_of(&headers, header::CONTENT_ENCODING), "gzip");
        assert!(body.is_empty());

        let ranged =
            TestRequest::default().method(actix_web::http::Method::HEAD).insert_header((header::RANGE, "bytes=0-9"));
        let res = fx.response(ranged, "app.js").await;
        assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(res.body().size(), BodySize::Sized(10));
        assert!(to_bytes(res.into_body()).await.unwrap().is_empty());
    }

    /// Sends one raw HTTP/1.1 request to `addr` and returns everything the server answers before closing.
    async fn exchange(addr: std::net::SocketAddr, request: String) -> Vec<u8> {
        actix_web::rt::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).unwrap();
            answer
        })
        .await
        .unwrap()
    }

    #[actix_web::test]
    async fn over_a_real_connection_head_sends_the_length_and_no_body() {
        let fx = Fixture::new();
        let content = script(2048);
        fx.write("app.js", &content);
        let dir = fx.report();
        let server = actix_web::HttpServer::new(move || {
            let dir = dir.clone();
            actix_web::App::new().default_service(web::to(move |req: HttpRequest| {
                let dir = dir.clone();
                async move {
                    let raw = req.path().strip_prefix(PREFIX).unwrap_or_default().to_owned();
                    serve(&req, &dir, &raw, ORIGIN, &ReportPolicy::default()).await
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);

        let request = |method: &str, extra: &str| {
            format!("{method} {PREFIX}app.js HTTP/1.1\r\nHost: reports\r\n{extra}Connection: close\r\n\r\n")
        };
        let head = String::from_utf8(exchange(addr, request("HEAD", "")).await).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("\r\ncontent-length: 2048\r\n"), "{head}");
        assert!(head.ends_with("\r\n\r\n"), "a HEAD answer ends with its headers: {head}");

        let get = exchange(addr, request("GET", "")).await;
        assert!(get.ends_with(&content), "GET sends the file after the headers");

        let head_gzip = String::from_utf8(exchange(addr, request("HEAD", "Accept-Encoding: gzip\r\n")).await).unwrap();
        assert!(head_gzip.contains("\r\ncontent-encoding: gzip\r\n"), "{head_gzip}");
        assert!(head_gzip.ends_with("\r\n\r\n"), "{head_gzip}");

        let get_gzip = exchange(addr, request("GET", "Accept-Encoding: gzip\r\n")).await;
        let text = String::from_utf8_lossy(&get_gzip);
        assert!(
            text.contains("\r\ncontent-encoding: gzip\r\n") && text.contains("transfer-encoding: chunked"),
            "{text}"
        );
        handle.stop(true).await;
    }

    #[test]
    fn accept_encoding_parsing_respects_q_values() {
        let accepts = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
            accepts_gzip(&headers)
        };
        assert!(accepts("gzip"));
        assert!(accepts("GZIP;Q=0.1"));
        assert!(accepts("identity, *;q=0.5"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("gzip;q=0.000, *;q=1"));
        assert!(!accepts("deflate"));
        assert!(!accepts(""));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
