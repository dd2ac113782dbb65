//! `GET /api/openapi.json` and `GET /api/docs` (§15): the document, and Swagger UI rendering it with assets
//! compiled into the binary (`utoipa-swagger-ui`'s vendored copy), so the page works without internet access.

use std::sync::{Arc, OnceLock};

use actix_web::HttpResponse;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::web::{Data, Path};

use super::IN_ROUTE_TABLE;
use crate::error::ApiError;
use crate::state::AppState;

/// Where the page finds the document.
const DOCUMENT_URL: &str = "/api/openapi.json";

/// The page: Swagger UI's own stylesheet and scripts, from `/api/docs/…`; `swagger-initializer.js` points it
/// at [`DOCUMENT_URL`]. No inline script, so it would also run under a strict Content-Security-Policy.
const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>allure-hub API</title>
  <link rel="stylesheet" href="/api/docs/swagger-ui.css">
  <link rel="stylesheet" href="/api/docs/index.css">
  <link rel="icon" type="image/png" href="/api/docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
  <script src="/api/docs/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
  <script src="/api/docs/swagger-initializer.js" charset="UTF-8"></script>
</body>
</html>
"#;

/// The settings written into `swagger-initializer.js`. Swagger UI's default validator badge would load from
/// validator.swagger.io; `none` turns it off, so the page makes no request beyond this server.
fn swagger_config() -> Arc<utoipa_swagger_ui::Config<'static>> {
    static CONFIG: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    CONFIG.get_or_init(|| Arc::new(utoipa_swagger_ui::Config::from(DOCUMENT_URL).validator_url("none"))).clone()
}

/// `GET /api/openapi.json`.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "docs",
    responses((status = 200, description = "this document (OpenAPI 3.1)", content_type = "application/json",
        body = Object)))]
pub async fn get_openapi(state: Data<AppState>) -> HttpResponse {
    // Built once: it depends only on the code and the version, both fixed for the process.
    static DOCUMENT: OnceLock<Result<String, String>> = OnceLock::new();
    let json = DOCUMENT
        .get_or_init(|| serde_json::to_string(&super::document(&state.version.version)).map_err(|e| e.to_string()));
    match json {
        Ok(json) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8")))
            .body(json.clone()),
        Err(e) => actix_web::ResponseError::error_response(&ApiError::internal(e)),
    }
}

/// `GET /api/docs`.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "docs",
    responses((status = 200, description = "Swagger UI rendering `/api/openapi.json`", content_type = "text/html; charset=utf-8",
        body = String)))]
pub async fn get_docs() -> HttpResponse {
    HttpResponse::Ok().insert_header((CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))).body(PAGE)
}

/// `GET /api/docs/{file}`: the page's scripts, stylesheets and icons.
#[utoipa::path(get, path = IN_ROUTE_TABLE, tag = "docs",
    responses(
        (status = 200, description = "the file", content_type = "application/octet-stream", body = String),
        (status = 404, description = "`not found`"),
    ))]
pub async fn get_docs_asset(file: Path<String>) -> Result<HttpResponse, ApiError> {
    // The distribution's own index.html looks for its assets relative to itself; `/api/docs` is the page.
    if file.as_str() == "index.html" {
        return Err(ApiError::route_not_found());
    }
    match utoipa_swagger_ui::serve(&file, swagger_config()) {
        Ok(Some(asset)) => {
            let mut response = HttpResponse::Ok();
            response.content_type(asset.content_type);
            if asset.gzpipped {
                response.insert_header((actix_web::http::header::CONTENT_ENCODING, "gzip"));
            }
            Ok(response.body(asset.bytes.into_owned()))
        }
        Ok(None) => Err(ApiError::route_not_found()),
        Err(e) => Err(ApiError::internal(e)),
    }
}
