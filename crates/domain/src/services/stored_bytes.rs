//! The bytes the storage holds for each build (issue 17), kept with the build ([`Build::stored_bytes`]) so that
//! disk usage and retention never ask the storage for them: on object storage every measurement is a listing of
//! the build's objects.
//!
//! A build is measured once each time its files change: an upload measures its results before saving them (the
//! value is stored in the same transaction as the build), a generation after it published a report and the
//! replaced one was removed. Builds kept before sizes were (or whose measurement failed) have none; a pass at
//! start-up measures them ([`StoredBytesService::fill`]). A failed measurement never fails the work that changed
//! the files: the build's value is then unknown.
//!
//! [`Build::stored_bytes`]: crate::model::build::Build::stored_bytes

use std::sync::Arc;

use crate::ids::{BuildId, EnvId, ProjectId};
use crate::ports::{BuildRef, BuildRepo, ResultStore, StorageError, StoreError};

/// One measurement of a build's files, as the database keeps it (a size past `i64::MAX` is kept as that).
///
/// # Errors
/// The storage's, when it cannot say.
pub async fn measure(
    files: &dyn ResultStore,
    env: &EnvId,
    project: &ProjectId,
    build: &BuildId,
) -> Result<i64, StorageError> {
    let bytes = files.build_bytes(env, project, build).await?;
    Ok(i64::try_from(bytes).unwrap_or(i64::MAX))
}

/// What measuring one build of the start-up pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filled {
    /// Its bytes are kept now.
    Kept(i64),
    /// Nothing to keep: the build was deleted meanwhile, or a newer measurement was kept first.
    Skipped,
    /// The storage could not measure it; it stays unknown until its files change or the next start.
    Failed(StorageError),
}

/// The ports [`StoredBytesService`] works through.
#[derive(Clone)]
pub struct StoredBytesPorts {
    /// Where the values are kept, and which builds have none.
    pub builds: Arc<dyn BuildRepo>,
    /// Measures a build's files.
    pub files: Arc<dyn ResultStore>,
}

impl std::fmt::Debug for StoredBytesPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredBytesPorts").finish_non_exhaustive()
    }
}

/// The start-up pass over builds without a kept value: the caller lists them in batches
/// ([`StoredBytesService::unmeasured`]) and measures them one at a time ([`StoredBytesService::fill`]), so it can
/// stop between any two; what is left unmeasured is found again by the next start.
#[derive(Debug, Clone)]
pub struct StoredBytesService {
    ports: StoredBytesPorts,
}

impl StoredBytesService {
    /// Wires the use cases.
    pub fn new(ports: StoredBytesPorts) -> Self {
        Self { ports }
    }

    /// Builds without a kept value after `after`, by environment, project and build id, at most `limit`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn unmeasured(&self, after: Option<BuildRef>, limit: i64) -> Result<Vec<BuildRef>, StoreError> {
        self.ports.builds.unmeasured(after, limit).await
    }

    /// Measures one build and keeps the value unless one was kept meanwhile (an upload or a generation that
    /// changed the build's files after this measurement started).
    ///
    /// # Errors
    /// A database failure.
    pub async fn fill(&self, build: &BuildRef) -> Result<Filled, StoreError> {
        let (env, project, id) = (&build.env, &build.project, &build.build);
        let bytes = match measure(self.ports.files.as_ref(), env, project, id).await {
            Ok(bytes) => bytes,
            Err(e) => return Ok(Filled::Failed(e)),
        };
        let kept = self.ports.builds.fill_stored_bytes(env, project, id, bytes).await?;
        Ok(if kept { Filled::Kept(bytes) } else { Filled::Skipped })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::ports::files::MockResultStore;
    use crate::ports::repos::MockBuildRepo;

    fn build(id: &str) -> BuildRef {
        BuildRef {
            env: EnvId::parse("staging").unwrap(),
            project: ProjectId::parse("checkout").unwrap(),
            build: BuildId::parse(id).unwrap(),
        }
    }

    /// A service whose storage measures `b1` as 2 KiB, `b2` as more than `i64::MAX`, `b3` not at all, and whose
    /// database has a newer value for `b4`.
    fn service() -> StoredBytesService {
        let mut files = MockResultStore::new();
        files.expect_build_bytes().returning(|_, _, id| match id.as_str() {
            "b1" | "b4" => Ok(2048),
            "b2" => Ok(u64::MAX),
            _ => Err(StorageError::unavailable("connection refused")),
        });
        let mut builds = MockBuildRepo::new();
        builds.expect_fill_stored_bytes().returning(|_, _, id, _| Ok(id.as_str() != "b4"));
        StoredBytesService::new(StoredBytesPorts { builds: Arc::new(builds), files: Arc::new(files) })
    }

    #[tokio::test]
    async fn a_build_is_measured_and_kept_unless_a_newer_value_came_first() {
        let service = service();
        assert_eq!(service.fill(&build("b1")).await.unwrap(), Filled::Kept(2048));
        assert_eq!(service.fill(&build("b2")).await.unwrap(), Filled::Kept(i64::MAX), "saturated, not wrapped");
        assert_eq!(service.fill(&build("b4")).await.unwrap(), Filled::Skipped);
        let Filled::Failed(e) = service.fill(&build("b3")).await.unwrap() else { panic!("b3 cannot be measured") };
        assert!(e.is_unavailable(), "the caller can tell an outage from a fault: {e}");
    }
}
