//! The one place where failures become HTTP: every error leaves as `{"error": "<message>"}` with the contract's
//! status. 5xx bodies are generic; their cause is kept for the log line of the request (see
//! [`crate::middleware`]), never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use hub_domain::ports::{ArchiveError, CliInstallError};
use hub_domain::ports::{INTERNAL_MESSAGE, StorageError, StoreError, UNAVAILABLE_MESSAGE};
use hub_domain::services::{
    ApiKeyError, AuthError, DiskError, EnvironmentError, NotificationError, OverviewError, ProjectError, ReportError,
    RetentionError, UploadError, UserError,
};

/// `Retry-After` of a 503: long enough for a writer holding the database to finish or an object store to come back
/// from a blip, short enough for a CI retry.
const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

/// An error response of the API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// Internal cause of a 5xx, for logs only.
    cause: Option<String>,
    /// Value of the `Allow` header of a 405.
    allow: Option<String>,
    /// Value of the `Retry-After` header of a 429 or 503, in seconds.
    retry_after: Option<u64>,
    /// Members sent beside `error` by the few errors that have them (§1.7): `missingChunks` of an incomplete
    /// chunked upload, `detail` of a failed Allure CLI installation.
    extra: Vec<(&'static str, serde_json::Value)>,
}

impl ApiError {
    /// An error with a status and the message clients see.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), cause: None, allow: None, retry_after: None, extra: Vec::new() }
    }

    /// 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401 with a message.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 403 with a message.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 429 `rate limit exceeded` with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self { retry_after: Some(retry_after_secs), ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded") }
    }

    /// 404 `not found`, for unknown routes.
    pub fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not found")
    }

    /// 405 listing the methods the path supports.
    pub fn method_not_allowed(allow: String) -> Self {
        Self { allow: Some(allow), ..Self::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed") }
    }

    /// 500 `internal server error`, keeping `cause` for the log.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self { cause: Some(cause.to_string()), ..Self::new(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE) }
    }

    /// 503 `service unavailable` with `Retry-After`, keeping `cause` for the log. The condition is passing (a
    /// database busy with a writer, a pool without a free connection, an object store that cannot be reached), so
    /// clients are told when to try again.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        Self {
            cause: Some(cause.to_string()),
            retry_after: Some(UNAVAILABLE_RETRY_AFTER_SECS),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE)
        }
    }
}

impl std::fmt::Display for ApiError {
    /// The log form: the cause when there is one (5xx), else the client message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.cause {
            Some(cause) => write!(f, "{}: {cause}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/json")));
        if let Some(allow) = self.allow.as_deref().and_then(|a| HeaderValue::from_str(a).ok()) {
            response.insert_header((header::ALLOW, allow));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        let mut body = serde_json::json!({ "error": self.message });
        for (name, value) in &self.extra {
            body[*name] = value.clone();
        }
        response.body(body.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => Self::unavailable(err),
            // Conflicts and missing parents are translated by services; reaching here means an unexpected state.
            StoreError::Conflict | StoreError::MissingParent | StoreError::Internal(_) => Self::internal(err),
        }
    }
}

impl From<NotificationError> for ApiError {
    fn from(err: NotificationError) -> Self {
        match err {
            NotificationError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, err.to_string()),
            NotificationError::Store(e) => e.into(),
        }
    }
}

impl From<DiskError> for ApiError {
    fn from(err: DiskError) -> Self {
        match err {
            DiskError::InvalidThreshold => Self::bad_request(err.to_string()),
            DiskError::Store(e) => e.into(),
            DiskError::Notification(e) => e.into(),
        }
    }
}

impl From<RetentionError> for ApiError {
    fn from(err: RetentionError) -> Self {
        match err {
            RetentionError::InProgress => Self::new(StatusCode::CONFLICT, err.to_string()),
            RetentionError::Invalid(message) => Self::bad_request(message),
            RetentionError::Store(e) => e.into(),
            RetentionError::Notification(e) => e.into(),
        }
    }
}

impl From<OverviewError> for ApiError {
    fn from(err: OverviewError) -> Self {
        match err {
            OverviewError::Store(e) => e.into(),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        if err.is_unavailable() { Self::unavailable(err) } else { Self::internal(err) }
    }
}

impl From<EnvironmentError> for ApiError {
    fn from(err: EnvironmentError) -> Self {
        match err {
            EnvironmentError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, err.to_string()),
            EnvironmentError::AlreadyExists(_) | EnvironmentError::DefaultProtected => {
                Self::new(StatusCode::CONFLICT, err.to_string())
            }
            EnvironmentError::Store(e) => e.into(),
            EnvironmentError::Storage(e) => e.into(),
        }
    }
}

