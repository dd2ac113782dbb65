//! The store contract suite: what every store adapter must do, one module per domain port, written against the
//! domain's ports only, and run unchanged against each backend through
//! [`store_contract_tests!`](crate::store_contract_tests).
//!
//! The cases set up what they need through the ports too: a build is made the way the domain makes one (an upload
//! session, its saved results and queued job, then the job claimed and finished; see [`seeding`]), so an adapter
//! needs nothing beyond its ports to run the suite.

use std::any::Any;
use std::sync::Arc;

use hub_domain::ports::NodeRepo;
use hub_domain::ports::{
    ApiKeyRepo, BuildRepo, CleanupRunRepo, EnvironmentRepo, JobQueue, NotificationRepo, OverviewQueries, ProjectRepo,
    SettingsRepo, StaleReports, StoreHealth, UploadSessionRepo, UserRepo,
};

pub mod api_keys;
pub mod builds;
pub mod cleanup_runs;
pub mod environments;
pub mod fixtures;
pub mod health;
pub mod jobs;
pub mod leases;
pub mod nodes;
pub mod notifications;
pub mod overview;
pub mod overview_dataset;
pub mod projects;
pub mod regeneration;
pub mod seeding;
pub mod settings;
pub mod stale_reports;
pub mod uploads;
pub mod users;

/// One store under test, through its ports, with whatever keeps its database alive.
pub struct StoreFixture {
    /// Environments.
    pub envs: Arc<dyn EnvironmentRepo>,
    /// Projects.
    pub projects: Arc<dyn ProjectRepo>,
    /// Builds.
    pub builds: Arc<dyn BuildRepo>,
    /// Upload sessions and chunks.
    pub uploads: Arc<dyn UploadSessionRepo>,
    /// Generation jobs.
    pub jobs: Arc<dyn JobQueue>,
    /// Builds whose replaced reports are still to be deleted.
    pub stale_reports: Arc<dyn StaleReports>,
    /// API keys.
    pub keys: Arc<dyn ApiKeyRepo>,
    /// Users and sessions.
    pub users: Arc<dyn UserRepo>,
    /// Persisted settings.
    pub settings: Arc<dyn SettingsRepo>,
    /// Records of cleanup sweeps.
    pub cleanup_runs: Arc<dyn CleanupRunRepo>,
    /// Notifications and their read state.
    pub notifications: Arc<dyn NotificationRepo>,
    /// The nodes' heartbeats.
    pub nodes: Arc<dyn NodeRepo>,
    /// The dashboard's figures.
    pub overview: Arc<dyn OverviewQueries>,
    /// Readiness.
    pub health: Arc<dyn StoreHealth>,
    /// Dropped last: the temporary database.
    pub guard: Box<dyn Any + Send>,
}

impl StoreFixture {
    /// A fixture for an adapter whose one store value implements every port, as most do.
    pub fn of<S>(store: Arc<S>, guard: Box<dyn Any + Send>) -> Self
    where
        S: EnvironmentRepo
            + ProjectRepo
            + BuildRepo
            + UploadSessionRepo
            + JobQueue
            + StaleReports
            + ApiKeyRepo
            + UserRepo
            + SettingsRepo
            + CleanupRunRepo
            + NotificationRepo
            + NodeRepo
            + OverviewQueries
            + StoreHealth,
    {
        Self {
            envs: store.clone(),
            projects: store.clone(),
            builds: store.clone(),
            uploads: store.clone(),
            jobs: store.clone(),
            stale_reports: store.clone(),
            keys: store.clone(),
            users: store.clone(),
            settings: store.clone(),
            cleanup_runs: store.clone(),
            notifications: store.clone(),
            nodes: store.clone(),
            overview: store.clone(),
            health: store,
            guard,
        }
    }
}

impl std::fmt::Debug for StoreFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreFixture").finish_non_exhaustive()
    }
}

