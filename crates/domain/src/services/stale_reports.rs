//! The sweep of reports that builds no longer name (issue 17): on object storage a report replaced by a newer one
//! is deleted after the switch, and a build whose deletion did not happen (a killed process, a store that was down)
//! stays recorded ([`StaleReports`]). At start-up, and when the store is back, the server goes through exactly those
//! builds, one at a time, deletes every report of each but the one it names, and forgets it: no listing of the
//! bucket, no request per build of the installation.

use std::sync::Arc;

use crate::model::build::BuildStatus;
use crate::ports::{BuildRef, BuildRepo, GenerationFiles, StaleReports, StorageError, StoreError};

/// What sweeping one recorded build did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Swept {
    /// Its other reports are deleted and it is forgotten (unless a newer run recorded it again meanwhile).
    Removed,
    /// Left alone: a job of the build waits or runs, and cleans the build's reports itself; or the build is gone.
    Skipped,
    /// The storage could not delete them; the build stays recorded for a later sweep.
    Failed(StorageError),
}

/// The ports [`StaleReportService`] works through.
#[derive(Clone)]
pub struct StaleReportPorts {
    /// The recorded builds.
    pub stale: Arc<dyn StaleReports>,
    /// The report each build names, and whether a job of it is in flight.
    pub builds: Arc<dyn BuildRepo>,
    /// Deletes a build's other reports.
    pub files: Arc<dyn GenerationFiles>,
}

impl std::fmt::Debug for StaleReportPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaleReportPorts").finish_non_exhaustive()
    }
}

/// The sweep: the caller lists the recorded builds in batches ([`StaleReportService::stale`]) and sweeps them one
/// at a time ([`StaleReportService::sweep`]), so it can stop between any two; what is left stays recorded.
#[derive(Debug, Clone)]
pub struct StaleReportService {
    ports: StaleReportPorts,
}

impl StaleReportService {
    /// Wires the use cases.
    pub fn new(ports: StaleReportPorts) -> Self {
        Self { ports }
    }

