//! Ports: one object-safe trait per outside concern, implemented by adapters and held as `Arc<dyn Port>`.
//!
//! With the `mocks` feature (and in this crate's tests) every trait also gets a `mockall` mock named
//! `Mock<Trait>`, for unit-testing services without I/O.

pub mod allure_cli;
pub mod auth;
pub mod clock;
pub mod disk;
pub mod errors;
pub mod events;
pub mod files;
pub mod generator;
pub mod identity;
pub mod nodes;
pub mod report_files;
pub mod repos;
pub mod stale_reports;
pub mod transfer;
pub mod uploads;

pub use allure_cli::{AllureCliManager, CliInstallError, CliStatus};
pub use auth::{PasswordHasher, PolicySource, SecretSource};
pub use clock::{Clock, IdGenerator};
pub use disk::DiskProbe;
pub use errors::{INTERNAL_MESSAGE, StorageError, StoreError, UNAVAILABLE_MESSAGE};
pub use events::{EventBus, EventStream, Lagged, NotificationBus, NotificationStream, UploadEvent};
pub use files::{ResultStore, StorageHealth};
pub use generator::{
    GenerateError, GenerateRequest, Generated, GenerationFiles, PrepareError, PublishedReport, ReportGenerator,
    Workspace,
};
pub use identity::{AuthorizationRequest, ExternalIdentity, IdentityError, IdentityProvider};
pub use nodes::NodeRepo;
pub use report_files::{FileStream, Found, ReportBody, ReportFile, ReportFiles, ReportLocation, ReportPath};
pub use repos::*;
pub use stale_reports::StaleReports;
pub use transfer::{StorageTransfer, StoredItem};
pub use uploads::{
    ArchiveError, ArchiveSource, BodyError, BodyMeter, ByteStream, ChunkWrite, Extracted, ReceiveError, UploadFiles,
};
