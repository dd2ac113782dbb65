//! Builds in any status, made through the ports the way the domain makes them: an upload session is stored, its
//! results are saved (the build `pending` with its queued job), and the job is claimed (`generating`) and finished
//! (`ready` or `failed`). No adapter needs a way to write builds directly to run the suite.

use chrono::TimeDelta;
use hub_domain::Timestamp;
use hub_domain::ids::JobId;
use hub_domain::model::build::{Build, BuildStats, BuildStatus, BuildSummary};
use hub_domain::model::job::{GenerationJob, JobState};
use hub_domain::model::upload::{Phase, UploadKind};
use hub_domain::ports::{JobOutcome, PublishedReport};

use super::StoreFixture;
use super::fixtures::{build_id, env_id, project_id, upload_in};

/// The report key of every seeded build that is ready.
pub const SEEDED_REPORT_KEY: &str = "seeded";
/// The failure text of every seeded build that failed.
pub const SEEDED_FAILURE: &str = "allure generate exited with status 1";

/// Who uploaded every seeded build.
pub const SEEDED_UPLOADER: &str = "apikey:ci";

/// How long after its creation a seeded `ready` or `failed` build finished generating.
pub const SEEDED_GENERATION: TimeDelta = TimeDelta::seconds(30);

/// A build to seed: where, when, in which status and with which test outcomes.
#[derive(Debug, Clone)]
pub struct SeedBuild {
    /// Environment id.
    pub env: &'static str,
    /// Project id.
    pub project: &'static str,
    /// Build id.
    pub build: String,
    /// When its results are saved.
    pub at: Timestamp,
    /// The status it is left in.
    pub status: BuildStatus,
    /// Its statistics.
    pub stats: BuildStats,
}

impl SeedBuild {
    /// A build with these test outcomes (`[passed, failed, broken, skipped]`).
    pub fn new(
        env: &'static str,
        project: &'static str,
        build: &str,
        at: Timestamp,
        status: BuildStatus,
        outcomes: [i64; 4],
    ) -> Self {
        let [passed, failed, broken, skipped] = outcomes;
        let stats = BuildStats {
            total: passed + failed + broken + skipped,
            passed,
            failed,
            broken,
            skipped,
            unknown: 0,
            duration_ms: 1000,
        };
        Self { env, project, build: build.to_owned(), at, status, stats }
    }

    /// A `ready` build with these test outcomes (`[passed, failed, broken, skipped]`).
    pub fn ready(env: &'static str, project: &'static str, build: &str, at: Timestamp, outcomes: [i64; 4]) -> Self {
        Self::new(env, project, build, at, BuildStatus::Ready, outcomes)
    }

    /// When its generation finished: only `ready` and `failed` builds have finished one.
    pub fn completed_at(&self) -> Option<Timestamp> {
        matches!(self.status, BuildStatus::Ready | BuildStatus::Failed).then(|| self.at + SEEDED_GENERATION)
    }

    /// The build as project lists show it.
    pub fn summary(&self) -> BuildSummary {
        BuildSummary {
            env_id: env_id(self.env),
            project_id: project_id(self.project),
            build_id: build_id(&self.build),
            status: self.status,
            created_at: self.at,
            completed_at: self.completed_at(),
            stats: self.stats,
        }
    }

    /// The build as the store holds it once seeded.
    pub fn stored(&self) -> Build {
        Build {
            env_id: env_id(self.env),
            project_id: project_id(self.project),
            build_id: build_id(&self.build),
            status: self.status,
            created_at: self.at,
            completed_at: self.completed_at(),
            uploaded_by: SEEDED_UPLOADER.into(),
            has_report: self.status == BuildStatus::Ready,
            report_key: (self.status == BuildStatus::Ready).then(|| SEEDED_REPORT_KEY.to_owned()),
            stored_bytes: None,
            stats: self.stats,
            longest_test_ms: 0,
            quality_gate: None,
            warnings: vec![],
            error: (self.status == BuildStatus::Failed).then(|| SEEDED_FAILURE.to_owned()),
            config: serde_json::json!({}),
        }
    }
}

/// Where a build's status puts it in the seeding order: a job is claimed only while no job of its project runs,
/// and the oldest queued job is claimed first, so finished builds come first, then running ones, then waiting ones.
fn rank(status: BuildStatus) -> u8 {
    match status {
        BuildStatus::Ready | BuildStatus::Failed => 0,
        BuildStatus::Generating => 1,
        BuildStatus::Pending => 2,
    }
}

/// Stores the builds through the ports, in their statuses; their projects must exist and no job may be queued.
///
/// # Panics
/// When a port fails, or when the claimed job is not the seeded build's (another job was waiting).
pub async fn seed_builds(f: &StoreFixture, seeds: &[SeedBuild]) {
    let mut ordered: Vec<&SeedBuild> = seeds.iter().collect();
    ordered.sort_by_key(|s| rank(s.status));
    for seed in ordered {
        seed_build(f, seed).await;
    }
}

async fn seed_build(f: &StoreFixture, seed: &SeedBuild) {
    let mut session = upload_in(seed.env, seed.project, &seed.build, UploadKind::Stream, seed.at);
    session.uploaded_by = SEEDED_UPLOADER.into();
    f.uploads.insert(&session).await.unwrap();
    let pending =
        Build { status: BuildStatus::Pending, completed_at: None, has_report: false, error: None, ..seed.stored() };
    let job = GenerationJob {
        id: JobId::from(ulid::Ulid::new()),
        env_id: pending.env_id.clone(),
        project_id: pending.project_id.clone(),
        build_id: pending.build_id.clone(),
        upload_id: Some(session.id),
        state: JobState::Queued,
        config: serde_json::json!({}),
        attempts: 0,
        created_at: seed.at,
        started_at: None,
        finished_at: None,
        error: None,
    };
    session.phase = Phase::Generating;
    session.stats = Some(seed.stats);
    f.uploads.save_results(&session, &pending, &job).await.unwrap();
    if seed.status == BuildStatus::Pending {
        return;
    }
    let claimed = f.jobs.claim_next(i64::MAX, seed.at, &super::fixtures::held()).await.unwrap();
    assert_eq!(claimed.map(|j| j.id), Some(job.id), "seeding {} claims its own job", seed.build);
    let result = match seed.status {
        BuildStatus::Ready => Ok(PublishedReport { key: SEEDED_REPORT_KEY.to_owned(), point: None }),
        BuildStatus::Failed => Err(SEEDED_FAILURE.to_owned()),
        BuildStatus::Generating | BuildStatus::Pending => return,
    };
    let finished_at = seed.at + SEEDED_GENERATION;
    f.jobs
        .finish(
            &job,
            &super::fixtures::node(),
            &JobOutcome { finished_at, result, warnings: vec![], quality_gate: None },
        )
        .await
        .unwrap();
}
