//! [`UserRepo`] on the store: users, role overrides and login sessions.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use hub_domain::Timestamp;
use hub_domain::ids::Email;
use hub_domain::model::access::RoleName;
use hub_domain::model::page::{Page, PageRequest};
use hub_domain::model::user::{LoginSession, User};
use hub_domain::ports::{StoreError, UserRepo};

use super::time::{from_db, to_db};
use super::{like_pattern, lower};
use crate::connection::AnyConnection;
use crate::errors::{corrupt, from_diesel};
use crate::schema::{login_sessions, role_overrides, users};
use crate::store::{Store, read_snapshot, transaction};

#[derive(Queryable, Insertable, AsChangeset)]
#[diesel(table_name = users, treat_none_as_null = true)]
struct UserRow {
    email: String,
    name: String,
    avatar_url: Option<String>,
    provider: String,
    password_hash: Option<String>,
    first_login_at: NaiveDateTime,
    last_login_at: NaiveDateTime,
}

impl UserRow {
    fn from_domain(u: &User) -> Self {
        Self {
            email: u.email.to_string(),
            name: u.name.clone(),
            avatar_url: u.avatar_url.clone(),
            provider: u.provider.as_str().to_owned(),
            password_hash: u.password_hash.clone(),
            first_login_at: to_db(u.first_login_at),
            last_login_at: to_db(u.last_login_at),
        }
    }

    fn into_domain(self) -> Result<User, StoreError> {
        Ok(User {
            email: Email::parse(&self.email).map_err(|e| corrupt("user email", e))?,
            name: self.name,
            avatar_url: self.avatar_url,
            provider: self.provider.parse().map_err(|e| corrupt("user provider", e))?,
            password_hash: self.password_hash,
            first_login_at: from_db(self.first_login_at),
            last_login_at: from_db(self.last_login_at),
        })
    }
}

#[derive(Queryable, Insertable)]
#[diesel(table_name = login_sessions)]
struct SessionRow {
    token_hash: String,
    email: String,
    role: Option<String>,
    provider: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

fn revoke_sessions(conn: &mut AnyConnection, email: &str) -> Result<(), StoreError> {
    diesel::delete(login_sessions::table.filter(login_sessions::email.eq(email)))
        .execute(conn)
        .map(drop)
        .map_err(from_diesel)
}

#[async_trait]
impl UserRepo for Store {
    async fn upsert(&self, user: &User) -> Result<(), StoreError> {
        let row = UserRow::from_domain(user);
        // No portable ON CONFLICT on the multi-backend connection: update, and insert when nothing was there.
        self.run(move |conn| {
            transaction(conn, |conn| {
                let updated =
                    diesel::update(users::table.find(&row.email)).set(&row).execute(conn).map_err(from_diesel)?;
                if updated == 0 {
                    diesel::insert_into(users::table).values(&row).execute(conn).map_err(from_diesel)?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn get(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let email = email.to_string();
        self.run(move |conn| {
            users::table
                .find(email)
                .first::<UserRow>(conn)
                .optional()
                .map_err(from_diesel)?
                .map(UserRow::into_domain)
                .transpose()
        })
        .await
    }

    async fn list(&self, search: Option<String>, page: PageRequest) -> Result<Page<User>, StoreError> {
        self.run(move |conn| {
            read_snapshot(conn, |conn| {
                let filtered = || {
                    let mut q = users::table.into_boxed();
                    if let Some(s) = search.as_deref().filter(|s| !s.is_empty()) {
                        let pattern = like_pattern(s);
                        q = q.filter(
                            lower(users::email)
                                .like(pattern.clone())
                                .escape('\\')
                                .or(lower(users::name).like(pattern).escape('\\')),
                        );
                    }
                    q
                };
                let total = filtered().count().get_result(conn).map_err(from_diesel)?;
                let rows: Vec<UserRow> = filtered()
                    .order((users::last_login_at.desc(), users::email.asc()))
                    .limit(page.limit)
                    .offset(page.offset)
                    .load(conn)
                    .map_err(from_diesel)?;
                let items = rows.into_iter().map(UserRow::into_domain).collect::<Result<_, _>>()?;
                Ok(Page { items, total })
            })
        })
        .await
    }

    async fn role_override(&self, email: &Email) -> Result<Option<String>, StoreError> {
        let email = email.to_string();
        self.run(move |conn| {
            role_overrides::table
                .find(email)
                .select(role_overrides::role)
                .first::<String>(conn)
                .optional()
                .map_err(from_diesel)
        })
        .await
    }

    async fn set_role_override(&self, email: &Email, role: Option<String>, at: Timestamp) -> Result<bool, StoreError> {
        let email = email.to_string();
        self.run(move |conn| {
            transaction(conn, |conn| {
                let removed =
                    diesel::delete(role_overrides::table.find(&email)).execute(conn).map_err(from_diesel)? > 0;
                let changed = match role {
                    Some(role) => {
                        diesel::insert_into(role_overrides::table)
                            .values((
                                role_overrides::email.eq(&email),
                                role_overrides::role.eq(role),
                                role_overrides::updated_at.eq(to_db(at)),
                            ))
                            .execute(conn)
                            .map_err(from_diesel)?;
                        true
                    }
                    None => removed,
                };
                if changed {
                    revoke_sessions(conn, &email)?;
                }
                Ok(changed)
            })
        })
        .await
    }

    async fn insert_session(&self, session: &LoginSession) -> Result<(), StoreError> {
        let row = SessionRow {
            token_hash: session.token_hash.clone(),
            email: session.email.to_string(),
            role: session.role.as_ref().map(|r| r.as_str().to_owned()),
            provider: session.provider.as_str().to_owned(),
            created_at: to_db(session.created_at),
            expires_at: to_db(session.expires_at),
        };
        self.run(move |conn| {
            diesel::insert_into(login_sessions::table).values(&row).execute(conn).map(drop).map_err(from_diesel)
        })
        .await
    }

    async fn find_session(&self, token_hash: &str, now: Timestamp) -> Result<Option<LoginSession>, StoreError> {
        let hash = token_hash.to_owned();
        self.run(move |conn| {
            let Some(row) = login_sessions::table
                .find(hash)
                .filter(login_sessions::expires_at.gt(to_db(now)))
                .first::<SessionRow>(conn)
                .optional()
                .map_err(from_diesel)?
            else {
                return Ok(None);
            };
            Ok(Some(LoginSession {
                token_hash: row.token_hash,
                email: Email::parse(&row.email).map_err(|e| corrupt("session email", e))?,
                role: row.role.map(|r| RoleName::parse(&r)).transpose().map_err(|e| corrupt("session role", e))?,
                provider: row.provider.parse().map_err(|e| corrupt("session provider", e))?,
                created_at: from_db(row.created_at),
                expires_at: from_db(row.expires_at),
            }))
        })
        .await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let hash = token_hash.to_owned();
        self.run(move |conn| {
            diesel::delete(login_sessions::table.find(hash)).execute(conn).map(drop).map_err(from_diesel)
        })
        .await
    }
}