    /// Recorded builds after `after`, by environment, project and build id, at most `limit`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn stale(&self, after: Option<BuildRef>, limit: i64) -> Result<Vec<BuildRef>, StoreError> {
        self.ports.stale.stale(after, limit).await
    }

    /// Deletes every report of the build but the one it names now, then forgets it.
    ///
    /// A build with a job queued or running is left to that run, which deletes the same reports before it
    /// publishes (and the report it publishes must not be taken for a leftover). A job claimed after the build was
    /// read here publishes only once its generation has run, long after the one listing that decides what is
    /// deleted; the run's own deletion after its switch relies on the same.
    ///
    /// # Errors
    /// A database failure.
    pub async fn sweep(&self, build: &BuildRef) -> Result<Swept, StoreError> {
        let (env, project, id) = (&build.env, &build.project, &build.build);
        let Some(current) = self.ports.builds.get(env, project, id).await? else {
            // Deleted meanwhile: its record went with it, and its files with its deletion.
            return Ok(Swept::Skipped);
        };
        if matches!(current.status, BuildStatus::Pending | BuildStatus::Generating) {
            return Ok(Swept::Skipped);
        }
        let keep = current.report_key;
        if let Err(e) = self.ports.files.remove_other_reports(env, project, id, keep.clone()).await {
            return Ok(Swept::Failed(e));
        }
        self.ports.stale.forget(build, keep).await?;
        Ok(Swept::Removed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use super::*;
    use crate::ids::{BuildId, EnvId, ProjectId};
    use crate::model::build::{Build, BuildStats};
    use crate::ports::generator::MockGenerationFiles;
    use crate::ports::repos::MockBuildRepo;
    use crate::ports::stale_reports::MockStaleReports;

    fn build(id: &str) -> BuildRef {
        BuildRef {
            env: EnvId::parse("staging").unwrap(),
            project: ProjectId::parse("checkout").unwrap(),
            build: BuildId::parse(id).unwrap(),
        }
    }

    fn stored(r: &BuildRef, status: BuildStatus, key: Option<&str>) -> Build {
        Build {
            env_id: r.env.clone(),
            project_id: r.project.clone(),
            build_id: r.build.clone(),
            status,
            created_at: chrono::DateTime::UNIX_EPOCH,
            completed_at: None,
            uploaded_by: "apikey:ci".into(),
            has_report: key.is_some(),
            report_key: key.map(str::to_owned),
            stored_bytes: None,
            stats: BuildStats::default(),
            longest_test_ms: 0,
            quality_gate: None,
            warnings: vec![],
            error: None,
            config: serde_json::json!({}),
        }
    }

    type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

    /// A service over builds `ready` (key `r2`), `failed` (no report), `pending`, `generating` (key `r1`), and
    /// `gone` (deleted); the storage refuses every deletion with `refused`. Returns the deletions asked for (build,
    /// key kept) and the builds forgotten (build, key kept).
    fn service(refused: Option<StorageError>) -> (StaleReportService, Log, Log) {
        let mut builds = MockBuildRepo::new();
        builds.expect_get().returning(|env, project, id| {
            let r = BuildRef { env: env.clone(), project: project.clone(), build: id.clone() };
            Ok(match id.as_str() {
                "ready" => Some(stored(&r, BuildStatus::Ready, Some("r2"))),
                "failed" => Some(stored(&r, BuildStatus::Failed, None)),
                "pending" => Some(stored(&r, BuildStatus::Pending, Some("r1"))),
                "generating" => Some(stored(&r, BuildStatus::Generating, Some("r1"))),
                _ => None,
            })
        });
        let (removed, forgotten): (Log, Log) = (Arc::default(), Arc::default());
        let mut files = MockGenerationFiles::new();
        let log = Arc::clone(&removed);
        files.expect_remove_other_reports().returning(move |_, _, id, keep| {
            log.lock().unwrap().push((id.to_string(), keep));
            refused.clone().map_or(Ok(()), Err)
        });
        let mut stale = MockStaleReports::new();
        let log = Arc::clone(&forgotten);
        stale.expect_forget().returning(move |r, kept| {
            log.lock().unwrap().push((r.build.to_string(), kept));
            Ok(true)
        });
        let ports = StaleReportPorts { stale: Arc::new(stale), builds: Arc::new(builds), files: Arc::new(files) };
        (StaleReportService::new(ports), removed, forgotten)
    }

    #[tokio::test]
    async fn a_settled_build_keeps_only_the_report_it_names_and_is_forgotten() {
        let (service, removed, forgotten) = service(None);
        assert_eq!(service.sweep(&build("ready")).await.unwrap(), Swept::Removed);
        assert_eq!(service.sweep(&build("failed")).await.unwrap(), Swept::Removed, "a failed build is settled too");
        let expected = [("ready".to_owned(), Some("r2".to_owned())), ("failed".to_owned(), None)];
        assert_eq!(*removed.lock().unwrap(), expected, "each keeps the report its record names, if any");
        assert_eq!(*forgotten.lock().unwrap(), expected, "forgotten only while it still names that report");
    }

    #[tokio::test]
    async fn a_build_with_a_job_in_flight_or_deleted_is_left_alone() {
        let (service, removed, forgotten) = service(None);
        for id in ["pending", "generating", "gone"] {
            assert_eq!(service.sweep(&build(id)).await.unwrap(), Swept::Skipped, "{id}");
        }
        assert!(removed.lock().unwrap().is_empty(), "a run about to publish must not lose its new report");
        assert!(forgotten.lock().unwrap().is_empty(), "its run or its deletion settles the record");
    }

    #[tokio::test]
    async fn a_store_that_cannot_delete_leaves_the_build_recorded() {
        let (service, removed, forgotten) = service(Some(StorageError::unavailable("connection refused")));
        let Swept::Failed(e) = service.sweep(&build("ready")).await.unwrap() else { panic!("the deletion failed") };
        assert!(e.is_unavailable(), "the caller can tell an outage from a fault: {e}");
        assert_eq!(removed.lock().unwrap().len(), 1);
        assert!(forgotten.lock().unwrap().is_empty());
    }
}
