//! Request handlers, one module per resource, one function per route named verb_noun.

pub mod auth;
pub mod environments;
pub mod health;
pub mod nodes;
pub mod notifications;
pub mod oauth;
pub mod overview;
pub mod projects;
pub mod report_links;
pub mod report_origin;
pub mod reports;
pub mod settings;
pub mod uploads;
