//! [`OverviewQueries`] on the store: the dashboard of contract §11.1, every figure summed, grouped, ranked and
//! limited by the database in a handful of indexed queries on one snapshot, the same SQL on SQLite and PostgreSQL.
//!
//! Sums come from the running totals that triggers keep per project (`build_totals`), per project and UTC day
//! (`build_days`) and per environment and UTC day (`build_env_days`), so their cost follows the number of projects
//! or environments and days, not of builds.

use async_trait::async_trait;
use chrono::{Days, NaiveDate};
use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::BigInt;
use hub_domain::ids::{EnvId, ProjectId};
use hub_domain::model::build::{Build, TREND_BUILDS, pass_rate};
use hub_domain::model::overview::{
    BuildTrendPoint, DailyTrend, FailingProject, Overview, OverviewFilter, OverviewSummary,
};
use hub_domain::ports::{OverviewQueries, StoreError};

use super::builds::{BuildRow, rows_into};
use crate::connection::AnyConnection;
use crate::errors::{corrupt, from_diesel};
use crate::schema::{build_days, build_env_days, build_totals, builds, environments, projects};
use crate::store::{Store, read_snapshot};

/// Days in `dailyTrends`, ending today.
const TREND_DAYS: u64 = 30;
/// Entries of `topFailingProjects`.
const TOP_FAILING: i64 = 5;
/// Entries of `recentBuilds` (the newest of the trend's builds).
const RECENT_BUILDS: usize = 10;

/// `CAST(COALESCE(SUM(column), 0) AS BIGINT)`: the sum of a BIGINT column as a BIGINT on both databases (on
/// PostgreSQL `SUM(bigint)` is NUMERIC), 0 for no rows.
///
/// A typed expression instead of a `dsl::sql` literal because diesel never caches a statement containing a literal
/// as a prepared statement: on PostgreSQL every overview request then paid the parse and plan of its two sum
/// queries again.
#[derive(Debug, Clone, Copy, QueryId)]
pub(super) struct SumBigInt<C>(pub(super) C);

impl<C: Expression<SqlType = BigInt>> Expression for SumBigInt<C> {
    type SqlType = BigInt;
}

impl<C: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for SumBigInt<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("CAST(COALESCE(SUM(");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql("), 0) AS BIGINT)");
        Ok(())
    }
}

impl<C: SelectableExpression<QS>, QS> SelectableExpression<QS> for SumBigInt<C> where Self: AppearsOnTable<QS> {}

impl<C: AppearsOnTable<QS>, QS> AppearsOnTable<QS> for SumBigInt<C> where Self: Expression {}

impl<C, GroupBy> ValidGrouping<GroupBy> for SumBigInt<C> {
    type IsAggregate = is_aggregate::Yes;
}

/// The filters as column values.
#[derive(Debug, Clone)]
struct Scope {
    env: Option<String>,
    project: Option<String>,
}

/// Boxes a query on `$table` (which has `env_id` and `project_id`) and restricts it to the scope (`project` alone
/// matches that id in every environment).
macro_rules! scoped {
    ($table:ident, $query:expr, $scope:expr) => {{
        let mut q = $query.into_boxed();
        if let Some(env) = &$scope.env {
            q = q.filter($table::env_id.eq(env.clone()));
        }
        if let Some(project) = &$scope.project {
            q = q.filter($table::project_id.eq(project.clone()));
        }
        q
    }};
}

/// The summary in one statement: the environment and project counts as subqueries beside the sums of the totals.
fn summary(conn: &mut AnyConnection, scope: &Scope) -> Result<OverviewSummary, StoreError> {
    // With an environment filter: 1 if it exists, else 0; otherwise every environment (a project filter alone
    // does not narrow them).
    let mut environments_q = environments::table.count().into_boxed();
    if let Some(env) = &scope.env {
        environments_q = environments_q.filter(environments::id.eq(env.clone()));
    }
    let mut projects_q = projects::table.count().into_boxed();
    if let Some(env) = &scope.env {
        projects_q = projects_q.filter(projects::env_id.eq(env.clone()));
    }
    if let Some(project) = &scope.project {
        projects_q = projects_q.filter(projects::id.eq(project.clone()));
    }
    let (total_environments, total_projects, total_builds, total_passed, total_failed): (
        Option<i64>,
        Option<i64>,
        i64,
        i64,
        i64,
    ) = scoped!(
        build_totals,
        build_totals::table.select((
            environments_q.single_value(),
            projects_q.single_value(),
            SumBigInt(build_totals::build_count),
            SumBigInt(build_totals::passed),
            SumBigInt(build_totals::failed),
        )),
        scope
    )
    .first(conn)
    .map_err(from_diesel)?;
    Ok(OverviewSummary {
        total_environments: total_environments.unwrap_or(0),
        total_projects: total_projects.unwrap_or(0),
        total_builds,
        total_passed,
        total_failed,
        overall_pass_rate: pass_rate(total_passed, total_failed),
    })
}

