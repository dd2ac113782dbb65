//! [`GenerationFiles`] on object storage: a job's workspace is local scratch, filled from the build's results
//! archive and the project's history; publishing uploads the generator's output under a fresh report key and
//! merges the run's history point. The build's record then names the new key (one database write, so viewers
//! switch from the old report to the new one all at once), and the old report's objects are deleted after.

use std::path::PathBuf;

use async_trait::async_trait;
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::model::history as model_history;
use hub_domain::model::job::GenerationJob;
use hub_domain::model::upload::UploadLimits;
use hub_domain::ports::{GenerationFiles, PrepareError, PublishedReport, StorageError, Workspace};
use object_store::ObjectStoreExt;

use crate::objects;
use crate::{S3Storage, history, keys, report_pack, scratch};

/// The results were checked when they were uploaded: extracting them again for a run applies no limit (those of
/// the time of the upload may have been higher than today's).
pub(crate) fn unlimited() -> UploadLimits {
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

impl S3Storage {
    /// Uploads the generator's output under a fresh key, as an archive and its index (see `report_pack`);
    /// returns the key. The index is written last: a report without one is not served, so an interrupted
    /// publication is never seen half-written. On failure what was uploaded is deleted again (best effort).
    async fn upload_report(&self, job: &GenerationJob, workspace: &Workspace) -> Result<String, StorageError> {
        const DOING: &str = "cannot publish the report";
        let archive = workspace.work_dir.with_file_name("report.zip");
        let (root, path) = (workspace.output_dir.clone(), archive.clone());
        let index = tokio::task::spawn_blocking(move || report_pack::pack(&root, &path))
            .await
            .map_err(|e| StorageError::new(e.to_string()))?
            .map_err(|e| StorageError::new(format!("{DOING}: cannot pack the generated report: {e}")))?;
        let index = serde_json::to_vec(&index).map_err(|e| StorageError::new(format!("{DOING}: {e}")))?;
        let key = keys::new_report_key();
        let prefix = keys::report_prefix(&job.env_id, &job.project_id, &job.build_id, &key);
        let uploaded = async {
            objects::upload_file(&self.store, &archive, keys::report_archive(&prefix)).await?;
            self.store.put(&keys::report_index(&prefix), index.into()).await?;
            Ok::<_, objects::Fault>(())
        }
        .await;
        let _ = tokio::fs::remove_file(&archive).await;
        if let Err(e) = uploaded {
            if let Err(cleanup) = objects::delete_prefix(&self.store, &prefix).await {
                tracing::warn!(report = %prefix, error = %cleanup, "could not delete a report that failed to publish");
            }
            return Err(e.storage(DOING));
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
        // Nothing points at the new key yet: viewers keep reading the previous report until the build names it.
        let key = self.upload_report(job, workspace).await?;
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
        let keep = keys::named_report(keep.as_deref());
        for key in self.names_below(&reports).await? {
            if Some(key.as_str()) != keep {
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
