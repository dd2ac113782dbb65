//! `/reports/{envId}/{projectId}/{buildId}/{path}` on the main origin (§8.9.1, §8.9.3): never serves a file; checks
//! the viewer and redirects to the report origin with a short-lived grant naming them.

use actix_web::http::header::{ACCEPT, CACHE_CONTROL, HeaderValue, LOCATION, REFERRER_POLICY};
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::model::access::Permission;
use hub_domain::model::grant::{GrantSubject, GrantUse};
use hub_domain::ports::ReportLocation;

use crate::access::{main_origin, principal_of};
use crate::error::ApiError;
use crate::openapi::params::ReportFileParams;
use crate::state::AppState;

/// How long a link grant is valid: long enough to follow a redirect, too short to be worth stealing.
const LINK_GRANT_SECS: i64 = 60;

/// A report URL taken apart: the ids, the build segment as written (`latest` or an id), and the rest of the path
/// still percent-encoded, with its query.
#[derive(Debug)]
pub(crate) struct ReportPath {
    pub env: EnvId,
    pub project: ProjectId,
    /// `None` for the `latest` alias.
    pub build: Option<BuildId>,
    /// After `{buildId}`: empty, or `/` followed by the file path; still percent-encoded.
    pub tail: String,
    /// The query string without a `grant` parameter.
    pub query: Vec<String>,
}

impl ReportPath {
    /// Parses the request path; `None` for ids that are not well-formed (a 404: no such report).
    pub fn of(req: &HttpRequest) -> Option<Self> {
        let rest = req.uri().path().strip_prefix("/reports/")?;
        let mut parts = rest.splitn(4, '/');
        let env = EnvId::parse(parts.next()?).ok()?;
        let project = ProjectId::parse(parts.next()?).ok()?;
        let build_segment = parts.next()?;
        let build = match build_segment {
            "latest" => None,
            id => Some(BuildId::parse(id).ok()?),
        };
        let tail = parts.next().map(|t| format!("/{t}")).unwrap_or_default();
        let query = req
            .uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty() && *p != "grant" && !p.starts_with("grant="))
            .map(str::to_owned)
            .collect();
        Some(Self { env, project, build, tail, query })
    }

    /// `/reports/{env}/{project}/{build}{tail}` with `extra` query parameters first, then the original ones.
    pub fn url_for(&self, build: &BuildId, extra: Option<String>) -> String {
        let query: Vec<String> = extra.into_iter().chain(self.query.iter().cloned()).collect();
        let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
        format!("/reports/{}/{}/{build}{}{query}", self.env, self.project, self.tail)
    }
}

/// Whether the request is a browser navigation (it accepts HTML), which gets redirects instead of JSON errors.
pub(crate) fn is_navigation(req: &HttpRequest) -> bool {
    req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
}

/// A `302` with the headers every report redirect carries.
pub(crate) fn redirect(location: &str) -> HttpResponse {
    let mut res = HttpResponse::Found().finish();
    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(LOCATION, value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}

/// `REPORTS_BASE_URL`, or the main origin of this request with the report listener's port.
fn report_origin(req: &HttpRequest, state: &AppState) -> Option<String> {
    if let Some(url) = &state.config.reports_base_url {
        return Some(url.clone());
    }
    let main = main_origin(req, state)?;
    let port = state.config.reports_port?;
    Some(with_port(&main, port))
}

/// `scheme://host[:port]` with another port (IPv6 literals keep their brackets).
pub(crate) fn with_port(origin: &str, port: u16) -> String {
    let (scheme, authority) = origin.split_once("://").unwrap_or(("http", origin));
    let host = match authority.rsplit_once(':') {
        Some((host, p)) if p.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    format!("{scheme}://{host}:{port}")
}

/// The build a report path names, if it has a published report: the `latest` alias resolves to the newest ready
/// build.
pub(crate) async fn published_build(state: &AppState, path: &ReportPath) -> Result<ReportLocation, ApiError> {
    use hub_domain::services::ReportError as E;
    let not_found = |e: E| match e {
        E::Store(_) | E::Storage(_) => ApiError::from(e),
        _ => report_not_found(),
    };
    let build = match &path.build {
        Some(id) => id.clone(),
        None => state.reports.latest_ready(&path.env, &path.project).await.map_err(not_found)?,
    };
    let found = state.reports.get(&path.env, &path.project, &build).await.map_err(not_found)?;
    if !found.has_report {
        return Err(report_not_found());
    }
    Ok(ReportLocation { env: found.env_id, project: found.project_id, build, key: found.report_key })
}

/// The 404 of a report URL, whichever part is missing (environment, project, build or its report).
pub(crate) fn report_not_found() -> ApiError {
    ApiError::new(actix_web::http::StatusCode::NOT_FOUND, "report not found")
}

/// Every `/reports/…` request of the main origin: `GET` and `HEAD` are redirected, other methods are 405.
#[utoipa::path(get, path = "/reports/{envId}/{projectId}/{buildId}/{path}", tag = "reports",
    description = "Report files are served only by the report origin (its own port or host, so that a report's \
        scripts cannot act on this API); this URL checks the viewer and redirects there with a grant valid for \
        60 s. Not rate limited.",
    params(ReportFileParams),
    security((), ("sessionCookie" = []), ("bearerApiKey" = []), ("headerApiKey" = [])),
    responses(
        (status = 302, description = "to the file on the report origin with a grant; a browser navigation without credentials goes to `/login?next=…`",
            headers(("Location" = String, description = "where to go"))),
        (status = 401, description = "`not authenticated` (not a browser navigation), `invalid API key`"),
        (status = 403, description = "`missing permission: view`"),
        (status = 404, description = "`report not found`: no such environment, project, build, or no published report"),
    ))]
