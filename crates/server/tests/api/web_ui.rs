//! The web UI (hub-web) over HTTP and in a real browser (Debian's Chromium driven by npm `playwright-core`, never a
//! downloaded browser): sign in through the page, the overview, an environment and a project, keyboard focus,
//! screenshots, the 404 page, and the paths it must leave to the API; the upload, notification and settings pages,
//! actions through the JSON API, live updates, a viewer's view and 403 pages, and axe-core in every page.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::archives::zip_of;
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Session, TestServer, login};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
const CHROMIUM: &str = "/usr/bin/chromium";

/// `playwright-core` installed and Chromium present; `None` (skipped) when either is missing and Node is not
/// required.
fn browser_fixture() -> Option<PathBuf> {
    static INSTALLED: OnceLock<Option<PathBuf>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            if !Path::new(CHROMIUM).exists() {
                assert!(!crate::support::node_required(), "{CHROMIUM} is required (Debian package chromium)");
                return None;
            }
            // Named after its dependencies: `npm_fixture` installs a directory only once, and axe-core joined
            // playwright-core.
            crate::support::npm_fixture("web-ui-tests-axe", FIXTURE, "web UI browser")
        })
        .clone()
}

/// A server with the environment `staging`, its project `checkout` and one build `b1` (2 passed, 1 failed,
/// 1 skipped), left pending: the test server never finishes installing the Allure CLI.
async fn seeded() -> TestServer {
    seeded_with(&[]).await
}

/// [`seeded`] with extra server variables.
async fn seeded_with(vars: &[(&str, &str)]) -> TestServer {
    let s = TestServer::sqlite_with(vars).await;
    seed(&s).await;
    s
}

