//! Authentication: resolving API keys and session cookies to principals, local sign-in with its brake on
//! guessing, sign-out, and the bootstrap admin account.

use crate::model::grant::GrantSubject;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::TimeDelta;
use thiserror::Error;

use crate::Timestamp;
use crate::ids::Email;
use crate::model::access::{Principal, PrincipalRef, RoleName, SessionInfo};
use crate::model::secret::sha256_hex;
use crate::model::user::{LoginSession, Provider, RoleSource, User};
use crate::ports::{ApiKeyRepo, Clock, PasswordHasher, PolicySource, SecretSource, StoreError, UserRepo};

/// Failed local sign-ins allowed per client IP and email within [`FAILED_LOGIN_WINDOW`].
pub const MAX_FAILED_LOGINS: usize = 10;
/// The window over which failed sign-ins are counted.
pub const FAILED_LOGIN_WINDOW: TimeDelta = TimeDelta::minutes(15);
/// Size of the failed-login table above which expired entries are swept.
const FAILURE_TABLE_SWEEP: usize = 10_000;
/// `lastUsedAt` of a key is written at most this often.
const KEY_TOUCH_INTERVAL: TimeDelta = TimeDelta::minutes(1);

/// Why authentication failed. The messages are the contract's.
#[derive(Debug, Error)]
pub enum AuthError {
    /// Unknown or revoked API key.
    #[error("invalid API key")]
    InvalidApiKey,
    /// Wrong email or password (indistinguishable on purpose).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// Local sign-in is switched off.
    #[error("local login is disabled")]
    LocalLoginDisabled,
    /// Too many failures for this client and email.
    #[error("too many failed login attempts")]
    TooManyAttempts {
        /// Whole seconds until the next attempt is allowed (at least 1).
        retry_after_secs: u64,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The provider returned no email address.
    #[error("the provider returned no email address")]
    EmailMissing,
    /// The provider says the email address is not verified.
    #[error("the provider says the email address is not verified")]
    EmailUnverified,
}

/// A successful sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The cookie value (returned once; only its hash is stored).
    pub token: String,
    /// The new session's principal.
    pub principal: Principal,
    /// The user record after the sign-in.
    pub user: User,
}

/// Settings of the authentication service.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Session lifetime from sign-in.
    pub session_ttl: TimeDelta,
    /// Whether `POST /auth/login` is enabled.
    pub local_login: bool,
}

/// The ports [`AuthService`] works through, named so that two of one type cannot be swapped.
#[derive(Clone)]
pub struct AuthPorts {
    /// API key records.
    pub keys: Arc<dyn ApiKeyRepo>,
    /// Users, their sessions and passwords.
    pub users: Arc<dyn UserRepo>,
    /// The role policy.
    pub policy: Arc<dyn PolicySource>,
    /// Hashes and checks passwords.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Session tokens and generated passwords.
    pub secrets: Arc<dyn SecretSource>,
    /// Session expiry.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AuthPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthPorts").finish_non_exhaustive()
    }
}

/// The authentication use cases.
pub struct AuthService {
    keys: Arc<dyn ApiKeyRepo>,
    users: Arc<dyn UserRepo>,
    policy: Arc<dyn PolicySource>,
    hasher: Arc<dyn PasswordHasher>,
    secrets: Arc<dyn SecretSource>,
    clock: Arc<dyn Clock>,
    settings: AuthSettings,
    /// Compared against when the email is unknown, so both failures take the same time.
    dummy_hash: String,
    failures: Mutex<HashMap<(String, Email), Vec<Timestamp>>>,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// The value a session's `X-CSRF-Token` must carry: derived from the cookie, so only its holder knows it.
fn csrf_token_for(token: &str) -> String {
    sha256_hex(&format!("csrf:{token}"))[..32].to_owned()
}

impl AuthService {
    /// Wires the service.
    ///
    /// # Errors
    /// [`AuthError::Hashing`] when the timing-equalising dummy hash cannot be made.
    #[allow(clippy::too_many_arguments)]
    pub async fn new(ports: AuthPorts, settings: AuthSettings) -> Result<Self, AuthError> {
        let AuthPorts { keys, users, policy, hasher, secrets, clock } = ports;
        let dummy_hash = hasher.hash(&secrets.hex(16)).await.map_err(AuthError::Hashing)?;
        Ok(Self { keys, users, policy, hasher, secrets, clock, settings, dummy_hash, failures: Mutex::default() })
    }

    /// Whether local sign-in is enabled.
    pub fn local_login_enabled(&self) -> bool {
        self.settings.local_login
    }

