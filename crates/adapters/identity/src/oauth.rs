//! Sign-in through OAuth providers: OpenID Connect (Google, GitLab, any issuer found by discovery) with the
//! `openidconnect` crate — authorization code flow with PKCE (S256), `state` and `nonce`, ID token verified
//! (signature, issuer, audience, expiry, nonce) — and GitHub's plain OAuth 2.0 (see [`crate::github`]).
//!
//! Discovery runs lazily and is cached per provider; when it fails, the provider answers
//! [`IdentityError::Unavailable`] and discovery is tried again on the next sign-in attempt.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use hub_domain::model::user::Provider;
use hub_domain::ports::{AuthorizationRequest, ExternalIdentity, IdentityError, IdentityProvider};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope,
};
use tokio::sync::Mutex;

use crate::github::GithubSettings;

/// How long a provider may take to answer discovery, token and key requests.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// One configured OpenID Connect provider.
#[derive(Clone)]
pub struct OidcSettings {
    /// Which provider id it serves (`google`, `gitlab` or `oidc`).
    pub provider: Provider,
    /// Label for `/auth/providers`.
    pub display_name: String,
    /// Issuer URL (discovery at `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Client secret; `None` for a public client relying on PKCE.
    pub client_secret: Option<String>,
    /// Scopes requested besides `openid`.
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("provider", &self.provider)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// The [`IdentityProvider`] adapter: every enabled OAuth provider.
pub struct OAuthProviders {
    providers: Vec<OidcSettings>,
    github: Option<GithubSettings>,
    http: openidconnect::reqwest::Client,
    discovered: Mutex<HashMap<Provider, CoreProviderMetadata>>,
}

impl std::fmt::Debug for OAuthProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthProviders")
            .field("providers", &self.providers)
            .field("github", &self.github)
            .finish_non_exhaustive()
    }
}

/// The contract's fixed order of providers.
fn order(p: Provider) -> u8 {
    match p {
        Provider::Google => 0,
        Provider::Github => 1,
        Provider::Gitlab => 2,
        Provider::Oidc => 3,
        Provider::Local => 4,
    }
}

impl OAuthProviders {
    /// Wraps the configured providers; nothing is fetched yet.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(mut providers: Vec<OidcSettings>, github: Option<GithubSettings>) -> Result<Self, String> {
        providers.sort_by_key(|p| order(p.provider));
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects from a provider's endpoints would open the server to SSRF.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { providers, github, discovered: Mutex::default(), http })
    }

    /// Tries discovery for every provider now, so problems show up in the start-up log; failures are retried at
    /// sign-in time.
    pub async fn warm_up(&self) {
        for settings in &self.providers {
            if let Err(e) = self.metadata(settings).await {
                tracing::warn!(provider = %settings.provider, error = %e, "OpenID Connect discovery failed; will retry");
            }
        }
    }

    fn settings(&self, provider: Provider) -> Result<&OidcSettings, IdentityError> {
        self.providers.iter().find(|p| p.provider == provider).ok_or(IdentityError::UnknownProvider)
    }

    async fn metadata(&self, settings: &OidcSettings) -> Result<CoreProviderMetadata, IdentityError> {
        let mut cache = self.discovered.lock().await;
        if let Some(found) = cache.get(&settings.provider) {
            return Ok(found.clone());
        }
        let issuer = IssuerUrl::new(settings.issuer.clone()).map_err(|e| IdentityError::Unavailable(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| IdentityError::Unavailable(error_chain(&e)))?;
        cache.insert(settings.provider, metadata.clone());
        Ok(metadata)
    }

    async fn client(
        &self,
        provider: Provider,
        redirect_uri: &str,
    ) -> Result<
        (
            &OidcSettings,
            CoreClient<
                openidconnect::EndpointSet,
                openidconnect::EndpointNotSet,
                openidconnect::EndpointNotSet,
                openidconnect::EndpointNotSet,
                openidconnect::EndpointMaybeSet,
                openidconnect::EndpointMaybeSet,
            >,
        ),
        IdentityError,
    > {
        let settings = self.settings(provider)?;
        let metadata = self.metadata(settings).await?;
        let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| IdentityError::Provider(e.to_string()))?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(settings.client_id.clone()),
            settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect);
        Ok((settings, client))
    }
}

/// An error with its causes, for logs and failure reasons.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[async_trait]
impl IdentityProvider for OAuthProviders {
    fn enabled(&self) -> Vec<(Provider, String)> {
        let mut enabled: Vec<_> = self.providers.iter().map(|p| (p.provider, p.display_name.clone())).collect();
        if self.github.is_some() {
            enabled.push((Provider::Github, "GitHub".to_owned()));
        }
        enabled.sort_by_key(|(p, _)| order(*p));
        enabled
    }

    async fn authorization_request(
        &self,
        provider: Provider,
        redirect_uri: &str,
    ) -> Result<AuthorizationRequest, IdentityError> {
        if provider == Provider::Github {
            return self.github.as_ref().ok_or(IdentityError::UnknownProvider)?.authorization_request(redirect_uri);
        }
        let (settings, client) = self.client(provider, redirect_uri).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request =
            client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        for scope in settings.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(AuthorizationRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
        })
    }

    async fn exchange(
        &self,
        provider: Provider,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<ExternalIdentity, IdentityError> {
        if provider == Provider::Github {
            let github = self.github.as_ref().ok_or(IdentityError::UnknownProvider)?;
            return github.exchange(&self.http, redirect_uri, code, pkce_verifier).await;
        }
        let (_, client) = self.client(provider, redirect_uri).await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| IdentityError::Provider(error_chain(&e)))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| IdentityError::Provider(error_chain(&e)))?;
        let id_token = openidconnect::TokenResponse::id_token(&response)
            .ok_or_else(|| IdentityError::Provider("the token response has no ID token".into()))?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_owned()))
            .map_err(|e| IdentityError::Provider(error_chain(&e)))?;
        Ok(ExternalIdentity {
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified(),
            name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
            avatar_url: claims.picture().and_then(|p| p.get(None)).map(|p| p.as_str().to_owned()),
        })
    }
}
