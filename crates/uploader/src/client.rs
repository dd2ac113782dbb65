//! The hub's HTTP API as the uploader uses it: paths, credentials, and turning answers into results or
//! [`UploadError`]s (a 4xx is a refusal carrying the server's `error` message).

use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::error::UploadError;

/// One environment/project of one hub, with the key to talk to it.
#[derive(Debug, Clone)]
pub struct Hub {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
    /// `/api/environments/{env}/projects/{project}`.
    project_path: String,
    env: String,
    project: String,
}

impl Hub {
    /// A client for `base` (trailing slashes ignored).
    pub fn new(base: &str, key: Option<String>, env: &str, project: &str) -> Result<Self, UploadError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| UploadError::other(format!("HTTP client: {e}")))?;
        let base = base.trim_end_matches('/').to_owned();
        let project_path = format!("/api/environments/{}/projects/{}", enc(env), enc(project));
        Ok(Self { http, base, key, project_path, env: env.to_owned(), project: project.to_owned() })
    }

    /// The absolute URL of a server-relative path such as a `reportUrl`.
    pub fn absolute(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path` under the project (`""` is the project itself), with the key.
    pub fn project_request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, &format!("{}{path}", self.project_path))
    }

    /// A request to a server path, with the key.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let req = self.http.request(method, self.absolute(path));
        match &self.key {
            Some(key) => req.bearer_auth(key),
            None => req,
        }
    }

    /// Creates the environment and the project when missing (`--auto-create`); "already exists" is fine.
    pub async fn ensure_project(&self) -> Result<(), UploadError> {
        let env = serde_json::json!({"id": self.env, "name": self.env});
        accept_conflict(self.request(Method::POST, "/api/environments").json(&env).send().await)?;
        let project = serde_json::json!({"id": self.project, "name": self.project});
        let path = format!("/api/environments/{}/projects", enc(&self.env));
        accept_conflict(self.request(Method::POST, &path).json(&project).send().await)?;
        Ok(())
    }
}

fn accept_conflict(res: reqwest::Result<Response>) -> Result<(), UploadError> {
    let res = res.map_err(|e| UploadError::other(format!("network error: {e}")))?;
    if res.status().is_success() || res.status() == StatusCode::CONFLICT {
        return Ok(());
    }
    Err(UploadError::Refused { status: res.status().as_u16(), message: format!("auto-create: HTTP {}", res.status()) })
}

/// Everything but RFC 3986's unreserved characters is escaped.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes a path segment or a query value (ids are usually plain, but nothing should break the URL).
pub fn enc(value: &str) -> String {
    utf8_percent_encode(value, ESCAPED).to_string()
}

/// Whether a failed attempt is worth repeating: the server or the network may recover.
pub fn retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS
}

/// Reads a JSON answer: success statuses give the body, anything else an [`UploadError`] with the server's
/// `error` message (4xx = refused).
pub async fn json_of(res: Response) -> Result<Value, UploadError> {
    let status = res.status();
    let text = res.text().await.map_err(|e| UploadError::other(format!("network error reading the answer: {e}")))?;
    if status.is_success() {
        return serde_json::from_str(text.trim_start())
            .map_err(|e| UploadError::other(format!("unexpected answer ({e}): {text}")));
    }
    Err(error_of(status, &text))
}

/// The error for a non-success answer.
pub fn error_of(status: StatusCode, text: &str) -> UploadError {
    let message = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(200).collect());
    if status.is_client_error() && !retryable(status) {
        UploadError::Refused { status: status.as_u16(), message }
    } else {
        UploadError::other(format!("HTTP {}: {message}", status.as_u16()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_are_refusals_with_the_servers_message_and_the_rest_may_be_retried() {
        let body = r#"{"error": "build b1 already exists"}"#;
        match error_of(StatusCode::CONFLICT, body) {
            UploadError::Refused { status, message } => {
                assert_eq!((status, message.as_str()), (409, "build b1 already exists"))
            }
            other => panic!("{other:?}"),
        }
        for status in [StatusCode::REQUEST_TIMEOUT, StatusCode::TOO_MANY_REQUESTS, StatusCode::SERVICE_UNAVAILABLE] {
            assert!(retryable(status));
            assert!(matches!(error_of(status, body), UploadError::Other(m) if m.ends_with("build b1 already exists")));
        }
        assert!(!retryable(StatusCode::UNAUTHORIZED));
        // A proxy's HTML error page still yields a message.
        assert!(matches!(error_of(StatusCode::FORBIDDEN, "<html>nope</html>"),
            UploadError::Refused { status: 403, message } if message == "<html>nope</html>"));
    }

    #[test]
    fn ids_and_query_values_are_percent_encoded() {
        assert_eq!(enc("2024-01-15_001.a~"), "2024-01-15_001.a~");
        assert_eq!(enc("Nightly run #3/é"), "Nightly%20run%20%233%2F%C3%A9");
        let hub = Hub::new("http://h:1/", None, "st age", "p").unwrap();
        assert_eq!(hub.project_path, "/api/environments/st%20age/projects/p");
        assert_eq!(hub.absolute("/reports/x"), "http://h:1/reports/x");
    }
}
