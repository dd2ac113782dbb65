//! [`GenerationFiles`] on object storage: a job's workspace is local scratch, filled from the build's results
//! archive and the project's history; publishing uploads the generator's output under a fresh report key and
//! merges the run's history point. The build's record then names the new key (one database write, so viewers
//! switch from the old report to the new one all at once), and the old report's objects are deleted after.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::model::history as model_history;
use hub_domain::model::job::GenerationJob;
use hub_domain::model::upload::UploadLimits;
use hub_domain::ports::{GenerationFiles, PrepareError, PublishedReport, StorageError, Workspace};

use crate::objects;
use crate::{S3Storage, history, keys, scratch};

/// Files of a report at most this large are uploaded [`SMALL_CONCURRENCY`] at a time (an Allure report is
/// thousands of small files, and each request waits mostly on the network); larger ones one at a time, which
/// bounds the memory of a publication to about that many small files plus one large one's parts.
const SMALL_FILE: u64 = 1024 * 1024;
const SMALL_CONCURRENCY: usize = 16;

/// The results were checked when they were uploaded: extracting them again for a run applies no limit (those of
/// the time of the upload may have been higher than today's).
fn unlimited() -> UploadLimits {
    UploadLimits {
        max_decompressed_bytes: u64::MAX,
        max_zip_entries: u64::MAX,
        max_compression_ratio: 0,
        ..UploadLimits::default()
    }
}

fn plan_path(workspace: &Workspace) -> PathBuf {
    workspace.history_path.with_extension("plan.json")
}

/// A file of the generator's output: its names below the output directory and its local path.
struct OutputFile {
    segments: Vec<String>,
    path: PathBuf,
    len: u64,
}

/// Every regular file below `root`, without following links (the generator writes none; a link could lead
/// anywhere on the node). Names that are not UTF-8 cannot be asked for by a viewer and are left out.
fn output_files(root: &Path) -> std::io::Result<Vec<OutputFile>> {
    let mut files = Vec::new();
    let mut pending = vec![(root.to_path_buf(), Vec::new())];
    while let Some((dir, segments)) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                tracing::warn!(path = %entry.path().display(), "report file name is not UTF-8: not published");
                continue;
            };
            let mut names: Vec<String> = segments.clone();
            names.push(name);
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push((entry.path(), names));
            } else if kind.is_file() {
                files.push(OutputFile { segments: names, path: entry.path(), len: entry.metadata()?.len() });
            }
        }
    }
    Ok(files)
}

impl S3Storage {
    /// Uploads the generator's output under a fresh key; returns the key. On failure what was uploaded is deleted
    /// again (best effort).
    async fn upload_report(
        &self,
        env: &EnvId,
        project: &ProjectId,
        build: &BuildId,
        output: &Path,
    ) -> Result<String, StorageError> {
        let root = output.to_path_buf();
        let files = tokio::task::spawn_blocking(move || output_files(&root))
            .await
            .map_err(|e| StorageError::new(e.to_string()))?
            .map_err(|e| StorageError::new(format!("cannot read the generated report: {e}")))?;
        let key = keys::new_report_key();
        let prefix = keys::report_prefix(env, project, build, &key);
        let (small, large): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| f.len <= SMALL_FILE);
        let upload = |file: OutputFile| {
            let key = keys::report_file(&prefix, file.segments.iter().map(String::as_str));
            async move { objects::upload_file(&self.store, &file.path, key).await }
        };
        let uploaded = async {
            futures_util::stream::iter(small)
                .map(upload)
                .buffer_unordered(SMALL_CONCURRENCY)
                .try_collect::<Vec<_>>()
                .await?;
            futures_util::stream::iter(large).then(upload).try_collect::<Vec<_>>().await
        }
        .await;
        if let Err(e) = uploaded {
            if let Err(cleanup) = objects::delete_prefix(&self.store, &prefix).await {
                tracing::warn!(report = %prefix, error = %cleanup, "could not delete a report that failed to publish");
            }
            return Err(e.storage("cannot publish the report"));
        }
        Ok(key)
    }

    /// Merges the run's new point into the project's history; returns its id.
    async fn merge_history(&self, job: &GenerationJob, workspace: &Workspace) -> Result<Option<String>, StorageError> {
        const DOING: &str = "cannot update the project history";
        let failed = |e: &dyn std::fmt::Display| StorageError::new(format!("{DOING}: {e}"));
        let plan = tokio::fs::read(plan_path(workspace)).await.map_err(|e| failed(&e))?;
        let plan: model_history::Plan = serde_json::from_slice(&plan).map_err(|e| failed(&e))?;
        let copy = match tokio::fs::read(&workspace.history_path).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(failed(&e)),
        };
        let added = model_history::added(&copy, &plan);
        let key = keys::history(&job.env_id, &job.project_id);
        history::update(&self.store, &key, |current| {
            let merged = model_history::merge(current, &plan, &added);
            (merged != current).then_some(merged)
        })
        .await
        .map_err(|e| objects::storage(DOING, &e))?;
        Ok(model_history::new_point(&added))
    }

    /// Fills the workspace: the results extracted from the build's archive, the history copy and its plan.
    async fn materialise(
        &self,
        job: &GenerationJob,
        workspace: &Workspace,
        leave_out: Option<String>,
        history_limit: usize,
    ) -> Result<(), PrepareError> {
        const DOING: &str = "cannot prepare the job's files";
        let failed = |e: &dyn std::fmt::Display| PrepareError::Storage(StorageError::new(format!("{DOING}: {e}")));
        let archive = workspace.work_dir.with_file_name("results.zip");
        match objects::download_file(&self.store, &keys::results(&job.env_id, &job.project_id, &job.build_id), &archive)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Err(PrepareError::ResultsMissing(job.build_id.to_string())),
            Err(e) => return Err(PrepareError::Storage(e.storage(DOING))),
        }
        let (extractor, results, from) =
            (std::sync::Arc::clone(&self.extractor), workspace.results_dir.clone(), archive.clone());
        tokio::task::spawn_blocking(move || extractor(&from, &results, unlimited()))
            .await
            .map_err(|e| failed(&e))?
            .map_err(|e| failed(&e))?;
        let _ = tokio::fs::remove_file(&archive).await;

        let current = objects::read_text(&self.store, &keys::history(&job.env_id, &job.project_id))
            .await
            .map_err(|e| PrepareError::Storage(objects::storage(DOING, &e)))?;
        let (copy, plan) =
            model_history::copy(current.as_ref().map_or("", |(text, _)| text.as_str()), leave_out, history_limit);
        tokio::fs::write(&workspace.history_path, copy).await.map_err(|e| failed(&e))?;
        let plan = serde_json::to_vec(&plan).map_err(|e| failed(&e))?;
        tokio::fs::write(plan_path(workspace), plan).await.map_err(|e| failed(&e))
    }
}

