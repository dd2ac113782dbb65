//! API keys: minting (the secret is shown once), listing, revoking and deleting.

use std::sync::Arc;

use thiserror::Error;

use crate::ids::ApiKeyId;
use crate::model::access::{Principal, PrincipalRef, RoleName};
use crate::model::api_key::ApiKey;
use crate::model::page::{Page, PageRequest};
use crate::model::secret::sha256_hex;
use crate::ports::{ApiKeyRepo, Clock, IdGenerator, SecretSource, StoreError};

/// The roles a key may have.
pub const KEY_ROLES: [&str; 3] = ["admin", "developer", "viewer"];

/// The role of a key created without one: it can read and upload, not manage.
pub const DEFAULT_KEY_ROLE: &str = "developer";

/// The role a new key gets: the requested one, or [`DEFAULT_KEY_ROLE`] when none was asked for; `None` when the
/// request names something other than one of [`KEY_ROLES`].
pub fn key_role(requested: Option<&str>) -> Option<RoleName> {
    let name = requested.unwrap_or(DEFAULT_KEY_ROLE);
    KEY_ROLES.contains(&name).then(|| RoleName::parse(name).ok()).flatten()
}

/// Why an API key operation failed. The messages are the contract's.
#[derive(Debug, Error)]
pub enum ApiKeyError {
    /// A non-admin asked for an admin key.
    #[error("only admins can create admin keys")]
    AdminKeyByNonAdmin,
    /// A non-admin acted on an admin key.
    #[error("only admins can manage admin keys")]
    AdminKeyManagedByNonAdmin,
    /// An active key has the name.
    #[error("an active API key named {0} already exists")]
    NameTaken(String),
    /// No such key.
    #[error("API key {0} not found")]
    NotFound(ApiKeyId),
    /// Keys are created by signed-in users only.
    #[error("settings require a browser session")]
    NotAUser,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A validated request for a key.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Trimmed name, 1–64 characters.
    pub name: String,
    /// One of [`KEY_ROLES`].
    pub role: RoleName,
    /// Whether its uploads create missing environments and projects.
    pub auto_create: bool,
}

/// A freshly minted key with its secret.
#[derive(Debug, Clone)]
pub struct MintedKey {
    /// The stored record.
    pub key: ApiKey,
    /// The full secret, never stored.
    pub secret: String,
}

/// The ports [`ApiKeyService`] works through, named so that two of one type cannot be swapped.
#[derive(Clone)]
pub struct ApiKeyPorts {
    /// Key records.
    pub keys: Arc<dyn ApiKeyRepo>,
    /// Ids of new keys.
    pub ids: Arc<dyn IdGenerator>,
    /// The random secret of new keys.
    pub secrets: Arc<dyn SecretSource>,
    /// Creation and last-use times.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ApiKeyPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyPorts").finish_non_exhaustive()
    }
}

/// The API key use cases.
#[derive(Clone)]
pub struct ApiKeyService {
    keys: Arc<dyn ApiKeyRepo>,
    ids: Arc<dyn IdGenerator>,
    secrets: Arc<dyn SecretSource>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ApiKeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyService").finish_non_exhaustive()
    }
}

impl ApiKeyService {
    /// Wires the service.
    pub fn new(ports: ApiKeyPorts) -> Self {
        let ApiKeyPorts { keys, ids, secrets, clock } = ports;
        Self { keys, ids, secrets, clock }
    }

    /// Mints a key: `ah_` + 64 hex digits from the CSPRNG, stored as its SHA-256.
    ///
    /// # Errors
    /// [`ApiKeyError::AdminKeyByNonAdmin`], [`ApiKeyError::NameTaken`], or a database failure.
    pub async fn create(&self, creator: &Principal, new: NewApiKey) -> Result<MintedKey, ApiKeyError> {
        let PrincipalRef::User(created_by) = &creator.identity else {
            return Err(ApiKeyError::NotAUser);
        };
        if new.role.is_admin() && !creator.is_admin() {
            return Err(ApiKeyError::AdminKeyByNonAdmin);
        }
        let secret = format!("ah_{}", self.secrets.hex(32));
        let key = ApiKey {
            id: self.ids.ulid().into(),
            name: new.name,
            role: new.role,
            prefix: secret[..11].to_owned(),
            key_hash: sha256_hex(&secret),
            created_by: created_by.clone(),
            created_at: self.clock.now(),
            last_used_at: None,
            revoked_at: None,
            auto_create: new.auto_create,
        };
        match self.keys.insert(&key).await {
            Ok(()) => Ok(MintedKey { key, secret }),
            Err(StoreError::Conflict) => Err(ApiKeyError::NameTaken(key.name)),
            Err(e) => Err(e.into()),
        }
    }

