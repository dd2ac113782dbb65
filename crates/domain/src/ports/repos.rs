//! Repository ports: the database seen as collections of domain entities.
//!
//! Every method may fail with [`StoreError::Unavailable`] (no database) or [`StoreError::Internal`]; the other
//! variants each method can return are listed on it.

use async_trait::async_trait;

use crate::Timestamp;
use crate::ids::{ApiKeyId, BuildId, CleanupRunId, Email, EnvId, NodeId, NotificationId, ProjectId, UploadId};
use crate::model::api_key::ApiKey;
use crate::model::build::{Build, BuildNeighbours, BuildStatus, OutcomeFilter, ProjectStats};
use crate::model::disk::ProjectBytes;
use crate::model::environment::{Environment, EnvironmentPatch, EnvironmentView};
use crate::model::job::{GenerationJob, Lease};
use crate::model::notification::{Notification, NotificationView};
use crate::model::overview::{Overview, OverviewFilter};
use crate::model::page::{Page, PageRequest};
use crate::model::project::{Project, ProjectView};
use crate::model::retention::CleanupRun;
use crate::model::upload::UploadSession;
use crate::model::user::{LoginSession, User};
use crate::ports::errors::StoreError;

/// Whether the database answers; backs the readiness check.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait StoreHealth: Send + Sync + 'static {
    /// Runs a trivial query.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database does not answer.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Environments.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EnvironmentRepo: Send + Sync + 'static {
    /// Every environment with its project count, newest first, ties by id ascending.
    async fn list(&self) -> Result<Vec<EnvironmentView>, StoreError>;

    /// One environment with its project count.
    async fn get(&self, id: &EnvId) -> Result<Option<EnvironmentView>, StoreError>;

    /// Whether the environment exists (a primary-key lookup, without counting its projects).
    async fn exists(&self, id: &EnvId) -> Result<bool, StoreError>;

    /// Stores a new environment.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the id is taken.
    async fn insert(&self, env: &Environment) -> Result<(), StoreError>;

    /// Applies a partial update and returns the result; `None` when the environment does not exist.
    async fn update(&self, id: &EnvId, patch: &EnvironmentPatch) -> Result<Option<EnvironmentView>, StoreError>;

    /// Deletes the environment and, in the same transaction, everything recorded under it. `false` when it did
    /// not exist.
    async fn delete(&self, id: &EnvId) -> Result<bool, StoreError>;
}

/// Projects.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProjectRepo: Send + Sync + 'static {
    /// The environment's projects with build counts and latest builds, newest first, ties by id ascending.
    async fn list(&self, env: &EnvId) -> Result<Vec<ProjectView>, StoreError>;

    /// Every project id of every environment, for reconciling files with records.
    async fn list_all_ids(&self) -> Result<Vec<(EnvId, Vec<ProjectId>)>, StoreError>;

    /// One project with its build count and latest build.
    async fn get(&self, env: &EnvId, id: &ProjectId) -> Result<Option<ProjectView>, StoreError>;

    /// Whether the project exists (a primary-key lookup, cheaper than [`ProjectRepo::get`]).
    async fn exists(&self, env: &EnvId, id: &ProjectId) -> Result<bool, StoreError>;

    /// Stores a new project.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the id is taken in the environment; [`StoreError::MissingParent`] when the
    /// environment does not exist.
    async fn insert(&self, project: &Project) -> Result<(), StoreError>;

    /// Deletes the project and, in the same transaction, everything recorded under it. `false` when it did not
    /// exist.
    async fn delete(&self, env: &EnvId, id: &ProjectId) -> Result<bool, StoreError>;
}

/// What deleting a build found (contract §8.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildDeletion {
    /// The build was deleted; its files and this trend point (if any) are to be removed next.
    Deleted {
        /// The point its last generation added to the project history.
        history_entry: Option<String>,
    },
    /// No such build.
    NotFound,
    /// A job of the build is queued or running; nothing was deleted.
    Generating,
    /// An upload of the build is receiving or assembling; nothing was deleted.
    UploadInProgress,
}

