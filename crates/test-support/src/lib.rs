//! hub-test-support: shared test tooling for allure-hub's crates (never part of the binary).
//!
//! * [`pg`]: a fresh PostgreSQL database per test, dropped afterwards, or a loud skip when none is reachable;
//! * [`s3`]: a fresh bucket per test in a loopback S3 (moto) started once per test process, or a loud skip;
//! * [`contract`]: the repository contract suite that every store adapter runs unchanged;
//! * [`storage_contract`]: the storage contract suite that every storage adapter runs unchanged;
//! * [`time`]: fixed UTC times for test data;
//! * [`npm`]: a loopback npm registry and a fake npm, for the Allure CLI management;
//! * [`zip_forge`]: zip archives built byte by byte, in the hostile shapes a zip writer refuses to produce.

// Test tooling: a failed unwrap is a failed test, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod contract;
pub mod npm;
pub mod pg;
pub mod s3;
pub mod storage_contract;
pub mod time;
pub mod zip_forge;
