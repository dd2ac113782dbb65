//! [`NotificationRepo`] on the store: notifications with each principal's read and deletion state (contract §10).
//!
//! A principal without a state row has neither read nor deleted a notification; a state row is written the first
//! time it does either. Everything a viewer sees goes through [`visible`], so "outside the audience" and "deleted
//! by this principal" mean the same thing in every method: the notification does not exist for it.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use hub_domain::Timestamp;
use hub_domain::ids::NotificationId;
use hub_domain::model::notification::{Category, Notification, NotificationView};
use hub_domain::ports::{NotificationRepo, NotificationViewer, StoreError};

use super::time::{from_db, to_db};
use crate::connection::AnyConnection;
use crate::errors::{corrupt, from_diesel};
use crate::schema::{notification_states, notifications};
use crate::store::{Store, retry_on_conflict, transaction};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = notifications)]
struct NotificationRow {
    id: String,
    title: String,
    body: String,
    category: String,
    severity: String,
    payload: String,
    created_at: NaiveDateTime,
}

impl NotificationRow {
    fn from_domain(n: &Notification) -> Self {
        Self {
            id: n.id.to_string(),
            title: n.title.clone(),
            body: n.body.clone(),
            category: n.category.as_str().to_owned(),
            severity: n.severity.as_str().to_owned(),
            payload: n.payload.to_string(),
            created_at: to_db(n.created_at),
        }
    }

    fn into_domain(self) -> Result<Notification, StoreError> {
        Ok(Notification {
            id: NotificationId::parse(&self.id).map_err(|e| corrupt("notification id", e))?,
            title: self.title,
            body: self.body,
            category: self.category.parse().map_err(|e| corrupt("notification category", e))?,
            severity: self.severity.parse().map_err(|e| corrupt("notification severity", e))?,
            payload: serde_json::from_str(&self.payload).map_err(|e| corrupt("notification payload", e))?,
            created_at: from_db(self.created_at),
        })
    }
}

/// The categories in the viewer's audience: `upload` for everyone, the operational ones with `manage`.
fn audience(viewer: &NotificationViewer) -> Vec<&'static str> {
    if viewer.operational {
        Category::ALL.iter().map(|c| c.as_str()).collect()
    } else {
        vec![Category::Upload.as_str()]
    }
}

/// The notifications the viewer sees, each with the viewer's state row if any (one row per notification: the
/// join is on the state's primary key).
#[diesel::dsl::auto_type(no_type_alias)]
fn visible(principal: String, categories: Vec<&'static str>) -> _ {
    let own_state: diesel::dsl::And<
        diesel::dsl::Eq<notification_states::notification_id, notifications::id>,
        diesel::dsl::Eq<notification_states::principal, String>,
    > = notification_states::notification_id.eq(notifications::id).and(notification_states::principal.eq(principal));
    notifications::table
        .left_join(notification_states::table.on(own_state))
        .filter(notifications::category.eq_any(categories))
        .filter(notification_states::hidden_at.is_null())
}

/// What one notification is to a viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Outside its audience, hidden by it, or unknown.
    Missing,
    /// Visible, and the viewer has no state row for it yet.
    Untouched,
    /// Visible, with a state row.
    Stored {
        /// Whether the row records a read.
        read: bool,
    },
}

fn seen(conn: &mut AnyConnection, viewer: &NotificationViewer, id: &str) -> Result<Seen, StoreError> {
    let found: Option<(Option<String>, Option<NaiveDateTime>)> = visible(viewer.principal.clone(), audience(viewer))
        .filter(notifications::id.eq(id))
        .select((notification_states::notification_id.nullable(), notification_states::read_at.nullable()))
        .first(conn)
        .optional()
        .map_err(from_diesel)?;
    // The joined key is NULL exactly when there is no state row.
    Ok(match found {
        None => Seen::Missing,
        Some((None, _)) => Seen::Untouched,
        Some((Some(_), read_at)) => Seen::Stored { read: read_at.is_some() },
    })
}

/// Writes the viewer's state row of a notification: `read_at` and `hidden_at` as given, keeping set values.
fn write_state(
    conn: &mut AnyConnection,
    id: &str,
    principal: &str,
    exists: bool,
    read_at: Option<NaiveDateTime>,
    hidden_at: Option<NaiveDateTime>,
) -> Result<(), StoreError> {
    let row = notification_states::table.find((id, principal));
    if exists {
        if let Some(at) = read_at {
            diesel::update(row.filter(notification_states::read_at.is_null()))
                .set(notification_states::read_at.eq(at))
                .execute(conn)
                .map_err(from_diesel)?;
        }
        if let Some(at) = hidden_at {
            diesel::update(row).set(notification_states::hidden_at.eq(at)).execute(conn).map_err(from_diesel)?;
        }
    } else {
        diesel::insert_into(notification_states::table)
            .values((
                notification_states::notification_id.eq(id),
                notification_states::principal.eq(principal),
                notification_states::read_at.eq(read_at),
                notification_states::hidden_at.eq(hidden_at),
            ))
            .execute(conn)
            .map_err(from_diesel)?;
    }
    Ok(())
}

