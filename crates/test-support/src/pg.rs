//! A throwaway PostgreSQL database for each test.
//!
//! The admin connection comes from `ALLURE_HUB_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). When the server cannot be reached, tests that need it are
//! skipped with a message printed once, unless `ALLURE_HUB_REQUIRE_PG=1` (as in CI), where they fail.

use std::io::Write;
use std::sync::Once;

use diesel::{Connection, PgConnection, RunQueryDsl};

/// The default admin URL of the local test server.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database created for one test and dropped (with its connections) when this value is dropped.
#[derive(Debug)]
pub struct PgTestDatabase {
    admin_url: String,
    name: String,
    /// Connection URL of the new database.
    pub url: String,
}

fn required() -> bool {
    matches!(std::env::var("ALLURE_HUB_REQUIRE_PG").as_deref(), Ok("1" | "true" | "yes"))
}

/// Replaces the database name of a `postgres://…/name?query` URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let prefix = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

impl PgTestDatabase {
    /// Creates a fresh, empty database, or returns `None` (after saying so once) when PostgreSQL is unreachable
    /// and not required.
    ///
    /// # Panics
    /// When PostgreSQL is required but unreachable, or refuses to create the database.
    pub fn create() -> Option<Self> {
        let admin_url = std::env::var("ALLURE_HUB_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(conn) => conn,
            Err(e) if !required() => {
                static SAID: Once = Once::new();
                SAID.call_once(|| {
                    // Written to the real stderr, past the test harness's capture, so that a run without
                    // PostgreSQL says plainly that half of the store tests did not run.
                    let _ = writeln!(
                        std::io::stderr(),
                        "\n*** PostgreSQL is not reachable ({e}); the PostgreSQL half of the tests was SKIPPED. \
                         Start a server or set ALLURE_HUB_TEST_PG_URL; ALLURE_HUB_REQUIRE_PG=1 makes this an error. ***\n"
                    );
                });
                return None;
            }
            Err(e) => panic!("PostgreSQL is required (ALLURE_HUB_REQUIRE_PG) but unreachable: {e}"),
        };
        let name = format!("allure_hub_test_{}", ulid::Ulid::new().to_string().to_lowercase());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let url = with_database(&admin_url, &name);
        Some(Self { admin_url, name, url })
    }
}

impl Drop for PgTestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&self.admin_url) {
            // FORCE (PostgreSQL 13+) ends the pool's idle connections that may still be open.
            let _ =
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&mut admin);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_swapped_keeping_credentials_and_query() {
        assert_eq!(with_database("postgres://u:p@h:5432/postgres", "t1"), "postgres://u:p@h:5432/t1");
        assert_eq!(with_database("postgres://h/postgres?sslmode=disable", "t1"), "postgres://h/t1?sslmode=disable");
        assert_eq!(with_database("postgresql://h:1", "t1"), "postgresql://h:1/t1");
    }
}
