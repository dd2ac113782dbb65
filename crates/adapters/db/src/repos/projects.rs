//! [`ProjectRepo`] on the store.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::dsl::{count_star, max};
use diesel::prelude::*;
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::model::build::{BuildStats, BuildSummary};
use hub_domain::model::names::DisplayName;
use hub_domain::model::project::{Project, ProjectView};
use hub_domain::ports::{ProjectRepo, StoreError};

use super::time::{from_db, to_db};
use crate::connection::AnyConnection;
use crate::errors::{corrupt, from_diesel};
use crate::schema::{builds, environments, projects};
use crate::store::{Store, read_snapshot};

#[derive(Queryable, Insertable)]
#[diesel(table_name = projects)]
struct ProjectRow {
    env_id: String,
    id: String,
    name: String,
    created_at: NaiveDateTime,
}

impl ProjectRow {
    fn into_domain(self) -> Result<Project, StoreError> {
        Ok(Project {
            env_id: EnvId::parse(&self.env_id).map_err(|e| corrupt("project env_id", e))?,
            id: ProjectId::parse(&self.id).map_err(|e| corrupt("project id", e))?,
            name: DisplayName::parse(&self.name).map_err(|e| corrupt("project name", e))?,
            created_at: from_db(self.created_at),
        })
    }
}

/// The columns of a build that a summary shows.
type SummaryColumns = (
    builds::project_id,
    builds::build_id,
    builds::status,
    builds::created_at,
    builds::completed_at,
    builds::stats_total,
    builds::stats_passed,
    builds::stats_failed,
    builds::stats_broken,
    builds::stats_skipped,
    builds::stats_unknown,
    builds::duration_ms,
);

const SUMMARY_COLUMNS: SummaryColumns = (
    builds::project_id,
    builds::build_id,
    builds::status,
    builds::created_at,
    builds::completed_at,
    builds::stats_total,
    builds::stats_passed,
    builds::stats_failed,
    builds::stats_broken,
    builds::stats_skipped,
    builds::stats_unknown,
    builds::duration_ms,
);

#[derive(Queryable)]
struct SummaryRow {
    project_id: String,
    build_id: String,
    status: String,
    created_at: NaiveDateTime,
    completed_at: Option<NaiveDateTime>,
    total: i64,
    passed: i64,
    failed: i64,
    broken: i64,
    skipped: i64,
    unknown: i64,
    duration_ms: i64,
}

impl SummaryRow {
    fn into_domain(self, env_id: &EnvId) -> Result<BuildSummary, StoreError> {
        Ok(BuildSummary {
            env_id: env_id.clone(),
            project_id: ProjectId::parse(&self.project_id).map_err(|e| corrupt("build project_id", e))?,
            build_id: BuildId::parse(&self.build_id).map_err(|e| corrupt("build id", e))?,
            status: self.status.parse().map_err(|e| corrupt("build status", e))?,
            created_at: from_db(self.created_at),
            completed_at: self.completed_at.map(from_db),
            stats: BuildStats {
                total: self.total,
                passed: self.passed,
                failed: self.failed,
                broken: self.broken,
                skipped: self.skipped,
                unknown: self.unknown,
                duration_ms: self.duration_ms,
            },
        })
    }
}

/// Build counts and newest builds of the environment's projects (all of them, or only `only`), in three indexed
/// queries whatever the number of projects: counts and newest times per project, then the builds at those times.
fn build_figures(
    conn: &mut AnyConnection,
    env: &EnvId,
    only: Option<&str>,
) -> Result<HashMap<String, (i64, Option<BuildSummary>)>, StoreError> {
    let mut per_project = builds::table
        .filter(builds::env_id.eq(env.as_str()))
        .group_by(builds::project_id)
        .select((builds::project_id, count_star(), max(builds::created_at)))
        .into_boxed();
    if let Some(project) = only {
        per_project = per_project.filter(builds::project_id.eq(project.to_owned()));
    }
    let per_project: Vec<(String, i64, Option<NaiveDateTime>)> = per_project.load(conn).map_err(from_diesel)?;
    let newest: HashMap<&str, NaiveDateTime> =
        per_project.iter().filter_map(|(p, _, at)| at.map(|at| (p.as_str(), at))).collect();

    let mut latest: HashMap<String, SummaryRow> = HashMap::new();
    if !newest.is_empty() {
        let times: Vec<NaiveDateTime> = newest.values().copied().collect();
        let candidates: Vec<SummaryRow> = builds::table
            .filter(builds::env_id.eq(env.as_str()))
            .filter(builds::created_at.eq_any(times))
            .select(SUMMARY_COLUMNS)
            .load(conn)
            .map_err(from_diesel)?;
        for row in candidates {
            // Another project's build may share a timestamp; equal times within a project go to the higher id.
            if newest.get(row.project_id.as_str()) != Some(&row.created_at) {
                continue;
            }
            let better = latest.get(&row.project_id).is_none_or(|current| row.build_id > current.build_id);
            if better {
                latest.insert(row.project_id.clone(), row);
            }
        }
    }

    let mut figures = HashMap::new();
    for (project, count, _) in per_project {
        let summary = latest.remove(&project).map(|row| row.into_domain(env)).transpose()?;
        figures.insert(project, (count, summary));
    }
    Ok(figures)
}

