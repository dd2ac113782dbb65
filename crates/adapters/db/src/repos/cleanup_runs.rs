//! [`CleanupRunRepo`] on the store: the record of retention sweeps, of which only the newest few are kept.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use hub_domain::ids::CleanupRunId;
use hub_domain::model::retention::CleanupRun;
use hub_domain::ports::{CleanupRunRepo, StoreError};

use super::time::{from_db, to_db};
use crate::errors::{corrupt, from_diesel};
use crate::schema::cleanup_runs;
use crate::store::{Store, transaction};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = cleanup_runs)]
struct RunRow {
    id: String,
    started_at: NaiveDateTime,
    finished_at: NaiveDateTime,
    status: String,
    trigger_kind: String,
    deleted_count: i64,
    skipped_count: i64,
    freed_bytes: i64,
    dry_run: bool,
    error_message: Option<String>,
}

impl RunRow {
    fn from_domain(r: &CleanupRun) -> Self {
        Self {
            id: r.id.to_string(),
            started_at: to_db(r.started_at),
            finished_at: to_db(r.finished_at),
            status: r.status.as_str().to_owned(),
            trigger_kind: r.trigger.as_str().to_owned(),
            deleted_count: r.deleted_count,
            skipped_count: r.skipped_count,
            freed_bytes: r.freed_bytes,
            dry_run: r.dry_run,
            error_message: r.error_message.clone(),
        }
    }

    fn into_domain(self) -> Result<CleanupRun, StoreError> {
        Ok(CleanupRun {
            id: CleanupRunId::parse(&self.id).map_err(|e| corrupt("cleanup run id", e))?,
            started_at: from_db(self.started_at),
            finished_at: from_db(self.finished_at),
            status: self.status.parse().map_err(|e| corrupt("cleanup run status", e))?,
            trigger: self.trigger_kind.parse().map_err(|e| corrupt("cleanup run trigger", e))?,
            deleted_count: self.deleted_count,
            skipped_count: self.skipped_count,
            freed_bytes: self.freed_bytes,
            dry_run: self.dry_run,
            error_message: self.error_message,
        })
    }
}

#[async_trait]
impl CleanupRunRepo for Store {
    async fn record(&self, run: &CleanupRun, keep: i64) -> Result<(), StoreError> {
        let row = RunRow::from_domain(run);
        self.run(move |conn| {
            transaction(conn, |conn| {
                diesel::insert_into(cleanup_runs::table).values(&row).execute(conn).map_err(from_diesel)?;
                // Everything past the newest `keep` (a handful of rows: one sweep adds one).
                let surplus: Vec<String> = cleanup_runs::table
                    .order((cleanup_runs::started_at.desc(), cleanup_runs::id.desc()))
                    .offset(keep.max(0))
                    .limit(i64::MAX)
                    .select(cleanup_runs::id)
                    .load(conn)
                    .map_err(from_diesel)?;
                diesel::delete(cleanup_runs::table.filter(cleanup_runs::id.eq_any(surplus)))
                    .execute(conn)
                    .map_err(from_diesel)?;
                Ok(())
            })
        })
        .await
    }

    async fn list(&self) -> Result<Vec<CleanupRun>, StoreError> {
        self.run(|conn| {
            cleanup_runs::table
                .order((cleanup_runs::started_at.desc(), cleanup_runs::id.desc()))
                .select(RunRow::as_select())
                .load::<RunRow>(conn)
                .map_err(from_diesel)?
                .into_iter()
                .map(RunRow::into_domain)
                .collect()
        })
        .await
    }

    async fn get(&self, id: CleanupRunId) -> Result<Option<CleanupRun>, StoreError> {
        let id = id.to_string();
        self.run(move |conn| {
            cleanup_runs::table
                .find(id)
                .select(RunRow::as_select())
                .first::<RunRow>(conn)
                .optional()
                .map_err(from_diesel)?
                .map(RunRow::into_domain)
                .transpose()
        })
        .await
    }
}
