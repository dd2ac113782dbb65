//! `/uploads`: the upload sessions, newest first, filtered by environment and project and kept live by the
//! upload event stream.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use hub_domain::ids::{EnvId, ProjectId};
use hub_domain::model::access::Principal;
use hub_domain::ports::UploadFilter;

use super::format::{bytes_text, project_url, time_text};
use super::layout::{Layout, layout};
use super::parts::Choice;
use super::response::html;
use super::{Ctx, PageError};

/// Upload sessions listed on `/uploads`.
pub const UPLOADS_SHOWN: i64 = 100;

/// One upload session as a table row.
#[derive(Debug, Clone)]
pub struct UploadRow {
    /// Session id.
    pub id: String,
    /// `stream`, `chunked` or `regenerate`.
    pub kind: &'static str,
    /// Environment id.
    pub env_id: String,
    /// Project id.
    pub project_id: String,
    /// Build id.
    pub build_id: String,
    /// The project page.
    pub project_url: String,
    /// The build page.
    pub build_url: String,
    /// Archive name, `–` for regenerations.
    pub file: String,
    /// Current phase (also a CSS class suffix).
    pub phase: &'static str,
    /// Chunks stored of chunks declared, with the size.
    pub progress: String,
    /// Why it failed, with the phase it failed in.
    pub error: Option<String>,
    /// Who started it.
    pub uploaded_by: String,
    /// Start time for display.
    pub started: String,
    /// Start time, RFC 3339.
    pub started_iso: String,
    /// Whether the API would delete it now (`done`, `failed`, or a chunked upload still `uploading`).
    pub deletable: bool,
    /// Whether "Retry" applies: the report generation failed, so generating it again may succeed.
    pub retryable: bool,
}

impl UploadRow {
    /// The row of a session.
    pub fn of(s: &hub_domain::model::upload::UploadSession) -> Self {
        use hub_domain::model::upload::{Phase, UploadKind};
        let size = s.total_size.map(bytes_text);
        let progress = match (s.kind, size) {
            (UploadKind::Regenerate, _) => "–".to_owned(),
            (_, Some(size)) => format!("{}/{} chunks · {size}", s.received_chunks, s.total_chunks),
            (_, None) => format!("{}/{} chunks", s.received_chunks, s.total_chunks),
        };
        let url = project_url(s.env_id.as_str(), s.project_id.as_str());
        Self {
            id: s.id.to_string(),
            kind: s.kind.as_str(),
            env_id: s.env_id.to_string(),
            project_id: s.project_id.to_string(),
            build_id: s.build_id.to_string(),
            build_url: format!("{url}/builds/{}", s.build_id),
            project_url: url,
            file: s.file_name.clone().unwrap_or_else(|| "–".to_owned()),
            phase: s.phase.as_str(),
            progress,
            error: s.error.as_ref().map(|e| match s.failed_at_phase {
                Some(at) => format!("{e} (while {at})"),
                None => e.clone(),
            }),
            uploaded_by: s.uploaded_by.clone(),
            started: time_text(&s.started_at),
            started_iso: s.started_at.to_rfc3339(),
            deletable: matches!(s.phase, Phase::Done | Phase::Failed)
                || (s.kind == UploadKind::Chunked && s.phase == Phase::Uploading),
            retryable: s.phase == Phase::Failed && s.failed_at_phase == Some(Phase::Generating),
        }
    }
}

/// `/uploads`.
#[derive(Debug, Template)]
#[template(path = "uploads.html")]
pub struct UploadsPage {
    /// Frame.
    pub layout: Layout,
    /// Environment filter choices.
    pub env_options: Vec<Choice>,
    /// The project filter as typed.
    pub project_filter: String,
    /// Whether any filter is set.
    pub filtered: bool,
    /// The stream URL with the same filters, for live updates.
    pub stream_url: String,
    /// The sessions, newest first.
    pub uploads: Vec<UploadRow>,
}

/// Environment filter choices, `selected` marking `env`.
async fn env_choices(state: &Ctx<'_>, env: Option<&EnvId>) -> Result<Vec<Choice>, PageError> {
    Ok(state
        .environments
        .list()
        .await?
        .iter()
        .map(|e| Choice {
            id: e.environment.id.to_string(),
            name: e.environment.name.as_str().to_owned(),
            selected: env == Some(&e.environment.id),
        })
        .collect())
}

/// The upload sessions, filtered by the `envId` and `projectId` of the query.
pub(super) async fn uploads(
    state: &Ctx<'_>,
    who: &Principal,
    query: &HashMap<String, String>,
) -> Result<HttpResponse, PageError> {
    let services = state.services;
    let param = |name: &str| query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let env = param("envId").and_then(|v| EnvId::parse(v).ok());
    let project = param("projectId").and_then(|v| ProjectId::parse(v).ok());
    let sessions = services
        .uploads
        .list(UploadFilter { env: env.clone(), project: project.clone() }, UPLOADS_SHOWN)
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let mut stream_query = Vec::new();
    if let Some(env) = &env {
        stream_query.push(format!("envId={env}"));
    }
    if let Some(project) = &project {
        stream_query.push(format!("projectId={project}"));
    }
    let stream_url = match stream_query.is_empty() {
        true => "/api/uploads/stream".to_owned(),
        false => format!("/api/uploads/stream?{}", stream_query.join("&")),
    };
    let page = UploadsPage {
        layout: layout(state, "Uploads", "uploads", Some(who)).await,
        env_options: env_choices(state, env.as_ref()).await?,
        project_filter: project.as_ref().map(ToString::to_string).unwrap_or_default(),
        filtered: env.is_some() || project.is_some(),
        stream_url,
        uploads: sessions.iter().map(UploadRow::of).collect(),
    };
    Ok(html(StatusCode::OK, page.render()?))
}
