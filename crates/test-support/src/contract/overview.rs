//! [`OverviewQueries`](hub_domain::ports::OverviewQueries) (contract §11.1): every figure of the dashboard, in
//! every kind of scope, against the [`overview_dataset`](super::overview_dataset), and after builds change.

use hub_domain::model::build::{Build, BuildStatus};
use hub_domain::model::overview::DailyTrend;
use hub_domain::model::upload::{Phase, UploadKind};
use hub_domain::ports::BuildDeletion;

use super::StoreFixture;
use super::fixtures::{build_id, env_id, project_id, saved, upload_in};
use super::overview_dataset::{
    PROJECTS, Scope, all_envs, at, expected_overview, filter, overview_seed, seed_overview, today,
};
use super::seeding::SeedBuild;

/// Asserts that the overview of `scope` shows what `seeds` say, figure by figure.
pub async fn assert_overview(
    f: &StoreFixture,
    seeds: &[SeedBuild],
    envs: &[(&str, &str)],
    projects: &[(&str, &str, &str)],
    scope: Scope<'_>,
) {
    let expected = expected_overview(seeds, envs, projects, scope);
    let actual = f.overview.overview(&filter(scope), today()).await.unwrap();
    assert_eq!(actual.summary, expected.summary, "summary of {scope:?}");
    assert_eq!(actual.daily_trends, expected.daily_trends, "daily trends of {scope:?}");
    assert_eq!(actual.top_failing_projects, expected.top_failing_projects, "top failing of {scope:?}");
    assert_eq!(actual.project_build_trend, expected.project_build_trend, "trend of {scope:?}");
    assert_eq!(actual.recent_builds, expected.recent_builds, "recent builds of {scope:?}");
}

/// The daily trends of `scope`.
async fn days(f: &StoreFixture, scope: Scope<'_>) -> Vec<DailyTrend> {
    f.overview.overview(&filter(scope), today()).await.unwrap().daily_trends
}

/// Adds `more` to `sum`, day by day.
fn add(sum: &mut [DailyTrend], more: &[DailyTrend]) {
    assert_eq!(sum.len(), more.len());
    for (s, m) in sum.iter_mut().zip(more) {
        assert_eq!(s.date, m.date);
        (s.passed, s.failed, s.skipped, s.build_count) =
            (s.passed + m.passed, s.failed + m.failed, s.skipped + m.skipped, s.build_count + m.build_count);
    }
}

/// Day by day, each environment's trend is the sum of its projects' trends and the unfiltered trend the sum of
/// the environments': a store may keep the figures of each kind of scope apart, and they must agree.
pub async fn assert_scopes_add_up(f: &StoreFixture, envs: &[(&str, &str)], projects: &[(&str, &str, &str)]) {
    let all = days(f, (None, None)).await;
    let zero = || -> Vec<DailyTrend> {
        all.iter().map(|d| DailyTrend { date: d.date, passed: 0, failed: 0, skipped: 0, build_count: 0 }).collect()
    };
    let mut envs_sum = zero();
    for &(env, _) in envs {
        let mut projects_sum = zero();
        for &(_, p, _) in projects.iter().filter(|p| p.0 == env) {
            add(&mut projects_sum, &days(f, (Some(env), Some(p))).await);
        }
        let env_days = days(f, (Some(env), None)).await;
        assert_eq!(env_days, projects_sum, "the days of {env} are its projects' days");
        add(&mut envs_sum, &env_days);
    }
    assert_eq!(all, envs_sum, "the days of all environments");
    assert!(all.iter().any(|d| d.build_count > 0), "the dataset has builds in the window");
}

