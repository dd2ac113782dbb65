//! Black-box tests: the real server on port 0 with a temporary data directory, spoken to over HTTP, on SQLite
//! and on PostgreSQL.

// A failed unwrap in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod allure_settings;
mod archives;
mod auth;
mod browser;
mod environments;
mod errors;
mod faults;
mod generation;
mod github;
mod health;
mod leases;
mod metrics;
mod network;
mod nodes;
mod object_storage;
mod oidc;
mod openapi;
mod operations;
mod projects;
mod queries;
mod reports;
mod schemathesis;
mod storage_copy;
mod storage_kill;
mod storage_outage;
mod stored_bytes;
mod support;
mod uploads;
mod web_ui;

/// Declares each listed test case (an `async fn(TestServer)` in the current module) once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case($crate::support::TestServer::sqlite().await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(server) = $crate::support::TestServer::postgres().await else { return };
                    super::$case(server).await;
                }
            )+
        }
    };
}