pub async fn main_origin_reports(req: HttpRequest, state: Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !matches!(*req.method(), actix_web::http::Method::GET | actix_web::http::Method::HEAD) {
        return Err(ApiError::method_not_allowed("GET, HEAD".to_owned()));
    }
    redirect_to_report(req, state).await
}

/// `GET /reports/{envId}/{projectId}/{buildId}/{path}` on the main origin.
async fn redirect_to_report(req: HttpRequest, state: Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some(principal) = principal_of(&req, &state, false).await? else {
        if is_navigation(&req) {
            let wanted = req.uri().path_and_query().map_or_else(|| req.path().to_owned(), |pq| pq.as_str().to_owned());
            let next = url_encode(&wanted);
            return Ok(redirect(&format!("/login?next={next}")));
        }
        return Err(ApiError::unauthorized("not authenticated"));
    };
    if !principal.can(Permission::View) {
        return Err(ApiError::forbidden("missing permission: view"));
    }
    let path = ReportPath::of(&req).ok_or_else(report_not_found)?;
    let build = published_build(&state, &path).await?.build;
    let origin = report_origin(&req, &state).ok_or_else(|| ApiError::internal("the report origin is unknown"))?;
    let expires = chrono::Utc::now().timestamp() + LINK_GRANT_SECS;
    let grant = state.grants.sign(GrantUse::Link, &GrantSubject::of(&principal), expires);
    Ok(redirect(&format!("{origin}{}", path.url_for(&build, Some(format!("grant={grant}"))))))
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for a URL inside a query parameter.
fn url_encode(text: &str) -> String {
    const RESERVED: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(text, RESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_urls_are_fully_encoded() {
        assert_eq!(
            url_encode("/reports/e/p/b/index.html?x=1&y=2"),
            "%2Freports%2Fe%2Fp%2Fb%2Findex.html%3Fx%3D1%26y%3D2"
        );
    }

    #[test]
    fn origins_take_another_port() {
        assert_eq!(with_port("http://localhost:8080", 8081), "http://localhost:8081");
        assert_eq!(with_port("https://hub.example.com", 8443), "https://hub.example.com:8443");
        assert_eq!(with_port("http://[::1]:80", 81), "http://[::1]:81");
    }

    #[test]
    fn report_paths_keep_their_tail_and_query_but_not_a_grant() {
        let req = actix_web::test::TestRequest::get()
            .uri("/reports/staging/checkout/latest/data/a%20b.json?grant=x&lang=en")
            .to_http_request();
        let path = ReportPath::of(&req).unwrap();
        assert_eq!((path.build.clone(), path.tail.as_str()), (None, "/data/a%20b.json"));
        let b7 = BuildId::parse("b7").unwrap();
        assert_eq!(
            path.url_for(&b7, Some("grant=g".into())),
            "/reports/staging/checkout/b7/data/a%20b.json?grant=g&lang=en"
        );
        let root = actix_web::test::TestRequest::get().uri("/reports/staging/checkout/b1").to_http_request();
        assert_eq!(ReportPath::of(&root).unwrap().url_for(&b7, None), "/reports/staging/checkout/b7");
        let bad = actix_web::test::TestRequest::get().uri("/reports/Bad!/checkout/b1/").to_http_request();
        assert!(ReportPath::of(&bad).is_none());
    }
}
