//! Implementations of the domain's repository ports on [`crate::Store`], one module per port.

mod environments;
mod projects;
pub(crate) mod time;
