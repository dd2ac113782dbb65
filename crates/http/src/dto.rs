//! JSON shapes of the contract (§16), built from domain types. Field names are camelCase, absent values `null`.
//!
//! Each shape also derives [`ToSchema`], named as in §16 (`#[schema(as = …)]`), so the OpenAPI document describes
//! exactly the structs that are serialized. Fields that are `Option` but always present carry
//! `#[schema(required = true)]` (utoipa otherwise treats them as omittable); closed sets of names take their values
//! from the domain's enums (`schema_with`), so a new variant cannot be missing from the document.
//!
//! One concern, kept in one file (about 600 lines): every response body of the API and its schema, so a shape and the
//! ones it nests are read together.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use hub_domain::Timestamp;
use hub_domain::model::build::{
    Build, BuildStats, BuildSummary, ProjectStats, QualityGateResult, pass_rate, report_url,
};
use hub_domain::model::environment::EnvironmentView;
use hub_domain::model::project::ProjectView;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

use crate::openapi::formats;

/// RFC 3339 in UTC with exactly three fractional digits and `Z`.
pub fn format_time(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A JSON response with the contract's content type.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> HttpResponse {
    match serde_json::to_string(body) {
        Ok(json) => HttpResponse::build(status)
            .insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8")))
            .body(json),
        Err(e) => actix_web::ResponseError::error_response(&crate::error::ApiError::internal(e)),
    }
}

