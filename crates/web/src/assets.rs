//! The stylesheet and script of the UI, compiled into the binary and served under names carrying a hash of their
//! content: a changed file gets a new URL, so browsers may cache every URL for a year without ever seeing a stale
//! asset, and no asset is ever fetched from another host.

use std::sync::LazyLock;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};

/// One embedded asset.
#[derive(Debug)]
pub struct Asset {
    /// The URL path it is served at, `/assets/<stem>.<hash>.<ext>`.
    pub url: String,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its content.
    pub body: &'static str,
}

impl Asset {
    fn new(stem: &str, ext: &str, content_type: &'static str, body: &'static str) -> Self {
        Self { url: format!("/assets/{stem}.{:016x}.{ext}", fnv1a(body.as_bytes())), content_type, body }
    }
}

/// FNV-1a, 64 bits: a stable content fingerprint (not a security measure; the assets are public).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// The UI's stylesheet.
pub static CSS: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("app", "css", "text/css; charset=utf-8", include_str!("../assets/app.css")));

/// The UI's script: theme, sign-in, actions, dialogs, live streams, the chunked upload.
pub static JS: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("app", "js", "text/javascript; charset=utf-8", include_str!("../assets/app.js")));

/// The streaming ZIP writer the project page uses to upload a folder (`HubZip`); apart from `app.js` so that only
/// the page with the upload form loads it.
pub static ZIP_JS: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("zip", "js", "text/javascript; charset=utf-8", include_str!("../assets/zip.js")));

/// The embedded asset served at `path`, if any.
pub fn find(path: &str) -> Option<&'static Asset> {
    [&*CSS, &*JS, &*ZIP_JS].into_iter().find(|asset| asset.url == path)
}

/// `GET /assets/{name}`: an embedded asset with a year of immutable caching, or a plain 404.
pub async fn serve(name: web::Path<String>) -> HttpResponse {
    match find(&format!("/assets/{name}")) {
        Some(asset) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, asset.content_type))
            .insert_header((CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .body(asset.body),
        None => HttpResponse::NotFound().insert_header((CACHE_CONTROL, "no-store")).body("not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_names_carry_a_content_hash() {
        assert!(CSS.url.starts_with("/assets/app.") && CSS.url.ends_with(".css"), "{}", CSS.url);
        assert_eq!(CSS.url.len(), "/assets/app..css".len() + 16);
        assert_ne!(Asset::new("a", "css", "", "x").url, Asset::new("a", "css", "", "y").url);
        assert_eq!(find(&JS.url).map(|a| a.body), Some(JS.body));
        assert!(ZIP_JS.url.starts_with("/assets/zip.") && ZIP_JS.url.ends_with(".js"), "{}", ZIP_JS.url);
        assert_eq!(find(&ZIP_JS.url).map(|a| a.body), Some(ZIP_JS.body));
        assert!(find("/assets/app.css").is_none(), "unhashed names are not served");
    }
}
