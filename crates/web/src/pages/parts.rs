//! What several pages show: summary figures, the entries of filter menus, and one build as a table row (the
//! overview's recent builds, a project's build table, the head of a build's page).

use hub_domain::model::build::{Build, report_url};

use super::format::{project_url, rate_text, time_text};
use crate::chart::pass_rate;

/// A summary figure.
#[derive(Debug, Clone)]
pub struct Tile {
    /// The figure.
    pub value: String,
    /// What it counts.
    pub label: &'static str,
}

/// An entry of a filter `<select>`.
#[derive(Debug, Clone)]
pub struct Choice {
    /// The submitted value.
    pub id: String,
    /// The shown name.
    pub name: String,
    /// Whether it is the current filter.
    pub selected: bool,
}

/// One build as a table row.
#[derive(Debug, Clone)]
pub struct BuildRow {
    /// Environment id.
    pub env_id: String,
    /// Project id.
    pub project_id: String,
    /// Build id.
    pub build_id: String,
    /// Build status name (also a CSS class suffix).
    pub status: &'static str,
    /// Creation time for display.
    pub created: String,
    /// Creation time, RFC 3339, for `<time datetime>`.
    pub created_iso: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// Passed tests.
    pub passed: i64,
    /// Failed and broken tests.
    pub failed: i64,
    /// Skipped tests.
    pub skipped: i64,
    /// Pass rate text, `–` without counted tests.
    pub rate: String,
    /// Quality gate text.
    pub gate: &'static str,
    /// Number of warnings.
    pub warnings: usize,
    /// The report on the main origin (which redirects to the report origin), when there is one.
    pub report_url: Option<String>,
    /// The project page.
    pub project_url: String,
    /// The build page.
    pub build_url: String,
}

impl BuildRow {
    /// The row of a build.
    pub fn of(build: &Build) -> Self {
        let failed = build.stats.failed + build.stats.broken;
        Self {
            env_id: build.env_id.to_string(),
            project_id: build.project_id.to_string(),
            build_id: build.build_id.to_string(),
            status: build.status.as_str(),
            created: time_text(&build.created_at),
            created_iso: build.created_at.to_rfc3339(),
            uploaded_by: build.uploaded_by.clone(),
            passed: build.stats.passed,
            failed,
            skipped: build.stats.skipped,
            rate: rate_text(pass_rate(build.stats.passed, failed)),
            gate: match &build.quality_gate {
                None => "–",
                Some(gate) if gate.passed => "passed",
                Some(_) => "failed",
            },
            warnings: build.warnings.len(),
            report_url: build.has_report.then(|| report_url(&build.env_id, &build.project_id, &build.build_id)),
            project_url: project_url(build.env_id.as_str(), build.project_id.as_str()),
            build_url: format!(
                "{}/builds/{}",
                project_url(build.env_id.as_str(), build.project_id.as_str()),
                build.build_id
            ),
        }
    }
}