/// Builds.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait BuildRepo: Send + Sync + 'static {
    /// The status of a build; `None` when the project has no build with this id.
    async fn status(
        &self,
        env: &EnvId,
        project: &ProjectId,
        build: &BuildId,
    ) -> Result<Option<BuildStatus>, StoreError>;

    /// One build.
    async fn get(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> Result<Option<Build>, StoreError>;

    /// A page of the project's builds, newest `createdAt` first (ties by build id descending), filtered by test
    /// outcome.
    async fn list(
        &self,
        env: &EnvId,
        project: &ProjectId,
        filter: OutcomeFilter,
        page: PageRequest,
    ) -> Result<Page<Build>, StoreError>;

    /// The newer and the older build next to `build` in the order of [`BuildRepo::list`] (unfiltered), each read
    /// from the project's index; both `None` when the build does not exist.
    async fn neighbours(
        &self,
        env: &EnvId,
        project: &ProjectId,
        build: &BuildId,
    ) -> Result<BuildNeighbours, StoreError>;

    /// Totals, the newest build and the trend of the project, summed by the database.
    async fn stats(&self, env: &EnvId, project: &ProjectId) -> Result<ProjectStats, StoreError>;

    /// The project's newest `ready` build, for the `latest` alias of report URLs.
    async fn latest_ready(&self, env: &EnvId, project: &ProjectId) -> Result<Option<BuildId>, StoreError>;

    /// In one transaction: refuses while a job or an upload of the build is in flight, else deletes the build and
    /// its jobs (upload session records stay).
    async fn delete(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> Result<BuildDeletion, StoreError>;

    /// Retention (§13.6): builds created before `cutoff` with status `ready` or `failed`, oldest `createdAt` first
    /// (ties by environment, project and build id), at most `limit`, starting after `after` (the last build of the
    /// previous batch, so skipped builds are not returned again).
    async fn expired(&self, cutoff: Timestamp, after: Option<BuildKey>, limit: i64) -> Result<Vec<Build>, StoreError>;

    /// Keeps the bytes the storage holds for a build ([`Build::stored_bytes`]), measured after its files changed
    /// (`None`: they changed, and could not be measured). `false` when the build no longer exists.
    async fn set_stored_bytes(
        &self,
        env: &EnvId,
        project: &ProjectId,
        build: &BuildId,
        bytes: Option<i64>,
    ) -> Result<bool, StoreError>;

    /// Like [`BuildRepo::set_stored_bytes`], only while the build has none kept: a measurement that was taken
    /// before a newer one was kept must not replace it. `false` when nothing was written.
    async fn fill_stored_bytes(
        &self,
        env: &EnvId,
        project: &ProjectId,
        build: &BuildId,
        bytes: i64,
    ) -> Result<bool, StoreError>;

    /// Builds without kept stored bytes, by environment, project and build id, at most `limit`, starting after
    /// `after` (so builds that could not be measured are not returned again).
    async fn unmeasured(&self, after: Option<BuildRef>, limit: i64) -> Result<Vec<BuildRef>, StoreError>;

    /// The kept stored bytes summed per project that has builds (those not measured yet count 0), in one
    /// aggregate query, in no particular order.
    async fn stored_bytes_by_project(&self) -> Result<Vec<ProjectBytes>, StoreError>;
}

/// One build, named by its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRef {
    /// Environment.
    pub env: EnvId,
    /// Project.
    pub project: ProjectId,
    /// Build.
    pub build: BuildId,
}

/// A build's position in the retention order, to continue a listing after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildKey {
    /// When its results were saved.
    pub created_at: Timestamp,
    /// Environment.
    pub env: EnvId,
    /// Project.
    pub project: ProjectId,
    /// Build.
    pub build: BuildId,
}

/// One stored chunk of a chunked upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkRecord {
    /// Index, `0..totalChunks`.
    pub index: i64,
    /// Bytes stored.
    pub size: i64,
}

/// Which upload sessions a list returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadFilter {
    /// Only this environment.
    pub env: Option<EnvId>,
    /// Only this project id (in every environment unless `env` is set).
    pub project: Option<ProjectId>,
}

