//! Users as administrators see them, and role overrides.

use std::sync::Arc;

use thiserror::Error;

use crate::ids::Email;
use crate::model::access::{Principal, PrincipalRef, RoleName};
use crate::model::page::{Page, PageRequest};
use crate::model::user::{RoleSource, User};
use crate::ports::{Clock, PolicySource, StoreError, UserRepo};
use crate::services::auth::AuthService;

/// Why a user operation failed. The messages are the contract's.
#[derive(Debug, Error)]
pub enum UserError {
    /// The role is not in the current policy.
    #[error("unknown role {0}")]
    UnknownRole(String),
    /// Admins cannot lock themselves out (or in).
    #[error("you cannot change your own role")]
    OwnRole,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A user with the role they would get now.
#[derive(Debug, Clone)]
pub struct UserView {
    /// The user.
    pub user: User,
    /// Role now, if any.
    pub role: Option<RoleName>,
    /// What decided it.
    pub role_source: RoleSource,
}

/// The ports [`UserService`] works through, named so that two of one type cannot be swapped.
#[derive(Clone)]
pub struct UserPorts {
    /// User records.
    pub users: Arc<dyn UserRepo>,
    /// Signs a user's sessions out when their role changes.
    pub auth: Arc<AuthService>,
    /// The role policy, for the roles users get without an override.
    pub policy: Arc<dyn PolicySource>,
    /// Times of role changes.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for UserPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPorts").finish_non_exhaustive()
    }
}

/// The user administration use cases.
#[derive(Clone)]
pub struct UserService {
    users: Arc<dyn UserRepo>,
    auth: Arc<AuthService>,
    policy: Arc<dyn PolicySource>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for UserService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserService").finish_non_exhaustive()
    }
}

impl UserService {
    /// Wires the service.
    pub fn new(ports: UserPorts) -> Self {
        let UserPorts { users, auth, policy, clock } = ports;
        Self { users, auth, policy, clock }
    }

    /// A page of users, most recent sign-in first, with their current roles.
    ///
    /// # Errors
    /// A database failure.
    pub async fn list(&self, search: Option<String>, page: PageRequest) -> Result<Page<UserView>, UserError> {
        let users = self.users.list(search, page).await?;
        let mut items = Vec::with_capacity(users.items.len());
        for user in users.items {
            let (role, role_source) = self.auth.resolve_role(&user.email).await?;
            items.push(UserView { user, role, role_source });
        }
        Ok(Page { items, total: users.total })
    }

    fn refuse_own(actor: &Principal, email: &Email) -> Result<(), UserError> {
        match &actor.identity {
            PrincipalRef::User(me) if me == email => Err(UserError::OwnRole),
            _ => Ok(()),
        }
    }

    /// Stores an override and revokes the user's sessions.
    ///
    /// # Errors
    /// [`UserError::OwnRole`], [`UserError::UnknownRole`], or a database failure.
    pub async fn set_role(&self, actor: &Principal, email: &Email, role: &str) -> Result<(), UserError> {
        let parsed = RoleName::parse(role).ok().filter(|r| self.policy.current().has_role(r));
        let Some(role) = parsed else {
            return Err(UserError::UnknownRole(role.to_owned()));
        };
        Self::refuse_own(actor, email)?;
        self.users.set_role_override(email, Some(role.as_str().to_owned()), self.clock.now()).await?;
        Ok(())
    }

    /// Removes an override (idempotent); the user's sessions are revoked when one existed.
    ///
    /// # Errors
    /// [`UserError::OwnRole`], or a database failure.
    pub async fn reset_role(&self, actor: &Principal, email: &Email) -> Result<(), UserError> {
        Self::refuse_own(actor, email)?;
        self.users.set_role_override(email, None, self.clock.now()).await?;
        Ok(())
    }
}
