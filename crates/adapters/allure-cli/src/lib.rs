//! hub-allure-cli: runs the Allure 3 CLI for one build (config merge, timeout, process-group kill) and manages
//! the installed CLI versions with npm.
//!
//! Empty for now: it implements the domain's `ReportGenerator` and `AllureInstaller` ports with the
//! report-generation milestone. The crate exists so the workspace has its final shape and the dependency rule
//! covers it from the start.
