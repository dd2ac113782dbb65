//! [`SettingsRepo`] on the store: small JSON values by name (disk threshold, retention, Allure version).

use async_trait::async_trait;
use diesel::prelude::*;
use hub_domain::Timestamp;
use hub_domain::ports::{SettingsRepo, StoreError};

use super::time::to_db;
use crate::errors::{corrupt, from_diesel};
use crate::schema::settings;
use crate::store::{Store, retry_on_conflict};

#[async_trait]
impl SettingsRepo for Store {
    async fn get(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let key = key.to_owned();
        self.run(move |conn| {
            settings::table
                .find(&key)
                .select(settings::value)
                .first::<String>(conn)
                .optional()
                .map_err(from_diesel)?
                .map(|v| serde_json::from_str(&v).map_err(|e| corrupt("setting", e)))
                .transpose()
        })
        .await
    }

    async fn put(&self, key: &str, value: &serde_json::Value, at: Timestamp) -> Result<(), StoreError> {
        let (key, value, at) = (key.to_owned(), value.to_string(), to_db(at));
        self.run(move |conn| {
            // An upsert without ON CONFLICT, which the two-backend connection cannot express.
            retry_on_conflict(conn, |conn| {
                let updated = diesel::update(settings::table.find(&key))
                    .set((settings::value.eq(&value), settings::updated_at.eq(at)))
                    .execute(conn)
                    .map_err(from_diesel)?;
                if updated == 0 {
                    diesel::insert_into(settings::table)
                        .values((settings::name.eq(&key), settings::value.eq(&value), settings::updated_at.eq(at)))
                        .execute(conn)
                        .map_err(from_diesel)?;
                }
                Ok(())
            })
        })
        .await
    }
}