/// A string schema limited to `values`, also allowing `null` when `nullable`.
fn name_set(values: impl IntoIterator<Item = &'static str>, nullable: bool) -> Object {
    let mut values: Vec<serde_json::Value> = values.into_iter().map(serde_json::Value::from).collect();
    let schema_type = if nullable {
        values.push(serde_json::Value::Null);
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    ObjectBuilder::new().schema_type(schema_type).enum_values(Some(values)).build()
}

/// Any JSON value, spelled out as every type (utoipa writes `{}` for `serde_json::Value`, which it cannot read
/// back itself).
pub fn any_json() -> Object {
    let types = [Type::String, Type::Number, Type::Integer, Type::Boolean, Type::Object, Type::Array, Type::Null];
    ObjectBuilder::new().schema_type(SchemaType::from_iter(types)).build()
}

/// Schemas of the contract's closed sets of names, from the domain's own lists.
pub mod names {
    use hub_domain::model::access::Permission;
    use hub_domain::model::build::BuildStatus;
    use hub_domain::model::upload::{Phase, UploadKind};
    use hub_domain::model::user::{Provider, RoleSource};
    use utoipa::openapi::schema::Object;

    use super::name_set;

    /// `Build.status`.
    pub fn build_status() -> Object {
        name_set(BuildStatus::ALL.iter().map(|s| s.as_str()), false)
    }
    /// `UploadSession.kind`.
    pub fn upload_kind() -> Object {
        name_set(UploadKind::ALL.iter().map(|k| k.as_str()), false)
    }
    /// `UploadSession.phase`.
    pub fn phase() -> Object {
        name_set(Phase::ALL.iter().map(|p| p.as_str()), false)
    }
    /// `UploadSession.failedAtPhase`: a phase before the end, or `null`.
    pub fn failed_at_phase() -> Object {
        name_set(Phase::ALL.iter().filter(|p| p.is_active()).map(|p| p.as_str()), true)
    }
    /// `User.provider`, `Me.provider`.
    pub fn provider() -> Object {
        name_set(Provider::ALL.iter().map(|p| p.as_str()), false)
    }
    /// `User.roleSource`.
    pub fn role_source() -> Object {
        name_set(RoleSource::ALL.iter().map(|r| r.as_str()), false)
    }
    /// The roles an API key can have.
    pub fn key_role() -> Object {
        name_set(hub_domain::services::api_keys::KEY_ROLES, false)
    }
    /// One permission.
    pub fn permission() -> Object {
        name_set(Permission::ALL.iter().map(|p| p.as_str()), false)
    }
}

// Documentation only: `crate::error::ApiError` writes the same members (§1.7).
/// The body of every error response (4xx and 5xx): the message, and on a few errors one more member. 5xx bodies
/// say only `internal server error` or `service unavailable`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Error)]
pub struct ErrorDto {
    /// What went wrong; 5xx bodies are `internal server error` or `service unavailable`.
    pub error: String,
    /// Only when a chunked upload is completed before all its chunks arrived: the 0-based indices still missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub missing_chunks: Option<Vec<i64>>,
    /// Only when installing an Allure CLI version failed: the end of npm's error output, or the timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub detail: Option<String>,
}

/// An environment, such as staging or production: a group of projects.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Environment)]
pub struct EnvironmentDto {
    #[schema(value_type = formats::Slug)]
    id: String,
    name: String,
    icon: String,
    #[schema(format = DateTime)]
    created_at: String,
    project_count: i64,
}

impl From<EnvironmentView> for EnvironmentDto {
    fn from(view: EnvironmentView) -> Self {
        let env = view.environment;
        Self {
            id: env.id.to_string(),
            name: env.name.to_string(),
            icon: env.icon.as_str().to_owned(),
            created_at: format_time(env.created_at),
            project_count: view.project_count,
        }
    }
}

/// The test results of a build counted by status (`total` is their sum), and the time the tests took.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BuildStats)]
pub struct BuildStatsDto {
    total: i64,
    passed: i64,
    failed: i64,
    broken: i64,
    skipped: i64,
    unknown: i64,
    duration_ms: i64,
}

impl From<BuildStats> for BuildStatsDto {
    fn from(s: BuildStats) -> Self {
        Self {
            total: s.total,
            passed: s.passed,
            failed: s.failed,
            broken: s.broken,
            skipped: s.skipped,
            unknown: s.unknown,
            duration_ms: s.duration_ms,
        }
    }
}

/// The short form of a build, as a project's `latestBuild`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BuildSummary)]
pub struct BuildSummaryDto {
    build_id: String,
    #[schema(schema_with = names::build_status)]
    status: &'static str,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime, required = true)]
    completed_at: Option<String>,
    report_url: String,
    stats: BuildStatsDto,
}

impl From<BuildSummary> for BuildSummaryDto {
    fn from(b: BuildSummary) -> Self {
        Self {
            report_url: report_url(&b.env_id, &b.project_id, &b.build_id),
            build_id: b.build_id.to_string(),
            status: b.status.as_str(),
            created_at: format_time(b.created_at),
            completed_at: b.completed_at.map(format_time),
            stats: b.stats.into(),
        }
    }
}

/// The outcome of a build's quality gate: whether every rule held, and the rules that failed.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = QualityGateResult)]
pub struct QualityGateDto {
    passed: bool,
    failures: Vec<QualityGateFailureDto>,
}

/// One failed rule of a quality gate.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = QualityGateFailure)]
pub struct QualityGateFailureDto {
    /// Rule name, prefixed by its ruleset's id when it has one.
    rule: String,
    /// The configured threshold.
    #[schema(schema_with = any_json)]
    expected: serde_json::Value,
    /// The measured value.
    #[schema(schema_with = any_json)]
    actual: serde_json::Value,
    /// A sentence for people.
    message: String,
}

impl From<QualityGateResult> for QualityGateDto {
    fn from(g: QualityGateResult) -> Self {
        let failures = g
            .failures
            .into_iter()
            .map(|f| QualityGateFailureDto { rule: f.rule, expected: f.expected, actual: f.actual, message: f.message })
            .collect();
        Self { passed: g.passed, failures }
    }
}

/// A build of a project: the test results of one upload, and the state of the report generated from them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Build)]
pub struct BuildDto {
    build_id: String,
    env_id: String,
    project_id: String,
    #[schema(schema_with = names::build_status)]
    status: &'static str,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime, required = true)]
    completed_at: Option<String>,
    uploaded_by: String,
    report_url: String,
    has_report: bool,
    stats: BuildStatsDto,
    #[schema(required = true)]
    quality_gate: Option<QualityGateDto>,
    warnings: Vec<String>,
    #[schema(required = true)]
    error: Option<String>,
    /// The effective report config (an object).
    #[schema(value_type = Object)]
    config: serde_json::Value,
}

impl From<Build> for BuildDto {
    fn from(b: Build) -> Self {
        Self {
            report_url: report_url(&b.env_id, &b.project_id, &b.build_id),
            build_id: b.build_id.to_string(),
            env_id: b.env_id.to_string(),
            project_id: b.project_id.to_string(),
            status: b.status.as_str(),
            created_at: format_time(b.created_at),
            completed_at: b.completed_at.map(format_time),
            uploaded_by: b.uploaded_by,
            has_report: b.has_report,
            stats: b.stats.into(),
            quality_gate: b.quality_gate.map(QualityGateDto::from),
            warnings: b.warnings,
            error: b.error,
            config: b.config,
        }
    }
}

/// Figures over every build of a project: totals, the pass rate, the newest build and the per-build trend.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReportStats)]
pub struct ProjectStatsDto {
    total_builds: i64,
    #[schema(minimum = 0, maximum = 100)]
    pass_rate: i64,
    total_passed: i64,
    total_failed: i64,
    total_skipped: i64,
    #[schema(required = true)]
    latest: Option<BuildDto>,
    trend: Vec<TrendPointDto>,
}

/// One build of a project's trend.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TrendPoint)]
pub struct TrendPointDto {
    build_id: String,
    #[schema(format = DateTime)]
    created_at: String,
    passed: i64,
    /// Failed plus broken.
    failed: i64,
    skipped: i64,
}

impl From<ProjectStats> for ProjectStatsDto {
    fn from(s: ProjectStats) -> Self {
        let trend = s
            .trend
            .into_iter()
            .map(|p| TrendPointDto {
                build_id: p.build_id.to_string(),
                created_at: format_time(p.created_at),
                passed: p.passed,
                failed: p.failed,
                skipped: p.skipped,
            })
            .collect();
        Self {
            total_builds: s.total_builds,
            pass_rate: pass_rate(s.total_passed, s.total_failed),
            total_passed: s.total_passed,
            total_failed: s.total_failed,
            total_skipped: s.total_skipped,
            latest: s.latest.map(BuildDto::from),
            trend,
        }
    }
}

/// A project of an environment, with its number of builds and its newest build.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Project)]
pub struct ProjectDto {
    #[schema(value_type = formats::Slug)]
    id: String,
    env_id: String,
    name: String,
    #[schema(format = DateTime)]
    created_at: String,
    build_count: i64,
    #[schema(required = true)]
    latest_build: Option<BuildSummaryDto>,
}

impl From<ProjectView> for ProjectDto {
    fn from(view: ProjectView) -> Self {
        let p = view.project;
        Self {
            id: p.id.to_string(),
            env_id: p.env_id.to_string(),
            name: p.name.to_string(),
            created_at: format_time(p.created_at),
            build_count: view.build_count,
            latest_build: view.latest_build.map(Into::into),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn times_have_exactly_three_fraction_digits_and_z() {
        let t = Utc.with_ymd_and_hms(2026, 4, 7, 10, 0, 0).unwrap();
        assert_eq!(format_time(t), "2026-04-07T10:00:00.000Z");
        let t = t + chrono::TimeDelta::microseconds(123_456);
        assert_eq!(format_time(t), "2026-04-07T10:00:00.123Z");
    }
}

/// A page of a list: at most `limit` items from `offset` on, and how many items match in all.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageDto<T> {
    /// The items.
    pub items: Vec<T>,
    /// How many items match the filters, ignoring `limit` and `offset`.
    pub total: i64,
}

/// An API key as listed. Its secret is shown only once, when it is created.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApiKey)]
pub struct ApiKeyDto {
    id: String,
    name: String,
    #[schema(schema_with = names::key_role)]
    role: String,
    prefix: String,
    created_by: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime, required = true)]
    last_used_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    revoked_at: Option<String>,
    auto_create: bool,
}