impl From<ProjectError> for ApiError {
    fn from(err: ProjectError) -> Self {
        match err {
            ProjectError::EnvironmentNotFound(_) | ProjectError::NotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, err.to_string())
            }
            ProjectError::AlreadyExists { .. } => Self::new(StatusCode::CONFLICT, err.to_string()),
            ProjectError::Store(e) => e.into(),
            ProjectError::Storage(e) => e.into(),
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(err: ReportError) -> Self {
        use ReportError as E;
        match err {
            E::EnvironmentNotFound(_) | E::ProjectNotFound { .. } | E::BuildNotFound(_) | E::NoReadyBuild(_) => {
                Self::new(StatusCode::NOT_FOUND, err.to_string())
            }
            E::BeingGenerated(_) | E::UploadInProgress(_) => Self::new(StatusCode::CONFLICT, err.to_string()),
            E::Invalid(_) => Self::bad_request(err.to_string()),
            E::Store(e) => e.into(),
            E::Storage(e) => e.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::InvalidApiKey | AuthError::InvalidCredentials => Self::unauthorized(err.to_string()),
            AuthError::LocalLoginDisabled => Self::forbidden(err.to_string()),
            AuthError::TooManyAttempts { retry_after_secs } => Self {
                retry_after: Some(retry_after_secs),
                ..Self::new(StatusCode::TOO_MANY_REQUESTS, err.to_string())
            },
            AuthError::Store(e) => e.into(),
            AuthError::Hashing(_) => Self::internal(err),
            AuthError::EmailMissing | AuthError::EmailUnverified => Self::forbidden(err.to_string()),
        }
    }
}

impl From<ApiKeyError> for ApiError {
    fn from(err: ApiKeyError) -> Self {
        match err {
            ApiKeyError::AdminKeyByNonAdmin | ApiKeyError::AdminKeyManagedByNonAdmin | ApiKeyError::NotAUser => {
                Self::forbidden(err.to_string())
            }
            ApiKeyError::NameTaken(_) => Self::new(StatusCode::CONFLICT, err.to_string()),
            ApiKeyError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, err.to_string()),
            ApiKeyError::Store(e) => e.into(),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(err: UserError) -> Self {
        match err {
            UserError::UnknownRole(_) => Self::bad_request(err.to_string()),
            UserError::OwnRole => Self::new(StatusCode::CONFLICT, err.to_string()),
            UserError::Store(e) => e.into(),
        }
    }
}

impl From<UploadError> for ApiError {
    fn from(err: UploadError) -> Self {
        use UploadError as E;
        let status = match &err {
            // An unreachable database or storage: the client may retry.
            _ if err.is_unavailable() => return Self::unavailable(err),
            E::EnvironmentNotFound(_) | E::ProjectNotFound { .. } | E::NotFound(_) => StatusCode::NOT_FOUND,
            E::NotOwner(_) => StatusCode::FORBIDDEN,
            E::BuildExists(_)
            | E::UploadInProgress(_)
            | E::BeingGenerated(_)
            | E::NotChunked(_)
            | E::NotAccepting(..)
            | E::BeingAssembled(_)
            | E::HasFailed(_)
            | E::CannotDelete(..) => StatusCode::CONFLICT,
            E::MissingChunks { .. } | E::Invalid(_) | E::EmptyBody | E::ChunkChecksum => StatusCode::BAD_REQUEST,
            E::TooLarge(_) | E::TotalSizeTooLarge(_) | E::ChunkTooLarge(_) | E::ChunksExceedTotal(_) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            E::Stalled(_) => StatusCode::REQUEST_TIMEOUT,
            // Nobody reads the answer; a 400 keeps the log line honest.
            E::Interrupted => StatusCode::BAD_REQUEST,
            E::Archive(ArchiveError::Storage(_)) | E::Storage(_) | E::Store(_) => return Self::internal(err),
            E::Archive(a) if a.is_too_large() => StatusCode::PAYLOAD_TOO_LARGE,
            E::Archive(_) => StatusCode::BAD_REQUEST,
        };
        let extra = match &err {
            E::MissingChunks { missing, .. } => vec![("missingChunks", serde_json::json!(missing))],
            _ => Vec::new(),
        };
        Self { extra, ..Self::new(status, err.to_string()) }
    }
}

impl From<CliInstallError> for ApiError {
    fn from(err: CliInstallError) -> Self {
        match err {
            CliInstallError::InProgress | CliInstallError::NotManaged => {
                Self::new(StatusCode::CONFLICT, err.to_string())
            }
            CliInstallError::NotInRegistry(_) => Self::bad_request(err.to_string()),
            // The one 5xx whose cause the contract shows; the detail is already stripped of server paths.
            CliInstallError::Failed { ref detail, .. } => Self {
                cause: Some(detail.clone()),
                extra: vec![("detail", serde_json::json!(detail))],
                ..Self::new(StatusCode::INTERNAL_SERVER_ERROR, err.to_string())
            },
            CliInstallError::Storage(_) => Self::internal(err),
        }
    }
}

/// Maps actix's JSON body errors to the contract: 415 for the media type, 413 for size, 400 for content.
pub fn json_error(err: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match err {
        E::ContentType => ApiError::new_415(),
        E::Overflow { .. } | E::OverflowKnownLength { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
        }
        E::Deserialize(e) => ApiError::bad_request(format!("invalid JSON body: {e}")),
        E::Payload(e) => ApiError::bad_request(format!("invalid JSON body: {e}")),
        other => ApiError::internal(other),
    }
}

impl ApiError {
    fn new_415() -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json")
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;