    /// A page of keys, revoked ones included, newest first.
    ///
    /// # Errors
    /// A database failure.
    pub async fn list(&self, search: Option<String>, page: PageRequest) -> Result<Page<ApiKey>, ApiKeyError> {
        Ok(self.keys.list(search, page).await?)
    }

    /// Revokes (`delete == false`) or deletes a key.
    ///
    /// # Errors
    /// [`ApiKeyError::NotFound`], [`ApiKeyError::AdminKeyManagedByNonAdmin`], or a database failure.
    pub async fn remove(&self, actor: &Principal, id: ApiKeyId, delete: bool) -> Result<(), ApiKeyError> {
        let key = self.keys.get(id).await?.ok_or(ApiKeyError::NotFound(id))?;
        if key.role.is_admin() && !actor.is_admin() {
            return Err(ApiKeyError::AdminKeyManagedByNonAdmin);
        }
        let found = if delete {
            self.keys.delete(id).await?
        } else if key.revoked_at.is_some() {
            true
        } else {
            self.keys.revoke(id, self.clock.now()).await?
        };
        if found { Ok(()) } else { Err(ApiKeyError::NotFound(id)) }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::ids::Email;
    use crate::model::access::Permission;
    use crate::ports::auth::MockSecretSource;
    use crate::ports::clock::{MockClock, MockIdGenerator};
    use crate::ports::repos::MockApiKeyRepo;

    fn user(role: &str) -> Principal {
        Principal {
            identity: PrincipalRef::User(Email::parse("dev@x.io").unwrap()),
            role: Some(RoleName::parse(role).unwrap()),
            permissions: vec![Permission::View, Permission::Manage],
            session: None,
            auto_create: false,
        }
    }

    fn service(keys: MockApiKeyRepo) -> ApiKeyService {
        let mut ids = MockIdGenerator::new();
        ids.expect_ulid().returning(ulid::Ulid::new);
        let mut secrets = MockSecretSource::new();
        secrets.expect_hex().returning(|n| "0f".repeat(n));
        let mut clock = MockClock::new();
        clock.expect_now().returning(Utc::now);
        ApiKeyService::new(ApiKeyPorts {
            keys: Arc::new(keys),
            ids: Arc::new(ids),
            secrets: Arc::new(secrets),
            clock: Arc::new(clock),
        })
    }

    fn new_key(role: &str) -> NewApiKey {
        NewApiKey { name: "ci".into(), role: RoleName::parse(role).unwrap(), auto_create: false }
    }

    #[test]
    fn a_key_without_a_role_is_a_developer_key() {
        assert_eq!(key_role(None).map(|r| r.as_str().to_owned()).as_deref(), Some("developer"));
        for role in KEY_ROLES {
            assert_eq!(key_role(Some(role)).map(|r| r.as_str().to_owned()).as_deref(), Some(role));
        }
        for other in ["", "Admin", "owner", "developer "] {
            assert!(key_role(Some(other)).is_none(), "{other:?}");
        }
    }

    #[tokio::test]
    async fn a_minted_key_is_stored_only_as_its_hash() {
        let mut keys = MockApiKeyRepo::new();
        keys.expect_insert()
            .withf(|k| k.key_hash == sha256_hex(&format!("ah_{}", "0f".repeat(32))) && k.prefix == "ah_0f0f0f0f")
            .times(1)
            .returning(|_| Ok(()));
        let minted = service(keys).create(&user("developer"), new_key("viewer")).await.unwrap();
        assert_eq!(minted.secret.len(), 67);
        assert_eq!(minted.key.created_by.as_str(), "dev@x.io");
    }

    #[tokio::test]
    async fn only_admins_mint_or_manage_admin_keys() {
        let err = service(MockApiKeyRepo::new()).create(&user("developer"), new_key("admin")).await.unwrap_err();
        assert_eq!(err.to_string(), "only admins can create admin keys");

        let mut keys = MockApiKeyRepo::new();
        keys.expect_get().returning(|id| {
            Ok(Some(ApiKey {
                id,
                name: "root".into(),
                role: RoleName::parse("admin").unwrap(),
                prefix: "ah_".into(),
                key_hash: "h".into(),
                created_by: Email::parse("ops@x.io").unwrap(),
                created_at: Utc::now(),
                last_used_at: None,
                revoked_at: None,
                auto_create: false,
            }))
        });
        let err = service(keys).remove(&user("developer"), ulid::Ulid::nil().into(), false).await.unwrap_err();
        assert_eq!(err.to_string(), "only admins can manage admin keys");
    }

    #[tokio::test]
    async fn a_taken_name_is_reported_with_the_name() {
        let mut keys = MockApiKeyRepo::new();
        keys.expect_insert().returning(|_| Err(StoreError::Conflict));
        let err = service(keys).create(&user("admin"), new_key("viewer")).await.unwrap_err();
        assert_eq!(err.to_string(), "an active API key named ci already exists");
    }
}
