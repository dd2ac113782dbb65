//! §12.3 Prometheus metrics: access, the text format, and requests counted by route template.
//!
//! Every test server of this process shares one metrics recorder (as one server process does), so counts are
//! compared before and after, and only ever expected to grow by at least what the test itself did.

use std::collections::{HashMap, HashSet};

use reqwest::{Method, StatusCode};

use crate::support::{Reply, TestServer};

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One sample line: metric name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: HashMap<String, String>,
    value: f64,
}

/// Parses the labels of `{k="v",...}` (the part after `{`), returning them and the rest of the line.
fn parse_labels(mut rest: &str) -> (HashMap<String, String>, &str) {
    let mut labels = HashMap::new();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return (labels, after);
        }
        let (key, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("label without a value in {rest:?}"));
        assert!(!key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "label name {key:?}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => panic!("dangling escape"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {after:?}"),
            }
        };
        labels.insert(key.to_owned(), value);
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// Parses a whole scrape line by line, checking each line is a comment, a `# TYPE`/`# HELP` line or a sample of a
/// declared family. Returns the samples and the declared type of each family.
fn parse(text: &str) -> (Vec<Sample>, HashMap<String, String>) {
    let mut types = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind), "{line}");
            assert!(types.insert(name.to_owned(), kind.to_owned()).is_none(), "{name} declared twice");
            continue;
        }
        if line.starts_with('#') {
            assert!(line.starts_with("# HELP ") || line.starts_with("# "), "{line}");
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("no value: {line}"));
        let name = &line[..name_end];
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "metric name {name:?}"
        );
        let (labels, rest) = match line[name_end..].strip_prefix('{') {
            Some(rest) => parse_labels(rest),
            None => (HashMap::new(), &line[name_end..]),
        };
        let value = rest.trim();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).filter(|f| types.get(*f).is_some_and(|t| t == "histogram")))
            .unwrap_or(name);
        assert!(types.contains_key(family), "sample of an undeclared family: {line}");
        samples.push(Sample { name: name.to_owned(), labels, value });
    }
    (samples, types)
}

/// The value of the series `name` whose labels include `labels` (summed when several match).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v)))
        .map(|s| s.value)
        .sum()
}

async fn scrape(s: &TestServer, key: &str) -> Vec<Sample> {
    let res = TestServer::read(s.request(Method::GET, "/metrics").bearer_auth(key)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    parse(&res.text).0
}

/// A server whose policy takes `view` from developers, for the 403.
async fn server_with_a_blind_role(extra: &[(&str, &str)]) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    let policy = "roles:\n  admin:\n    permissions: ['*']\n  viewer:\n    permissions: [view]\n  developer:\n    permissions: [upload]\n";
    std::fs::write(&path, policy).unwrap();
    let mut vars = vec![("AUTH_POLICY_FILE", path.to_str().unwrap())];
    vars.extend_from_slice(extra);
    (TestServer::sqlite_with(&vars).await, dir)
}

