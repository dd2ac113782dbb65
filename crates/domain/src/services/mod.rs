//! Use cases, one module each. Services take ports in their constructor and return domain errors.

pub mod api_keys;
pub mod auth;
pub mod disk;
pub mod environments;
pub mod generation;
pub mod nodes;
pub mod notifications;
pub mod overview;
pub mod projects;
pub mod reports;
pub mod retention;
pub mod shared;
pub mod stale_reports;
pub mod stored_bytes;
pub mod uploads;
pub mod users;

pub use api_keys::{ApiKeyError, ApiKeyPorts, ApiKeyService, MintedKey, NewApiKey};
pub use auth::{AuthError, AuthPorts, AuthService, AuthSettings, SignedIn};
pub use disk::{Breakdown, DiskError, DiskPorts, DiskService};
pub use environments::{EnvironmentError, EnvironmentPorts, EnvironmentService, NewEnvironment};
pub use generation::{GenerationPorts, GenerationService, JobHolder, RunSummary};
pub use nodes::{NodePorts, NodeService};
pub use notifications::{NotificationError, NotificationPorts, NotificationService};
pub use overview::{OverviewError, OverviewPorts, OverviewService};
pub use projects::{NewProject, ProjectError, ProjectPorts, ProjectService};
pub use reports::{ReportError, ReportPorts, ReportService};
pub use retention::{RetentionConfig, RetentionError, RetentionPorts, RetentionService, SweepReport, next_run_at};
pub use shared::Services;
pub use stale_reports::{StaleReportPorts, StaleReportService, Swept};
pub use stored_bytes::{Filled, StoredBytesPorts, StoredBytesService};
pub use uploads::{
    ChunkUpload, ChunkedInit, SessionStatus, Target, UploadError, UploadOptions, UploadPorts, UploadService,
    UploadTimeouts,
};
pub use users::{UserError, UserPorts, UserService, UserView};