#[async_trait]
impl GenerationFiles for S3Storage {
    async fn prepare(
        &self,
        job: &GenerationJob,
        leave_out: Option<String>,
        history_limit: usize,
    ) -> Result<Workspace, PrepareError> {
        let dir = scratch::job(&self.scratch, job);
        let workspace = Workspace {
            results_dir: dir.join("results"),
            output_dir: dir.join("report"),
            work_dir: dir.join("work"),
            history_path: dir.join("history.jsonl"),
        };
        // A job taken up again after a restart starts from scratch.
        let _ = scratch::remove(&dir).await;
        tokio::fs::create_dir_all(&workspace.work_dir)
            .await
            .map_err(|e| PrepareError::Storage(StorageError::new(format!("cannot prepare the job's files: {e}"))))?;
        let filled = self.materialise(job, &workspace, leave_out, history_limit).await;
        if filled.is_err() {
            let _ = scratch::remove(&dir).await;
        }
        filled.map(|()| workspace)
    }

    async fn publish(&self, job: &GenerationJob, workspace: &Workspace) -> Result<PublishedReport, StorageError> {
        let (env, project, build) = (&job.env_id, &job.project_id, &job.build_id);
        // Nothing points at the new key yet: viewers keep reading the previous report until the build names it.
        let key = self.upload_report(env, project, build, &workspace.output_dir).await?;
        let point = self.merge_history(job, workspace).await?;
        Ok(PublishedReport { key, point })
    }

    async fn remove_other_reports(
        &self,
        env: &EnvId,
        project: &ProjectId,
        build: &BuildId,
        keep: Option<String>,
    ) -> Result<(), StorageError> {
        // One listing of the build's report keys, then a batch delete per key that is not the build's.
        let reports = keys::reports_prefix(env, project, build);
        for key in self.names_below(&reports).await? {
            if Some(&key) != keep.as_ref() {
                self.remove_below(&keys::report_prefix(env, project, build, &key)).await?;
            }
        }
        Ok(())
    }

    async fn remove_history_point(&self, env: &EnvId, project: &ProjectId, point: &str) -> Result<(), StorageError> {
        history::update(&self.store, &keys::history(env, project), |current| model_history::without(current, point))
            .await
            .map_err(|e| objects::storage("cannot update the project history", &e))
    }

    async fn discard(&self, workspace: &Workspace) {
        if let Some(dir) = workspace.work_dir.parent() {
            // Best effort: the scratch directory is emptied at the next start anyway.
            if let Err(e) = scratch::remove(dir).await {
                tracing::warn!(path = %dir.display(), error = %e, "could not delete a job's workspace");
            }
        }
    }
}
