//! hub-server: the `allure-hub` binary's library half: configuration, wiring of adapters into services, the
//! HTTP server and its lifecycle. Kept as a library so black-box tests start the real server in-process.

pub mod background;
pub mod config;
pub mod events;
pub mod generation;
pub mod logging;
pub mod origins;
pub mod outcomes;
pub mod stale_reports;
pub mod startup;
pub mod storage_copy;
pub mod stored_bytes;
pub mod system;

pub use config::Config;
pub use startup::Application;
