//! §15: the OpenAPI document and the docs page, served by the running server without credentials; the page's
//! assets come from the server itself (checked over HTTP, and in real Chromium when it is installed: nothing is
//! requested from anywhere else and the operations render).

use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{Reply, TestServer};

async fn anonymous(s: &TestServer, path: &str) -> Reply {
    TestServer::read(s.request(Method::GET, path)).await
}

#[tokio::test]
async fn the_document_is_public_openapi_3_1_and_names_the_server_version() {
    let s = TestServer::sqlite().await;
    let res = anonymous(&s, "/api/openapi.json").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(res.header("content-type").unwrap().starts_with("application/json"), "{:?}", res.headers);
    let doc = res.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let version = anonymous(&s, "/api/version").await.json();
    assert_eq!(doc["info"]["version"], version["version"], "info.version is the server version");
    // Credentials are ignored on a public route, an invalid key included.
    let with_bad_key =
        TestServer::read(s.request(Method::GET, "/api/openapi.json").header("X-API-Key", "ah_nope")).await;
    assert_eq!(with_bad_key.status, StatusCode::OK);
    // HEAD answers like every GET.
    assert_eq!(TestServer::read(s.request(Method::HEAD, "/api/openapi.json")).await.status, StatusCode::OK);
    for (path, method) in [
        ("/api/environments", "get"),
        ("/api/environments/{envId}/projects/{projectId}/results", "post"),
        ("/api/settings/apikeys", "post"),
        ("/auth/login", "post"),
        ("/api/openapi.json", "get"),
        ("/api/docs", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} missing");
    }
}

/// The page and every script, stylesheet and icon it names load from this server.
#[tokio::test]
async fn the_docs_page_and_its_assets_load_from_the_server() {
    let s = TestServer::sqlite().await;
    let page = anonymous(&s, "/api/docs").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    let assets: Vec<&str> = page.text.split(['"', '\'']).filter(|part| part.starts_with("/api/docs/")).collect();
    assert!(assets.len() >= 4, "the page names its assets: {}", page.text);
    assert!(!page.text.contains("http://") && !page.text.contains("https://"), "no external URL: {}", page.text);
    for asset in &assets {
        let res = anonymous(&s, asset).await;
        assert_eq!(res.status, StatusCode::OK, "{asset}");
        assert!(!res.text.is_empty(), "{asset} is empty");
        let expected = if asset.ends_with(".js") {
            "javascript"
        } else if asset.ends_with(".css") {
            "text/css"
        } else {
            "image/png"
        };
        assert!(res.header("content-type").is_some_and(|t| t.contains(expected)), "{asset}: {:?}", res.headers);
    }
    let init = anonymous(&s, "/api/docs/swagger-initializer.js").await.text;
    let compact: String = init.split_whitespace().collect();
    assert!(compact.contains("\"url\":\"/api/openapi.json\""), "the page renders our document: {init}");
    assert!(compact.contains("\"validatorUrl\":\"none\""), "no validator badge from the internet: {init}");
    let missing = anonymous(&s, "/api/docs/no-such-file.js").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error(), "not found");
}

/// Opens the page in Debian's Chromium (when installed) with every request outside the server refused.
#[tokio::test]
async fn the_docs_page_renders_offline_in_a_browser() {
    const CHROMIUM: &str = "/usr/bin/chromium";
    if !std::path::Path::new(CHROMIUM).exists() {
        assert!(!crate::support::node_required(), "{CHROMIUM} is required (Debian package chromium)");
        return;
    }
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
    let Some(dir) = crate::support::npm_fixture("browser-tests", fixture, "browser") else { return };
    let s = TestServer::sqlite().await;
    let script = r#"
import { chromium } from 'playwright-core';
const hub = process.env.HUB;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'] });
const seen = { outside: [], failed: [], errors: [] };
try {
  const page = await browser.newPage();
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(hub + '/')) return route.continue();
    seen.outside.push(url);
    return route.abort();
  });
  page.on('response', (res) => { if (res.status() >= 400) seen.failed.push(`${res.status()} ${res.url()}`); });
  page.on('pageerror', (err) => seen.errors.push(err.message));
  await page.goto(`${hub}/api/docs`, { waitUntil: 'networkidle' });
  await page.waitForSelector('.opblock', { timeout: 20000 }).catch(() => {});
  seen.operations = await page.locator('.opblock').count();
  seen.title = await page.locator('.info .title').first().innerText().catch(() => '');
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
"#;
    let out = Command::new("node")
        .args(["--input-type=module", "-e", script])
        .current_dir(&dir)
        .env("HUB", &s.base)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["outside"], serde_json::json!([]), "the page asked for something outside the server: {seen}");
    assert_eq!(seen["failed"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["errors"], serde_json::json!([]), "{seen}");
    let documented: usize = anonymous(&s, "/api/openapi.json").await.json()["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(seen["operations"].as_u64(), Some(documented as u64), "every operation is rendered: {seen}");
    assert!(seen["title"].as_str().unwrap().contains("allure-hub"), "{seen}");
}
