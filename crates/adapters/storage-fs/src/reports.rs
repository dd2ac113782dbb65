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
use hub_domain::ids::{BuildId, EnvId, ProjectId};
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

/// One line of a history file, parsed once: its point id (Allure writes one `uuid` per run) and the line as is.
struct Point {
    id: Option<String>,
    line: String,
}

/// The only field of a point the server reads; the rest is checked to be valid JSON and skipped unparsed, which
/// matters because a point of a large project is megabytes.
#[derive(serde::Deserialize)]
struct PointHead {
    uuid: Option<String>,
}

impl Point {
    /// `None` for a line that is not a JSON object: one corrupt line would make every later run fail.
    fn parse(line: String) -> Option<Self> {
        if !line.trim_start().starts_with('{') {
            return None;
        }
        let head: PointHead = serde_json::from_str(&line).ok()?;
        Some(Self { id: head.uuid, line })
    }
}

/// The valid points of a history file (none when it does not exist), without the point `leave_out`.
fn valid_points(path: &Path, leave_out: Option<&str>) -> std::io::Result<Vec<Point>> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut kept = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        if let Some(point) = Point::parse(line?)
            && (leave_out.is_none() || point.id.as_deref() != leave_out)
        {
            kept.push(point);
        }
    }
    Ok(kept)
}

/// Writes `lines` (only the last `limit`) to `path` through a temporary file and a rename, so readers and a crash
/// see the old file or the new one, never half of one.
fn write_history(path: &Path, lines: &[Point], limit: usize) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("jsonl.{}", ulid::Ulid::new()));
    let result = (|| {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        for point in &lines[lines.len().saturating_sub(limit)..] {
            writeln!(out, "{}", point.line)?;
        }
        out.into_inner().map_err(std::io::IntoInnerError::into_error)?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// What `publish` needs to know about the job's history copy, written next to it by `prepare`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct HistoryPlan {
    /// The build's previous point, replaced by the new one.
    leave_out: Option<String>,
    /// `HISTORY_LIMIT`.
    limit: usize,
    /// Ids of the points in the copy before the run: anything else in it afterwards is the run's.
    before: Vec<String>,
}

fn plan_path(workspace: &Workspace) -> PathBuf {
    workspace.history_path.with_extension("plan.json")
}

/// Makes the job's history copy and its plan.
fn copy_history(from: &Path, workspace: &Workspace, leave_out: Option<String>, limit: usize) -> std::io::Result<()> {
    let points = valid_points(from, leave_out.as_deref())?;
    let kept = &points[points.len().saturating_sub(limit)..];
    write_history(&workspace.history_path, kept, limit)?;
    let plan = HistoryPlan { leave_out, limit, before: kept.iter().filter_map(|p| p.id.clone()).collect() };
    std::fs::write(plan_path(workspace), serde_json::to_vec(&plan)?)
}

/// Adds the run's new points to the project's history as it is *now* (another build may have been deleted since
/// the copy was made), replacing the build's previous point. Returns the id of the new point.
fn merge_history(project_history: &Path, workspace: &Workspace) -> std::io::Result<Option<String>> {
    let plan: HistoryPlan = serde_json::from_slice(&std::fs::read(plan_path(workspace))?)?;
    let before: std::collections::HashSet<String> = plan.before.into_iter().collect();
    let added: Vec<Point> = valid_points(&workspace.history_path, None)?
        .into_iter()
        .filter(|p| p.id.as_ref().is_some_and(|id| !before.contains(id)))
        .collect();
    let point = added.last().and_then(|p| p.id.clone());
    let mut points = valid_points(project_history, plan.leave_out.as_deref())?;
    points.extend(added);
    write_history(project_history, &points, plan.limit)?;
    Ok(point)
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
            if !history.exists() {
                return Ok(());
            }
            let mut points = valid_points(&history, None)?;
            let before = points.len();
            points.retain(|p| p.id.as_deref() != Some(point.as_str()));
            // Usually the history limit trimmed an old build's point long ago (retention deletes old builds):
            // then there is nothing to rewrite and fsync.
            if points.len() == before {
                return Ok(());
            }
            write_history(&history, &points, usize::MAX)
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
