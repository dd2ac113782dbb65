//! JSON shapes of the contract (§16), built from domain types. Field names are camelCase, absent values `null`.

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

/// §16.1 Environment.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentDto {
    id: String,
    name: String,
    icon: String,
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

/// §16.3 BuildStats.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
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

/// §16.2 BuildSummary.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildSummaryDto {
    build_id: String,
    status: &'static str,
    created_at: String,
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

/// §16.3 QualityGateResult.
#[derive(Debug, Serialize)]
pub struct QualityGateDto {
    passed: bool,
    failures: Vec<serde_json::Value>,
}

impl From<QualityGateResult> for QualityGateDto {
    fn from(g: QualityGateResult) -> Self {
        let failures = g
            .failures
            .into_iter()
            .map(|f| serde_json::json!({"rule": f.rule, "expected": f.expected, "actual": f.actual, "message": f.message}))
            .collect();
        Self { passed: g.passed, failures }
    }
}

/// §16.3 Build.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDto {
    build_id: String,
    env_id: String,
    project_id: String,
    status: &'static str,
    created_at: String,
    completed_at: Option<String>,
    uploaded_by: String,
    report_url: String,
    has_report: bool,
    stats: BuildStatsDto,
    quality_gate: Option<QualityGateDto>,
    warnings: Vec<String>,
    error: Option<String>,
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

/// §8.5 aggregated stats of a project.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectStatsDto {
    total_builds: i64,
    pass_rate: i64,
    total_passed: i64,
    total_failed: i64,
    total_skipped: i64,
    latest: Option<BuildDto>,
    trend: Vec<serde_json::Value>,
}

impl From<ProjectStats> for ProjectStatsDto {
    fn from(s: ProjectStats) -> Self {
        let trend = s
            .trend
            .into_iter()
            .map(|p| {
                serde_json::json!({
                    "buildId": p.build_id.as_str(),
                    "createdAt": format_time(p.created_at),
                    "passed": p.passed,
                    "failed": p.failed,
                    "skipped": p.skipped,
                })
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

/// §16.2 Project.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectDto {
    id: String,
    env_id: String,
    name: String,
    created_at: String,
    build_count: i64,
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

/// A page of a paginated list (§1.8).
#[derive(Debug, Serialize)]
pub struct PageDto<T> {
    /// The items.
    pub items: Vec<T>,
    /// Items matching the filters.
    pub total: i64,
}

/// §16.6 ApiKey.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyDto {
    id: String,
    name: String,
    role: String,
    prefix: String,
    created_by: String,
    created_at: String,
    last_used_at: Option<String>,
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

/// §16.7 User.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDto {
    email: String,
    name: String,
    avatar_url: Option<String>,
    provider: &'static str,
    role: Option<String>,
    role_source: &'static str,
    first_login_at: String,
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

/// §16.7 Me.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeDto {
    /// Email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Sign-in method.
    pub provider: &'static str,
    /// Role.
    pub role: Option<String>,
    /// Permissions of the role.
    pub permissions: Vec<&'static str>,
    /// Token for `X-CSRF-Token`.
    pub csrf_token: String,
    /// Session expiry.
    pub session_expires_at: String,
}

/// §16.4 UploadSession (plus `missingChunks` on the status endpoint).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadSessionDto {
    id: String,
    upload_id: String,
    kind: &'static str,
    env_id: String,
    project_id: String,
    build_id: String,
    file_name: Option<String>,
    total_size: Option<i64>,
    total_chunks: i64,
    received_chunks: i64,
    phase: &'static str,
    failed_at_phase: Option<&'static str>,
    error: Option<String>,
    uploaded_by: String,
    started_at: String,
    updated_at: String,
    completed_at: Option<String>,
    report_url: Option<String>,
    stats: Option<BuildStatsDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
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