    use super::*;

    async fn body_of(err: &ApiError) -> serde_json::Value {
        let bytes = to_bytes(err.error_response().into_body()).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn internal_errors_show_a_generic_body_but_keep_the_cause_for_logs() {
        let err: ApiError = StoreError::Internal("relation \"builds\" does not exist".into()).into();
        assert_eq!(err.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body_of(&err).await, serde_json::json!({"error": "internal server error"}));
        assert!(err.to_string().contains("relation"));
    }

    #[tokio::test]
    async fn an_unreachable_database_is_503() {
        let err: ApiError = EnvironmentError::Store(StoreError::Unavailable("timed out".into())).into();
        assert_eq!(err.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body_of(&err).await, serde_json::json!({"error": "service unavailable"}));
    }

    #[tokio::test]
    async fn an_unreachable_storage_is_503_with_retry_after_like_the_database() {
        let unreachable = || StorageError::unavailable("object storage: connection refused");
        let cases: Vec<ApiError> = vec![
            unreachable().into(),
            ReportError::Storage(unreachable()).into(),
            UploadError::Storage(unreachable()).into(),
            UploadError::Archive(ArchiveError::Storage(unreachable())).into(),
        ];
        for err in cases {
            assert_eq!(err.status_code(), StatusCode::SERVICE_UNAVAILABLE, "{err}");
            assert_eq!(err.error_response().headers().get(header::RETRY_AFTER).unwrap(), "5");
            assert_eq!(body_of(&err).await, serde_json::json!({"error": "service unavailable"}));
            assert!(err.to_string().contains("connection refused"), "the cause stays for the log: {err}");
        }
        let err: ApiError = UploadError::Archive(ArchiveError::Storage(StorageError::new("disk full"))).into();
        assert_eq!(err.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[tokio::test]
    async fn a_failed_cli_install_shows_its_detail() {
        let err: ApiError =
            CliInstallError::Failed { version: "3.19.1".into(), detail: "npm error E404 in $DATA_DIR".into() }.into();
        assert_eq!(err.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body_of(&err).await,
            serde_json::json!({"error": "npm install allure@3.19.1 failed", "detail": "npm error E404 in $DATA_DIR"})
        );
        let err: ApiError = CliInstallError::Storage("read-only file system".into()).into();
        assert_eq!(body_of(&err).await, serde_json::json!({"error": "internal server error"}));
    }

    #[test]
    fn domain_conditions_map_to_their_statuses() {
        use hub_domain::ids::{EnvId, ProjectId};
        let env = EnvId::parse("staging").unwrap();
        let project = ProjectId::parse("checkout").unwrap();
        let cases: Vec<(ApiError, u16)> = vec![
            (EnvironmentError::NotFound(env.clone()).into(), 404),
            (EnvironmentError::AlreadyExists(env.clone()).into(), 409),
            (EnvironmentError::DefaultProtected.into(), 409),
            (ProjectError::EnvironmentNotFound(env.clone()).into(), 404),
            (ProjectError::NotFound { env: env.clone(), project: project.clone() }.into(), 404),
            (ProjectError::AlreadyExists { env, project }.into(), 409),
            (StorageError::new("disk full").into(), 500),
            (StorageError::unavailable("connection refused").into(), 503),
            (CliInstallError::InProgress.into(), 409),
            (CliInstallError::NotManaged.into(), 409),
            (CliInstallError::NotInRegistry("3.99.0".into()).into(), 400),
        ];
        for (err, status) in cases {
            assert_eq!(err.status_code().as_u16(), status, "{err}");
        }
    }
}
