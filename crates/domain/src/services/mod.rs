//! Use cases, one module each. Services take ports in their constructor and return domain errors.

pub mod environments;
pub mod projects;

pub use environments::{EnvironmentError, EnvironmentService, NewEnvironment};
pub use projects::{NewProject, ProjectError, ProjectService};
