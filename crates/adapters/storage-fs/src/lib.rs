//! hub-storage-fs: the files of allure-hub (results, reports, chunks, history) on a local or shared filesystem.
//!
//! Layout under the data directory:
//! ```text
//! envs/<env>/<project>/...   everything of one project (builds, chunks of uploads; see [`uploads`])
//! tmp/                       in-flight work and trash; emptied at start-up
//! allure-hub.lock            held by the one process using the directory (see [`lock`])
//! ```
//! Removal is made atomic by renaming a directory into `tmp/` (one `rename`, so readers see all or nothing)
//! and deleting it from there in the background; a crash mid-way leaves only `tmp/` entries, swept at start.

pub mod archive;
pub mod chain;
mod disk;
pub mod lock;
mod report_files;
mod reports;
mod transfer;
mod uploads;
pub mod workers;

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::ports::{ResultStore, StorageError, StorageHealth};

pub use disk::FsDiskProbe;
pub use lock::{DataDirLock, LockError};

/// The filesystem adapter of [`ResultStore`].
#[derive(Debug, Clone)]
pub struct FsResultStore {
    envs: PathBuf,
    tmp: PathBuf,
    /// Threads that extract archives (as many as there are cores).
    extractors: workers::Workers,
    /// Serialises changes to project history files: a job publishing its point and a build deletion removing one
    /// must not overwrite each other's change.
    history_lock: std::sync::Arc<std::sync::Mutex<()>>,
}

impl FsResultStore {
    /// Uses `data_dir` (which must be absolute), creating its `envs/` and `tmp/` folders.
    ///
    /// # Errors
    /// When the folders cannot be created.
    pub async fn open(data_dir: &Path) -> io::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let extractors = workers::Workers::start("extract", cores)?;
        let store = Self {
            envs: data_dir.join("envs"),
            tmp: data_dir.join("tmp"),
            extractors,
            history_lock: std::sync::Arc::default(),
        };
        tokio::fs::create_dir_all(&store.envs).await?;
        tokio::fs::create_dir_all(&store.tmp).await?;
        Ok(store)
    }

    /// Deletes everything in `tmp/`: temporary archives, staging folders and trash left by a previous process.
    /// Call only at start-up, before any work begins. Returns how many entries were removed.
    ///
    /// # Errors
    /// When `tmp/` cannot be read or an entry cannot be deleted.
    pub async fn sweep_tmp(&self) -> io::Result<usize> {
        let mut removed = 0;
        let mut entries = tokio::fs::read_dir(&self.tmp).await?;
        while let Some(entry) = entries.next_entry().await? {
            remove_any(&entry.path()).await?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Moves `dir` into `tmp/` (if it exists) and deletes it there in the background.
    async fn discard_dir(&self, dir: PathBuf) -> Result<(), StorageError> {
        let trash = self.tmp.join(format!("trash-{}", ulid::Ulid::new()));
        match tokio::fs::rename(&dir, &trash).await {
            Ok(()) => {
                tokio::spawn(async move {
                    if let Err(e) = tokio::fs::remove_dir_all(&trash).await {
                        // Harmless: tmp/ is swept at the next start.
                        tracing::warn!(path = %trash.display(), error = %e, "could not finish deleting files");
                    }
                });
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::new(format!("cannot move {} away: {e}", dir.display()))),
        }
    }
}

async fn remove_any(path: &Path) -> io::Result<()> {
    if tokio::fs::symlink_metadata(path).await?.is_dir() {
        tokio::fs::remove_dir_all(path).await
    } else {
        tokio::fs::remove_file(path).await
    }
}

/// Names of the sub-directories of `dir` (nothing when it does not exist).
async fn subdirectories(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(names),
        Err(e) => return Err(e),
    };
    while let Some(entry) = entries.next_entry().await? {
        if entry.file_type().await?.is_dir()
            && let Ok(name) = entry.file_name().into_string()
        {
            names.push(name);
        }
    }
    Ok(names)
}

fn io_error(what: &Path, e: io::Error) -> StorageError {
    StorageError::new(format!("{}: {e}", what.display()))
}

#[async_trait]
impl ResultStore for FsResultStore {
    async fn remove_environment(&self, env: &EnvId) -> Result<(), StorageError> {
        self.discard_dir(self.envs.join(env.as_str())).await
    }

    async fn remove_project(&self, env: &EnvId, project: &ProjectId) -> Result<(), StorageError> {
        self.discard_dir(self.envs.join(env.as_str()).join(project.as_str())).await
    }

