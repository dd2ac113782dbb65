//! Notifications shown to every user, with per-user read and deletion state.

use crate::Timestamp;
use crate::ids::NotificationId;

crate::string_enum! {
    /// What a notification is about.
    Category {
        /// Uploads and report generation.
        Upload = "upload",
        /// Disk usage.
        Disk = "disk",
        /// Cleanup sweeps.
        Retention = "retention",
        /// The Allure CLI.
        Allure = "allure",
    }
}

crate::string_enum! {
    /// How important a notification is.
    Severity {
        /// For information.
        Info = "info",
        /// Something went well.
        Success = "success",
        /// Needs attention.
        Warning = "warning",
        /// Something failed.
        Error = "error",
    }
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Notification id.
    pub id: NotificationId,
    /// Short headline.
    pub title: String,
    /// One or two sentences.
    pub body: String,
    /// Topic.
    pub category: Category,
    /// Importance.
    pub severity: Severity,
    /// Event details with snake_case keys.
    pub payload: serde_json::Value,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A notification as one principal sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationView {
    /// The notification.
    pub notification: Notification,
    /// Whether this principal has read it.
    pub read: bool,
}

impl Category {
    /// Whether only principals holding `manage` see this category (contract §10): everything but `upload`.
    pub fn is_operational(self) -> bool {
        !matches!(self, Self::Upload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_build_notifications_are_for_everyone() {
        assert!(!Category::Upload.is_operational());
        for category in [Category::Disk, Category::Retention, Category::Allure] {
            assert!(category.is_operational(), "{category}");
        }
    }
}
