//! Use cases of uploads (contract §5–7, §9, §17.1–17.2, §17.4): sessions from the first byte to a saved build
//! with its queued generation job, for one streaming request or for numbered chunks; listing, deleting, and the
//! recovery of sessions interrupted by a restart or abandoned by their client.
//!
//! Every phase change is stored before it is published on the [`EventBus`]. A failure after the session exists
//! marks it `failed` (with the message the client receives) and removes the files of this upload, so nothing is
//! half-written.
//!
//! The use cases are split by concern: [`receiving`] (the two strategies and chunk status), [`checks`] (what must
//! hold before a session starts or a chunk is taken), [`saving`] (extraction, the saved build and failures),
//! [`sessions`] (listing, deletion, recovery after a restart, abandoned uploads).

mod checks;
mod errors;
mod receiving;
mod saving;
mod sessions;
mod types;

use std::sync::Arc;

use crate::model::names::DisplayName;
use crate::model::report_config::ReportConfigPolicy;
use crate::model::upload::UploadLimits;
use crate::ports::{
    BuildRepo, Clock, EnvironmentRepo, EventBus, IdGenerator, ProjectRepo, ResultStore, UploadFiles, UploadSessionRepo,
};

pub use errors::UploadError;
use errors::in_flight;
pub use types::{ChunkUpload, ChunkedInit, SessionStatus, Target, UploadOptions, UploadTimeouts};

/// The upload use cases.
#[derive(Clone)]
pub struct UploadService {
    sessions: Arc<dyn UploadSessionRepo>,
    builds: Arc<dyn BuildRepo>,
    envs: Arc<dyn EnvironmentRepo>,
    projects: Arc<dyn ProjectRepo>,
    files: Arc<dyn UploadFiles>,
    results: Arc<dyn ResultStore>,
    events: Arc<dyn EventBus>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    limits: UploadLimits,
    timeouts: UploadTimeouts,
    /// Base report config and plugin allowlist (§8.2).
    report_config: Arc<ReportConfigPolicy>,
}

/// The ports the upload use cases work through.
#[allow(missing_debug_implementations)]
pub struct UploadPorts {
    /// Sessions and chunk records.
    pub sessions: Arc<dyn UploadSessionRepo>,
    /// Builds (duplicate checks).
    pub builds: Arc<dyn BuildRepo>,
    /// Environments (existence, auto-create).
    pub envs: Arc<dyn EnvironmentRepo>,
    /// Projects (existence, auto-create).
    pub projects: Arc<dyn ProjectRepo>,
    /// Upload files.
    pub files: Arc<dyn UploadFiles>,
    /// Measures a build's stored files once its new results are in place.
    pub results: Arc<dyn ResultStore>,
    /// Live events.
    pub events: Arc<dyn EventBus>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for UploadService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadService").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl UploadService {
    /// Wires the use cases.
    pub fn new(
        ports: UploadPorts,
        limits: UploadLimits,
        timeouts: UploadTimeouts,
        report_config: Arc<ReportConfigPolicy>,
    ) -> Self {
        Self {
            report_config,
            sessions: ports.sessions,
            builds: ports.builds,
            envs: ports.envs,
            projects: ports.projects,
            files: ports.files,
            results: ports.results,
            events: ports.events,
            clock: ports.clock,
            ids: ports.ids,
            limits,
            timeouts,
        }
    }

    /// The configured limits.
    pub fn limits(&self) -> UploadLimits {
        self.limits
    }

    /// The live event bus, for the SSE stream and `wait=true`.
    pub fn events(&self) -> &Arc<dyn EventBus> {
        &self.events
    }
}

/// An id is a valid display name (slugs are shorter than 80 characters); the fallback is never used in practice.
fn display_name(id: &str) -> DisplayName {
    DisplayName::parse(id).unwrap_or_else(|_| DisplayName::parse("unnamed").unwrap_or_else(|_| unreachable!()))
}

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod tests;
