//! What must hold before a session starts or a chunk is taken: the target, the build id, the session's owner and
//! phase. Also answered before a body is invited (`precheck_*`).

use super::{Target, UploadError, UploadOptions, UploadService, display_name, in_flight};
use crate::ids::{EnvId, ProjectId, UploadId};
use crate::model::access::{Permission, Principal};
use crate::model::build::BuildStatus;
use crate::model::environment::Environment;
use crate::model::names::Icon;
use crate::model::project::Project;
use crate::model::upload::{Phase, UploadKind, UploadSession};
use crate::ports::{StoreError, UploadEvent};

impl UploadService {
    /// Checks the target (creating it for auto-create keys) and duplicates, then stores and publishes a new session.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn begin(
        &self,
        principal: &Principal,
        target: &Target,
        options: &UploadOptions,
        kind: UploadKind,
        total_size: Option<i64>,
        total_chunks: i64,
        sha256: Option<String>,
    ) -> Result<UploadSession, UploadError> {
        self.ensure_target(principal, &target.env, &target.project).await?;
        self.build_is_free(target, options.replace).await?;
        let now = self.clock.now();
        let session = UploadSession {
            id: UploadId::from(self.ids.ulid()),
            kind,
            env_id: target.env.clone(),
            project_id: target.project.clone(),
            build_id: target.build.clone(),
            file_name: Some(options.file_name.clone().unwrap_or_else(|| "results.zip".into())),
            total_size,
            total_chunks,
            received_chunks: 0,
            phase: Phase::Uploading,
            failed_at_phase: None,
            error: None,
            uploaded_by: principal.identity.display(),
            owner: principal.identity.owner_key(),
            sha256,
            report_config: options.report_config.clone(),
            replace: options.replace,
            started_at: now,
            updated_at: now,
            completed_at: None,
            report_url: None,
            stats: None,
        };
        match self.sessions.insert(&session).await {
            Ok(()) => {}
            // Another upload of the same build won the race between the check and the insert.
            Err(StoreError::Conflict) => return Err(in_flight(&target.build, options.replace)),
            Err(StoreError::MissingParent) => {
                return Err(UploadError::ProjectNotFound { env: target.env.clone(), project: target.project.clone() });
            }
            Err(e) => return Err(e.into()),
        }
        self.events.publish(UploadEvent::Updated(session.clone()));
        Ok(session)
    }

    /// §5.1 step 4: no upload of the build is in flight, and the build does not exist (or may be replaced).
    pub(super) async fn build_is_free(&self, target: &Target, replace: bool) -> Result<(), UploadError> {
        if self.sessions.has_active(&target.env, &target.project, &target.build).await? {
            return Err(in_flight(&target.build, replace));
        }
        match self.builds.status(&target.env, &target.project, &target.build).await? {
            None => Ok(()),
            Some(_) if !replace => Err(UploadError::BuildExists(target.build.clone())),
            Some(BuildStatus::Pending | BuildStatus::Generating) => {
                Err(UploadError::BeingGenerated(target.build.clone()))
            }
            Some(BuildStatus::Ready | BuildStatus::Failed) => Ok(()),
        }
    }

    /// The checks of a streaming upload that need no body (§5.1 steps 3–4, without creating anything): answered
    /// before a client that asked to be invited (`Expect: 100-continue`) sends its archive, so a refused upload
    /// costs it nothing. The upload itself checks again.
    ///
    /// # Errors
    /// [`UploadError`]: 404 for a missing environment or project (unless the principal may create them), 409 for a
    /// build that exists or is in flight.
    pub async fn precheck_stream(
        &self,
        principal: &Principal,
        target: &Target,
        replace: bool,
    ) -> Result<(), UploadError> {
        if !principal.auto_create {
            if !self.envs.exists(&target.env).await? {
                return Err(UploadError::EnvironmentNotFound(target.env.clone()));
            }
            if !self.projects.exists(&target.env, &target.project).await? {
                return Err(UploadError::ProjectNotFound { env: target.env.clone(), project: target.project.clone() });
            }
        }
        self.build_is_free(target, replace).await
    }

    /// The checks of a chunk that need no body (§6.2): the session exists in this project, `principal` may feed
    /// it, and it still takes chunks. Used by [`UploadService::put_chunk`] and, before the body is invited, for
    /// `Expect: 100-continue`.
    ///
    /// # Errors
    /// [`UploadError`]: 404, 403 or 409.
    pub async fn precheck_chunk(
        &self,
        principal: &Principal,
        env: &EnvId,
        project: &ProjectId,
        id: UploadId,
    ) -> Result<UploadSession, UploadError> {
        let session = self.owned_chunked(principal, env, project, id).await?;
        if session.phase != Phase::Uploading {
            return Err(UploadError::NotAccepting(id, session.phase));
        }
        Ok(session)
    }

    /// §5.1 step 3: the environment and project must exist, unless the principal may create them.
    pub(super) async fn ensure_target(
        &self,
        principal: &Principal,
        env: &EnvId,
        project: &ProjectId,
    ) -> Result<(), UploadError> {
        if !self.envs.exists(env).await? {
            if !principal.auto_create {
                return Err(UploadError::EnvironmentNotFound(env.clone()));
            }
            let environment = Environment {
                id: env.clone(),
                name: display_name(env.as_str()),
                icon: Icon::default(),
                created_at: self.clock.now(),
            };
            match self.envs.insert(&environment).await {
                // A concurrent upload created it first: just as good.
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !self.projects.exists(env, project).await? {
            if !principal.auto_create {
                return Err(UploadError::ProjectNotFound { env: env.clone(), project: project.clone() });
            }
            let new = Project {
                env_id: env.clone(),
                id: project.clone(),
                name: display_name(project.as_str()),
                created_at: self.clock.now(),
            };
            match self.projects.insert(&new).await {
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(StoreError::MissingParent) => return Err(UploadError::EnvironmentNotFound(env.clone())),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub(super) async fn in_project(
        &self,
        env: &EnvId,
        project: &ProjectId,
        id: UploadId,
    ) -> Result<UploadSession, UploadError> {
        match self.sessions.get(id).await? {
            Some(s) if &s.env_id == env && &s.project_id == project => Ok(s),
            _ => Err(UploadError::NotFound(id)),
        }
    }

    /// A chunked session of this project that `principal` may feed (its creator, or anyone with `manage`).
    pub(super) async fn owned_chunked(
        &self,
        principal: &Principal,
        env: &EnvId,
        project: &ProjectId,
        id: UploadId,
    ) -> Result<UploadSession, UploadError> {
        let session = self.in_project(env, project, id).await?;
        if session.owner != principal.identity.owner_key() && !principal.can(Permission::Manage) {
            return Err(UploadError::NotOwner(id));
        }
        if session.kind != UploadKind::Chunked {
            return Err(UploadError::NotChunked(id));
        }
        Ok(session)
    }

    pub(super) async fn missing(&self, session: &UploadSession) -> Result<Vec<i64>, UploadError> {
        let stored: std::collections::BTreeSet<i64> =
            self.sessions.chunks(session.id).await?.into_iter().map(|c| c.index).collect();
        Ok((0..session.total_chunks).filter(|i| !stored.contains(i)).collect())
    }
}
