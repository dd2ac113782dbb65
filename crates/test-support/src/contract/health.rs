//! [`StoreHealth`](hub_domain::ports::StoreHealth): what the readiness check asks of the database.

use super::StoreFixture;

/// The readiness ping succeeds on a working database.
pub async fn the_store_answers_a_ping(f: &StoreFixture) {
    f.health.ping().await.unwrap();
}
