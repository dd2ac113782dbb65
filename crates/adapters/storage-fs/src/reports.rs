//! [`GenerationFiles`] on the filesystem (contract §8.3): a job's directories under `tmp/job-<id>/`, its validated
//! history copy, and publishing the new report and history in place of the old ones.
//!
//! ```text
//! envs/<env>/<project>/history.jsonl          the project's trend history (one JSON object a line)
//! envs/<env>/<project>/builds/<build>/report  a build's published report
//! tmp/job-<id>/{work,report,history.jsonl}    one job's working directory, new report and history copy
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::model::history;
use hub_domain::model::job::GenerationJob;
use hub_domain::ports::{GenerationFiles, PrepareError, PublishedReport, StorageError, Workspace};

/// The key of every report this adapter publishes: a build has one report directory, replaced in one `rename`.
const REPORT_KEY: &str = "report";

use crate::FsResultStore;

impl FsResultStore {
    fn history_path(&self, job: &GenerationJob) -> PathBuf {
        self.envs.join(job.env_id.as_str()).join(job.project_id.as_str()).join("history.jsonl")
    }

    fn job_dir(&self, job: &GenerationJob) -> PathBuf {
        // One directory per attempt: the CLI of an attempt cut short by a crash may still be writing to its own.
        self.tmp.join(format!("job-{}-{}", job.id, job.attempts))
    }
}

/// A history file's text; none when it does not exist yet.
fn read_history(path: &Path) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        read => read,
    }
}