/// Creates `staging`, `checkout` and the build `b1` on `s`.
async fn seed(s: &TestServer) {
    let res = s.post("/api/environments", json!({"id": "staging", "name": "Staging"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let res = s.post("/api/environments/staging/projects", json!({"id": "checkout", "name": "Checkout"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let result = |id: &str, status: &str| {
        json!({"uuid": id, "name": id, "historyId": id, "status": status, "start": 1000, "stop": 2000}).to_string()
    };
    let (a, b, c, d) = (result("a", "passed"), result("b", "passed"), result("c", "failed"), result("d", "skipped"));
    let zip = zip_of(&[
        ("a-result.json", a.as_bytes()),
        ("b-result.json", b.as_bytes()),
        ("c-result.json", c.as_bytes()),
        ("d-result.json", d.as_bytes()),
    ]);
    let res = upload_zip(s, "b1", zip).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
}

/// Uploads `zip` as build `id` of staging/checkout with the admin key.
async fn upload_zip(s: &TestServer, id: &str, zip: Vec<u8>) -> crate::support::Reply {
    TestServer::read(
        s.request(Method::POST, &format!("/api/environments/staging/projects/checkout/results?buildId={id}"))
            .bearer_auth(&s.key)
            .header("Content-Type", "application/zip")
            .body(zip),
    )
    .await
}

/// Uploads the seed's results again as build `id` of staging/checkout.
async fn upload_again(s: &TestServer, id: &str) {
    let result = json!({"uuid": id, "name": id, "historyId": id, "status": "passed", "start": 1000, "stop": 2000});
    let res = upload_zip(s, id, zip_of(&[("r-result.json", result.to_string().as_bytes())])).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text);
}

#[tokio::test]
async fn a_build_page_links_to_the_newer_and_the_older_build() {
    let s = seeded().await;
    upload_again(&s, "b2").await;
    upload_again(&s, "b3").await;
    let link =
        |rel: &str, id: &str| format!(r#"<a href="/environments/staging/projects/checkout/builds/{id}" rel="{rel}">"#);
    let middle = page(&s, "/environments/staging/projects/checkout/builds/b2").await;
    assert!(middle.text.contains(&link("prev", "b3")) && middle.text.contains(&link("next", "b1")), "{}", middle.text);
    let oldest = page(&s, "/environments/staging/projects/checkout/builds/b1").await;
    assert!(oldest.text.contains(&link("prev", "b2")) && !oldest.text.contains("Older build"), "{}", oldest.text);
    let newest = page(&s, "/environments/staging/projects/checkout/builds/b3").await;
    assert!(newest.text.contains(&link("next", "b2")) && !newest.text.contains("Newer build"), "{}", newest.text);
}

/// The viewer's email: a second local account, made by restarting with it as `ADMIN_EMAIL`, then demoted.
const VIEWER_EMAIL: &str = "viewer@example.com";

/// Restarts `s` so that a second local account exists, gives it the `viewer` role through the admin's session
/// (as an admin does on the Users tab), and signs it in.
async fn with_viewer(s: TestServer) -> (TestServer, Session) {
    let s = s.restart_with(&[("ADMIN_EMAIL", VIEWER_EMAIL)]).await;
    let res = TestServer::read(
        s.as_session(&s.admin, Method::PATCH, "/api/settings/users/viewer%40example.com/role")
            .json(&json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
    let viewer = login(&s.client, &s.base, VIEWER_EMAIL, ADMIN_PASSWORD).await;
    (s, viewer)
}

/// A page as the admin's browser session sees it.
async fn page(s: &TestServer, path: &str) -> crate::support::Reply {
    TestServer::read(s.as_session(&s.admin, Method::GET, path)).await
}

#[tokio::test]
async fn pages_need_a_session_and_send_anonymous_visitors_to_sign_in() {
    let s = seeded().await;
    let res = s.get("/environments/staging/projects/checkout?status=failed").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/login?next=/environments/staging/projects/checkout%3Fstatus%3Dfailed"));
    // An API key is not a browser session.
    let res = TestServer::read(s.request(Method::GET, "/").bearer_auth(&s.key)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);

    let login = s.get("/login?next=/environments").await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.text.contains(r#"data-next="/environments""#), "{}", login.text);
    assert!(login.text.contains(r#"id="password""#));
    // An off-site `next` is dropped.
    let login = s.get("/login?next=//evil.example/").await;
    assert!(login.text.contains(r#"data-next="/""#));
    // Signed in, the sign-in page sends the user on.
    let res = page(&s, "/login?next=/environments").await;
    assert_eq!((res.status, res.header("location")), (StatusCode::SEE_OTHER, Some("/environments")));
}

#[tokio::test]
async fn pages_render_from_the_domain_with_strict_headers() {
    let s = seeded().await;
    let overview = page(&s, "/").await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.text);
    assert_eq!(overview.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(overview.header("cache-control"), Some("no-store"));
    assert!(overview.header("content-security-policy").is_some_and(|csp| csp.contains("script-src 'self'")));
    assert!(overview.text.contains("<svg class=\"chart\""), "the trend is server-rendered SVG");
    assert!(overview.text.contains("/environments/staging/projects/checkout/builds/b1"), "recent builds link theirs");
    assert!(overview.text.contains(ADMIN_EMAIL));

    let envs = page(&s, "/environments").await;
    assert!(envs.text.contains("Staging") && envs.text.contains("1 project"), "{}", envs.text);
    let env = page(&s, "/environments/staging").await;
    assert!(env.text.contains("Checkout") && env.text.contains("b1"), "{}", env.text);
    let project = page(&s, "/environments/staging/projects/checkout").await;
    assert_eq!(project.status, StatusCode::OK);
    assert!(project.text.contains("<td class=\"num\">67%</td>"), "2 passed of 3 counted: {}", project.text);
    let found = page(&s, "/environments/staging/projects/checkout?build=b1").await;
    assert!(found.text.contains(">b1</a>") && found.text.contains("Show all builds"), "{}", found.text);
    let none = page(&s, "/environments/staging/projects/checkout?build=b2").await;
    assert!(none.text.contains("No builds match."), "{}", none.text);
    let passed_only = page(&s, "/environments/staging/projects/checkout?status=passed").await;
    assert!(passed_only.text.contains("No builds match."), "b1 has a failure");
    let build = page(&s, "/environments/staging/projects/checkout/builds/b1").await;
    assert_eq!(build.status, StatusCode::OK, "{}", build.text);
    assert!(build.text.contains("Build b1"), "{}", build.text);
    assert!(build.text.contains("apikey:test-admin"), "who uploaded it: {}", build.text);
    assert!(build.text.contains("No quality gate ran."));
    assert!(!build.text.contains("Open report"), "a pending build has no report yet");
    let profile = page(&s, "/profile").await;
    assert!(profile.text.contains("view, upload, manage"), "{}", profile.text);

    // Unknown pages and ids are the HTML 404 page.
    for path in [
        "/nope",
        "/environments/missing",
        "/environments/staging/projects/missing",
        "/environments/Bad",
        "/environments/staging/projects/checkout/builds/missing",
        "/environments/staging/projects/missing/builds/b1",
    ] {
        let res = page(&s, path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert!(res.text.contains("Page not found"), "{path}");
    }
}

#[tokio::test]
async fn assets_are_hashed_and_cached_and_api_paths_keep_json() {
    let s = seeded().await;
    let overview = page(&s, "/").await;
    let css = overview.text.split("href=\"/assets/").nth(1).and_then(|rest| rest.split('"').next()).unwrap();
    let res = s.get(&format!("/assets/{css}")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("cache-control"), Some("public, max-age=31536000, immutable"));
    assert_eq!(res.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(s.get("/assets/app.css").await.status, StatusCode::NOT_FOUND);
    for path in ["/api/nothing", "/auth/nothing/at/all", "/metrics/nothing"] {
        let res = s.get(path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.header("content-type"), Some("application/json"), "{path}");
    }
    // Only reads are pages: other methods on page paths stay the API's JSON answers.
    let res = s.call(Method::POST, "/environments", None).await;
    assert_eq!(res.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn upload_notification_and_settings_pages_render_and_settings_are_for_managers_only() {
    let (s, viewer) = with_viewer(seeded().await).await;
    let uploads = page(&s, "/uploads?envId=staging").await;
    assert_eq!(uploads.status, StatusCode::OK, "{}", uploads.text);
    assert!(uploads.text.contains(r#"data-stream="/api/uploads/stream?envId=staging""#), "{}", uploads.text);
    assert!(uploads.text.contains(r#"href="/environments/staging/projects/checkout/builds/b1""#));
    assert!(uploads.text.contains(r#"<span class="status s-generating">generating</span>"#), "{}", uploads.text);
    let other = page(&s, "/uploads?envId=default").await;
    assert!(other.text.contains("No uploads match.") && !other.text.contains("builds/b1\""), "{}", other.text);

    let notes = page(&s, "/notifications").await;
    assert_eq!(notes.status, StatusCode::OK, "{}", notes.text);
    assert!(notes.text.contains("No notifications."), "nothing has finished yet: {}", notes.text);
    assert!(notes.text.contains(r#"id="bell""#), "the header shows the bell");

    let settings = page(&s, "/settings").await;
    assert_eq!((settings.status, settings.header("location")), (StatusCode::SEE_OTHER, Some("/settings/api-keys")));
    for (tab, expect) in [
        ("api-keys", "test-admin"),
        ("users", VIEWER_EMAIL),
        ("disk", "Disk warning"),
        ("allure", "Allure CLI"),
        ("retention", "Recent runs"),
    ] {
        let res = page(&s, &format!("/settings/{tab}")).await;
        assert_eq!(res.status, StatusCode::OK, "{tab}: {}", res.text);
        assert!(res.text.contains(expect), "{tab}: {}", res.text);
        assert!(res.text.contains(&format!(r#"<a href="/settings/{tab}" aria-current="page">"#)), "{tab}");
    }
    let keys = page(&s, "/settings/api-keys?search=nothing-like-this").await;
    assert!(keys.text.contains("No API keys."), "{}", keys.text);

    // The viewer reads the pages without management controls, and gets the 403 page on every settings URL.
    let as_viewer = |path: &str| TestServer::read(s.as_session(&viewer, Method::GET, path));
    for path in ["/environments", "/environments/staging", "/environments/staging/projects/checkout", "/uploads"] {
        let res = as_viewer(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert!(!res.text.contains("data-call="), "{path} shows an action to a viewer: {}", res.text);
        assert!(!res.text.contains(r#"href="/settings"#), "{path}");
        assert!(!res.text.contains(r#"id="upload-form""#), "{path}");
    }
    for path in ["/settings", "/settings/api-keys", "/settings/users", "/settings/disk", "/settings/retention"] {
        let res = as_viewer(path).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}");
        assert!(res.text.contains("Not allowed"), "{path}");
    }
    assert_eq!(as_viewer("/settings/nope").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_browser_signs_in_and_walks_from_the_overview_to_a_project() {
    let Some(fixture) = browser_fixture() else { return };
    // The real Allure CLI turns uploads into reports, so that the report is framed and notifications arrive.
    let Some(bin) = crate::generation::allure_bin().await else { return };
    let s = TestServer::sqlite_with(&[("ALLURE_BIN", &bin.display().to_string())]).await;
    let (s, viewer) = with_viewer(s).await;
    seed(&s).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let b1 = s.get("/api/environments/staging/projects/checkout/reports/b1").await;
        if b1.json()["status"] == "ready" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "b1 was not generated: {}", b1.text);
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let zip = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-ui-results.zip");
    std::fs::write(&zip, crate::archives::results_zip()).unwrap();
    let folder = results_folder("web-ui-results-folder");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-ui-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let mut node = Command::new("node");
    node.arg(fixture.join("web-ui.mjs"))
        .current_dir(&fixture)
        .env("HUB", &s.base)
        .env("REPORTS", &s.reports)
        .env("VIEWER_COOKIE", &viewer.cookie)
        .env("ZIP", &zip)
        .env("FOLDER", &folder)
        .env("EMAIL", ADMIN_EMAIL)
        .env("PASSWORD", ADMIN_PASSWORD)
        .env("SHOTS", &shots);
    // Off the test's runtime: the server's generation jobs run on it while the browser waits for them.
    let out = tokio::task::spawn_blocking(move || node.output()).await.unwrap().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("web UI screenshots: {}", shots.display());
    assert_eq!(seen.get("fatal"), None, "the browser walk stopped: {seen}");

    assert_eq!(seen["loginUrl"], "/login?next=/environments/staging", "{seen}");
    assert_eq!(seen["afterLogin"], "/environments/staging", "the page asked for is restored: {seen}");
    assert_eq!(seen["loginWhenSignedIn"], "/profile", "{seen}");
    assert_eq!(seen["overviewTitle"], "Overview");
    assert!(seen["overviewBars"].as_u64().unwrap() >= 1, "today's bar is drawn: {seen}");
    assert_eq!(seen["overviewRecent"], 1, "{seen}");
    assert_eq!(seen["filteredUrl"], "/?envId=staging&projectId=", "{seen}");
    assert_eq!(seen["envCards"], 2, "default and staging: {seen}");
    assert_eq!(seen["envTitle"], "Staging");
    assert_eq!(seen["projectTitle"], "Checkout");
    let rows = seen["projectBuilds"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{seen}");
    assert!(rows[0].as_str().unwrap().contains("b1"), "{seen}");
    assert_eq!(seen["projectCharts"], 2, "{seen}");
    assert_eq!((seen["theme"].as_str(), seen["themePressed"].as_str()), (Some("dark"), Some("true")), "{seen}");
    assert_eq!(seen["phoneOverflow"], false, "no sideways scrolling of the page on a phone: {seen}");
    assert_eq!(seen["buildTitle"], "Build b1 ready", "{seen}");
    assert_eq!(seen["reportFrame"].as_str(), Some(s.reports.as_str()), "the report is framed from its origin: {seen}");
    assert_eq!(seen["reportFrameRendered"], true, "the report renders inside its frame: {seen}");
    // Neither the pages nor the framed report sent a request to another host (the report's analytics are refused by
    // the report origin's policy, which lets everything of the report itself load).
    crate::browser::assert_nothing_left_for_another_host(&seen);
    crate::browser::other_than_refusals_of_other_hosts(&seen["reportFrameConsole"], &s);
    let no_script = &seen["noScript"];
    for (path, title, charts) in [
        ("/", "Overview", 1),
        ("/environments", "Environments", 0),
        ("/environments/staging", "Staging", 0),
        ("/environments/staging/projects/checkout", "Checkout", 2),
        ("/environments/staging/projects/checkout/builds/b1", "Build b1 ready", 1),
        ("/profile", "Profile", 0),
        ("/nope", "Page not found", 0),
        ("/uploads", "Uploads", 0),
        ("/notifications", "Notifications", 0),
        ("/settings/api-keys", "Settings", 0),
        ("/settings/retention", "Settings", 0),
    ] {
        let got = &no_script[path];
        let status = if path == "/nope" { 404 } else { 200 };
        assert_eq!((got["status"].as_u64(), got["title"].as_str()), (Some(status), Some(title)), "{path}: {seen}");
        assert_eq!(got["charts"], charts, "{path}: {seen}");
    }
    assert_eq!(seen["profileTitle"], "Profile");

    // Management through the pages.
    assert_eq!(seen["envCreated"], 1, "{seen}");
    assert_eq!(seen["projectCreated"], 1, "{seen}");
    assert_eq!(seen["envRenamed"], "QA team", "{seen}");
    assert_eq!(seen["dialogTrapsFocus"], true, "{seen}");
    assert_eq!(seen["dialogClosedByEscape"], true, "{seen}");
    assert_eq!(seen["envAfterEscape"], 200, "Escape deleted nothing: {seen}");
    let status = seen["uploadStatus"].as_str().unwrap();
    assert!(status.starts_with("Done: the report of build u1 is ready"), "{seen}");
    let phases: Vec<&str> = seen["uploadPhases"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(phases.first(), Some(&"uploading"), "the new session appears live: {seen}");
    assert_eq!(phases.last(), Some(&"done"), "{seen}");
    assert!(phases.contains(&"generating"), "{seen}");
    assert_eq!(seen["uploadRows"], 1, "{seen}");
    assert!(seen["bellLive"].as_u64().unwrap() > seen["bellBefore"].as_u64().unwrap(), "{seen}");
    let notes: Vec<&str> = seen["notifications"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(notes.iter().any(|n| n.starts_with("Report ready: u1")), "{seen}");
    assert_eq!(seen["notificationTarget"], "/environments/qa/projects/web/builds/u1", "{seen}");
    assert_eq!(seen["unreadAfterMarkAll"], 0, "{seen}");
    assert_eq!(seen["bellHiddenAfterMarkAll"], true, "{seen}");
    assert_eq!(seen["settingsUrl"], "/settings/api-keys", "{seen}");
    assert_eq!(seen["newKey"], "ah_", "the new key is shown once: {seen}");
    assert!(seen["keyState"].as_str().unwrap().starts_with("revoked"), "{seen}");
    assert_eq!(seen["retentionDays"], "45 days", "{seen}");
    assert_eq!(seen["partTries"], 4, "a failing part is tried four times: {seen}");
    assert!(seen["resumeOffer"].as_str().unwrap().contains("for build u2"), "{seen}");
    assert_eq!(seen["resumeBuild"], "u2", "{seen}");
    assert!(seen["resumedStatus"].as_str().unwrap().starts_with("Done: the report of build u2"), "{seen}");
    let resumed: Vec<&str> = seen["resumedParts"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(!resumed.is_empty() && !resumed.contains(&"0") && !resumed.contains(&"1"), "only missing parts: {seen}");
    let after_cancel: Vec<&str> = seen["afterCancel"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(after_cancel.contains(&"u2:done") && !after_cancel.iter().any(|u| u.starts_with("u3")), "{seen}");
    // The results folder, zipped by the page: the server extracted it into the same build as the zip's.
    assert!(seen["folderChosen"].as_str().unwrap().starts_with("Folder allure-results: 9 files"), "{seen}");
    assert_eq!(seen["folderTries"], 4, "a failing part of the folder's archive is tried four times: {seen}");
    assert!(seen["folderFailed"].as_str().unwrap().contains("Upload the same folder again"), "{seen}");
    let resent: Vec<&str> = seen["folderResent"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(resent.contains(&"2") && !resent.contains(&"0") && !resent.contains(&"1"), "only missing parts: {seen}");
    assert!(seen["folderStatus"].as_str().unwrap().starts_with("Done: the report of build f1"), "{seen}");
    assert_eq!(seen["folderUpload"]["fileName"], "allure-results.zip", "{seen}");
    assert_eq!(seen["folderUpload"]["phase"], "done", "{seen}");
    assert!(seen["folderUpload"]["totalChunks"].as_u64().unwrap() > 3, "{seen}");
    assert!(seen["folderStats"]["total"].as_u64().unwrap() > 0, "{seen}");
    assert_eq!(seen["folderStats"], seen["zipStats"], "the same results as the zip: {seen}");
    // A dropped folder (its entries walked, sub-folder included).
    assert!(seen["droppedChosen"].as_str().unwrap().starts_with("Folder dropped: 3 files"), "{seen}");
    assert!(seen["droppedStatus"].as_str().unwrap().starts_with("Done: the report of build f2"), "{seen}");
    assert_eq!(seen["droppedFiles"], "dropped.zip", "{seen}");
    let dropped = &seen["droppedStats"];
    assert_eq!(
        (dropped["total"].as_u64(), dropped["passed"].as_u64(), dropped["failed"].as_u64()),
        (Some(2), Some(1), Some(1)),
        "{seen}"
    );
    // The schedule's first sweep (30 s after start-up) may be listed too.
    assert!(seen["runTriggers"].as_array().unwrap().iter().any(|t| t == "manual"), "{seen}");
    let keys = TestServer::read(s.as_session(&s.admin, Method::GET, "/api/settings/apikeys?search=ci-browser")).await;
    assert!(keys.json()["items"][0]["revokedAt"].is_string(), "{}", keys.text);
    let retention = TestServer::read(s.as_session(&s.admin, Method::GET, "/api/settings/retention")).await;
    assert_eq!(
        (retention.json()["retentionDays"].as_i64(), retention.json()["dryRun"].as_bool()),
        (Some(45), Some(true))
    );

    // The viewer.
    for (path, controls) in seen["viewer"]["controls"].as_object().unwrap() {
        assert_eq!(controls, 0, "{path} shows management controls to a viewer: {seen}");
    }
    let forbidden = seen["viewer"]["forbidden"].as_object().unwrap();
    assert_eq!(forbidden.len(), 6, "{seen}");
    for (path, got) in forbidden {
        assert_eq!((got["status"].as_u64(), got["title"].as_str()), (Some(403), Some("Not allowed")), "{path}");
    }

    // Accessibility: no serious or critical axe-core violation on any page, in either theme.
    let a11y = seen["a11y"].as_object().unwrap();
    assert!(a11y.len() >= 30, "every page in both themes: {seen}");
    for (page, violations) in a11y {
        assert_eq!(violations, &json!([]), "{page}: {seen}");
    }
    assert!(Path::new(seen["a11yReport"].as_str().unwrap()).exists());
    assert_eq!(seen["afterSignOut"], "/login?next=/", "signed out: {seen}");
    assert_eq!(seen["notFound"]["status"], 404, "{seen}");
    assert_eq!(seen["notFound"]["title"], "Page not found", "{seen}");

    // Keyboard focus: the skip link first, and every focused element has a visible outline.
    let focus = seen["focus"].as_array().unwrap();
    assert_eq!(focus[0]["text"], "Skip to content", "{seen}");
    for f in focus {
        assert_ne!(f["outlineStyle"], "none", "{f}");
        assert_ne!(f["outlineWidth"], "0px", "{f}");
    }
    // No script error, no failed request, nothing fetched from another host.
    assert_eq!(seen["errors"], json!([]), "{seen}");
    assert_eq!(seen["failed"], json!([]), "{seen}");
    assert_eq!(seen["foreign"], json!([]), "{seen}");
    let shots_taken = seen["shots"].as_array().unwrap();
    for theme in ["light", "dark"] {
        for name in [
            "overview",
            "environments",
            "environment",
            "project",
            "build",
            "profile",
            "not-found",
            "uploads",
            "notifications",
            "settings-api-keys",
            "settings-users",
            "settings-disk",
            "settings-allure",
            "settings-retention",
        ] {
            let file = format!("page-{name}-{theme}.png");
            assert!(shots_taken.iter().any(|s| s.as_str().unwrap().ends_with(&file)), "{file}: {seen}");
        }
    }
    for shot in shots_taken {
        assert!(Path::new(shot.as_str().unwrap()).exists(), "{shot}");
    }
}

#[tokio::test]
async fn a_browser_signing_in_with_a_hostile_next_stays_on_this_origin() {
    let Some(fixture) = browser_fixture() else { return };
    let s = TestServer::sqlite().await;
    let (local, local_path) = crate::auth::LOCAL_NEXT;
    let nexts: Vec<&str> = crate::auth::HOSTILE_NEXT.iter().copied().chain([local]).collect();
    // Decoded values in the form itself, as if the server had not checked them: the script's own guard.
    let tampered =
        ["/\t/evil.example/x", "//evil.example/x", "/\\evil.example/x", "/.//evil.example/x", "https://evil.example/x"];
    let mut node = Command::new("node");
    node.arg(fixture.join("login-next.mjs"))
        .current_dir(&fixture)
        .env("HUB", &s.base)
        .env("EMAIL", ADMIN_EMAIL)
        .env("PASSWORD", ADMIN_PASSWORD)
        .env("NEXTS", json!(nexts).to_string())
        .env("TAMPERED", json!(tampered).to_string());
    let out = tokio::task::spawn_blocking(move || node.output()).await.unwrap().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen.get("fatal"), None, "{seen}");
    assert_eq!(seen["foreign"], json!([]), "nothing went to another host: {seen}");
    assert_eq!(seen["errors"], json!([]), "{seen}");
    let results = seen["results"].as_array().unwrap();
    assert_eq!(results.len(), nexts.len() + tampered.len(), "{seen}");
    for result in results {
        let expected = if result["next"] == local { format!("{}{local_path}", s.base) } else { format!("{}/", s.base) };
        assert_eq!(result["landed"], expected.as_str(), "{result}");
    }
}

/// The results of [`crate::archives::results_zip`] as a folder: `<tmp>/<name>/allure-results` (returned), with the
/// archive's other top-level entries beside it.
fn results_folder(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&root);
    zip::ZipArchive::new(std::io::Cursor::new(crate::archives::results_zip())).unwrap().extract(&root).unwrap();
    root.join("allure-results")
}

/// The UI's ZIP writer (`crates/web/assets/zip.js`, run in Node) makes archives a zip reader and the server accept:
/// every file with its relative path and bytes, the size it planned, and with forced ZIP64 records as well.
#[tokio::test]
async fn the_ui_zip_writer_makes_archives_readers_and_the_server_accept() {
    if Command::new("node").arg("--version").output().is_err() {
        assert!(!crate::support::node_required(), "node is required");
        return;
    }
    let folder = results_folder("zip-writer-results");
    // An attachment larger than one piece, with bytes of every value.
    let big: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(folder.join("data/big-attachment.bin"), &big).unwrap();
    std::fs::write(folder.join("empty.txt"), b"").unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../web/tests/zip-folder.mjs");
    let s = seeded().await;
    for (mode, build) in [("", "z1"), ("zip64", "z2")] {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("zip-writer-{build}.zip"));
        let run = Command::new("node").arg(script).arg(&folder).arg(&out).arg("4093").arg(mode).output().unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let report: Value = serde_json::from_slice(&run.stdout).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(report["planned"].as_u64(), Some(bytes.len() as u64), "{report}");
        assert_eq!(report["written"], report["planned"], "{report}");
        assert_eq!(report["zip64"], mode == "zip64", "{report}");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
        let mut names: Vec<String> = archive.file_names().map(str::to_owned).collect();
        names.sort();
        assert_eq!(
            names,
            [
                ".DS_Store",
                "abc-container.json",
                "broken-result.json",
                "cart-result.json",
                "data/big-attachment.bin",
                "data/login1-attachment.txt",
                "empty.txt",
                "login1-result.json",
                "login2-result.json",
                "pay-result.json",
                "search-result.json",
            ],
            "paths relative to the folder"
        );
        for name in names {
            let mut entry = archive.by_name(&name).unwrap();
            let mut got = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut got).unwrap();
            assert_eq!(got, std::fs::read(folder.join(&name)).unwrap(), "{name} ({mode})");
        }
        let res = upload_zip(&s, build, bytes).await;
        assert_eq!(res.status, StatusCode::ACCEPTED, "{mode}: {}", res.text);
    }
}

#[tokio::test]
async fn names_are_escaped_and_head_requests_are_answered() {
    let s = seeded().await;
    let hostile = "<img src=x onerror=alert(1)>";
    let res = s.post("/api/environments", json!({"id": "odd", "name": hostile})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let res = s.post("/api/environments/odd/projects", json!({"id": "p", "name": hostile})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    for path in ["/", "/?envId=odd", "/environments", "/environments/odd", "/environments/odd/projects/p"] {
        let res = page(&s, path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert!(!res.text.contains(hostile), "{path} shows the name unescaped");
        assert!(res.text.contains("&#60;img src=x onerror=alert(1)&#62;") || res.text.contains("&lt;img"), "{path}");
    }
    let res = TestServer::read(s.as_session(&s.admin, Method::HEAD, "/environments")).await;
    assert_eq!((res.status, res.text.as_str()), (StatusCode::OK, ""));
    let res = TestServer::read(s.request(Method::HEAD, "/environments")).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}
