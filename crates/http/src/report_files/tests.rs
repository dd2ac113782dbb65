//! The HTTP rules of report files against an in-memory report. One file past 500 lines because every case reads
//! the same fixture and the rules interlock (validators, ranges and gzip decide together which bytes are sent).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::body::{BodySize, MessageBody, to_bytes};
use actix_web::test::TestRequest;
use actix_web::web;
use flate2::read::GzDecoder;
use hub_domain::ports::ReportBody;

use super::*;

const ORIGIN: &str = "http://127.0.0.1:8080";
const PREFIX: &str = "/reports/staging/checkout/b1/";

/// A report held in memory: the HTTP rules tested apart from any storage (the storage's own rules, such as
/// refusing symbolic links, are tested with its adapter).
struct Fixture {
    files: Mutex<BTreeMap<String, (Bytes, String)>>,
    dirs: Mutex<BTreeSet<String>>,
    versions: AtomicU64,
    modified: SystemTime,
}

impl Fixture {
    fn new() -> Arc<Self> {
        let fixture = Self {
            files: Mutex::default(),
            dirs: Mutex::new(BTreeSet::from([String::new(), "empty".to_owned()])),
            versions: AtomicU64::new(0),
            modified: SystemTime::now() - Duration::from_secs(3600),
        };
        fixture.write("index.html", b"<html>root</html>");
        fixture.write("sub/index.html", b"<html>sub</html>");
        Arc::new(fixture)
    }

    /// Stores (or replaces, with a new version) a file, its directories with it.
    fn write(&self, name: &str, content: &[u8]) {
        let version = format!("v{}", self.versions.fetch_add(1, Ordering::Relaxed));
        self.files.lock().unwrap().insert(name.to_owned(), (Bytes::copy_from_slice(content), version));
        let mut dirs = self.dirs.lock().unwrap();
        let mut parent = name;
        while let Some((dir, _)) = parent.rsplit_once('/') {
            dirs.insert(dir.to_owned());
            parent = dir;
        }
    }

    /// What a storage adapter answers, by the port's rules.
    fn open(&self, path: &ReportPath) -> Result<Found, StorageError> {
        let joined = path.segments().join("/");
        if joined == "broken" {
            return Err(StorageError::new("disk failed"));
        }
        if joined == "unreachable" {
            return Err(StorageError::unavailable("connection refused"));
        }
        let files = self.files.lock().unwrap();
        let file = |name: &str| {
            files.get(name).map_or(Found::Missing, |(bytes, version)| {
                let (bytes, version) = (bytes.clone(), version.clone());
                let name = name.rsplit('/').next().unwrap_or_default().to_owned();
                let body = Box::new(MemoryBody { bytes, fail_at: (name == "short.js").then_some(CHUNK) });
                Found::File(ReportFile {
                    name,
                    len: body.bytes.len() as u64,
                    modified: Some(self.modified),
                    version,
                    body,
                })
            })
        };
        if self.dirs.lock().unwrap().contains(&joined) {
            return Ok(match (path.is_directory(), joined.is_empty()) {
                (false, _) => Found::Directory,
                (true, true) => file("index.html"),
                (true, false) => file(&format!("{joined}/index.html")),
            });
        }
        Ok(if path.is_directory() { Found::Missing } else { file(&joined) })
    }

    async fn call(self: &Arc<Self>, req: TestRequest, raw: &str) -> (StatusCode, HeaderMap, Bytes) {
        let res = self.response(req, raw).await;
        let (status, headers) = (res.status(), res.headers().clone());
        (status, headers, to_bytes(res.into_body()).await.unwrap())
    }

    async fn response(self: &Arc<Self>, req: TestRequest, raw: &str) -> HttpResponse {
        self.serve_with(req, raw, &ReportPolicy::default()).await
    }

    async fn serve_with(self: &Arc<Self>, req: TestRequest, raw: &str, policy: &ReportPolicy) -> HttpResponse {
        let req = req.uri(&format!("{PREFIX}{raw}")).to_http_request();
        serve(&req, raw, ORIGIN, policy, |path| std::future::ready(self.open(&path))).await
    }

