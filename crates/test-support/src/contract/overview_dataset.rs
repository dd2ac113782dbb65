//! The overview's dataset (builds across days, statuses, environments and projects) and the figures the overview
//! must show for it, computed in plain Rust from the same list, so a store's sums are checked against arithmetic
//! rather than against another query.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeDelta};
use hub_domain::Timestamp;
use hub_domain::model::build::{BuildStatus, pass_rate};
use hub_domain::model::names::DisplayName;
use hub_domain::model::overview::{
    BuildTrendPoint, DailyTrend, FailingProject, Overview, OverviewFilter, OverviewSummary,
};

use super::StoreFixture;
use super::fixtures::{build_id, env_id, environment, project, project_id, t};
use super::seeding::{SeedBuild, seed_builds};
use crate::time::utc;

/// An overview scope: environment and project ids, each optional.
pub type Scope<'a> = (Option<&'a str>, Option<&'a str>);

/// The day the overview cases call today.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 4, 7).unwrap()
}

/// `days_ago` days before today at the given UTC time of day.
pub fn at(days_ago: i64, h: u32, m: u32, s: u32, ms: u32) -> Timestamp {
    utc(2026, 4, 7, h, m, s, ms) - TimeDelta::days(days_ago)
}

/// Environments (id, name) of the dataset besides `default`.
pub const ENVS: [(&str, &str); 3] = [("alpha", "Alpha"), ("beta", "Beta"), ("gamma", "Gamma")];

/// Projects (environment, id, name) of the dataset.
pub const PROJECTS: [(&str, &str, &str); 10] = [
    ("alpha", "web", "Web Shop"),
    ("alpha", "api", "Public API"),
    ("beta", "web", "Web Shop (beta)"),
    ("beta", "mobile", "Mobile App"),
    ("gamma", "p1", "P1"),
    ("gamma", "p2", "P2"),
    ("gamma", "p3", "P3"),
    ("gamma", "p4", "P4"),
    ("gamma", "p5", "P5"),
    ("gamma", "p6", "P6"),
];

/// All environments (id, name), `default` included.
pub fn all_envs() -> Vec<(&'static str, &'static str)> {
    let mut envs = vec![("default", "Default")];
    envs.extend(ENVS);
    envs
}

/// Builds across days: today (its first and last millisecond), the window's first day (today − 29), just outside
/// it (30, 31 days ago) and long before; every status; failed and broken; equal creation times across projects;
/// more builds than the trend holds; more failing projects than the top list holds, with equal failure totals.
pub fn overview_seed() -> Vec<SeedBuild> {
    use BuildStatus::{Failed, Generating, Pending};
    let ready = SeedBuild::ready;
    let mut seeds = vec![
        ready("alpha", "web", "w1", at(45, 10, 0, 0, 0), [10, 2, 1, 1]),
        ready("alpha", "web", "w2", at(31, 23, 59, 59, 999), [8, 0, 0, 2]),
        ready("alpha", "web", "w3", at(30, 0, 0, 0, 0), [5, 1, 0, 0]),
        ready("alpha", "web", "w4", at(29, 0, 0, 0, 0), [7, 1, 1, 0]),
        SeedBuild::new("alpha", "web", "w5", at(3, 12, 0, 0, 0), Failed, [9, 0, 2, 1]),
        SeedBuild::new("alpha", "web", "w6", at(0, 0, 0, 0, 0), Pending, [11, 1, 0, 0]),
        SeedBuild::new("alpha", "web", "w7", at(0, 23, 59, 59, 999), Generating, [4, 0, 0, 3]),
        ready("alpha", "api", "a1", at(10, 8, 0, 0, 0), [20, 3, 0, 0]),
        ready("alpha", "api", "a2", at(3, 12, 0, 0, 0), [15, 1, 1, 2]),
        ready("alpha", "api", "a3", at(1, 9, 30, 0, 0), [0, 0, 0, 0]),
        ready("beta", "web", "b1", at(60, 7, 0, 0, 0), [30, 3, 2, 0]),
        ready("beta", "web", "b2", at(2, 7, 0, 0, 0), [12, 0, 0, 0]),
        ready("beta", "web", "b3", at(0, 8, 0, 0, 0), [13, 0, 0, 1]),
        ready("beta", "mobile", "m1", at(0, 8, 0, 0, 0), [6, 0, 0, 0]),
    ];
    for i in 0..20_i64 {
        let days_ago = 4 + i;
        seeds.push(ready("beta", "mobile", &format!("m-{i:02}"), at(days_ago, 6, 0, 0, 0), [i, 0, 0, 1]));
    }
    for (k, project) in ["p1", "p2", "p3", "p4", "p5", "p6"].into_iter().enumerate() {
        let k = i64::try_from(k).unwrap() + 1;
        seeds.push(ready("gamma", project, "g1", at(40, 12, 0, 0, 0), [1, k, 0, 0]));
    }
    seeds
}

