use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service};
use actix_web::{App, HttpResponse, web};

use super::*;

/// The value of the series `name` with exactly `labels`, from a scrape.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    wanted.sort();
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, mut found) = match series.split_once('{') {
            Some((metric, rest)) => (metric, rest.strip_suffix('}')?.split(',').map(str::to_owned).collect::<Vec<_>>()),
            None => (series, Vec::new()),
        };
        found.sort();
        (metric == name && found == wanted).then(|| value.parse().ok()).flatten()
    })
}

fn scrape() -> String {
    Metrics::global().render()
}

#[actix_web::test]
async fn requests_are_labelled_with_the_route_template_not_the_path() {
    let app = init_service(
        App::new()
            .route("/test-labels/{id}/x", web::get().to(HttpResponse::Ok))
            .route("/test-labels/{id}/x", web::post().to(HttpResponse::Created))
            .wrap(from_fn(track_requests)),
    )
    .await;
    for id in ["a1", "b2", "c3"] {
        let res = call_service(&app, TestRequest::get().uri(&format!("/test-labels/{id}/x")).to_request()).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    call_service(&app, TestRequest::post().uri("/test-labels/zz/x").to_request()).await;
    call_service(&app, TestRequest::get().uri("/test-labels-nowhere/q").to_request()).await;
    call_service(&app, TestRequest::default().method(Method::from_bytes(b"BREW").unwrap()).uri("/").to_request()).await;

    let text = scrape();
    let route = "/test-labels/{id}/x";
    assert_eq!(sample(&text, HTTP_REQUESTS, &[("method", "GET"), ("route", route), ("status", "200")]), Some(3.0));
    assert_eq!(sample(&text, HTTP_REQUESTS, &[("method", "POST"), ("route", route), ("status", "201")]), Some(1.0));
    let count = format!("{HTTP_DURATION}_count");
    assert_eq!(sample(&text, &count, &[("method", "GET"), ("route", route)]), Some(3.0));
    assert!(!text.contains("/test-labels/a1"), "raw paths never become labels");
    assert!(!text.contains("test-labels-nowhere"));
    assert!(!text.contains("BREW"), "unknown methods are grouped");
    let unmatched = sample(&text, HTTP_REQUESTS, &[("method", "GET"), ("route", UNMATCHED), ("status", "404")]);
    assert!(unmatched.is_some_and(|n| n >= 1.0), "{text}");
    assert!(sample(&text, HTTP_REQUESTS, &[("method", "other"), ("route", UNMATCHED), ("status", "404")]).is_some());
}

#[actix_web::test]
async fn event_streams_are_counted_but_not_timed_and_429s_are_counted() {
    let app = init_service(
        App::new()
            .route(
                "/test-sse-timing",
                web::get().to(|| async { HttpResponse::Ok().content_type("text/event-stream").body("") }),
            )
            .route("/test-limited", web::get().to(HttpResponse::TooManyRequests))
            .wrap(from_fn(track_requests)),
    )
    .await;
    let before = sample(&scrape(), RATE_LIMITED, &[]).unwrap_or(0.0);
    call_service(&app, TestRequest::get().uri("/test-sse-timing").to_request()).await;
    call_service(&app, TestRequest::get().uri("/test-limited").to_request()).await;
    let text = scrape();
    let labels = [("method", "GET"), ("route", "/test-sse-timing")];
    assert_eq!(sample(&text, HTTP_REQUESTS, &[labels[0], labels[1], ("status", "200")]), Some(1.0));
    assert_eq!(sample(&text, &format!("{HTTP_DURATION}_count"), &labels), None);
    assert!(sample(&text, RATE_LIMITED, &[]).unwrap() >= before + 1.0);
}

#[test]
fn the_recording_functions_write_the_contracts_series() {
    record_build_info("9.9.9-test", "abc1234");
    record_upload(UploadKind::Chunked, UploadResult::Failed);
    record_upload(UploadKind::Regenerate, UploadResult::Accepted);
    record_upload_bytes(UploadKind::Chunked, 0);
    set_generation_jobs(4, 2);
    record_generation(GenerationResult::from(false), 12.0);
    set_disk(300, 200, 1000);
    let text = scrape();
    assert_eq!(sample(&text, BUILD_INFO, &[("version", "9.9.9-test"), ("git_commit", "abc1234")]), Some(1.0));
    assert!(sample(&text, UPLOADS, &[("kind", "chunked"), ("result", "failed")]).unwrap() >= 1.0);
    assert!(!text.contains("regenerate"), "regenerations are not uploads");
    assert_eq!(sample(&text, GENERATION_JOBS, &[("state", "queued")]), Some(4.0));
    assert_eq!(sample(&text, GENERATION_JOBS, &[("state", "running")]), Some(2.0));
    assert!(sample(&text, GENERATIONS, &[("result", "failure")]).unwrap() >= 1.0);
    let le_20 = sample(&text, &format!("{GENERATION_DURATION}_bucket"), &[("result", "failure"), ("le", "20")]);
    assert!(le_20.unwrap() >= 1.0, "generation durations use the long buckets");
    assert_eq!(sample(&text, DISK_USED, &[]), Some(300.0));
    assert_eq!(sample(&text, DISK_FREE, &[]), Some(200.0));
    assert_eq!(sample(&text, DISK_TOTAL, &[]), Some(1000.0));
    for series in [CLEANUP_RUNS, SSE_CONNECTIONS, UPLOAD_BYTES] {
        assert!(text.contains(&format!("# TYPE {series} ")), "{series} exists before its first event");
    }
}

#[test]
fn an_sse_connection_counts_while_it_lives() {
    let open = || sample(&scrape(), SSE_CONNECTIONS, &[("stream", "notifications")]).unwrap();
    let before = open();
    let connection = SseConnection::open(SseStream::Notifications);
    assert_eq!(open(), before + 1.0);
    drop(connection);
    assert_eq!(open(), before);
}

#[test]
fn scraping_is_public_only_when_configured() {
    assert_eq!(access(true), Access::Public);
    assert_eq!(access(false), Access::Any(Permission::View));
}

#[actix_web::test]
async fn the_route_serves_the_text_format_and_refuses_other_methods() {
    let app = init_service(App::new().configure(|cfg| configure(cfg, true))).await;
    let res = call_service(&app, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get("content-type").unwrap(), CONTENT_TYPE);
    let body = actix_web::test::read_body(res).await;
    assert!(std::str::from_utf8(&body).unwrap().contains("# TYPE allure_hub_rate_limited_total counter"));
    let res = call_service(&app, TestRequest::post().uri("/metrics").to_request()).await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers().get("allow").unwrap(), "GET, HEAD");
}