#[async_trait]
impl NotificationRepo for Store {
    async fn insert(&self, notification: &Notification) -> Result<(), StoreError> {
        let row = NotificationRow::from_domain(notification);
        self.run(move |conn| {
            diesel::insert_into(notifications::table).values(&row).execute(conn).map(drop).map_err(from_diesel)
        })
        .await
    }

    async fn list(
        &self,
        viewer: &NotificationViewer,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<NotificationView>, StoreError> {
        let viewer = viewer.clone();
        self.run(move |conn| {
            let mut q = visible(viewer.principal.clone(), audience(&viewer))
                .select((NotificationRow::as_select(), notification_states::read_at.nullable()))
                .order((notifications::created_at.desc(), notifications::id.desc()))
                .into_boxed();
            if unread_only {
                q = q.filter(notification_states::read_at.is_null());
            }
            if limit > 0 {
                q = q.limit(limit);
            }
            q.load::<(NotificationRow, Option<NaiveDateTime>)>(conn)
                .map_err(from_diesel)?
                .into_iter()
                .map(|(row, read_at)| {
                    Ok(NotificationView { notification: row.into_domain()?, read: read_at.is_some() })
                })
                .collect()
        })
        .await
    }

    async fn unread_count(&self, viewer: &NotificationViewer) -> Result<i64, StoreError> {
        let viewer = viewer.clone();
        self.run(move |conn| {
            visible(viewer.principal.clone(), audience(&viewer))
                .filter(notification_states::read_at.is_null())
                .count()
                .get_result(conn)
                .map_err(from_diesel)
        })
        .await
    }

    async fn mark_read(
        &self,
        viewer: &NotificationViewer,
        id: NotificationId,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let (viewer, id, at) = (viewer.clone(), id.to_string(), to_db(at));
        self.run(move |conn| {
            retry_on_conflict(conn, |conn| {
                match seen(conn, &viewer, &id)? {
                    Seen::Missing => return Ok(false),
                    // Reading twice keeps the first time.
                    Seen::Stored { read: true } => {}
                    state => write_state(conn, &id, &viewer.principal, state != Seen::Untouched, Some(at), None)?,
                }
                Ok(true)
            })
        })
        .await
    }

    async fn mark_all_read(&self, viewer: &NotificationViewer, at: Timestamp) -> Result<(), StoreError> {
        let (viewer, at) = (viewer.clone(), to_db(at));
        self.run(move |conn| {
            retry_on_conflict(conn, |conn| {
                let categories = audience(&viewer);
                let in_audience = || notifications::table.filter(notifications::category.eq_any(categories.clone()));
                let own_states =
                    || notification_states::table.filter(notification_states::principal.eq(viewer.principal.clone()));
                // Unread state rows of visible notifications (hidden ones stay as they are)…
                diesel::update(
                    own_states()
                        .filter(notification_states::read_at.is_null())
                        .filter(notification_states::hidden_at.is_null())
                        .filter(notification_states::notification_id.eq_any(in_audience().select(notifications::id))),
                )
                .set(notification_states::read_at.eq(at))
                .execute(conn)
                .map_err(from_diesel)?;
                // …and a read state row for every notification in the audience that has none, in one statement.
                let missing = in_audience()
                    .filter(notifications::id.ne_all(own_states().select(notification_states::notification_id)))
                    .select((
                        notifications::id,
                        viewer.principal.clone().into_sql::<diesel::sql_types::Text>(),
                        at.into_sql::<diesel::sql_types::Nullable<diesel::sql_types::Timestamp>>(),
                    ));
                diesel::insert_into(notification_states::table)
                    .values(missing)
                    .into_columns((
                        notification_states::notification_id,
                        notification_states::principal,
                        notification_states::read_at,
                    ))
                    .execute(conn)
                    .map_err(from_diesel)?;
                Ok(())
            })
        })
        .await
    }

    async fn hide(&self, viewer: &NotificationViewer, id: NotificationId, at: Timestamp) -> Result<bool, StoreError> {
        let (viewer, id, at) = (viewer.clone(), id.to_string(), to_db(at));
        self.run(move |conn| {
            retry_on_conflict(conn, |conn| {
                let state = seen(conn, &viewer, &id)?;
                if state == Seen::Missing {
                    return Ok(false);
                }
                write_state(conn, &id, &viewer.principal, state != Seen::Untouched, None, Some(at))?;
                Ok(true)
            })
        })
        .await
    }

    async fn prune(&self, before: Timestamp) -> Result<u64, StoreError> {
        let before = to_db(before);
        self.run(move |conn| {
            transaction(conn, |conn| {
                let old = || notifications::table.filter(notifications::created_at.lt(before));
                diesel::delete(
                    notification_states::table
                        .filter(notification_states::notification_id.eq_any(old().select(notifications::id))),
                )
                .execute(conn)
                .map_err(from_diesel)?;
                let n = diesel::delete(old()).execute(conn).map_err(from_diesel)?;
                Ok(u64::try_from(n).unwrap_or_default())
            })
        })
        .await
    }
}