/// Stores the dataset's environments, projects and `seeds` through the ports.
pub async fn seed_overview(f: &StoreFixture, seeds: &[SeedBuild]) {
    for (id, name) in ENVS {
        let mut env = environment(id, t(0));
        env.name = DisplayName::parse(name).unwrap();
        f.envs.insert(&env).await.unwrap();
    }
    for (env, id, name) in PROJECTS {
        let mut p = project(env, id, t(0));
        p.name = DisplayName::parse(name).unwrap();
        f.projects.insert(&p).await.unwrap();
    }
    seed_builds(f, seeds).await;
}

/// The query of `scope`.
pub fn filter(scope: Scope<'_>) -> OverviewFilter {
    OverviewFilter { env_id: scope.0.map(env_id), project_id: scope.1.map(project_id) }
}

/// What the overview must say about `seeds`, computed in plain Rust from the seed list.
pub fn expected_overview(
    seeds: &[SeedBuild],
    envs: &[(&str, &str)],
    projects: &[(&str, &str, &str)],
    scope: Scope<'_>,
) -> Overview {
    let (env, project) = scope;
    let in_scope = |e: &str, p: &str| env.is_none_or(|x| x == e) && project.is_none_or(|x| x == p);
    let scoped: Vec<&SeedBuild> = seeds.iter().filter(|s| in_scope(s.env, s.project)).collect();
    let failed = |s: &SeedBuild| s.stats.failed + s.stats.broken;
    let total_passed: i64 = scoped.iter().map(|s| s.stats.passed).sum();
    let total_failed: i64 = scoped.iter().map(|s| failed(s)).sum();
    let summary = OverviewSummary {
        total_environments: match env {
            Some(e) => i64::from(envs.iter().any(|(id, _)| *id == e)),
            None => i64::try_from(envs.len()).unwrap(),
        },
        total_projects: i64::try_from(projects.iter().filter(|(e, p, _)| in_scope(e, p)).count()).unwrap(),
        total_builds: i64::try_from(scoped.len()).unwrap(),
        total_passed,
        total_failed,
        overall_pass_rate: pass_rate(total_passed, total_failed),
    };
    let daily_trends = (0..30)
        .rev()
        .map(|ago| {
            let date = today() - TimeDelta::days(ago);
            let day: Vec<&&SeedBuild> = scoped.iter().filter(|s| s.at.date_naive() == date).collect();
            DailyTrend {
                date,
                passed: day.iter().map(|s| s.stats.passed).sum(),
                failed: day.iter().map(|s| failed(s)).sum(),
                skipped: day.iter().map(|s| s.stats.skipped).sum(),
                build_count: i64::try_from(day.len()).unwrap(),
            }
        })
        .collect();
    let mut per_project: BTreeMap<(&str, &str), (i64, i64, i64)> = BTreeMap::new();
    for s in &scoped {
        let entry = per_project.entry((s.env, s.project)).or_default();
        *entry = (entry.0 + 1, entry.1 + s.stats.passed, entry.2 + failed(s));
    }
    let mut failing: Vec<_> = per_project.into_iter().filter(|(_, v)| v.2 > 0).collect();
    failing.sort_by(|a, b| b.1.2.cmp(&a.1.2).then(a.0.0.cmp(b.0.0)).then(a.0.1.cmp(b.0.1)));
    let name_of = |e: &str, p: &str| projects.iter().find(|x| x.0 == e && x.1 == p).unwrap().2.to_owned();
    let env_name = |e: &str| envs.iter().find(|x| x.0 == e).unwrap().1.to_owned();
    let top_failing_projects = failing
        .into_iter()
        .take(5)
        .map(|((e, p), (builds, passed, failed))| FailingProject {
            env_id: env_id(e),
            project_id: project_id(p),
            project_name: name_of(e, p),
            env_name: env_name(e),
            total_failed: failed,
            total_builds: builds,
            pass_rate: pass_rate(passed, failed),
        })
        .collect();
    let mut newest = scoped.clone();
    newest.sort_by(|a, b| {
        b.at.cmp(&a.at).then(b.env.cmp(a.env)).then(b.project.cmp(a.project)).then(b.build.cmp(&a.build))
    });
    newest.truncate(30);
    let project_build_trend = newest
        .iter()
        .rev()
        .map(|s| BuildTrendPoint {
            build_id: build_id(&s.build),
            env_id: env_id(s.env),
            project_id: project_id(s.project),
            created_at: s.at,
            passed: s.stats.passed,
            failed: failed(s),
            skipped: s.stats.skipped,
        })
        .collect();
    // Full rows as the seeding stores them: compared field by field against what the store returns.
    let recent_builds = newest.iter().take(10).map(|s| s.stored()).collect();
    Overview { summary, daily_trends, top_failing_projects, recent_builds, project_build_trend }
}