impl From<hub_domain::model::api_key::ApiKey> for ApiKeyDto {
    fn from(k: hub_domain::model::api_key::ApiKey) -> Self {
        Self {
            id: k.id.to_string(),
            name: k.name,
            role: k.role.as_str().to_owned(),
            prefix: k.prefix,
            created_by: k.created_by.to_string(),
            created_at: format_time(k.created_at),
            last_used_at: k.last_used_at.map(format_time),
            revoked_at: k.revoked_at.map(format_time),
            auto_create: k.auto_create,
        }
    }
}

/// A user who has signed in at least once, with the role they would receive now.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = User)]
pub struct UserDto {
    email: String,
    name: String,
    #[schema(required = true)]
    avatar_url: Option<String>,
    #[schema(schema_with = names::provider)]
    provider: &'static str,
    #[schema(required = true)]
    role: Option<String>,
    #[schema(schema_with = names::role_source)]
    role_source: &'static str,
    #[schema(format = DateTime)]
    first_login_at: String,
    #[schema(format = DateTime)]
    last_login_at: String,
}

impl From<hub_domain::services::UserView> for UserDto {
    fn from(v: hub_domain::services::UserView) -> Self {
        Self {
            email: v.user.email.to_string(),
            name: v.user.name,
            avatar_url: v.user.avatar_url,
            provider: v.user.provider.as_str(),
            role: v.role.map(|r| r.as_str().to_owned()),
            role_source: v.role_source.as_str(),
            first_login_at: format_time(v.user.first_login_at),
            last_login_at: format_time(v.user.last_login_at),
        }
    }
}