#[tokio::test]
async fn metrics_need_view_and_answer_401_and_403_like_the_api() {
    let (s, _policy) = server_with_a_blind_role(&[]).await;
    let res = TestServer::read(s.request(Method::GET, "/metrics")).await;
    assert_eq!((res.status, res.error()), (StatusCode::UNAUTHORIZED, "not authenticated".to_owned()));
    let blind = s.key_with_role("ci", "developer").await;
    let res = TestServer::read(s.request(Method::GET, "/metrics").bearer_auth(&blind)).await;
    assert_eq!((res.status, res.error()), (StatusCode::FORBIDDEN, "missing permission: view".to_owned()));
    let res = TestServer::read(s.request(Method::GET, "/metrics").bearer_auth("ah_not-a-key")).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    let viewer = s.key_with_role("scraper", "viewer").await;
    let res = TestServer::read(s.request(Method::GET, "/metrics").bearer_auth(&viewer)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("content-type"), Some(CONTENT_TYPE));
    // A browser session with view works as well (auth `any`).
    let res = TestServer::read(s.as_session(&s.admin, Method::GET, "/metrics")).await;
    assert_eq!(res.status, StatusCode::OK);
    let res = TestServer::read(s.request(Method::POST, "/metrics").bearer_auth(&viewer)).await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_scrape_is_the_text_format_with_every_series_of_the_contract() {
    let s = TestServer::sqlite().await;
    let res: Reply = TestServer::read(s.request(Method::GET, "/metrics").bearer_auth(&s.key)).await;
    let (samples, types) = parse(&res.text);
    let expected = [
        ("allure_hub_build_info", "gauge"),
        ("allure_hub_http_requests_total", "counter"),
        ("allure_hub_http_request_duration_seconds", "histogram"),
        ("allure_hub_uploads_total", "counter"),
        ("allure_hub_upload_bytes_total", "counter"),
        ("allure_hub_generation_jobs", "gauge"),
        ("allure_hub_generations_total", "counter"),
        ("allure_hub_sse_connections", "gauge"),
        ("allure_hub_disk_used_bytes", "gauge"),
        ("allure_hub_disk_free_bytes", "gauge"),
        ("allure_hub_disk_total_bytes", "gauge"),
        ("allure_hub_cleanup_runs_total", "counter"),
        ("allure_hub_rate_limited_total", "counter"),
    ];
    for (name, kind) in expected {
        assert_eq!(types.get(name).map(String::as_str), Some(kind), "{name}");
    }
    let info: Vec<&Sample> = samples.iter().filter(|s| s.name == "allure_hub_build_info").collect();
    assert!(!info.is_empty());
    for sample in info {
        assert_eq!(sample.value, 1.0);
        let keys: HashSet<&str> = sample.labels.keys().map(String::as_str).collect();
        assert_eq!(keys, HashSet::from(["version", "git_commit"]));
    }
    assert!(
        samples.iter().any(|s| s.name == "allure_hub_build_info" && s.labels["version"] == env!("CARGO_PKG_VERSION")),
        "this build's version is among them"
    );
    for state in ["queued", "running"] {
        assert!(samples.iter().any(|s| s.name == "allure_hub_generation_jobs" && s.labels["state"] == state));
    }
    for (kind, result) in [("stream", "accepted"), ("stream", "failed"), ("chunked", "accepted"), ("chunked", "failed")]
    {
        let found = samples
            .iter()
            .any(|s| s.name == "allure_hub_uploads_total" && s.labels["kind"] == kind && s.labels["result"] == result);
        assert!(found, "uploads {kind} {result}");
    }
}

#[tokio::test]
async fn requests_are_counted_under_their_route_template() {
    let s = TestServer::sqlite().await;
    assert_eq!(
        s.post("/api/environments", serde_json::json!({"id": "metrics-env", "name": "M"})).await.status,
        StatusCode::CREATED
    );
    let route = "/api/environments/{envId}/projects";
    let ok = [("method", "GET"), ("route", route), ("status", "200")];
    let before = scrape(&s, &s.key).await;
    for _ in 0..3 {
        assert_eq!(s.get("/api/environments/metrics-env/projects").await.status, StatusCode::OK);
    }
    assert_eq!(s.get("/api/environments/no-such-env/projects").await.status, StatusCode::NOT_FOUND);
    assert_eq!(s.get("/api/nothing-here/at-all").await.status, StatusCode::NOT_FOUND);
    let after = scrape(&s, &s.key).await;

    let count = |samples: &[Sample], labels: &[(&str, &str)]| value(samples, "allure_hub_http_requests_total", labels);
    assert!(count(&after, &ok) >= count(&before, &ok) + 3.0);
    let missing = [("method", "GET"), ("route", route), ("status", "404")];
    assert!(count(&after, &missing) >= count(&before, &missing) + 1.0);
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert!(count(&after, &unmatched) >= count(&before, &unmatched) + 1.0);
    let timed = |samples: &[Sample]| {
        value(samples, "allure_hub_http_request_duration_seconds_count", &[("method", "GET"), ("route", route)])
    };
    assert!(timed(&after) >= timed(&before) + 4.0);
    for sample in after.iter().filter(|s| s.name.starts_with("allure_hub_http_")) {
        let route = &sample.labels["route"];
        assert!(!route.contains("metrics-env") && !route.contains("nothing-here"), "a raw path as label: {route}");
    }
    // The report origin has no /metrics.
    let res = TestServer::read(s.client.get(format!("{}/metrics", s.reports)).bearer_auth(&s.key)).await;
    assert_ne!(res.header("content-type"), Some(CONTENT_TYPE));
}

#[tokio::test]
async fn answers_429_are_counted() {
    let s =
        TestServer::sqlite_with(&[("RATE_LIMIT_RATE", "0.1"), ("RATE_LIMIT_BURST", "2"), ("TRUST_PROXY", "1")]).await;
    let from = |ip: &str, path: &str| {
        s.request(Method::GET, path).header("X-Forwarded-For", ip.to_owned()).bearer_auth(&s.key)
    };
    let scrape_from = |ip: &'static str| async move {
        let res = TestServer::read(from(ip, "/metrics")).await;
        assert_eq!(res.status, StatusCode::OK);
        parse(&res.text).0
    };
    let before = scrape_from("203.0.113.1").await;
    for _ in 0..2 {
        assert_eq!(TestServer::read(from("198.51.100.9", "/api/version")).await.status, StatusCode::OK);
    }
    let res = TestServer::read(from("198.51.100.9", "/api/version")).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    let after = scrape_from("203.0.113.2").await;
    let limited = |samples: &[Sample]| value(samples, "allure_hub_rate_limited_total", &[]);
    assert!(limited(&after) >= limited(&before) + 1.0);
    let answered = [("method", "GET"), ("route", "/api/version"), ("status", "429")];
    let answered429 = |samples: &[Sample]| value(samples, "allure_hub_http_requests_total", &answered);
    assert!(answered429(&after) >= answered429(&before) + 1.0);
}

#[tokio::test]
async fn metrics_public_serves_without_credentials() {
    let s = TestServer::sqlite_with(&[("METRICS_PUBLIC", "true")]).await;
    let res = TestServer::read(s.request(Method::GET, "/metrics")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("content-type"), Some(CONTENT_TYPE));
    assert!(parse(&res.text).1.contains_key("allure_hub_http_requests_total"));
    // Credentials, even wrong ones, are ignored on a public route.
    let res = TestServer::read(s.request(Method::GET, "/metrics").bearer_auth("ah_wrong")).await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn an_open_event_stream_is_counted() {
    let s = TestServer::sqlite().await;
    let open = |samples: &[Sample]| value(samples, "allure_hub_sse_connections", &[("stream", "uploads")]);
    let stream = s.request(Method::GET, "/api/uploads/stream").bearer_auth(&s.key).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let during = scrape(&s, &s.key).await;
    // The gauge is shared by every server of this test process, whose streams open and close concurrently: only
    // "ours is among them" holds whatever the other tests do.
    assert!(open(&during) >= 1.0);
    // The stream is counted when it starts. That it is not timed is checked by hub-http's unit test: here, other
    // tests' refused requests to the same route (401s, 403s) are timed under its label.
    let labels = [("method", "GET"), ("route", "/api/uploads/stream")];
    assert!(value(&during, "allure_hub_http_requests_total", &labels) >= 1.0);
    drop(stream);
}
