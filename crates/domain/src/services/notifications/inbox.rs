//! Each principal's view of the notifications: the list, the unread count, read state, hiding, the live stream
//! and pruning.

use chrono::TimeDelta;

use super::{AudienceStream, NotificationError, NotificationService};
use crate::ids::NotificationId;
use crate::model::notification::NotificationView;
use crate::ports::{NotificationStream, NotificationViewer};

impl NotificationService {
    /// §10.1: the viewer's notifications, newest first; `limit` 0 means no cap.
    ///
    /// # Errors
    /// A database failure.
    pub async fn list(
        &self,
        viewer: &NotificationViewer,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<NotificationView>, NotificationError> {
        Ok(self.ports.repo.list(viewer, unread_only, limit.max(0)).await?)
    }

    /// §10.2: how many the viewer has not read.
    ///
    /// # Errors
    /// A database failure.
    pub async fn unread_count(&self, viewer: &NotificationViewer) -> Result<i64, NotificationError> {
        Ok(self.ports.repo.unread_count(viewer).await?)
    }

    /// §10.3: marks one read for the viewer (idempotent).
    ///
    /// # Errors
    /// [`NotificationError::NotFound`] when it does not exist for the viewer, or a database failure.
    pub async fn mark_read(&self, viewer: &NotificationViewer, id: NotificationId) -> Result<(), NotificationError> {
        if self.ports.repo.mark_read(viewer, id, self.ports.clock.now()).await? {
            Ok(())
        } else {
            Err(NotificationError::NotFound(id))
        }
    }

    /// §10.4: marks everything the viewer sees as read.
    ///
    /// # Errors
    /// A database failure.
    pub async fn mark_all_read(&self, viewer: &NotificationViewer) -> Result<(), NotificationError> {
        Ok(self.ports.repo.mark_all_read(viewer, self.ports.clock.now()).await?)
    }

    /// §10.5: deletes one for the viewer only.
    ///
    /// # Errors
    /// [`NotificationError::NotFound`] when it does not exist for the viewer, or a database failure.
    pub async fn hide(&self, viewer: &NotificationViewer, id: NotificationId) -> Result<(), NotificationError> {
        if self.ports.repo.hide(viewer, id, self.ports.clock.now()).await? {
            Ok(())
        } else {
            Err(NotificationError::NotFound(id))
        }
    }

    /// §10.6: new notifications within the viewer's audience, from now on (a new notification is unread and not
    /// yet deleted by anyone, so only the audience filters it).
    pub fn subscribe(&self, viewer: &NotificationViewer) -> NotificationStream {
        Box::pin(AudienceStream { inner: self.ports.bus.subscribe(), operational: viewer.operational })
    }

    /// `NOTIFY_RETENTION_DAYS`: deletes notifications older than `retention_days` days; 0 keeps them forever.
    /// Returns how many were deleted.
    ///
    /// # Errors
    /// A database failure.
    pub async fn prune(&self, retention_days: i64) -> Result<u64, NotificationError> {
        if retention_days <= 0 {
            return Ok(0);
        }
        let age = TimeDelta::try_days(retention_days).unwrap_or(TimeDelta::MAX);
        let Some(cutoff) = self.ports.clock.now().checked_sub_signed(age) else {
            return Ok(0);
        };
        Ok(self.ports.repo.prune(cutoff).await?)
    }
}