/// One entry per UTC day from `today − 29` to `today`, days without builds at zero. Without a project filter the
/// figures come from the per-environment rollup (`build_env_days`), so their cost follows environments, not
/// projects; with one, from the per-project days.
fn daily_trends(conn: &mut AnyConnection, scope: &Scope, today: NaiveDate) -> Result<Vec<DailyTrend>, StoreError> {
    let first = today.checked_sub_days(Days::new(TREND_DAYS - 1)).unwrap_or(today);
    let (from, to) = (first.format("%Y-%m-%d").to_string(), today.format("%Y-%m-%d").to_string());
    let rows: Vec<(String, i64, i64, i64, i64)> = if scope.project.is_some() {
        scoped!(
            build_days,
            build_days::table.group_by(build_days::day).select((
                build_days::day,
                SumBigInt(build_days::build_count),
                SumBigInt(build_days::passed),
                SumBigInt(build_days::failed),
                SumBigInt(build_days::skipped),
            )),
            scope
        )
        .filter(build_days::day.between(from, to))
        .load(conn)
    } else {
        let mut query = build_env_days::table
            .group_by(build_env_days::day)
            .select((
                build_env_days::day,
                SumBigInt(build_env_days::build_count),
                SumBigInt(build_env_days::passed),
                SumBigInt(build_env_days::failed),
                SumBigInt(build_env_days::skipped),
            ))
            .filter(build_env_days::day.between(from, to))
            .into_boxed();
        if let Some(env) = &scope.env {
            query = query.filter(build_env_days::env_id.eq(env.clone()));
        }
        query.load(conn)
    }
    .map_err(from_diesel)?;
    let mut days: Vec<DailyTrend> = first
        .iter_days()
        .take(TREND_DAYS as usize)
        .map(|date| DailyTrend { date, passed: 0, failed: 0, skipped: 0, build_count: 0 })
        .collect();
    for (day, build_count, passed, failed, skipped) in rows {
        let date = NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|e| corrupt("build date", e))?;
        let slot = days.iter_mut().find(|d| d.date == date).ok_or_else(|| corrupt("build date", &day))?;
        *slot = DailyTrend { date, passed, failed, skipped, build_count };
    }
    Ok(days)
}

/// Up to five projects with failures, most failures first, ties by environment then project id, with names (one
/// statement: the totals joined to their project and environment).
fn top_failing(conn: &mut AnyConnection, scope: &Scope) -> Result<Vec<FailingProject>, StoreError> {
    let mut query = build_totals::table
        .inner_join(
            projects::table
                .on(projects::env_id.eq(build_totals::env_id).and(projects::id.eq(build_totals::project_id))),
        )
        .inner_join(environments::table.on(environments::id.eq(build_totals::env_id)))
        .select((
            build_totals::env_id,
            build_totals::project_id,
            projects::name,
            environments::name,
            build_totals::build_count,
            build_totals::passed,
            build_totals::failed,
        ))
        .filter(build_totals::failed.gt(0))
        .order((build_totals::failed.desc(), build_totals::env_id.asc(), build_totals::project_id.asc()))
        .limit(TOP_FAILING)
        .into_boxed();
    if let Some(env) = &scope.env {
        query = query.filter(build_totals::env_id.eq(env.clone()));
    }
    if let Some(project) = &scope.project {
        query = query.filter(build_totals::project_id.eq(project.clone()));
    }
    let ranked: Vec<(String, String, String, String, i64, i64, i64)> = query.load(conn).map_err(from_diesel)?;
    ranked
        .into_iter()
        .map(|(env, project, project_name, env_name, total_builds, passed, total_failed)| {
            Ok(FailingProject {
                env_id: EnvId::parse(&env).map_err(|e| corrupt("build env", e))?,
                project_id: ProjectId::parse(&project).map_err(|e| corrupt("build project", e))?,
                project_name,
                env_name,
                total_failed,
                total_builds,
                pass_rate: pass_rate(passed, total_failed),
            })
        })
        .collect()
}

/// The newest builds in scope, newest first (ties by environment, project and build id, descending).
fn newest(conn: &mut AnyConnection, scope: &Scope) -> Result<Vec<Build>, StoreError> {
    let rows: Vec<BuildRow> = scoped!(builds, builds::table.select(BuildRow::as_select()), scope)
        .order((builds::created_at.desc(), builds::env_id.desc(), builds::project_id.desc(), builds::build_id.desc()))
        .limit(TREND_BUILDS)
        .load(conn)
        .map_err(from_diesel)?;
    rows_into(rows)
}

#[async_trait]
impl OverviewQueries for Store {
    async fn overview(&self, filter: &OverviewFilter, today: NaiveDate) -> Result<Overview, StoreError> {
        let scope = Scope {
            env: filter.env_id.as_ref().map(|e| e.as_str().to_owned()),
            project: filter.project_id.as_ref().map(|p| p.as_str().to_owned()),
        };
        self.run(move |conn| {
            read_snapshot(conn, |conn| {
                let summary = summary(conn, &scope)?;
                let daily_trends = daily_trends(conn, &scope, today)?;
                let top_failing_projects = top_failing(conn, &scope)?;
                let newest = newest(conn, &scope)?;
                let project_build_trend = newest
                    .iter()
                    .rev()
                    .map(|b| BuildTrendPoint {
                        build_id: b.build_id.clone(),
                        env_id: b.env_id.clone(),
                        project_id: b.project_id.clone(),
                        created_at: b.created_at,
                        passed: b.stats.passed,
                        failed: b.stats.failed + b.stats.broken,
                        skipped: b.stats.skipped,
                    })
                    .collect();
                let recent_builds = newest.into_iter().take(RECENT_BUILDS).collect();
                Ok(Overview { summary, daily_trends, top_failing_projects, recent_builds, project_build_trend })
            })
        })
        .await
    }
}
