//! Sign-in with GitHub, which speaks plain OAuth 2.0 rather than OpenID Connect: authorization code with PKCE
//! (S256) and `state` through the `oauth2` client, then the account's profile and its primary verified email
//! from the REST API (`GET /user`, `GET /user/emails`), since GitHub issues no ID token.

use hub_domain::ports::{AuthorizationRequest, ExternalIdentity, IdentityError};
use openidconnect::reqwest::Client;
use serde::Deserialize;

use crate::oauth::error_chain;

/// Scopes of the contract: the profile, and the email list (needed for private primary addresses).
const SCOPES: [&str; 2] = ["read:user", "user:email"];

/// GitHub's endpoints and this server's OAuth app.
#[derive(Clone)]
pub struct GithubSettings {
    /// Client id of the OAuth app.
    pub client_id: String,
    /// Client secret of the OAuth app.
    pub client_secret: String,
    /// Web root serving `/login/oauth/…` (`https://github.com`, or a GitHub Enterprise Server).
    pub web_url: String,
    /// REST API root (`https://api.github.com`, or `https://<host>/api/v3` on GitHub Enterprise Server).
    pub api_url: String,
}

impl std::fmt::Debug for GithubSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubSettings")
            .field("client_id", &self.client_id)
            .field("web_url", &self.web_url)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

type GithubClient = oauth2::basic::BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

impl GithubSettings {
    fn client(&self, redirect_uri: &str) -> Result<GithubClient, IdentityError> {
        let invalid = |e: oauth2::url::ParseError| IdentityError::Provider(e.to_string());
        Ok(oauth2::basic::BasicClient::new(oauth2::ClientId::new(self.client_id.clone()))
            .set_client_secret(oauth2::ClientSecret::new(self.client_secret.clone()))
            // GitHub documents the client credentials in the request body.
            .set_auth_type(oauth2::AuthType::RequestBody)
            .set_auth_uri(oauth2::AuthUrl::new(format!("{}/login/oauth/authorize", self.web_url)).map_err(invalid)?)
            .set_token_uri(
                oauth2::TokenUrl::new(format!("{}/login/oauth/access_token", self.web_url)).map_err(invalid)?,
            )
            .set_redirect_uri(oauth2::RedirectUrl::new(redirect_uri.to_owned()).map_err(invalid)?))
    }

    /// The authorization URL with a fresh `state` and PKCE challenge. GitHub has no `nonce`; the flow keeps an
    /// empty one.
    pub(crate) fn authorization_request(&self, redirect_uri: &str) -> Result<AuthorizationRequest, IdentityError> {
        let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
        let client = self.client(redirect_uri)?;
        let mut request = client.authorize_url(oauth2::CsrfToken::new_random);
        for scope in SCOPES {
            request = request.add_scope(oauth2::Scope::new(scope.to_owned()));
        }
        let (url, state) = request.set_pkce_challenge(challenge).url();
        Ok(AuthorizationRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: String::new(),
        })
    }

    /// Exchanges the code for an access token, then reads the profile and the primary verified email with it.
    pub(crate) async fn exchange(
        &self,
        http: &Client,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
    ) -> Result<ExternalIdentity, IdentityError> {
        let token = self
            .client(redirect_uri)?
            .exchange_code(oauth2::AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(oauth2::PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(http)
            .await
            .map_err(|e| IdentityError::Provider(error_chain(&e)))?;
        let access = oauth2::TokenResponse::access_token(&token).secret().clone();
        let user: GithubUser = self.api(http, "/user", &access).await?;
        let emails: Vec<GithubEmail> = self.api(http, "/user/emails", &access).await?;
        let primary = emails.into_iter().find(|e| e.primary);
        Ok(ExternalIdentity {
            email_verified: primary.as_ref().map(|e| e.verified),
            email: primary.map(|e| e.email),
            name: user.name.filter(|n| !n.trim().is_empty()).or(Some(user.login)),
            avatar_url: user.avatar_url,
        })
    }

    async fn api<T: serde::de::DeserializeOwned>(
        &self,
        http: &Client,
        path: &str,
        access_token: &str,
    ) -> Result<T, IdentityError> {
        let response = http
            .get(format!("{}{path}", self.api_url))
            .bearer_auth(access_token)
            // GitHub's API refuses requests without a User-Agent.
            .header("User-Agent", concat!("allure-hub/", env!("CARGO_PKG_VERSION")))
            .header("Accept", "application/vnd.github+json")
            .send()
            .await
            .map_err(|e| IdentityError::Provider(error_chain(&e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(IdentityError::Provider(format!("GitHub answered {status} to {path}")));
        }
        response.json().await.map_err(|e| IdentityError::Provider(format!("GitHub {path}: {}", error_chain(&e))))
    }
}

#[derive(Deserialize)]
struct GithubUser {
    login: String,
    name: Option<String>,
    avatar_url: Option<String>,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}