/// The dataset after [`seed_and_change`]: what is left, and the replaced build as stored.
#[derive(Debug)]
pub struct Changed {
    /// The builds left, with the replaced one's new figures.
    pub seeds: Vec<SeedBuild>,
    /// The environments left (id, name).
    pub envs: Vec<(&'static str, &'static str)>,
    /// The projects left (environment, id, name).
    pub projects: Vec<(&'static str, &'static str, &'static str)>,
    /// Build `a2` as its replacing upload left it.
    pub replaced: Build,
}

/// Seeds the dataset, then changes builds every way they change: a deletion, replaced results (a new upload of
/// the same build id), and the cascades of deleting a project and an environment.
pub async fn seed_and_change(f: &StoreFixture) -> Changed {
    let mut seeds = overview_seed();
    seed_overview(f, &seeds).await;
    let mut projects = PROJECTS.to_vec();

    let deleted = f.builds.delete(&env_id("alpha"), &project_id("web"), &build_id("w4")).await.unwrap();
    assert!(matches!(deleted, BuildDeletion::Deleted { .. }));
    seeds.retain(|s| s.build != "w4");

    // A replacing upload of a2 moves it to today with new figures.
    let mut upload = upload_in("alpha", "api", "a2", UploadKind::Stream, at(0, 8, 0, 0, 0));
    upload.replace = true;
    f.uploads.insert(&upload).await.unwrap();
    let a2 = seeds.iter_mut().find(|s| s.build == "a2").unwrap();
    let before = a2.clone();
    *a2 = SeedBuild::new("alpha", "api", "a2", at(0, 9, 0, 0, 0), BuildStatus::Pending, [3, 4, 2, 1]);
    let (mut build, mut job) = saved(&upload);
    (build.created_at, build.stats, job.created_at) = (a2.at, a2.stats, a2.at);
    upload.phase = Phase::Generating;
    f.uploads.save_results(&upload, &build, &job).await.unwrap();
    // §5.1: a replacement keeps the previous report online (where it is stored, too), and when it was made, until a
    // new one is published.
    let replaced = Build {
        has_report: true,
        report_key: before.stored().report_key,
        completed_at: before.completed_at(),
        ..build
    };

    assert!(f.projects.delete(&env_id("beta"), &project_id("web")).await.unwrap());
    seeds.retain(|s| !(s.env == "beta" && s.project == "web"));
    projects.retain(|p| !(p.0 == "beta" && p.1 == "web"));
    assert!(f.envs.delete(&env_id("gamma")).await.unwrap());
    seeds.retain(|s| s.env != "gamma");
    projects.retain(|p| p.0 != "gamma");
    let envs = all_envs().into_iter().filter(|e| e.0 != "gamma").collect();
    Changed { seeds, envs, projects, replaced }
}

/// Every figure of the overview, in every kind of scope, equals what the seed says.
pub async fn overview_matches_figures_computed_from_the_seed(f: &StoreFixture) {
    let seeds = overview_seed();
    seed_overview(f, &seeds).await;
    // The dataset exercises what it claims to: a tie in the top list and a top list cut at five.
    let unfiltered = expected_overview(&seeds, &all_envs(), &PROJECTS, (None, None));
    let failed: Vec<i64> = unfiltered.top_failing_projects.iter().map(|p| p.total_failed).collect();
    assert_eq!(failed, [9, 6, 5, 5, 5], "three projects tie at 5 and a sixth failing one is cut");
    assert_eq!(unfiltered.project_build_trend.len(), 30);
    assert_eq!(unfiltered.daily_trends[0].build_count, 1, "the window's first day has w4");
    assert_eq!(unfiltered.daily_trends[29].build_count, 4, "today: w6, w7, b3, m1");
    assert_eq!(unfiltered.summary.total_environments, 4);
    for scope in [
        (None, None),
        (Some("alpha"), None),
        (Some("beta"), None),
        (Some("alpha"), Some("web")),
        (Some("beta"), Some("mobile")),
        (None, Some("web")),
        (None, Some("p3")),
        (Some("default"), None),
    ] {
        assert_overview(f, &seeds, &all_envs(), &PROJECTS, scope).await;
    }
    assert_scopes_add_up(f, &all_envs(), &PROJECTS).await;
    // The project stats read the same totals.
    let stats = f.builds.stats(&env_id("alpha"), &project_id("web")).await.unwrap();
    let web: Vec<&SeedBuild> = seeds.iter().filter(|s| s.env == "alpha" && s.project == "web").collect();
    assert_eq!(
        (stats.total_builds, stats.total_passed, stats.total_failed, stats.total_skipped),
        (
            i64::try_from(web.len()).unwrap(),
            web.iter().map(|s| s.stats.passed).sum(),
            web.iter().map(|s| s.stats.failed + s.stats.broken).sum(),
            web.iter().map(|s| s.stats.skipped).sum()
        )
    );
}

/// A filter that matches nothing gives zeros, 30 empty days and empty lists.
pub async fn overview_of_an_unknown_scope_is_empty(f: &StoreFixture) {
    let seeds = overview_seed();
    seed_overview(f, &seeds).await;
    for scope in [(Some("ghost"), None), (Some("alpha"), Some("mobile")), (None, Some("ghost"))] {
        assert_overview(f, &seeds, &all_envs(), &PROJECTS, scope).await;
        let o = f.overview.overview(&filter(scope), today()).await.unwrap();
        assert_eq!((o.summary.total_builds, o.summary.overall_pass_rate, o.daily_trends.len()), (0, 0, 30));
        assert!(o.recent_builds.is_empty() && o.project_build_trend.is_empty() && o.top_failing_projects.is_empty());
    }
    let empty_project = f.builds.stats(&env_id("default"), &project_id("none")).await.unwrap();
    assert_eq!((empty_project.total_builds, empty_project.total_passed), (0, 0));
}

/// The figures follow every way builds change: deletion, replaced results, and the cascades of deleting a
/// project or an environment; what was deleted leaves nothing behind in any scope.
pub async fn overview_follows_deletions_and_replaced_results(f: &StoreFixture) {
    let changed = seed_and_change(f).await;
    let (seeds, envs, projects) = (&changed.seeds, &changed.envs, &changed.projects);
    for scope in [(None, None), (Some("alpha"), None), (None, Some("web")), (Some("alpha"), Some("api"))] {
        let mut expected = expected_overview(seeds, envs, projects, scope);
        let actual = f.overview.overview(&filter(scope), today()).await.unwrap();
        for e in &mut expected.recent_builds {
            if e.build_id.as_str() == "a2" {
                e.clone_from(&changed.replaced);
            }
        }
        assert_eq!(actual.recent_builds, expected.recent_builds, "recent builds of {scope:?}");
        assert_eq!(
            (actual.summary, &actual.daily_trends, &actual.top_failing_projects, &actual.project_build_trend),
            (expected.summary, &expected.daily_trends, &expected.top_failing_projects, &expected.project_build_trend),
            "{scope:?}"
        );
    }
    // What was deleted is gone from every scope that names it.
    for scope in [(Some("gamma"), None), (Some("beta"), Some("web")), (None, Some("p1"))] {
        assert_overview(f, seeds, envs, projects, scope).await;
        let o = f.overview.overview(&filter(scope), today()).await.unwrap();
        assert_eq!((o.summary.total_builds, o.summary.total_projects), (0, 0), "{scope:?}");
    }
    let gone = f.builds.stats(&env_id("beta"), &project_id("web")).await.unwrap();
    assert_eq!((gone.total_builds, gone.total_passed, gone.total_failed), (0, 0, 0));
    assert_scopes_add_up(f, envs, projects).await;
}