    /// Resolves an API key secret.
    ///
    /// # Errors
    /// [`AuthError::InvalidApiKey`] for an unknown or revoked key; a database failure.
    pub async fn authenticate_api_key(&self, secret: &str) -> Result<Principal, AuthError> {
        let key = self.keys.find_by_hash(&sha256_hex(secret)).await?.ok_or(AuthError::InvalidApiKey)?;
        if key.revoked_at.is_some() {
            return Err(AuthError::InvalidApiKey);
        }
        let now = self.clock.now();
        // Bookkeeping only: a database busy with another writer must not turn a valid key into a failed request
        // (the next request after the interval tries again).
        if key.last_used_at.is_none_or(|at| now - at >= KEY_TOUCH_INTERVAL) {
            let _ = self.keys.touch(key.id, now).await;
        }
        let permissions = self.policy.current().permissions_of(&key.role);
        Ok(Principal {
            identity: PrincipalRef::ApiKey { id: key.id, name: key.name },
            role: Some(key.role),
            permissions,
            session: None,
            auto_create: key.auto_create,
        })
    }

    /// Resolves a session cookie; `None` when it is unknown, expired or revoked (the same as no cookie).
    ///
    /// # Errors
    /// A database failure.
    pub async fn authenticate_session(&self, token: &str) -> Result<Option<Principal>, AuthError> {
        let Some(session) = self.users.find_session(&sha256_hex(token), self.clock.now()).await? else {
            return Ok(None);
        };
        Ok(Some(self.session_principal(session, csrf_token_for(token))))
    }

    /// Resolves the subject of a report grant (§8.9.2) to the principal it names now: `None` when the session has
    /// ended or the key was revoked or deleted. Such a principal has no CSRF token: the report origin only reads.
    ///
    /// # Errors
    /// A database failure.
    pub async fn authenticate_grant(&self, subject: &GrantSubject) -> Result<Option<Principal>, AuthError> {
        match subject {
            GrantSubject::Session(hash) => {
                let session = self.users.find_session(hash, self.clock.now()).await?;
                Ok(session.map(|s| self.session_principal(s, String::new())))
            }
            GrantSubject::ApiKey(id) => {
                let Some(key) = self.keys.get(*id).await?.filter(|k| k.revoked_at.is_none()) else {
                    return Ok(None);
                };
                Ok(Some(Principal {
                    identity: PrincipalRef::ApiKey { id: key.id, name: key.name },
                    permissions: self.policy.current().permissions_of(&key.role),
                    role: Some(key.role),
                    session: None,
                    auto_create: key.auto_create,
                }))
            }
        }
    }

    fn session_principal(&self, session: LoginSession, csrf_token: String) -> Principal {
        let permissions = session.role.as_ref().map(|r| self.policy.current().permissions_of(r)).unwrap_or_default();
        Principal {
            identity: PrincipalRef::User(session.email),
            role: session.role,
            permissions,
            session: Some(SessionInfo {
                token_hash: session.token_hash,
                provider: session.provider,
                expires_at: session.expires_at,
                csrf_token,
            }),
            auto_create: false,
        }
    }

    /// The role a user gets now: override, else policy membership, else the default role.
    ///
    /// # Errors
    /// A database failure.
    pub async fn resolve_role(&self, email: &Email) -> Result<(Option<RoleName>, RoleSource), StoreError> {
        if let Some(role) = self.users.role_override(email).await?
            && let Ok(role) = RoleName::parse(&role)
        {
            return Ok((Some(role), RoleSource::Override));
        }
        Ok(match self.policy.current().role_for(email) {
            Some((role, source)) => (Some(role), source),
            None => (None, RoleSource::None),
        })
    }

    /// Records a sign-in (creating or updating the user) and opens a session.
    ///
    /// # Errors
    /// A database failure.
    pub async fn sign_in(
        &self,
        email: Email,
        name: String,
        avatar_url: Option<String>,
        provider: Provider,
    ) -> Result<SignedIn, AuthError> {
        let now = self.clock.now();
        let existing = self.users.get(&email).await?;
        let user = User {
            email: email.clone(),
            name,
            avatar_url,
            provider,
            password_hash: existing.as_ref().and_then(|u| u.password_hash.clone()),
            first_login_at: existing.as_ref().map_or(now, |u| u.first_login_at),
            last_login_at: now,
        };
        self.users.upsert(&user).await?;
        let (role, _) = self.resolve_role(&email).await?;
        let token = self.secrets.hex(32);
        let session = LoginSession {
            token_hash: sha256_hex(&token),
            email,
            role,
            provider,
            created_at: now,
            expires_at: now + self.settings.session_ttl,
        };
        self.users.insert_session(&session).await?;
        let principal = self.session_principal(session, csrf_token_for(&token));
        Ok(SignedIn { token, principal, user })
    }

    /// Signs in someone an external provider vouched for: the email must be present and not marked unverified;
    /// the name defaults to the email's local part.
    ///
    /// # Errors
    /// [`AuthError::EmailMissing`], [`AuthError::EmailUnverified`], or a database failure.
    pub async fn sign_in_external(
        &self,
        provider: Provider,
        identity: crate::ports::ExternalIdentity,
    ) -> Result<SignedIn, AuthError> {
        let email = identity.email.as_deref().and_then(|e| Email::parse(e).ok()).ok_or(AuthError::EmailMissing)?;
        if identity.email_verified == Some(false) {
            return Err(AuthError::EmailUnverified);
        }
        let name = identity
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| email.as_str().split('@').next().unwrap_or_default().to_owned());
        self.sign_in(email, name, identity.avatar_url, provider).await
    }

