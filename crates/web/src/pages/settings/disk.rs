//! `/settings/disk`: the disk usage, the bytes stored for builds, the largest projects and the warning threshold.

use super::{SettingsBody, internal};
use crate::pages::PageError;
use crate::pages::format::{bytes_text, time_text};
use hub_domain::services::Services;

/// A part of the disk usage.
#[derive(Debug, Clone)]
pub struct DiskRow {
    /// `<envId>/<projectId>`.
    pub path: String,
    /// Size text.
    pub size: String,
    /// Share of the bytes the breakdown divides (used under the data directory, or stored), 0–100.
    pub percent: i64,
}

/// The usage as last measured, and the threshold.
pub(super) async fn body(services: &Services) -> Result<SettingsBody, PageError> {
    let usage = services.disk.usage().await.map_err(|e| internal(&e))?;
    let threshold = services.disk.threshold().await.map_err(|e| internal(&e))?;
    // The files are under the data directory, or elsewhere with the breakdown made of their stored bytes.
    let local_files = services.storage.kind() == "filesystem";
    let whole = if local_files { usage.used_bytes } else { usage.stored_bytes }.max(1);
    Ok(SettingsBody::Disk {
        local_files,
        stored: bytes_text(usage.stored_bytes),
        used: bytes_text(usage.used_bytes),
        free: bytes_text(usage.free_bytes),
        total: bytes_text(usage.total_bytes),
        percent: (usage.total_bytes > 0)
            .then(|| 100 * (usage.total_bytes - usage.free_bytes).max(0) / usage.total_bytes),
        breakdown: usage
            .breakdown
            .iter()
            .map(|d| DiskRow { path: d.path.clone(), size: bytes_text(d.bytes), percent: 100 * d.bytes / whole })
            .collect(),
        computed: time_text(&usage.computed_at),
        threshold,
    })
}