/// Upload sessions and their chunks.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UploadSessionRepo: Send + Sync + 'static {
    /// Stores a new session.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when another upload (not a regeneration) of the same build is in flight;
    /// [`StoreError::MissingParent`] when the project does not exist.
    async fn insert(&self, session: &UploadSession) -> Result<(), StoreError>;

    /// One session.
    async fn get(&self, id: UploadId) -> Result<Option<UploadSession>, StoreError>;

    /// Replaces a stored session with `session` (same id); `false` when it no longer exists.
    async fn update(&self, session: &UploadSession) -> Result<bool, StoreError>;

    /// Whether an upload (not a regeneration) of this build is in flight.
    async fn has_active(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> Result<bool, StoreError>;

    /// Newest `started_at` first (ties by id descending), at most `limit`.
    async fn list(&self, filter: UploadFilter, limit: i64) -> Result<Vec<UploadSession>, StoreError>;

    /// Sessions in `uploading` or `assembling`, for recovery and the stale-upload sweep.
    async fn unfinished(&self) -> Result<Vec<UploadSession>, StoreError>;

    /// Deletes a session and its chunk records; `false` when it did not exist.
    async fn delete(&self, id: UploadId) -> Result<bool, StoreError>;

    /// Records a stored chunk (replacing a record of the same index) and updates the session's `receivedChunks`
    /// and `updatedAt` in the same transaction; returns the session after the change, `None` when it is gone.
    async fn put_chunk(
        &self,
        id: UploadId,
        chunk: ChunkRecord,
        at: Timestamp,
    ) -> Result<Option<UploadSession>, StoreError>;

    /// The chunks stored for a session, by index.
    async fn chunks(&self, id: UploadId) -> Result<Vec<ChunkRecord>, StoreError>;

    /// The bytes stored for a session's chunks other than `except_index` (summed by the database: checked on every
    /// chunk, it must not read all the chunk records each time).
    async fn stored_bytes(&self, id: UploadId, except_index: i64) -> Result<i64, StoreError>;

    /// In one transaction: creates the build (or, when it exists, replaces its results' fields), queues its
    /// generation job, stores `session` (now `generating`) and removes its chunk records.
    async fn save_results(&self, session: &UploadSession, build: &Build, job: &GenerationJob)
    -> Result<(), StoreError>;

    /// Retention (§13.6): deletes sessions in phase `done` or `failed` completed before `before`; returns how many.
    async fn prune_finished(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// How a generation job ended.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    /// When it ended.
    pub finished_at: Timestamp,
    /// `Ok` with the published report (its key becomes the build's, its point the build's history entry), or
    /// `Err` with the failure text of §8.3.
    pub result: Result<crate::ports::PublishedReport, String>,
    /// Warnings for the build.
    pub warnings: Vec<String>,
    /// The quality gate evaluated after a success (`None` without rules); a failure keeps the stored one.
    pub quality_gate: Option<crate::model::build::QualityGateResult>,
}

/// A regeneration of a build (contract §8.1) as the service prepared it; the store applies it according to the
/// build's jobs, in one transaction, so a concurrent claim or upload cannot slip in between the checks and the writes.
#[derive(Debug, Clone, PartialEq)]
pub struct RegenerationRequest {
    /// The effective config: stored on the build and on the job that will generate it.
    pub config: serde_json::Value,
    /// Warnings the config adds to the build (ignored server-controlled keys).
    pub warnings: Vec<String>,
    /// The `regenerate` session (phase `generating`) to store when the job needs a new one; the store sets its
    /// `stats` from the build.
    pub session: UploadSession,
    /// The job to queue, attached to `session`, when the build has no queued job.
    pub job: GenerationJob,
}

/// What a regeneration did, or why it did nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Regeneration {
    /// The build's queued job now has the new config; its session (returned) is unchanged and nothing new runs.
    Reconfigured(UploadSession),
    /// A new `regenerate` session (returned as stored) reports the job: one newly queued (after a running one, or
    /// on an idle build, which becomes `pending`), or a queued one that had no session.
    Started(UploadSession),
    /// No such build; nothing changed.
    BuildNotFound,
    /// A session for this build id is `uploading` or `assembling`; nothing changed.
    UploadInProgress,
}