    async fn get(self: &Arc<Self>, raw: &str) -> (StatusCode, HeaderMap, Bytes) {
        self.call(TestRequest::get(), raw).await
    }
}

/// A file's bytes in blocks of [`CHUNK`]; `fail_at` makes the stream fail there, like a storage losing the file.
struct MemoryBody {
    bytes: Bytes,
    fail_at: Option<usize>,
}

#[async_trait::async_trait]
impl ReportBody for MemoryBody {
    async fn read(self: Box<Self>, start: u64, len: u64) -> Result<FileStream, StorageError> {
        let (start, end) = (start as usize, (start + len) as usize);
        let mut blocks: Vec<Result<Bytes, StorageError>> = Vec::new();
        let mut at = start;
        while at < end {
            if self.fail_at.is_some_and(|fail| at >= fail) {
                blocks.push(Err(StorageError::new("file vanished")));
                break;
            }
            let next = (at + CHUNK).min(end);
            blocks.push(Ok(self.bytes.slice(at..next)));
            at = next;
        }
        Ok(Box::pin(futures_util::stream::iter(blocks)))
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
async fn missing_files_and_special_paths_are_404() {
    let fx = Fixture::new();
    for raw in ["nope.html", "sub/nope.js", "nope/", "empty/", "index.html/", "index.html/x"] {
        let (status, headers, body) = fx.get(raw).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{raw}");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({"error": "not found"})
        );
        assert_security_headers(&headers);
    }
}

#[actix_web::test]
async fn a_storage_failure_is_a_500_with_the_security_headers() {
    let fx = Fixture::new();
    let (status, headers, body) = fx.get("broken").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["error"], "internal server error");
    assert_security_headers(&headers);
}

#[actix_web::test]
async fn an_unreachable_storage_is_a_503_to_retry_with_the_security_headers() {
    let fx = Fixture::new();
    let (status, headers, body) = fx.get("unreachable").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"error": "service unavailable"})
    );
    assert_eq!(text_of(&headers, header::RETRY_AFTER), "5");
    assert_security_headers(&headers);
}

#[actix_web::test]
async fn a_file_that_fails_while_streaming_cuts_the_body_both_ways() {
    let fx = Fixture::new();
    fx.write("short.js", &script(3 * CHUNK));
    let res = fx.response(TestRequest::get(), "short.js").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(to_bytes(res.into_body()).await.is_err(), "the identity body fails instead of ending short");
    // Compressed, the stream must not close as a valid but shorter gzip file either.
    let res = fx.response(TestRequest::get().insert_header((header::ACCEPT_ENCODING, "gzip")), "short.js").await;
    assert_eq!(text_of(res.headers(), header::CONTENT_ENCODING), "gzip");
    assert!(to_bytes(res.into_body()).await.is_err(), "the gzip body fails too");
}

#[actix_web::test]
async fn a_directory_without_slash_redirects_keeping_the_query() {
    let fx = Fixture::new();
    let req = TestRequest::get().uri(&format!("{PREFIX}sub?grant=abc&x=1")).to_http_request();
    let res = serve(&req, "sub", ORIGIN, &ReportPolicy::default(), |path| std::future::ready(fx.open(&path))).await;
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
    let expected = format!("default-src 'self' https://cdn.example.com; img-src *; frame-ancestors 'self' {ORIGIN}");
    for raw in ["index.html", "nope.html", "..", "sub"] {
        let res = fx.serve_with(TestRequest::get(), raw, &policy).await;
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

    let gzip =
        TestRequest::default().method(actix_web::http::Method::HEAD).insert_header((header::ACCEPT_ENCODING, "gzip"));
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
    let server = actix_web::HttpServer::new(move || {
        let fx = Arc::clone(&fx);
        actix_web::App::new().default_service(web::to(move |req: HttpRequest| {
            let fx = Arc::clone(&fx);
            async move {
                let raw = req.path().strip_prefix(PREFIX).unwrap_or_default().to_owned();
                serve(&req, &raw, ORIGIN, &ReportPolicy::default(), |path| std::future::ready(fx.open(&path))).await
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
    assert!(text.contains("\r\ncontent-encoding: gzip\r\n") && text.contains("transfer-encoding: chunked"), "{text}");
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
