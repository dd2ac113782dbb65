//! The deployment recipes proven: the `allure-hub` binary behind a real nginx running the shipped
//! `deploy/nginx/allure-hub.conf`, and behind a real Caddy running `deploy/caddy/Caddyfile`, each with two host
//! names for the two origins and the same checks.
//!
//! The tests change only what a loopback run must: listen ports, host names (`hub.test`, `reports.test`, sent as
//! `Host` headers, so no DNS is needed) and TLS (plain HTTP here: certificates would test the proxy, not the recipe;
//! the server sees the scheme only through `X-Forwarded-Proto` and `BASE_URL`). Every substitution must find its text
//! in the shipped file, so a change there that the test no longer understands fails instead of being skipped.
//!
//! Without nginx (Debian package `nginx`) or Caddy (Debian package `caddy`) the matching test is skipped with a
//! message, unless `ALLURE_HUB_REQUIRE_NGINX=1` or `ALLURE_HUB_REQUIRE_CADDY=1`; `ALLURE_HUB_NGINX_BIN` and
//! `ALLURE_HUB_CADDY_BIN` name other executables. `ALLURE_HUB_PROXY_TEST_BIN` names the server binary to run (CI:
//! the release build).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod caddy;
mod nginx;
mod support;

use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

use support::{
    APP_HOST, BIG_BYTES, Events, Guard, PASSWORD, REPORT_HOST, allure_cli, client, free_port, login, peak_rss_mib,
    start_server, upload_holding_back, write_results_zip,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_nginx_recipe_carries_sign_in_large_uploads_events_client_addresses_and_both_origins() {
    let Some(bin) = nginx::nginx_binary() else { return };
    let allure = allure_cli().await;
    let dir = tempfile::tempdir().unwrap();
    let proxy_port = free_port();
    let (server, app_port, report_port) = start_server(dir.path(), proxy_port, allure.as_deref());
    let _nginx = nginx::start(&bin, proxy_port, app_port, report_port);
    check_recipe("nginx", proxy_port, &server, dir.path(), allure.is_some()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_caddy_recipe_carries_sign_in_large_uploads_events_client_addresses_and_both_origins() {
    let Some(bin) = caddy::caddy_binary() else { return };
    let allure = allure_cli().await;
    let dir = tempfile::tempdir().unwrap();
    let proxy_port = free_port();
    let (server, app_port, report_port) = start_server(dir.path(), proxy_port, allure.as_deref());
    let _caddy = caddy::start(&bin, proxy_port, app_port, report_port);
    check_recipe("caddy", proxy_port, &server, dir.path(), allure.is_some()).await;
}

/// Everything a deployment must carry, asked through the proxy on `proxy_port`. Without the Allure CLI the report
/// checks are left out (the caller has said so).
async fn check_recipe(proxy: &str, proxy_port: u16, server: &Guard, dir: &Path, generates: bool) {
    let app = format!("http://{APP_HOST}:{proxy_port}");
    let reports = format!("http://{REPORT_HOST}:{proxy_port}");
    let main = client([127, 0, 0, 1], proxy_port);

    // Sign-in through the proxy: the Origin check passes against BASE_URL, and the cookie works.
    let res = main.get(format!("{app}/api/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = login(&main, &app, PASSWORD, HeaderMap::new()).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let me: Value =
        main.get(format!("{app}/auth/me")).header("Cookie", &cookie).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["email"], "admin@localhost", "{me}");
    for project in ["big", "app"] {
        let res = main
            .post(format!("{app}/api/environments/default/projects"))
            .header("Cookie", &cookie)
            .header("Origin", &app)
            .json(&serde_json::json!({"id": project, "name": project}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }

    // Client addresses: ten failed sign-ins from 127.0.0.2 lock that address out, even when it claims another
    // address in its own X-Forwarded-For (the proxy appends or sets the real one, the right-most entry, and the
    // server trusts only that one); a client on 127.0.0.3 still signs in. Behind a proxy that passed no address,
    // both would share the proxy's.
    let blocked = client([127, 0, 0, 2], proxy_port);
    for attempt in 1..=10 {
        let res = login(&blocked, &app, "wrong-password", HeaderMap::new()).await;
        assert_eq!(res.status(), 401, "failed attempt {attempt}");
    }
    let res = login(&blocked, &app, PASSWORD, HeaderMap::new()).await;
    assert_eq!(res.status(), 429, "the 11th attempt from the same address is refused");
    assert!(res.headers().contains_key("retry-after"));
    let spoofed = HeaderMap::from_iter([("x-forwarded-for".parse().unwrap(), HeaderValue::from_static("127.0.0.9"))]);
    let res = login(&blocked, &app, PASSWORD, spoofed).await;
    assert_eq!(res.status(), 429, "a client-sent X-Forwarded-For does not pick the bucket");
    let res = login(&client([127, 0, 0, 3], proxy_port), &app, PASSWORD, HeaderMap::new()).await;
    assert_eq!(res.status(), 200, "another client address is not affected: {}", res.text().await.unwrap());

    // Events: the stream opens at once through the proxy.
    // Asked the way browsers ask: a compressing proxy would hold events back in its compressor (and this client
    // could not read them).
    let response = main
        .get(format!("{app}/api/uploads/stream"))
        .header("Cookie", &cookie)
        .header("Accept-Encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    assert!(response.headers().get("content-encoding").is_none(), "events are never compressed");
    let mut events = Events::open(response).await;

    // A 200 MB upload, streamed from disk. The client holds back most of the body until the upload's first event
    // has come through the event stream: that event exists only once the proxy has passed the request on without
    // spooling the body (nginx: proxy_request_buffering off), and reaches the client only if the proxy does not
    // buffer the stream. Either kind of buffering leaves the upload waiting here, and the test fails with a clear message.
    let zip = dir.join("big.zip");
    write_results_zip(&zip, Some(BIG_BYTES));
    let size = std::fs::metadata(&zip).unwrap().len();
    let (go, wait) = mpsc::channel();
    let mut upload = {
        let cookie = cookie.clone();
        let zip = zip.clone();
        tokio::task::spawn_blocking(move || {
            let path = "/api/environments/default/projects/big/results?buildId=big-1";
            upload_holding_back(proxy_port, path, &cookie, &zip, &wait)
        })
    };
    let (seen, first) = tokio::select! {
        first = events.phases_until("big-1", &["uploading", "assembling", "generating", "failed"]) => first,
        answer = &mut upload => panic!("the upload ended before its first event came through: {answer:?}"),
    };
    assert_eq!(seen, ["uploading"], "the first event arrives while the body is still held back: {first}");
    go.send(()).unwrap();
    let started = Instant::now();
    let (seen, extracted) = events.phases_until("big-1", &["generating", "failed"]).await;
    assert_eq!(seen, ["assembling", "generating"], "{extracted}");
    assert_eq!(extracted["totalSize"], size, "{extracted}");
    let answer = upload.await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{}", &answer[..answer.len().min(600)]);
    let rss = peak_rss_mib(server.id());
    eprintln!(
        "proxy test ({proxy}): {} MiB uploaded, received and extracted in {:.1} s; server peak RSS {rss} MiB",
        size / 1024 / 1024,
        started.elapsed().as_secs_f64()
    );
    assert!(rss < 160, "the server's memory does not grow with the upload: peak {rss} MiB for a {size}-byte body");

    // The report lives on its own host name: the main host only redirects there, with a grant.
    if !generates {
        return;
    }
    let small = dir.join("small.zip");
    write_results_zip(&small, None);
    let res = main
        .post(format!("{app}/api/environments/default/projects/app/results?buildId=b1"))
        .header("Cookie", &cookie)
        .header("Origin", &app)
        .header("Content-Type", "application/zip")
        .body(std::fs::read(&small).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let (_, done) = events.phases_until("b1", &["done", "failed"]).await;
    assert_eq!(done["phase"], "done", "{done}");

    let report_path = "/reports/default/app/b1/index.html";
    let res = main.get(format!("{app}{report_path}")).header("Cookie", &cookie).send().await.unwrap();
    assert_eq!(res.status(), 302, "the main host does not serve report files");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("{reports}{report_path}?grant=")), "{location}");
    assert!(!res.text().await.unwrap().contains("<html"), "no report content on the main host");

    let viewer = client([127, 0, 0, 4], proxy_port);
    let res = viewer.get(format!("{reports}{report_path}")).header("Cookie", &cookie).send().await.unwrap();
    assert_eq!(res.status(), 401, "the report host ignores the main session cookie");
    let res = viewer.get(&location).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = res.text().await.unwrap();
    assert!(html.to_lowercase().contains("<html"), "{}", &html[..html.len().min(300)]);
    let res = viewer.get(format!("{reports}/api/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 404, "the report host serves reports and nothing else");

    let (_, big) = events.phases_until("big-1", &["done", "failed"]).await;
    assert_eq!(big["phase"], "done", "the 200 MB upload's report was generated too: {big}");
}