/// Declares, in a module per port, one `#[tokio::test]` per contract case, each with a fresh store from
/// `$fixture`: an async function of the invoking module returning `Option<StoreFixture>` (`None` skips the case,
/// as when no database server answers). An adapter invokes it once per backend.
#[macro_export]
macro_rules! store_contract_tests {
    ($fixture:ident) => {
        $crate::store_contract_tests!(@ports $fixture;
            environments: [
                default_environment_is_seeded,
                environments_are_listed_newest_first_with_ties_by_id,
                timestamps_round_trip_with_millisecond_precision,
                a_taken_environment_id_conflicts,
                concurrent_creates_of_one_id_let_exactly_one_win,
                updates_change_only_the_given_fields,
                updating_a_missing_environment_returns_none,
                deleting_an_environment_removes_everything_under_it,
                project_counts_follow_inserts_and_deletes,
            ],
            projects: [
                projects_are_listed_newest_first_with_build_figures,
                latest_build_ties_go_to_the_highest_build_id,
                a_taken_project_id_conflicts_only_within_its_environment,
                a_project_needs_an_existing_environment,
                deleting_a_project_leaves_its_namesakes_alone,
                all_ids_include_environments_without_projects,
            ],
            builds: [
                builds_are_listed_newest_first_filtered_by_outcome_and_paged,
                project_stats_sum_every_build_and_trend_the_newest,
                deleting_a_build_waits_for_its_work_and_keeps_its_sessions,
                expired_builds_come_oldest_first_and_continue_after_a_key,
                stored_bytes_are_kept_per_build_and_summed_per_project,
            ],
            uploads: [
                one_upload_of_a_build_is_in_flight_at_a_time,
                chunks_are_counted_once_per_index,
                saving_results_stores_build_job_and_session_together,
                upload_sessions_are_listed_newest_first_and_filtered,
                finished_upload_sessions_are_pruned_with_their_chunks,
            ],
            jobs: [
                jobs_run_one_per_project_up_to_the_limit,
                a_finished_job_settles_its_build_and_session,
                interrupted_jobs_are_queued_again_until_they_fail,
                a_job_stopped_by_a_shutdown_is_queued_again_without_an_attempt,
                jobs_are_counted_by_state,
            ],
            leases: [
                each_node_runs_up_to_its_limit_and_a_project_one_job_on_any_node,
                a_job_whose_lease_ran_out_goes_to_another_node,
                a_restarted_node_takes_back_only_its_own_jobs,
                nodes_claiming_at_once_take_distinct_jobs_and_one_per_project,
            ],
            stale_reports: [
                a_switch_that_leaves_a_report_behind_records_the_build_until_it_is_forgotten,
                stale_builds_are_listed_by_key_and_go_with_their_build,
                a_job_interrupted_too_often_records_its_build,
            ],
            regeneration: [
                regenerating_an_idle_build_queues_a_job_with_a_new_session,
                regenerating_a_queued_build_replaces_its_config_without_a_second_job,
                regenerating_a_running_build_queues_one_follow_up,
                regeneration_waits_for_uploads_in_progress_and_needs_the_build,
            ],
            api_keys: [
                api_keys_are_found_by_hash_and_revoked_softly,
                active_key_names_are_unique_case_insensitively,
                key_search_is_a_literal_case_insensitive_substring,
            ],
            users: [
                users_are_upserted_and_listed_by_latest_sign_in,
                role_overrides_revoke_the_users_sessions,
                expired_sessions_are_not_found,
            ],
            settings: [
                settings_are_stored_by_name_and_replaced,
                concurrent_first_writes_of_a_setting_all_succeed,
            ],
            cleanup_runs: [
                only_the_newest_cleanup_runs_are_kept,
            ],
            notifications: [
                read_state_is_per_principal,
                audiences_hide_operational_notifications,
                hiding_is_per_principal_and_final,
                marking_all_read_covers_only_what_the_viewer_sees,
                notifications_are_listed_newest_first_with_ties_by_id,
                pruning_notifications_removes_their_states,
            ],
            nodes: [
                heartbeats_keep_one_row_per_node_listed_by_id,
                stopped_and_long_gone_nodes_leave_the_table,
                live_nodes_count_the_jobs_they_run,
            ],
            overview: [
                overview_matches_figures_computed_from_the_seed,
                overview_follows_deletions_and_replaced_results,
                overview_of_an_unknown_scope_is_empty,
            ],
            health: [
                the_store_answers_a_ping,
            ],
        );
    };
    (@ports $fixture:ident; $($port:ident: [$($case:ident),+ $(,)?]),+ $(,)?) => {
        $(
            mod $port {
                $(
                    #[tokio::test]
                    async fn $case() {
                        let Some(fixture) = super::$fixture().await else { return };
                        $crate::contract::$port::$case(&fixture).await;
                    }
                )+
            }
        )+
    };
}

#[cfg(test)]
mod tests {
    /// Each port module's source, by the name the macro gives its test module.
    const MODULES: [(&str, &str); 16] = [
        ("environments", include_str!("contract/environments.rs")),
        ("projects", include_str!("contract/projects.rs")),
        ("builds", include_str!("contract/builds.rs")),
        ("uploads", include_str!("contract/uploads.rs")),
        ("jobs", include_str!("contract/jobs.rs")),
        ("leases", include_str!("contract/leases.rs")),
        ("stale_reports", include_str!("contract/stale_reports.rs")),
        ("regeneration", include_str!("contract/regeneration.rs")),
        ("api_keys", include_str!("contract/api_keys.rs")),
        ("users", include_str!("contract/users.rs")),
        ("settings", include_str!("contract/settings.rs")),
        ("cleanup_runs", include_str!("contract/cleanup_runs.rs")),
        ("notifications", include_str!("contract/notifications.rs")),
        ("nodes", include_str!("contract/nodes.rs")),
        ("overview", include_str!("contract/overview.rs")),
        ("health", include_str!("contract/health.rs")),
    ];

    /// The cases a module defines: its public functions taking the fixture alone.
    fn cases(source: &str) -> Vec<&str> {
        source
            .lines()
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .filter_map(|rest| rest.strip_suffix("(f: &StoreFixture) {"))
            .collect()
    }

    /// The cases the macro lists for a module.
    fn listed<'a>(macro_source: &'a str, module: &str) -> Vec<&'a str> {
        let start = macro_source.find(&format!("            {module}: [")).unwrap();
        let list = &macro_source[start..];
        let list = &list[list.find('[').unwrap() + 1..list.find(']').unwrap()];
        list.split(',').map(str::trim).filter(|c| !c.is_empty()).collect()
    }

    #[test]
    fn the_macro_runs_every_case_of_every_port_module() {
        let root = include_str!("contract.rs");
        let macro_source = &root[root.find("macro_rules! store_contract_tests").unwrap()..];
        let mut total = 0;
        for (module, source) in MODULES {
            let mut defined = cases(source);
            let mut run = listed(macro_source, module);
            assert!(!defined.is_empty(), "{module} defines no case");
            defined.sort_unstable();
            run.sort_unstable();
            assert_eq!(run, defined, "the cases of {module}");
            total += defined.len();
        }
        assert_eq!(total, 63, "every case of the two former suites, and those added since");
    }
}
