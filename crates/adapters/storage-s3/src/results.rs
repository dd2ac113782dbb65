//! [`ResultStore`] on object storage: removal is a listing and batch deletes below an environment's, project's or
//! build's prefix; sizes are the listed objects' sizes.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use hub_domain::ids::{BuildId, EnvId, ProjectId};
use hub_domain::ports::{ResultStore, StorageError};
use object_store::path::Path as Key;

use crate::{S3Storage, keys, objects};

impl S3Storage {
    /// Deletes everything below `prefix`.
    pub(crate) async fn remove_below(&self, prefix: &Key) -> Result<(), StorageError> {
        self.indexes.forget_below(prefix.as_ref());
        objects::delete_prefix(&self.store, prefix)
            .await
            .map(drop)
            .map_err(|e| objects::storage(&format!("cannot delete {prefix}"), &e))
    }

    /// The names one level below `prefix` (its "sub-directories").
    pub(crate) async fn names_below(&self, prefix: &Key) -> Result<Vec<String>, StorageError> {
        let listed = self
            .store
            .list_with_delimiter(Some(prefix))
            .await
            .map_err(|e| objects::storage(&format!("cannot list {prefix}"), &e))?;
        Ok(listed.common_prefixes.iter().filter_map(|p| p.filename().map(str::to_owned)).collect())
    }
}

#[async_trait]
impl ResultStore for S3Storage {
    async fn remove_environment(&self, env: &EnvId) -> Result<(), StorageError> {
        self.remove_below(&keys::env_prefix(env)).await
    }

    async fn remove_project(&self, env: &EnvId, project: &ProjectId) -> Result<(), StorageError> {
        self.remove_below(&keys::project_prefix(env, project)).await
    }

    async fn remove_build(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> Result<(), StorageError> {
        self.remove_below(&keys::build_prefix(env, project, build)).await
    }

    async fn build_bytes(&self, env: &EnvId, project: &ProjectId, build: &BuildId) -> Result<u64, StorageError> {
        objects::bytes_below(&self.store, &keys::build_prefix(env, project, build))
            .await
            .map_err(|e| objects::storage("cannot measure the build's files", &e))
    }

    async fn remove_orphans(&self, known: &[(EnvId, Vec<ProjectId>)]) -> Result<usize, StorageError> {
        let known: HashMap<&str, HashSet<&str>> =
            known.iter().map(|(env, ps)| (env.as_str(), ps.iter().map(ProjectId::as_str).collect())).collect();
        let mut removed = 0;
        for env in self.names_below(&Key::from(keys::ENVS)).await? {
            // Only names this server could have created are considered; anything else is left to the operator.
            let Ok(env_id) = EnvId::parse(&env) else { continue };
            let Some(projects) = known.get(env.as_str()) else {
                self.remove_environment(&env_id).await?;
                removed += 1;
                continue;
            };
            for project in self.names_below(&keys::env_prefix(&env_id)).await? {
                let Ok(project_id) = ProjectId::parse(&project) else { continue };
                if !projects.contains(project.as_str()) {
                    self.remove_project(&env_id, &project_id).await?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}
