//! External identity providers (OAuth 2.0 / OpenID Connect), as the sign-in flow sees them.

use async_trait::async_trait;
use thiserror::Error;

use crate::model::user::Provider;

/// Where to send the browser, and what must come back with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// The provider's authorization URL with every parameter set.
    pub url: String,
    /// The random `state` sent.
    pub state: String,
    /// The PKCE verifier whose S256 challenge was sent.
    pub pkce_verifier: String,
    /// The `nonce` sent (OpenID Connect).
    pub nonce: String,
}

/// What a provider vouched for after a successful code exchange (ID token verified).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// Email address, as the provider spells it.
    pub email: Option<String>,
    /// Whether the provider verified it (`None`: it did not say).
    pub email_verified: Option<bool>,
    /// Display name.
    pub name: Option<String>,
    /// Avatar image URL.
    pub avatar_url: Option<String>,
}

/// Why a provider step failed.
#[derive(Debug, Error)]
pub enum IdentityError {
    /// Not an enabled provider.
    #[error("unknown provider")]
    UnknownProvider,
    /// The provider cannot be used now (discovery failing).
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused or answered something unusable (exchange failed, ID token invalid, …).
    #[error("provider error: {0}")]
    Provider(String),
}

/// The enabled OAuth/OIDC providers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdentityProvider: Send + Sync + 'static {
    /// Enabled providers with their display names, in the contract's order.
    fn enabled(&self) -> Vec<(Provider, String)>;

    /// Starts a sign-in: a fresh `state`, PKCE verifier and `nonce`, and the URL carrying them.
    ///
    /// # Errors
    /// [`IdentityError::UnknownProvider`], or [`IdentityError::Unavailable`] while discovery fails.
    async fn authorization_request(
        &self,
        provider: Provider,
        redirect_uri: &str,
    ) -> Result<AuthorizationRequest, IdentityError>;

    /// Exchanges a code (with the flow's verifier), verifies the ID token against the flow's nonce, and returns
    /// the identity.
    ///
    /// # Errors
    /// [`IdentityError`] for any failure of the exchange or verification.
    async fn exchange(
        &self,
        provider: Provider,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<ExternalIdentity, IdentityError>;
}