/// Writes `text` to `path` through a temporary file and a rename, so readers and a crash see the old file or the
/// new one, never half of one.
pub(crate) fn write_history(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("jsonl.{}", ulid::Ulid::new()));
    let result = (|| {
        let mut out = std::fs::File::create(&tmp)?;
        out.write_all(text.as_bytes())?;
        out.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn plan_path(workspace: &Workspace) -> PathBuf {
    workspace.history_path.with_extension("plan.json")
}

/// Makes the job's history copy and, next to it, its plan (what `publish` needs to merge the run's point).
fn copy_history(from: &Path, workspace: &Workspace, leave_out: Option<String>, limit: usize) -> std::io::Result<()> {
    let (copy, plan) = history::copy(&read_history(from)?, leave_out, limit);
    write_history(&workspace.history_path, &copy)?;
    std::fs::write(plan_path(workspace), serde_json::to_vec(&plan)?)
}

/// Adds the run's new points to the project's history as it is *now* (another build may have been deleted since
/// the copy was made), replacing the build's previous point. Returns the id of the new point.
fn merge_history(project_history: &Path, workspace: &Workspace) -> std::io::Result<Option<String>> {
    let plan: history::Plan = serde_json::from_slice(&std::fs::read(plan_path(workspace))?)?;
    let added = history::added(&read_history(&workspace.history_path)?, &plan);
    let merged = history::merge(&read_history(project_history)?, &plan, &added);
    write_history(project_history, &merged)?;
    Ok(history::new_point(&added))
}

/// Puts `new` where `current` is in one step; the previous directory (if any) ends up at `new`'s path.
pub(crate) fn swap_into_place(new: &Path, current: &Path) -> std::io::Result<()> {
    if current.exists() {
        nix::fcntl::renameat2(
            nix::fcntl::AT_FDCWD,
            new,
            nix::fcntl::AT_FDCWD,
            current,
            nix::fcntl::RenameFlags::RENAME_EXCHANGE,
        )
        .map_err(std::io::Error::from)
    } else {
        std::fs::rename(new, current)
    }
}

#[async_trait]
impl GenerationFiles for FsResultStore {
    async fn prepare(
        &self,
        job: &GenerationJob,
        leave_out: Option<String>,
        history_limit: usize,
    ) -> Result<Workspace, PrepareError> {
        let results_dir = self.build_dir(&job.env_id, &job.project_id, &job.build_id).join("results");
        if !tokio::fs::try_exists(&results_dir).await.unwrap_or(false) {
            return Err(PrepareError::ResultsMissing(job.build_id.to_string()));
        }
        let dir = self.job_dir(job);
        let workspace = Workspace {
            results_dir,
            output_dir: dir.join("report"),
            work_dir: dir.join("work"),
            history_path: dir.join("history.jsonl"),
        };
        let history = self.history_path(job);
        let copy = workspace.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            // A job taken up again after a restart starts from scratch.
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&copy.work_dir)?;
            copy_history(&history, &copy, leave_out, history_limit)
        })
        .await
        .map_err(|e| PrepareError::Storage(StorageError::new(e.to_string())))?
        .map_err(|e| PrepareError::Storage(StorageError::new(format!("cannot prepare the job's files: {e}"))))?;
        Ok(workspace)
    }

    async fn publish(&self, job: &GenerationJob, workspace: &Workspace) -> Result<PublishedReport, StorageError> {
        let report = self.report_dir(&job.env_id, &job.project_id, &job.build_id);
        let history = self.history_path(job);
        let workspace = workspace.clone();
        let lock = std::sync::Arc::clone(&self.history_lock);
        tokio::task::spawn_blocking(move || -> std::io::Result<Option<String>> {
            swap_into_place(&workspace.output_dir, &report)?;
            let _serialised = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            merge_history(&history, &workspace)
        })
        .await
        .map_err(|e| StorageError::new(e.to_string()))?
        .map_err(|e| StorageError::new(format!("cannot publish the report: {e}")))
        .map(|point| PublishedReport { key: REPORT_KEY.to_owned(), point })
    }

    async fn remove_other_reports(
        &self,
        _: &EnvId,
        _: &ProjectId,
        _: &BuildId,
        _: Option<String>,
    ) -> Result<(), StorageError> {
        // Publishing swaps the new report into the one place a build's report has, removing the old one with the
        // swap, and a crashed swap leaves only tmp/ entries (swept at start): there is never another report.
        Ok(())
    }

    async fn remove_history_point(&self, env: &EnvId, project: &ProjectId, point: &str) -> Result<(), StorageError> {
        let history = self.envs.join(env.as_str()).join(project.as_str()).join("history.jsonl");
        let (lock, point) = (std::sync::Arc::clone(&self.history_lock), point.to_owned());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let _serialised = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // Usually the history limit trimmed an old build's point long ago (retention deletes old builds):
            // then there is nothing to rewrite and fsync.
            match history::without(&read_history(&history)?, &point) {
                Some(text) => write_history(&history, &text),
                None => Ok(()),
            }
        })
        .await
        .map_err(|e| StorageError::new(e.to_string()))?
        .map_err(|e| StorageError::new(format!("cannot update the project history: {e}")))
    }

    async fn discard(&self, workspace: &Workspace) {
        if let Some(dir) = workspace.work_dir.parent() {
            // Best effort: tmp/ is emptied at the next start anyway.
            let _ = self.discard_dir(dir.to_path_buf()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(dir: &Path) -> Workspace {
        Workspace {
            results_dir: dir.join("results"),
            output_dir: dir.join("report"),
            work_dir: dir.join("work"),
            history_path: dir.join("copy.jsonl"),
        }
    }

    #[test]
    fn history_copies_drop_corrupt_lines_the_builds_old_point_and_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("history.jsonl");
        std::fs::write(&from, "{\"uuid\":\"a\"}\n{\"uuid\":\"b\"}\n{broken\n[1]\n{\"uuid\":\"c\"}\n{\"uuid\":\"d\"}\n")
            .unwrap();
        let ws = workspace(dir.path());
        copy_history(&from, &ws, Some("c".into()), 2).unwrap();
        assert_eq!(std::fs::read_to_string(&ws.history_path).unwrap(), "{\"uuid\":\"b\"}\n{\"uuid\":\"d\"}\n");
        copy_history(&dir.path().join("none.jsonl"), &ws, None, 5).unwrap();
        assert_eq!(std::fs::read_to_string(&ws.history_path).unwrap(), "", "no history yet is an empty copy");
    }

    #[test]
    fn publishing_merges_the_new_point_into_the_history_as_it_is_now() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("history.jsonl");
        std::fs::write(&project, "{\"uuid\":\"a\"}\n{\"uuid\":\"old\"}\n{\"uuid\":\"b\"}\n").unwrap();
        let ws = workspace(dir.path());
        copy_history(&project, &ws, Some("old".into()), 2).unwrap();
        // The run appends its point; meanwhile build "a" is deleted from the project's history.
        let mut copy = std::fs::read_to_string(&ws.history_path).unwrap();
        copy.push_str("{\"uuid\":\"new\"}\n");
        std::fs::write(&ws.history_path, copy).unwrap();
        std::fs::write(&project, "{\"uuid\":\"old\"}\n{\"uuid\":\"b\"}\n").unwrap();
        assert_eq!(merge_history(&project, &ws).unwrap().as_deref(), Some("new"));
        assert_eq!(
            std::fs::read_to_string(&project).unwrap(),
            "{\"uuid\":\"b\"}\n{\"uuid\":\"new\"}\n",
            "the deleted point stays deleted, the build's old point is replaced, the limit holds"
        );
    }

    #[test]
    fn a_run_that_adds_no_point_records_none() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("history.jsonl");
        std::fs::write(&project, "{\"uuid\":\"a\"}\n").unwrap();
        let ws = workspace(dir.path());
        copy_history(&project, &ws, None, 5).unwrap();
        assert_eq!(merge_history(&project, &ws).unwrap(), None);
        assert_eq!(std::fs::read_to_string(&project).unwrap(), "{\"uuid\":\"a\"}\n");
    }

    #[test]
    fn a_new_report_takes_the_old_ones_place_in_one_step() {
        let dir = tempfile::tempdir().unwrap();
        let (new, current) = (dir.path().join("new"), dir.path().join("report"));
        std::fs::create_dir(&new).unwrap();
        std::fs::write(new.join("index.html"), "new").unwrap();
        swap_into_place(&new, &current).unwrap();
        assert_eq!(std::fs::read_to_string(current.join("index.html")).unwrap(), "new");
        std::fs::create_dir(&new).unwrap();
        std::fs::write(new.join("index.html"), "newer").unwrap();
        swap_into_place(&new, &current).unwrap();
        assert_eq!(std::fs::read_to_string(current.join("index.html")).unwrap(), "newer");
        assert_eq!(std::fs::read_to_string(new.join("index.html")).unwrap(), "new", "the old report is set aside");
    }
}
