//! Entities and value types of allure-hub, one module per concept.

pub mod access;
pub mod allure_version;
pub mod api_key;
pub mod build;
pub mod disk;
pub mod enums;
pub mod environment;
pub mod grant;
pub mod job;
pub mod lifecycle;
pub mod names;
pub mod notification;
pub mod overview;
pub mod page;
pub mod policy;
pub mod project;
pub mod quality_gate;
pub mod report_config;
pub mod retention;
pub mod return_path;
pub mod secret;
pub mod stats;
pub mod syntax;
pub mod time;
pub mod upload;
pub mod user;
