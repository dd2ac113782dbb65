//! [`GenerationFiles`] on the filesystem (contract §8.3): a job's directories under `tmp/job-<id>/`, its validated
//! history copy, and publishing the new report and history in place of the old ones.
//!
//! ```text
//! envs/<env>/<project>/history.jsonl          the project's trend history (one JSON object a line)
//! envs/<env>/<project>/builds/<build>/report  a build's published report
//! tmp/job-<id>/{work,report,history.jsonl}    one job's working directory, new report and history copy
//! ```

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use hub_domain::model::job::GenerationJob;
use hub_domain::ports::{GenerationFiles, PrepareError, StorageError, Workspace};

use crate::FsResultStore;

impl FsResultStore {
    fn history_path(&self, job: &GenerationJob) -> PathBuf {
        self.envs.join(job.env_id.as_str()).join(job.project_id.as_str()).join("history.jsonl")
    }

    fn job_dir(&self, job: &GenerationJob) -> PathBuf {
        self.tmp.join(format!("job-{}", job.id))
    }
}

/// The id of a history point (Allure writes one `uuid` per run).
fn point_id(line: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(line).ok()?.get("uuid")?.as_str().map(str::to_owned)
}

/// Copies the valid lines of `from` (if it exists) into `to`, leaving out the point `leave_out` and keeping only
/// the last `limit`. A line that is not a JSON object is dropped: one corrupt line would make every later run fail.
fn copy_history(from: &Path, to: &Path, leave_out: Option<&str>, limit: usize) -> std::io::Result<()> {
    let mut kept = std::collections::VecDeque::with_capacity(limit + 1);
    match std::fs::File::open(from) {
        Ok(file) => {
            for line in std::io::BufReader::new(file).lines() {
                let line = line?;
                let valid = serde_json::from_str::<serde_json::Value>(&line).is_ok_and(|v| v.is_object());
                if !valid || (leave_out.is_some() && point_id(&line).as_deref() == leave_out) {
                    continue;
                }
                kept.push_back(line);
                if kept.len() > limit {
                    kept.pop_front();
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(to)?);
    for line in kept {
        writeln!(out, "{line}")?;
    }
    out.flush()
}

/// The id of the last point of a history file.
fn last_point(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty())
        .last()
        .and_then(|l| point_id(&l))
}

/// Puts `new` where `current` is in one step; the previous directory (if any) ends up at `new`'s path.
fn swap_into_place(new: &Path, current: &Path) -> std::io::Result<()> {
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
            copy_history(&history, &copy.history_path, leave_out.as_deref(), history_limit)
        })
        .await
        .map_err(|e| PrepareError::Storage(e.to_string()))?
        .map_err(|e| PrepareError::Storage(format!("cannot prepare the job's files: {e}")))?;
        Ok(workspace)
    }

    async fn publish(&self, job: &GenerationJob, workspace: &Workspace) -> Result<Option<String>, StorageError> {
        let report = self.build_dir(&job.env_id, &job.project_id, &job.build_id).join("report");
        let history = self.history_path(job);
        let workspace = workspace.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<Option<String>> {
            swap_into_place(&workspace.output_dir, &report)?;
            let point = last_point(&workspace.history_path);
            std::fs::rename(&workspace.history_path, &history)?;
            Ok(point)
        })
        .await
        .map_err(|e| StorageError(e.to_string()))?
        .map_err(|e| StorageError(format!("cannot publish the report: {e}")))
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

    #[test]
    fn history_copies_drop_corrupt_lines_the_builds_old_point_and_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("history.jsonl");
        std::fs::write(&from, "{\"uuid\":\"a\"}\n{\"uuid\":\"b\"}\n{broken\n[1]\n{\"uuid\":\"c\"}\n{\"uuid\":\"d\"}\n")
            .unwrap();
        let to = dir.path().join("copy.jsonl");
        copy_history(&from, &to, Some("c"), 2).unwrap();
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "{\"uuid\":\"b\"}\n{\"uuid\":\"d\"}\n");
        assert_eq!(last_point(&to).as_deref(), Some("d"));
        copy_history(&dir.path().join("none.jsonl"), &to, None, 5).unwrap();
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "", "no history yet is an empty copy");
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
