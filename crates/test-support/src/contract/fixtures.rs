//! The records the contract cases store, built alike for every case, and the fixed clock they are stored at.

use chrono::TimeDelta;
use hub_domain::Timestamp;
use hub_domain::ids::{BuildId, EnvId, JobId, ProjectId, UploadId};
use hub_domain::model::build::{Build, BuildStats, BuildStatus};
use hub_domain::model::environment::Environment;
use hub_domain::model::job::{GenerationJob, JobState};
use hub_domain::model::names::{DisplayName, Icon};
use hub_domain::model::project::Project;
use hub_domain::model::upload::{Phase, UploadKind, UploadSession};
use hub_domain::ports::{JobOutcome, PublishedReport};

use super::StoreFixture;
use crate::time::utc;

/// `minute` minutes after 10:00 UTC on the day the cases happen (negative: before), so cases read in minutes.
pub fn t(minute: impl Into<i64>) -> Timestamp {
    utc(2026, 4, 7, 10, 0, 0, 0) + TimeDelta::minutes(minute.into())
}

/// A canonical ULID ending in `n`, for ids whose order a case relies on.
pub fn ulid(n: u32) -> String {
    format!("01JR90ABCDEFGHJKMNPQRS{n:04}")
}

/// An environment id that is known to be valid.
pub fn env_id(id: &str) -> EnvId {
    EnvId::parse(id).unwrap()
}

/// A project id that is known to be valid.
pub fn project_id(id: &str) -> ProjectId {
    ProjectId::parse(id).unwrap()
}

/// A build id that is known to be valid.
pub fn build_id(id: &str) -> BuildId {
    BuildId::parse(id).unwrap()
}

/// The `default` environment and project `p`, where most build cases happen.
pub fn default_p() -> (EnvId, ProjectId) {
    (EnvId::default_env(), project_id("p"))
}

/// An environment named `Env <id>`.
pub fn environment(id: &str, at: Timestamp) -> Environment {
    Environment {
        id: env_id(id),
        name: DisplayName::parse(&format!("Env {id}")).unwrap(),
        icon: Icon::default(),
        created_at: at,
    }
}

/// A project named `Project <id>`.
pub fn project(env: &str, id: &str, at: Timestamp) -> Project {
    Project {
        env_id: env_id(env),
        id: project_id(id),
        name: DisplayName::parse(&format!("Project {id}")).unwrap(),
        created_at: at,
    }
}

/// Stores project `id` in the `default` environment.
pub async fn with_project(f: &StoreFixture, id: &str) {
    f.projects.insert(&project("default", id, t(0))).await.unwrap();
}

/// A receiving upload session of `build` in the `default` environment, started at `minute`.
pub fn upload(project: &str, build: &str, kind: UploadKind, minute: u32) -> UploadSession {
    upload_in("default", project, build, kind, t(minute))
}

/// A receiving upload session of `build`, started at `at`, with every optional field set so that round trips
/// are checked.
pub fn upload_in(env: &str, project: &str, build: &str, kind: UploadKind, at: Timestamp) -> UploadSession {
    UploadSession {
        id: UploadId::from(ulid::Ulid::new()),
        kind,
        env_id: env_id(env),
        project_id: project_id(project),
        build_id: build_id(build),
        file_name: Some("results.zip".into()),
        total_size: Some(300),
        total_chunks: 3,
        received_chunks: 0,
        phase: Phase::Uploading,
        failed_at_phase: None,
        error: None,
        uploaded_by: "apikey:ci".into(),
        owner: "apikey:01JR8X7Q2M5N9P3V4W6Y8Z0ABC".into(),
        sha256: Some("ab".repeat(32)),
        report_config: Some(serde_json::json!({"name": "Nightly"})),
        replace: false,
        started_at: at,
        updated_at: at,
        completed_at: None,
        report_url: None,
        stats: None,
    }
}

/// The statistics [`saved`] gives a build.
pub const SAVED_STATS: BuildStats =
    BuildStats { total: 4, passed: 1, failed: 1, broken: 1, skipped: 1, unknown: 0, duration_ms: 7500 };

/// The warning [`saved`] gives a build.
pub const SAVED_WARNING: &str = "skipped unreadable result file x-result.json";

/// The build and queued job that saving the results of `s` creates, as the upload service builds them.
pub fn saved(s: &UploadSession) -> (Build, GenerationJob) {
    let build = Build {
        env_id: s.env_id.clone(),
        project_id: s.project_id.clone(),
        build_id: s.build_id.clone(),
        status: BuildStatus::Pending,
        created_at: t(30),
        completed_at: None,
        uploaded_by: s.uploaded_by.clone(),
        has_report: false,
        report_key: None,
        stored_bytes: None,
        stats: SAVED_STATS,
        longest_test_ms: 900,
        quality_gate: None,
        warnings: vec![SAVED_WARNING.into()],
        error: None,
        config: serde_json::json!({"name": "Nightly"}),
    };
    let job = GenerationJob {
        id: JobId::from(ulid::Ulid::new()),
        env_id: s.env_id.clone(),
        project_id: s.project_id.clone(),
        build_id: s.build_id.clone(),
        upload_id: Some(s.id),
        state: JobState::Queued,
        config: serde_json::json!({"name": "Nightly"}),
        attempts: 0,
        created_at: t(30),
        started_at: None,
        finished_at: None,
        error: None,
    };
    (build, job)
}

/// An upload of `build` in project `project` of `default` saved as a build with its queued job, created at
/// `minute`, as `save_results` leaves it; returns the session.
pub async fn saved_upload(f: &StoreFixture, project: &str, build: &str, minute: u32) -> UploadSession {
    let mut s = upload(project, build, UploadKind::Stream, minute);
    f.uploads.insert(&s).await.unwrap();
    let (mut b, mut job) = saved(&s);
    b.created_at = t(minute);
    job.created_at = t(minute);
    s.phase = Phase::Generating;
    f.uploads.save_results(&s, &b, &job).await.unwrap();
    s
}

/// The node the contract's jobs run on.
pub fn node() -> hub_domain::ids::NodeId {
    hub_domain::ids::NodeId::parse("node-a").unwrap()
}

/// A lease of [`node`] that lasts beyond every time the cases use.
pub fn held() -> hub_domain::model::job::Lease {
    hub_domain::model::job::Lease { node: node(), until: t(100_000) }
}

/// How a generation that ended at `minute` went: `Ok` with the trend point it added, or `Err` with its failure.
pub fn finished(minute: u32, result: Result<Option<String>, String>) -> JobOutcome {
    let result = result.map(|point| PublishedReport { key: format!("report-{minute}"), point });
    JobOutcome { finished_at: t(minute), result, warnings: vec![], quality_gate: None }
}

/// A report published under `key`, with its history point.
pub fn published(key: &str, point: Option<&str>) -> PublishedReport {
    PublishedReport { key: key.to_owned(), point: point.map(str::to_owned) }
}
