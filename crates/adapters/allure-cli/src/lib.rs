//! hub-allure-cli: runs the Allure 3 CLI for one build ([`runner`]: scrubbed environment, process group,
//! timeout, output checks in [`output`]) and installs pinned CLI versions with npm ([`install`]).

pub mod install;
pub mod output;
pub mod runner;

pub use install::Installer;
pub use runner::{AllureCli, CliSettings};