/// The signed-in user of the current session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Me)]
pub struct MeDto {
    /// Email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Avatar URL.
    #[schema(required = true)]
    pub avatar_url: Option<String>,
    /// Sign-in method.
    #[schema(schema_with = names::provider)]
    pub provider: &'static str,
    /// Role.
    #[schema(required = true)]
    pub role: Option<String>,
    /// Permissions of the role.
    #[schema(schema_with = permissions)]
    pub permissions: Vec<&'static str>,
    /// Token for `X-CSRF-Token`.
    pub csrf_token: String,
    /// Session expiry.
    #[schema(format = DateTime)]
    pub session_expires_at: String,
}

/// `Me.permissions`: a list of permissions.
fn permissions() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new().items(names::permission()).build()
}

/// An upload session: the progress of one upload (streaming or chunked) or report regeneration, from receiving
/// the archive to the finished report.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UploadSession)]
pub struct UploadSessionDto {
    id: String,
    upload_id: String,
    #[schema(schema_with = names::upload_kind)]
    kind: &'static str,
    env_id: String,
    project_id: String,
    build_id: String,
    #[schema(required = true)]
    file_name: Option<String>,
    #[schema(required = true)]
    total_size: Option<i64>,
    total_chunks: i64,
    received_chunks: i64,
    #[schema(schema_with = names::phase)]
    phase: &'static str,
    #[schema(schema_with = names::failed_at_phase, required = true)]
    failed_at_phase: Option<&'static str>,
    #[schema(required = true)]
    error: Option<String>,
    uploaded_by: String,
    #[schema(format = DateTime)]
    started_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    #[schema(format = DateTime, required = true)]
    completed_at: Option<String>,
    #[schema(required = true)]
    report_url: Option<String>,
    #[schema(required = true)]
    stats: Option<BuildStatsDto>,
    /// Only from the session's status endpoint (`GET …/uploads/{uploadId}`): the chunk indices not received yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    missing_chunks: Option<Vec<i64>>,
}

impl From<hub_domain::model::upload::UploadSession> for UploadSessionDto {
    fn from(s: hub_domain::model::upload::UploadSession) -> Self {
        Self {
            id: s.id.to_string(),
            upload_id: s.id.to_string(),
            kind: s.kind.as_str(),
            env_id: s.env_id.to_string(),
            project_id: s.project_id.to_string(),
            build_id: s.build_id.to_string(),
            file_name: s.file_name,
            total_size: s.total_size,
            total_chunks: s.total_chunks,
            received_chunks: s.received_chunks,
            phase: s.phase.as_str(),
            failed_at_phase: s.failed_at_phase.map(|p| p.as_str()),
            error: s.error,
            uploaded_by: s.uploaded_by,
            started_at: format_time(s.started_at),
            updated_at: format_time(s.updated_at),
            completed_at: s.completed_at.map(format_time),
            report_url: s.report_url,
            stats: s.stats.map(BuildStatsDto::from),
            missing_chunks: None,
        }
    }
}

impl From<hub_domain::services::SessionStatus> for UploadSessionDto {
    fn from(status: hub_domain::services::SessionStatus) -> Self {
        Self { missing_chunks: Some(status.missing_chunks), ..Self::from(status.session) }
    }
}

/// Accepted work: the upload session that reports the queued report generation, and where the report will be.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UploadAccepted)]
pub struct UploadAcceptedDto {
    upload_id: String,
    build_id: String,
    #[schema(schema_with = names::phase)]
    phase: &'static str,
    #[schema(required = true)]
    report_url: Option<String>,
}

impl From<&hub_domain::model::upload::UploadSession> for UploadAcceptedDto {
    fn from(s: &hub_domain::model::upload::UploadSession) -> Self {
        Self {
            upload_id: s.id.to_string(),
            build_id: s.build_id.to_string(),
            phase: s.phase.as_str(),
            report_url: s.report_url.clone(),
        }
    }
}

/// A chunked upload session that was just opened.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UploadCreated)]
pub struct UploadCreatedDto {
    /// The new session's id, for the chunk and complete paths.
    pub upload_id: String,
}

/// A chunk was stored: the progress of its session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ChunkAck)]
pub struct ChunkAckDto {
    upload_id: String,
    received_chunks: i64,
    total_chunks: i64,
}

impl From<&hub_domain::model::upload::UploadSession> for ChunkAckDto {
    fn from(s: &hub_domain::model::upload::UploadSession) -> Self {
        Self { upload_id: s.id.to_string(), received_chunks: s.received_chunks, total_chunks: s.total_chunks }
    }
}
