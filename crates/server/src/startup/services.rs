//! Start-up, step two: the use cases, each built once from the adapters through its ports struct, gathered in the
//! one [`Services`] value the API and the web UI share.

use std::sync::Arc;

use anyhow::Context;
use hub_domain::ids::Email;
use hub_domain::model::notification::Notification;
use hub_domain::model::upload::UploadSession;
use hub_domain::ports::{EventBus, ResultStore, UploadEvent};
use hub_domain::services::{
    ApiKeyPorts, ApiKeyService, AuthPorts, AuthService, AuthSettings, Breakdown, DiskPorts, DiskService,
    EnvironmentPorts, EnvironmentService, GenerationPorts, GenerationService, JobHolder, NotificationPorts,
    NotificationService, OverviewPorts, OverviewService, ProjectPorts, ProjectService, ReportPorts, ReportService,
    RetentionConfig, RetentionPorts, RetentionService, Services, StaleReportPorts, StaleReportService,
    StoredBytesPorts, StoredBytesService, UploadPorts, UploadService, UploadTimeouts, UserPorts, UserService,
};
use hub_domain::services::{NodePorts, NodeService};
use tokio::sync::{Notify, mpsc};

use super::adapters::Adapters;
use crate::config::{Config, Secret, StorageConfig};
use crate::events::BroadcastBus;
use crate::outcomes::OutcomeTap;
use crate::stored_bytes::LoggedSizes;
use crate::system::RandomIds;

/// The services, and what ties them to the workers of step three.
pub(super) struct Wired {
    /// Every use case the driving adapters call.
    pub services: Services,
    /// The generation jobs, run by the dispatcher only.
    pub generation: GenerationService,
    /// Session changes, for the worker that turns endings into notifications and metrics.
    pub endings: mpsc::UnboundedReceiver<UploadSession>,
    /// Wakes the dispatcher when a job is queued.
    pub job_queued: Arc<Notify>,
    /// Asks the disk check for a measurement (after an accepted upload).
    pub disk_check_now: Arc<Notify>,
    /// Measures the builds without a kept stored size, at start-up.
    pub stored_bytes: StoredBytesService,
    /// Deletes the reports that recorded builds no longer name, at start-up and after an outage.
    pub stale_reports: StaleReportService,
    /// Tells the sweep of replaced reports that a generation left one behind.
    pub report_left: Arc<Notify>,
}