    /// Local sign-in. Ten failures for one client IP and email within 15 minutes refuse further attempts until
    /// the oldest failure leaves the window; an unknown email costs as much time as a wrong password.
    ///
    /// # Errors
    /// [`AuthError::LocalLoginDisabled`], [`AuthError::TooManyAttempts`], [`AuthError::InvalidCredentials`], or a
    /// database failure.
    pub async fn login_local(&self, email: &str, password: &str, client_ip: &str) -> Result<SignedIn, AuthError> {
        if !self.settings.local_login {
            return Err(AuthError::LocalLoginDisabled);
        }
        let email = Email::parse(email).map_err(|_| AuthError::InvalidCredentials);
        let now = self.clock.now();
        let key = email.as_ref().ok().map(|e| (client_ip.to_owned(), e.clone()));
        if let Some(key) = &key {
            self.check_attempts(key, now)?;
        }
        let user = match &email {
            Ok(email) => self.users.get(email).await?,
            Err(_) => None,
        };
        let hash = user.as_ref().and_then(|u| u.password_hash.as_deref()).unwrap_or(&self.dummy_hash);
        let matches = self.hasher.verify(password, hash).await;
        match (user, matches) {
            (Some(user), true) if user.password_hash.is_some() => {
                if let Some(key) = &key {
                    self.failures_lock().remove(key);
                }
                self.sign_in(user.email, user.name, user.avatar_url, Provider::Local).await
            }
            _ => {
                if let Some(key) = key {
                    let mut failures = self.failures_lock();
                    // Many distinct guesses must not grow memory without bound: forget failures that left the
                    // window whenever the table gets large.
                    if failures.len() >= FAILURE_TABLE_SWEEP {
                        failures.retain(|_, times| times.iter().any(|t| now - *t < FAILED_LOGIN_WINDOW));
                    }
                    failures.entry(key).or_default().push(now);
                }
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    fn failures_lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, Email), Vec<Timestamp>>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_attempts(&self, key: &(String, Email), now: Timestamp) -> Result<(), AuthError> {
        let mut failures = self.failures_lock();
        let Some(times) = failures.get_mut(key) else {
            return Ok(());
        };
        times.retain(|t| now - *t < FAILED_LOGIN_WINDOW);
        if times.len() < MAX_FAILED_LOGINS {
            return Ok(());
        }
        let oldest = times.iter().min().copied().unwrap_or(now);
        let wait = (oldest + FAILED_LOGIN_WINDOW - now).num_milliseconds().max(0);
        Err(AuthError::TooManyAttempts { retry_after_secs: u64::try_from(wait).unwrap_or(0).div_ceil(1000).max(1) })
    }

    /// The stored record of a user.
    ///
    /// # Errors
    /// A database failure.
    pub async fn user(&self, email: &Email) -> Result<Option<User>, AuthError> {
        Ok(self.users.get(email).await?)
    }

    /// Revokes the session behind a cookie (nothing when it is unknown).
    ///
    /// # Errors
    /// A database failure.
    pub async fn logout(&self, token: &str) -> Result<(), AuthError> {
        Ok(self.users.delete_session(&sha256_hex(token)).await?)
    }

    /// Makes sure the bootstrap admin account exists with the role override `admin`. With `password` set, the
    /// account's password is (re)set to it; without, a new account gets a random password, which is returned so
    /// the caller can show it once. Returns `None` when nothing was generated.
    ///
    /// # Errors
    /// A database or hashing failure.
    pub async fn ensure_admin_account(
        &self,
        email: &Email,
        password: Option<&str>,
    ) -> Result<Option<String>, AuthError> {
        let existing = self.users.get(email).await?;
        let has_local = existing.as_ref().is_some_and(|u| u.password_hash.is_some());
        let (password, generated) = match password {
            Some(p) => (p.to_owned(), false),
            None if has_local => return Ok(None),
            None => (self.secrets.hex(12), true),
        };
        let hash = self.hasher.hash(&password).await.map_err(AuthError::Hashing)?;
        let now = self.clock.now();
        let user = match existing {
            Some(user) => User { password_hash: Some(hash), ..user },
            None => User {
                email: email.clone(),
                name: email.as_str().split('@').next().unwrap_or_default().to_owned(),
                avatar_url: None,
                provider: Provider::Local,
                password_hash: Some(hash),
                first_login_at: now,
                last_login_at: now,
            },
        };
        self.users.upsert(&user).await?;
        if !has_local {
            self.users.set_role_override(email, Some(RoleName::ADMIN.to_owned()), now).await?;
        }
        Ok(generated.then_some(password))
    }
}

#[cfg(test)]
mod tests;
