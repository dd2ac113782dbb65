//! Notices for operators: the disk threshold, a failed cleanup run, a newer Allure release.

use serde_json::{Value, json};

use super::{ANNOUNCED_ALLURE_VERSIONS_KEY, ANNOUNCED_VERSIONS_KEPT, Draft, NotificationError, NotificationService};
use crate::model::allure_version::is_newer_release;
use crate::model::disk::format_binary_bytes;
use crate::model::notification::{Category, Notification, Severity};
use crate::model::retention::CleanupRun;

impl NotificationService {
    /// §10.7: the data volume reached the disk threshold. The caller (the disk check) decides when a crossing
    /// happened.
    ///
    /// # Errors
    /// A database failure.
    pub async fn disk_warning(
        &self,
        used_percent: i64,
        threshold_percent: i64,
        free_bytes: i64,
        total_bytes: i64,
    ) -> Result<Notification, NotificationError> {
        self.create(Draft {
            category: Category::Disk,
            severity: Severity::Warning,
            title: format!("Disk usage at {used_percent}%"),
            body: format!(
                "The data volume is {used_percent}% full (threshold {threshold_percent}%), {} free.",
                format_binary_bytes(free_bytes)
            ),
            payload: json!({
                "used_percent": used_percent,
                "threshold_percent": threshold_percent,
                "free_bytes": free_bytes,
                "total_bytes": total_bytes,
            }),
        })
        .await
    }

    /// §10.7: a cleanup run ended `failed`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn cleanup_failed(&self, run: &CleanupRun) -> Result<Notification, NotificationError> {
        let message = run.error_message.clone().unwrap_or_default();
        self.create(Draft {
            category: Category::Retention,
            severity: Severity::Error,
            title: "Cleanup run failed".into(),
            body: message.clone(),
            payload: json!({ "run_id": run.id.to_string(), "error_message": message }),
        })
        .await
    }

    /// §10.7, §13.5: announces `latest` when it is newer than `installed` and was never announced before (also
    /// not before a restart). Returns the notification, or `None` when there is nothing to announce (no CLI, no
    /// registry answer, not newer, or already announced).
    ///
    /// # Errors
    /// A database failure.
    pub async fn allure_available(
        &self,
        installed: &str,
        latest: &str,
    ) -> Result<Option<Notification>, NotificationError> {
        // No version installed (or none readable): nothing to compare, nothing to announce.
        if is_newer_release(latest, installed) != Some(true) {
            return Ok(None);
        }
        let mut announced: Vec<String> = match self.ports.settings.get(ANNOUNCED_ALLURE_VERSIONS_KEY).await? {
            Some(Value::Array(items)) => items.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        };
        if announced.iter().any(|v| v == latest) {
            return Ok(None);
        }
        let notification = self
            .create(Draft {
                category: Category::Allure,
                severity: Severity::Info,
                title: format!("Allure {latest} is available"),
                body: format!("The server runs Allure {installed}."),
                payload: json!({ "installed_version": installed, "latest_version": latest }),
            })
            .await?;
        announced.push(latest.to_owned());
        let excess = announced.len().saturating_sub(ANNOUNCED_VERSIONS_KEPT);
        announced.drain(..excess);
        self.ports.settings.put(ANNOUNCED_ALLURE_VERSIONS_KEY, &json!(announced), self.ports.clock.now()).await?;
        Ok(Some(notification))
    }
}