    async fn remove_build(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> Result<(), StorageError> {
        self.discard_dir(self.build_dir(env, project, build)).await
    }

    async fn build_bytes(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> Result<u64, StorageError> {
        // `results/` and `report/` are the build's only files: its history point lives in the project's file.
        let dir = self.build_dir(env, project, build);
        tokio::task::spawn_blocking(move || disk::tree_bytes(&dir))
            .await
            .map_err(|e| StorageError::new(e.to_string()))?
            .map_err(|e| StorageError::new(format!("cannot measure the build's files: {e}")))
    }

    async fn remove_orphans(&self, known: &[(EnvId, Vec<ProjectId>)]) -> Result<usize, StorageError> {
        let known: HashMap<&str, HashSet<&str>> =
            known.iter().map(|(env, ps)| (env.as_str(), ps.iter().map(ProjectId::as_str).collect())).collect();
        let mut removed = 0;
        for env in subdirectories(&self.envs).await.map_err(|e| io_error(&self.envs, e))? {
            // Only names this server could have created are considered; anything else is left to the operator.
            let Ok(env_id) = EnvId::parse(&env) else {
                continue;
            };
            let Some(projects) = known.get(env.as_str()) else {
                self.remove_environment(&env_id).await?;
                removed += 1;
                continue;
            };
            let env_dir = self.envs.join(&env);
            for project in subdirectories(&env_dir).await.map_err(|e| io_error(&env_dir, e))? {
                let Ok(project_id) = ProjectId::parse(&project) else {
                    continue;
                };
                if !projects.contains(project.as_str()) {
                    self.remove_project(&env_id, &project_id).await?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

#[async_trait]
impl StorageHealth for FsResultStore {
    async fn check(&self) -> Result<(), StorageError> {
        // What every write needs: the folders below DATA_DIR, still there and still directories.
        for dir in [&self.envs, &self.tmp] {
            match tokio::fs::metadata(dir).await {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Err(StorageError::new(format!("{} is not a directory", dir.display()))),
                Err(e) => return Err(io_error(dir, e)),
            }
        }
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "filesystem"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store_with_files(dir: &Path, files: &[&str]) -> FsResultStore {
        let store = FsResultStore::open(dir).await.unwrap();
        for file in files {
            let path = dir.join("envs").join(file);
            tokio::fs::create_dir_all(path.parent().unwrap()).await.unwrap();
            tokio::fs::write(&path, b"x").await.unwrap();
        }
        store
    }

    fn env(id: &str) -> EnvId {
        EnvId::parse(id).unwrap()
    }

    fn project(id: &str) -> ProjectId {
        ProjectId::parse(id).unwrap()
    }

    #[tokio::test]
    async fn removing_an_environment_makes_its_files_unreachable_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_files(dir.path(), &["staging/checkout/builds/1/results/a.json", "prod/x/f"]).await;
        store.remove_environment(&env("staging")).await.unwrap();
        assert!(!dir.path().join("envs/staging").exists());
        assert!(dir.path().join("envs/prod/x/f").exists());
    }

    #[tokio::test]
    async fn removing_something_that_has_no_files_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_files(dir.path(), &[]).await;
        store.remove_environment(&env("ghost")).await.unwrap();
        store.remove_project(&env("ghost"), &project("p")).await.unwrap();
    }

    #[tokio::test]
    async fn removing_a_project_keeps_its_namesake_in_another_environment() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_files(dir.path(), &["staging/checkout/f", "prod/checkout/f", "staging/search/f"]).await;
        store.remove_project(&env("staging"), &project("checkout")).await.unwrap();
        assert!(!dir.path().join("envs/staging/checkout").exists());
        assert!(dir.path().join("envs/prod/checkout/f").exists());
        assert!(dir.path().join("envs/staging/search/f").exists());
    }

    #[tokio::test]
    async fn orphans_are_removed_and_known_directories_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_files(
            dir.path(),
            &["staging/checkout/f", "staging/gone/f", "deleted/p/f", "prod/keep/f", "Not-A-Slug/p/f"],
        )
        .await;
        let known = vec![(env("staging"), vec![project("checkout")]), (env("prod"), vec![project("keep")])];
        assert_eq!(store.remove_orphans(&known).await.unwrap(), 2);
        assert!(dir.path().join("envs/staging/checkout/f").exists());
        assert!(dir.path().join("envs/prod/keep/f").exists());
        assert!(!dir.path().join("envs/staging/gone").exists());
        assert!(!dir.path().join("envs/deleted").exists());
        assert!(dir.path().join("envs/Not-A-Slug/p/f").exists(), "foreign names are left alone");
    }

    #[tokio::test]
    async fn a_builds_bytes_are_those_of_its_results_and_report() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_files(dir.path(), &[]).await;
        for (file, bytes) in [
            ("p/x/builds/7/results/a.json", 120),
            ("p/x/builds/7/results/attachments/b.png", 3000),
            ("p/x/builds/7/report/index.html", 45),
            ("p/x/builds/8/results/a.json", 999),
            ("p/x/history.jsonl", 77),
        ] {
            let path = dir.path().join("envs").join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, vec![0u8; bytes]).unwrap();
        }
        let (e, p) = (env("p"), project("x"));
        let seven = store.build_bytes(&e, &p, &BuildId::parse("7").unwrap()).await.unwrap();
        assert_eq!(seven, 120 + 3000 + 45);
        let nine = store.build_bytes(&e, &p, &BuildId::parse("9").unwrap()).await.unwrap();
        assert_eq!(nine, 0, "a build without files has none");
    }

    #[tokio::test]
    async fn the_start_up_sweep_empties_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_files(dir.path(), &[]).await;
        tokio::fs::create_dir_all(dir.path().join("tmp/staging-1/deep")).await.unwrap();
        tokio::fs::write(dir.path().join("tmp/upload.zip"), b"zip").await.unwrap();
        assert_eq!(store.sweep_tmp().await.unwrap(), 2);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
