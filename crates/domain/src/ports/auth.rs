//! Ports for authentication: password hashing, random secrets and the role policy in force.

use std::sync::Arc;

use crate::model::policy::Policy;

/// One-way password hashing (argon2id in production). Asynchronous because a hash costs tens of milliseconds and
/// megabytes of memory: the adapter runs it away from the request threads.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait PasswordHasher: Send + Sync + 'static {
    /// A self-describing hash (PHC string) of `password` with a fresh salt.
    ///
    /// # Errors
    /// When hashing fails (no random source); the message is for logs.
    async fn hash(&self, password: &str) -> Result<String, String>;

    /// Whether `password` matches `hash`; a malformed hash never matches.
    async fn verify(&self, password: &str, hash: &str) -> bool;
}

/// Unpredictable secrets from a CSPRNG.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretSource: Send + Sync + 'static {
    /// `n` random bytes as `2n` lower-case hex digits.
    fn hex(&self, n: usize) -> String;
}

/// The policy currently in force; implementations may reload it from a file at any time.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait PolicySource: Send + Sync + 'static {
    /// A snapshot of the current policy.
    fn current(&self) -> Arc<Policy>;
}
