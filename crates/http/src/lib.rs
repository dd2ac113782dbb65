//! hub-http: the actix-web driving adapter of allure-hub.
//!
//! Thin by design: one route table ([`routes`]) declaring every route with its access rule, extractors that parse
//! identifiers and bodies at the edge, handlers that call domain services, and one module ([`error`]) that turns
//! every failure into the contract's JSON error and status.

pub mod access;
pub mod app;
pub mod client_ip;
pub mod cors;
pub mod dto;
pub mod error;
pub mod expect;
pub mod extract;
mod handlers;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod rate_limit;
pub mod report_files;
pub mod routes;
pub mod sse;
pub mod state;

pub use app::{build_app_with, build_report_app, route_not_found};
pub use state::{AppState, HttpConfig, VersionInfo};
