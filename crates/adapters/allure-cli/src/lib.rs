//! hub-allure-cli: runs the Allure 3 CLI for one build ([`runner`]: scrubbed environment, process group,
//! timeout, output checks in [`output`]), installs pinned CLI versions with npm ([`install`]), and chooses and
//! switches the CLI in use ([`manager`], with the registry look-ups of the settings API).

pub mod install;
pub mod manager;
pub mod output;
mod redact;
mod registry;
pub mod runner;

pub use install::{InstallError, Installer};
pub use manager::{CliManager, ManagerSettings};
pub use runner::{AllureCli, CliSettings};
