//! [`ApiKeyRepo`] on the store.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use hub_domain::Timestamp;
use hub_domain::ids::{ApiKeyId, Email};
use hub_domain::model::access::RoleName;
use hub_domain::model::api_key::ApiKey;
use hub_domain::model::page::{Page, PageRequest};
use hub_domain::ports::{ApiKeyRepo, StoreError};

use super::time::{from_db, to_db};
use super::{like_pattern, lower};
use crate::errors::{corrupt, from_diesel};
use crate::schema::api_keys;
use crate::store::{Store, read_snapshot, transaction};

#[derive(Queryable, Insertable)]
#[diesel(table_name = api_keys)]
struct ApiKeyRow {
    id: String,
    name: String,
    role: String,
    prefix: String,
    key_hash: String,
    created_by: String,
    created_at: NaiveDateTime,
    last_used_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
    auto_create: bool,
}

impl ApiKeyRow {
    fn from_domain(k: &ApiKey) -> Self {
        Self {
            id: k.id.to_string(),
            name: k.name.clone(),
            role: k.role.as_str().to_owned(),
            prefix: k.prefix.clone(),
            key_hash: k.key_hash.clone(),
            created_by: k.created_by.to_string(),
            created_at: to_db(k.created_at),
            last_used_at: k.last_used_at.map(to_db),
            revoked_at: k.revoked_at.map(to_db),
            auto_create: k.auto_create,
        }
    }

    fn into_domain(self) -> Result<ApiKey, StoreError> {
        Ok(ApiKey {
            id: ApiKeyId::parse(&self.id).map_err(|e| corrupt("api key id", e))?,
            name: self.name,
            role: RoleName::parse(&self.role).map_err(|e| corrupt("api key role", e))?,
            prefix: self.prefix,
            key_hash: self.key_hash,
            created_by: Email::parse(&self.created_by).map_err(|e| corrupt("api key creator", e))?,
            created_at: from_db(self.created_at),
            last_used_at: self.last_used_at.map(from_db),
            revoked_at: self.revoked_at.map(from_db),
            auto_create: self.auto_create,
        })
    }
}

#[async_trait]
impl ApiKeyRepo for Store {
    async fn insert(&self, key: &ApiKey) -> Result<(), StoreError> {
        let row = ApiKeyRow::from_domain(key);
        self.run(move |conn| {
            diesel::insert_into(api_keys::table).values(&row).execute(conn).map(drop).map_err(from_diesel)
        })
        .await
    }

    async fn find_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let hash = key_hash.to_owned();
        self.run(move |conn| {
            api_keys::table
                .filter(api_keys::key_hash.eq(hash))
                .first::<ApiKeyRow>(conn)
                .optional()
                .map_err(from_diesel)?
                .map(ApiKeyRow::into_domain)
                .transpose()
        })
        .await
    }

    async fn get(&self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        self.run(move |conn| {
            api_keys::table
                .find(id.to_string())
                .first::<ApiKeyRow>(conn)
                .optional()
                .map_err(from_diesel)?
                .map(ApiKeyRow::into_domain)
                .transpose()
        })
        .await
    }

    async fn list(&self, search: Option<String>, page: PageRequest) -> Result<Page<ApiKey>, StoreError> {
        self.run(move |conn| {
            read_snapshot(conn, |conn| {
                let filtered = || {
                    let mut q = api_keys::table.into_boxed();
                    if let Some(s) = search.as_deref().filter(|s| !s.is_empty()) {
                        let pattern = like_pattern(s);
                        q = q.filter(
                            lower(api_keys::name)
                                .like(pattern.clone())
                                .escape('\\')
                                .or(lower(api_keys::created_by).like(pattern).escape('\\')),
                        );
                    }
                    q
                };
                let total = filtered().count().get_result(conn).map_err(from_diesel)?;
                let rows: Vec<ApiKeyRow> = filtered()
                    .order((api_keys::created_at.desc(), api_keys::id.desc()))
                    .limit(page.limit)
                    .offset(page.offset)
                    .load(conn)
                    .map_err(from_diesel)?;
                let items = rows.into_iter().map(ApiKeyRow::into_domain).collect::<Result<_, _>>()?;
                Ok(Page { items, total })
            })
        })
        .await
    }

    async fn touch(&self, id: ApiKeyId, at: Timestamp) -> Result<(), StoreError> {
        self.run(move |conn| {
            diesel::update(api_keys::table.find(id.to_string()))
                .set(api_keys::last_used_at.eq(Some(to_db(at))))
                .execute(conn)
                .map(drop)
                .map_err(from_diesel)
        })
        .await
    }

    async fn revoke(&self, id: ApiKeyId, at: Timestamp) -> Result<bool, StoreError> {
        self.run(move |conn| {
            transaction(conn, |conn| {
                let exists =
                    api_keys::table.find(id.to_string()).count().get_result::<i64>(conn).map_err(from_diesel)? > 0;
                diesel::update(api_keys::table.find(id.to_string()).filter(api_keys::revoked_at.is_null()))
                    .set(api_keys::revoked_at.eq(Some(to_db(at))))
                    .execute(conn)
                    .map_err(from_diesel)?;
                Ok(exists)
            })
        })
        .await
    }

    async fn delete(&self, id: ApiKeyId) -> Result<bool, StoreError> {
        self.run(move |conn| {
            diesel::delete(api_keys::table.find(id.to_string())).execute(conn).map(|n| n > 0).map_err(from_diesel)
        })
        .await
    }
}