/// The durable queue of generation jobs (contract §8.3, §17.3).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Marks the oldest queued job whose project has no running job (on any node) as running, held under `lease`
    /// (and its build `generating`), and returns it, unless `lease.node` already runs `max_running` jobs. Two
    /// nodes never claim one job, and the database itself refuses a second running job of a project (two nodes
    /// claiming at once cannot both see the project free): the loser gets `None` and tries again at its next poll.
    async fn claim_next(
        &self,
        max_running: i64,
        now: Timestamp,
        lease: &Lease,
    ) -> Result<Option<GenerationJob>, StoreError>;

    /// Extends to `until` the leases of the jobs `node` runs; returns how many it still holds.
    async fn renew(&self, node: &NodeId, until: Timestamp) -> Result<u64, StoreError>;

    /// The trend point a build's last successful generation added, to leave out of its next run's history.
    async fn history_entry(&self, job: &GenerationJob) -> Result<Option<String>, StoreError>;

    /// In one transaction: the job's final state, its build's status, report flag, error and warnings, and its
    /// session (`done` or `failed`); and, when the published report leaves the one it replaced elsewhere
    /// ([`crate::model::lifecycle::leaves_replaced_report`]), the build's record in [`crate::ports::StaleReports`].
    /// Returns the session after the change.
    /// Only while `node` holds the job.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when `node` no longer holds the job (its lease ran out and the job went back to the
    /// queue or to another node): nothing is changed.
    async fn finish(
        &self,
        job: &GenerationJob,
        node: &NodeId,
        outcome: &JobOutcome,
    ) -> Result<Option<UploadSession>, StoreError>;

    /// At shutdown (§17.4): a job `node` stopped goes back to the queue without counting an attempt, and its
    /// build back to `pending` (nothing happens when `node` no longer holds it).
    async fn release(&self, job: &GenerationJob, node: &NodeId) -> Result<(), StoreError>;

    /// Running jobs nobody runs any more: those whose lease ran out before `now` (their node died; a job left
    /// running without a lease counts as expired) and, when given, those `restarted` holds (the node's previous
    /// process, at start-up). They go back to the queue with one more attempt; those at `max_attempts` fail with
    /// their build and session, and their builds are recorded in [`crate::ports::StaleReports`] (no run cleans up
    /// what the interrupted one may have published). Returns the sessions that failed.
    async fn requeue_abandoned(
        &self,
        max_attempts: i64,
        now: Timestamp,
        restarted: Option<NodeId>,
    ) -> Result<Vec<UploadSession>, StoreError>;

    /// §8.1 in one transaction: refuses while an upload of the build id is receiving or assembling; else replaces
    /// the config of the build's queued job (giving it `request.session` when it has none), or queues
    /// `request.job` with `request.session`; and stores the config and warnings on the build.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when a concurrent request queued a job for the build first (trying again replaces
    /// that job's config).
    async fn queue_regeneration(&self, request: &RegenerationRequest) -> Result<Regeneration, StoreError>;

    /// Jobs by state, for the queue-depth metric.
    async fn counts(&self) -> Result<JobCounts, StoreError>;
}

/// How many generation jobs wait and run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    /// State `queued`.
    pub queued: i64,
    /// State `running`.
    pub running: i64,
}

/// API keys.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ApiKeyRepo: Send + Sync + 'static {
    /// Stores a new key.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when an active key has the same name.
    async fn insert(&self, key: &ApiKey) -> Result<(), StoreError>;

    /// The key with this SHA-256, revoked or not.
    async fn find_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError>;

    /// One key.
    async fn get(&self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError>;

    /// A page of keys, newest first, optionally filtered by a substring of name or creator.
    async fn list(&self, search: Option<String>, page: PageRequest) -> Result<Page<ApiKey>, StoreError>;

    /// Records a successful authentication.
    async fn touch(&self, id: ApiKeyId, at: Timestamp) -> Result<(), StoreError>;

    /// Revokes a key (idempotent); `false` when it does not exist.
    async fn revoke(&self, id: ApiKeyId, at: Timestamp) -> Result<bool, StoreError>;

    /// Deletes a key; `false` when it did not exist.
    async fn delete(&self, id: ApiKeyId) -> Result<bool, StoreError>;
}

