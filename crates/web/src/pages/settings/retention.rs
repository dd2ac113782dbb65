//! `/settings/retention`: how long builds are kept, when the next sweep runs, and the recent sweeps.

use super::{SettingsBody, internal};
use crate::pages::PageError;
use crate::pages::format::{bytes_text, time_text};
use hub_domain::services::Services;

/// A cleanup run as a table row.
#[derive(Debug, Clone)]
pub struct RunRow {
    /// Start time.
    pub started: String,
    /// `success` or `failed`.
    pub status: &'static str,
    /// `schedule` or `manual`.
    pub trigger: &'static str,
    /// Builds deleted (or that would have been).
    pub deleted: i64,
    /// Builds skipped.
    pub skipped: i64,
    /// Bytes freed, as text.
    pub freed: String,
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// Why it failed.
    pub error: Option<String>,
}

/// The retention settings, the next sweep and the five newest runs.
pub(super) async fn body(services: &Services) -> Result<SettingsBody, PageError> {
    let (settings, next) = services.retention.settings_and_next_run().await.map_err(|e| internal(&e))?;
    let runs = services.retention.runs(5).await.map_err(|e| internal(&e))?;
    Ok(SettingsBody::Retention {
        days: settings.retention_days,
        hours: settings.interval_hours,
        dry_run: settings.dry_run,
        next_run: next.as_ref().map_or_else(|| "not scheduled".to_owned(), time_text),
        runs: runs
            .iter()
            .map(|r| RunRow {
                started: time_text(&r.started_at),
                status: r.status.as_str(),
                trigger: r.trigger.as_str(),
                deleted: r.deleted_count,
                skipped: r.skipped_count,
                freed: bytes_text(r.freed_bytes),
                dry_run: r.dry_run,
                error: r.error_message.clone(),
            })
            .collect(),
    })
}
