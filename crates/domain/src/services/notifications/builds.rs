//! The one notification of each finished upload session: report ready, quality gate failed, report failed or
//! upload failed.

use serde_json::{Value, json};

use super::{Draft, NotificationError, NotificationService, build_payload, stats_payload};
use crate::ids::{EnvId, ProjectId};
use crate::model::build::report_url;
use crate::model::notification::{Category, Notification, Severity};
use crate::model::upload::{Phase, UploadSession};
use crate::ports::StoreError;

impl NotificationService {
    /// §10.7 build notifications: called once for each upload session that reached `done` or `failed`; creates
    /// its one notification (report ready, quality gate failed, report failed or upload failed). Sessions still
    /// active get none (`None`).
    ///
    /// # Errors
    /// A database failure.
    pub async fn session_finished(&self, session: &UploadSession) -> Result<Option<Notification>, NotificationError> {
        let draft = match session.phase {
            Phase::Done => self.report_ready(session).await?,
            Phase::Failed => self.session_failed(session).await?,
            Phase::Uploading | Phase::Assembling | Phase::Generating => return Ok(None),
        };
        self.create(draft).await.map(Some)
    }

    /// A successful generation: "Report ready", or "Quality gate failed" when the stored gate failed.
    pub(super) async fn report_ready(&self, session: &UploadSession) -> Result<Draft, StoreError> {
        let (env, project, build_id) = (&session.env_id, &session.project_id, &session.build_id);
        let build = self.ports.builds.get(env, project, build_id).await?;
        // The build's figures are the ones its report shows; the session's copy serves if it was deleted since.
        let stats = build.as_ref().map(|b| b.stats).or(session.stats).unwrap_or_default();
        let url = Value::String(report_url(env, project, build_id));
        let mut payload = build_payload(session, &url);
        payload.extend(stats_payload(&stats));
        let failures: Vec<String> = build
            .and_then(|b| b.quality_gate)
            .filter(|gate| !gate.passed)
            .map(|gate| gate.failures.into_iter().map(|f| f.message).collect())
            .unwrap_or_default();
        if let Some(first) = failures.first() {
            let body = match failures.len() - 1 {
                0 => first.clone(),
                more => format!("{first} (and {more} more)"),
            };
            payload.insert("quality_gate_failures".into(), json!(failures));
            return Ok(Draft {
                category: Category::Upload,
                severity: Severity::Warning,
                title: format!("Quality gate failed: {build_id}"),
                body,
                payload: Value::Object(payload),
            });
        }
        let (env_name, project_name) = self.names(env, project).await?;
        Ok(Draft {
            category: Category::Upload,
            severity: Severity::Success,
            title: format!("Report ready: {build_id}"),
            body: format!(
                "{project_name} in {env_name}: {} passed, {} failed, {} skipped.",
                stats.passed,
                stats.failed + stats.broken,
                stats.skipped
            ),
            payload: Value::Object(payload),
        })
    }

    /// A failed session: "Report failed" when generation failed, else "Upload failed".
    pub(super) async fn session_failed(&self, session: &UploadSession) -> Result<Draft, StoreError> {
        let (env, project, build_id) = (&session.env_id, &session.project_id, &session.build_id);
        // A build can keep the report of an earlier generation (a failed replacement keeps it): the links are
        // null only when no report exists.
        let has_report = self.ports.builds.get(env, project, build_id).await?.is_some_and(|b| b.has_report);
        let url = if has_report { Value::String(report_url(env, project, build_id)) } else { Value::Null };
        let mut payload = build_payload(session, &url);
        payload.insert("phase".into(), json!(session.phase.as_str()));
        payload.insert("failed_at_phase".into(), json!(session.failed_at_phase.map(Phase::as_str)));
        payload.insert("error".into(), json!(session.error));
        let title = if session.failed_at_phase == Some(Phase::Generating) {
            format!("Report failed: {build_id}")
        } else {
            format!("Upload failed: {build_id}")
        };
        Ok(Draft {
            category: Category::Upload,
            severity: Severity::Error,
            title,
            body: session.error.clone().unwrap_or_default(),
            payload: Value::Object(payload),
        })
    }

    /// Display names of the environment and project; their ids when they were deleted meanwhile.
    pub(super) async fn names(&self, env: &EnvId, project: &ProjectId) -> Result<(String, String), StoreError> {
        let env_name =
            self.ports.envs.get(env).await?.map_or_else(|| env.to_string(), |v| v.environment.name.to_string());
        let project_name = self
            .ports
            .projects
            .get(env, project)
            .await?
            .map_or_else(|| project.to_string(), |v| v.project.name.to_string());
        Ok((env_name, project_name))
    }
}