fn into_view(
    row: ProjectRow,
    figures: &mut HashMap<String, (i64, Option<BuildSummary>)>,
) -> Result<ProjectView, StoreError> {
    let (build_count, latest_build) = figures.remove(&row.id).unwrap_or((0, None));
    Ok(ProjectView { project: row.into_domain()?, build_count, latest_build })
}

#[async_trait]
impl ProjectRepo for Store {
    async fn list(&self, env: &EnvId) -> Result<Vec<ProjectView>, StoreError> {
        let env = env.clone();
        self.run(move |conn| {
            read_snapshot(conn, |conn| {
                let rows = projects::table
                    .filter(projects::env_id.eq(env.as_str()))
                    .order((projects::created_at.desc(), projects::id.asc()))
                    .load::<ProjectRow>(conn)
                    .map_err(from_diesel)?;
                let mut figures = build_figures(conn, &env, None)?;
                rows.into_iter().map(|row| into_view(row, &mut figures)).collect()
            })
        })
        .await
    }

    async fn list_all_ids(&self) -> Result<Vec<(EnvId, Vec<ProjectId>)>, StoreError> {
        self.run(|conn| {
            read_snapshot(conn, |conn| {
                let envs: Vec<String> = environments::table.select(environments::id).load(conn).map_err(from_diesel)?;
                let pairs: Vec<(String, String)> =
                    projects::table.select((projects::env_id, projects::id)).load(conn).map_err(from_diesel)?;
                let mut grouped: HashMap<String, Vec<ProjectId>> = envs.into_iter().map(|e| (e, Vec::new())).collect();
                for (env, project) in pairs {
                    let project = ProjectId::parse(&project).map_err(|e| corrupt("project id", e))?;
                    grouped.entry(env).or_default().push(project);
                }
                grouped
                    .into_iter()
                    .map(|(env, projects)| {
                        Ok((EnvId::parse(&env).map_err(|e| corrupt("environment id", e))?, projects))
                    })
                    .collect()
            })
        })
        .await
    }

    async fn get(&self, env: &EnvId, id: &ProjectId) -> Result<Option<ProjectView>, StoreError> {
        let (env, id) = (env.clone(), id.clone());
        self.run(move |conn| {
            read_snapshot(conn, |conn| {
                let Some(row) = projects::table
                    .find((env.as_str(), id.as_str()))
                    .first::<ProjectRow>(conn)
                    .optional()
                    .map_err(from_diesel)?
                else {
                    return Ok(None);
                };
                let mut figures = build_figures(conn, &env, Some(id.as_str()))?;
                into_view(row, &mut figures).map(Some)
            })
        })
        .await
    }

    async fn exists(&self, env: &EnvId, id: &ProjectId) -> Result<bool, StoreError> {
        let key = (env.as_str().to_owned(), id.as_str().to_owned());
        self.run(move |conn| {
            diesel::select(diesel::dsl::exists(projects::table.find(key))).get_result(conn).map_err(from_diesel)
        })
        .await
    }

    async fn insert(&self, project: &Project) -> Result<(), StoreError> {
        let row = ProjectRow {
            env_id: project.env_id.as_str().to_owned(),
            id: project.id.as_str().to_owned(),
            name: project.name.as_str().to_owned(),
            created_at: to_db(project.created_at),
        };
        self.run(move |conn| {
            diesel::insert_into(projects::table).values(&row).execute(conn).map(drop).map_err(from_diesel)
        })
        .await
    }

    async fn delete(&self, env: &EnvId, id: &ProjectId) -> Result<bool, StoreError> {
        let (env, id) = (env.as_str().to_owned(), id.as_str().to_owned());
        // Foreign keys cascade to builds, jobs, upload sessions and chunks in the same statement.
        self.run(move |conn| {
            diesel::delete(projects::table.find((env, id))).execute(conn).map(|n| n > 0).map_err(from_diesel)
        })
        .await
    }
}