/// Users, their role overrides and login sessions.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepo: Send + Sync + 'static {
    /// Creates or updates a user on sign-in.
    async fn upsert(&self, user: &User) -> Result<(), StoreError>;

    /// One user.
    async fn get(&self, email: &Email) -> Result<Option<User>, StoreError>;

    /// A page of users, most recent sign-in first.
    async fn list(&self, search: Option<String>, page: PageRequest) -> Result<Page<User>, StoreError>;

    /// The stored role override of an email.
    async fn role_override(&self, email: &Email) -> Result<Option<String>, StoreError>;

    /// Sets (`Some`) or removes (`None`) a role override and revokes the user's sessions, in one transaction.
    /// Returns whether anything changed.
    async fn set_role_override(&self, email: &Email, role: Option<String>, at: Timestamp) -> Result<bool, StoreError>;

    /// Stores a new login session.
    async fn insert_session(&self, session: &LoginSession) -> Result<(), StoreError>;

    /// The unexpired session with this token hash.
    async fn find_session(&self, token_hash: &str, now: Timestamp) -> Result<Option<LoginSession>, StoreError>;

    /// Deletes one session.
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;
}

/// Small persisted settings stored as JSON values by key.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SettingsRepo: Send + Sync + 'static {
    /// The stored value of a key.
    async fn get(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError>;

    /// Stores a value.
    async fn put(&self, key: &str, value: &serde_json::Value, at: Timestamp) -> Result<(), StoreError>;
}

/// Records of cleanup sweeps.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CleanupRunRepo: Send + Sync + 'static {
    /// Stores a finished run and keeps only the newest `keep`.
    async fn record(&self, run: &CleanupRun, keep: i64) -> Result<(), StoreError>;

    /// Newest runs first.
    async fn list(&self) -> Result<Vec<CleanupRun>, StoreError>;

    /// One run.
    async fn get(&self, id: CleanupRunId) -> Result<Option<CleanupRun>, StoreError>;
}

/// Who is looking at notifications (contract §10): the principal whose read and deletion state applies, and
/// whether its audience includes the operational categories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationViewer {
    /// `user:<email>` or `apikey:<id>`: a user's state is shared by all their sessions.
    pub principal: String,
    /// Whether it sees categories `disk`, `retention` and `allure` (it holds `manage`); `upload` is seen by all.
    pub operational: bool,
}

/// Notifications and each principal's read and deletion state.
///
/// A notification the viewer deleted, or outside its audience, does not exist for it: not listed, not counted,
/// and `false` from the methods that change one.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait NotificationRepo: Send + Sync + 'static {
    /// Stores a notification.
    async fn insert(&self, notification: &Notification) -> Result<(), StoreError>;

    /// Newest `created_at` first (ties by id descending), as the viewer sees them; `limit` 0 means no cap.
    async fn list(
        &self,
        viewer: &NotificationViewer,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<NotificationView>, StoreError>;

    /// How many the viewer has not read.
    async fn unread_count(&self, viewer: &NotificationViewer) -> Result<i64, StoreError>;

    /// Marks one as read for the viewer (idempotent); `false` when it does not exist for them.
    async fn mark_read(
        &self,
        viewer: &NotificationViewer,
        id: NotificationId,
        at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Marks every notification the viewer sees as read.
    async fn mark_all_read(&self, viewer: &NotificationViewer, at: Timestamp) -> Result<(), StoreError>;

    /// Hides one from the viewer only; `false` when it does not exist for them.
    async fn hide(&self, viewer: &NotificationViewer, id: NotificationId, at: Timestamp) -> Result<bool, StoreError>;

    /// Deletes notifications created before `before`, with everyone's state for them; returns how many.
    async fn prune(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// Read-only analytics for the dashboard.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OverviewQueries: Send + Sync + 'static {
    /// The dashboard figures, with the 30 days ending on `today`.
    async fn overview(&self, filter: &OverviewFilter, today: chrono::NaiveDate) -> Result<Overview, StoreError>;
}
