//! [`EnvironmentRepo`] on the store.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;
use hub_domain::ids::EnvId;
use hub_domain::model::environment::{Environment, EnvironmentPatch, EnvironmentView};
use hub_domain::model::names::{DisplayName, Icon};
use hub_domain::ports::{EnvironmentRepo, StoreError};

use super::time::{from_db, to_db};
use crate::connection::AnyConnection;
use crate::errors::{corrupt, from_diesel};
use crate::schema::{environments, projects};
use crate::store::{Store, read_snapshot, transaction};

#[derive(Queryable, Insertable)]
#[diesel(table_name = environments)]
struct EnvironmentRow {
    id: String,
    name: String,
    icon: String,
    created_at: NaiveDateTime,
}

#[derive(AsChangeset)]
#[diesel(table_name = environments)]
struct EnvironmentChanges<'a> {
    name: Option<&'a str>,
    icon: Option<&'a str>,
}

impl EnvironmentRow {
    fn into_domain(self) -> Result<Environment, StoreError> {
        Ok(Environment {
            id: EnvId::parse(&self.id).map_err(|e| corrupt("environment id", e))?,
            name: DisplayName::parse(&self.name).map_err(|e| corrupt("environment name", e))?,
            icon: Icon::parse_or_default(Some(&self.icon)).map_err(|e| corrupt("environment icon", e))?,
            created_at: from_db(self.created_at),
        })
    }
}

fn project_count(conn: &mut AnyConnection, id: &str) -> Result<i64, StoreError> {
    projects::table.filter(projects::env_id.eq(id)).count().get_result(conn).map_err(from_diesel)
}

fn get_view(conn: &mut AnyConnection, id: &str) -> Result<Option<EnvironmentView>, StoreError> {
    let Some(row) = environments::table.find(id).first::<EnvironmentRow>(conn).optional().map_err(from_diesel)? else {
        return Ok(None);
    };
    let project_count = project_count(conn, id)?;
    Ok(Some(EnvironmentView { environment: row.into_domain()?, project_count }))
}

#[async_trait]
impl EnvironmentRepo for Store {
    async fn list(&self) -> Result<Vec<EnvironmentView>, StoreError> {
        self.run(|conn| {
            read_snapshot(conn, |conn| {
                let rows = environments::table
                    .order((environments::created_at.desc(), environments::id.asc()))
                    .load::<EnvironmentRow>(conn)
                    .map_err(from_diesel)?;
                let counts: HashMap<String, i64> = projects::table
                    .group_by(projects::env_id)
                    .select((projects::env_id, count_star()))
                    .load::<(String, i64)>(conn)
                    .map_err(from_diesel)?
                    .into_iter()
                    .collect();
                rows.into_iter()
                    .map(|row| {
                        let project_count = counts.get(&row.id).copied().unwrap_or(0);
                        Ok(EnvironmentView { environment: row.into_domain()?, project_count })
                    })
                    .collect()
            })
        })
        .await
    }

    async fn get(&self, id: &EnvId) -> Result<Option<EnvironmentView>, StoreError> {
        let id = id.as_str().to_owned();
        self.run(move |conn| get_view(conn, &id)).await
    }

    async fn exists(&self, id: &EnvId) -> Result<bool, StoreError> {
        let id = id.as_str().to_owned();
        self.run(move |conn| {
            diesel::select(diesel::dsl::exists(environments::table.find(id))).get_result(conn).map_err(from_diesel)
        })
        .await
    }

    async fn insert(&self, env: &Environment) -> Result<(), StoreError> {
        let row = EnvironmentRow {
            id: env.id.as_str().to_owned(),
            name: env.name.as_str().to_owned(),
            icon: env.icon.as_str().to_owned(),
            created_at: to_db(env.created_at),
        };
        self.run(move |conn| {
            diesel::insert_into(environments::table).values(&row).execute(conn).map(drop).map_err(from_diesel)
        })
        .await
    }

    async fn update(&self, id: &EnvId, patch: &EnvironmentPatch) -> Result<Option<EnvironmentView>, StoreError> {
        let id = id.as_str().to_owned();
        let name = patch.name.as_ref().map(|n| n.as_str().to_owned());
        let icon = patch.icon.as_ref().map(|i| i.as_str().to_owned());
        self.run(move |conn| {
            transaction(conn, |conn| {
                // diesel refuses an UPDATE without columns; an empty patch is just a read.
                if name.is_some() || icon.is_some() {
                    let changes = EnvironmentChanges { name: name.as_deref(), icon: icon.as_deref() };
                    diesel::update(environments::table.find(&id)).set(&changes).execute(conn).map_err(from_diesel)?;
                }
                get_view(conn, &id)
            })
        })
        .await
    }

    async fn delete(&self, id: &EnvId) -> Result<bool, StoreError> {
        let id = id.as_str().to_owned();
        // Foreign keys cascade to projects, builds, jobs, upload sessions and chunks in the same statement.
        self.run(move |conn| {
            diesel::delete(environments::table.find(id)).execute(conn).map(|n| n > 0).map_err(from_diesel)
        })
        .await
    }
}