/// Builds every service, and the local admin account when local sign-in is enabled.
///
/// # Errors
/// When a setting is out of range, or the admin account cannot be stored.
pub(super) async fn wire(config: &Config, a: &Adapters) -> anyhow::Result<Wired> {
    let store = &a.store;
    // Every service measures builds through this one: a measurement that fails is logged once, with its build.
    let results: Arc<dyn ResultStore> = Arc::new(LoggedSizes(a.storage.results.clone()));
    let auth = Arc::new(
        AuthService::new(
            AuthPorts {
                keys: store.clone(),
                users: store.clone(),
                policy: a.policy.clone(),
                hasher: a.hasher.clone(),
                secrets: a.secrets.clone(),
                clock: a.clock.clone(),
            },
            AuthSettings {
                session_ttl: chrono::TimeDelta::from_std(config.auth.session_ttl)
                    .context("SESSION_TTL is too large")?,
                local_login: config.auth.local_login,
            },
        )
        .await?,
    );
    if config.auth.local_login {
        let email = Email::parse(&config.auth.admin_email).map_err(|_| anyhow::anyhow!("invalid ADMIN_EMAIL"))?;
        let admin_password = config.auth.admin_password.as_ref().map(Secret::expose);
        if let Some(password) = auth.ensure_admin_account(&email, admin_password).await? {
            tracing::warn!(
                email = %email,
                password = %password,
                "created the local admin account with a generated password; it is shown only this once"
            );
        }
    }

    let notifications = NotificationService::new(NotificationPorts {
        repo: store.clone(),
        bus: Arc::new(BroadcastBus::<Notification>::default()),
        builds: store.clone(),
        envs: store.clone(),
        projects: store.clone(),
        settings: store.clone(),
        clock: a.clock.clone(),
        ids: Arc::new(RandomIds),
    });
    // Every session change goes through this bus; endings also become notifications and metrics (step three).
    let job_queued = Arc::new(Notify::new());
    let (tap, endings) = OutcomeTap::new(Arc::new(BroadcastBus::<UploadEvent>::default()), Arc::clone(&job_queued));
    let events: Arc<dyn EventBus> = Arc::new(tap);
    let uploads = UploadService::new(
        UploadPorts {
            sessions: store.clone(),
            builds: store.clone(),
            envs: store.clone(),
            projects: store.clone(),
            files: a.storage.uploads.clone(),
            results: results.clone(),
            events: events.clone(),
            clock: a.clock.clone(),
            ids: Arc::new(RandomIds),
        },
        config.uploads.limits,
        UploadTimeouts { idle: config.uploads.idle_timeout, stale_after: config.uploads.stale_after },
        Arc::clone(&a.report_config),
    );
    let generation = GenerationService::new(
        GenerationPorts {
            queue: store.clone(),
            builds: store.clone(),
            files: a.storage.generation.clone(),
            results: results.clone(),
            stale: store.clone(),
            generator: Arc::new(a.cli.runner.clone()),
            events: events.clone(),
            clock: a.clock.clone(),
        },
        config.allure.history_limit,
        JobHolder { node: config.node_id.clone(), lease: config.allure.job_lease },
    );
    let reports = ReportService::new(ReportPorts {
        envs: store.clone(),
        projects: store.clone(),
        builds: store.clone(),
        files: results.clone(),
        history: a.storage.generation.clone(),
        jobs: store.clone(),
        events,
        clock: a.clock.clone(),
        ids: Arc::new(RandomIds),
        report_config: Arc::clone(&a.report_config),
    });
    let retention = RetentionService::new(
        RetentionPorts {
            settings: store.clone(),
            runs: store.clone(),
            builds: store.clone(),
            uploads: store.clone(),
            files: results.clone(),
            reports: Arc::new(reports.clone()),
            notifications: Arc::new(notifications.clone()),
            clock: a.clock.clone(),
            ids: Arc::new(RandomIds),
        },
        RetentionConfig {
            seed: config.background.retention_seed,
            enabled: config.background.cleanup_enabled,
            started_at: a.clock.now(),
        },
    );
    // Object storage leaves only scratch work in DATA_DIR: its projects' sizes are those kept with their builds.
    let breakdown = match config.storage {
        StorageConfig::Filesystem => Breakdown::DataDir,
        StorageConfig::S3 { .. } => Breakdown::StoredBytes,
    };
    let disk_ports = DiskPorts {
        probe: a.disk_probe.clone(),
        builds: store.clone(),
        settings: store.clone(),
        notifications: Arc::new(notifications.clone()),
        clock: a.clock.clone(),
    };
    let disk = DiskService::new(disk_ports, breakdown);
    let services = Services {
        users: UserService::new(UserPorts {
            users: store.clone(),
            auth: auth.clone(),
            policy: a.policy.clone(),
            clock: a.clock.clone(),
        }),
        api_keys: ApiKeyService::new(ApiKeyPorts {
            keys: store.clone(),
            ids: Arc::new(RandomIds),
            secrets: a.secrets.clone(),
            clock: a.clock.clone(),
        }),
        environments: EnvironmentService::new(EnvironmentPorts {
            envs: store.clone(),
            files: results.clone(),
            clock: a.clock.clone(),
        }),
        projects: ProjectService::new(ProjectPorts {
            envs: store.clone(),
            projects: store.clone(),
            files: results.clone(),
            clock: a.clock.clone(),
        }),
        overview: OverviewService::new(OverviewPorts { queries: store.clone(), clock: a.clock.clone() }),
        auth,
        uploads,
        reports,
        notifications,
        disk,
        retention,
        nodes: NodeService::new(
            NodePorts { nodes: store.clone(), cli: Arc::new(a.cli.manager.clone()), clock: a.clock.clone() },
            config.node_id.clone(),
            super::version_info().version,
        ),
        allure: Arc::new(a.cli.manager.clone()),
        identity: a.identity.clone(),
        health: store.clone(),
        report_files: a.storage.reports.clone(),
        storage: a.storage.health.clone(),
    };
    let stored_bytes = StoredBytesService::new(StoredBytesPorts { builds: store.clone(), files: results.clone() });
    let stale_reports = StaleReportService::new(StaleReportPorts {
        stale: store.clone(),
        builds: store.clone(),
        files: a.storage.generation.clone(),
    });
    Ok(Wired {
        services,
        generation,
        endings,
        job_queued,
        disk_check_now: Arc::new(Notify::new()),
        stored_bytes,
        stale_reports,
        report_left: Arc::new(Notify::new()),
    })
}
