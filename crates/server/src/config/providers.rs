//! The OAuth sign-in providers enabled by their variables (Appendix A.5): GitHub, and OpenID Connect for Google,
//! GitLab and a generic issuer.

use super::ConfigError;
use super::secret::Secret;
use super::vars::{Vars, parse_base_url};

/// GitHub's OAuth app and endpoints from the environment.
#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// Client id.
    pub client_id: String,
    /// Client secret (`GITHUB_CLIENT_SECRET`).
    pub client_secret: Secret,
    /// Web root (`GITHUB_URL`, default `https://github.com`).
    pub web_url: String,
    /// REST API root (`GITHUB_API_URL`; default `https://api.github.com`, or `<GITHUB_URL>/api/v3` for GitHub
    /// Enterprise Server).
    pub api_url: String,
}

/// One OpenID Connect provider from the environment.
#[derive(Debug, Clone)]
pub struct OidcProviderConfig {
    /// `google`, `gitlab` or `oidc`.
    pub id: &'static str,
    /// Label.
    pub display_name: String,
    /// Issuer URL.
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Client secret; `None` for a public client relying on PKCE.
    pub client_secret: Option<Secret>,
    /// Scopes.
    pub scopes: Vec<String>,
}

/// GitHub sign-in when its client id and secret are both set. `GITHUB_URL` and `GITHUB_API_URL` point it at a
/// GitHub Enterprise Server instead of github.com.
pub(super) fn github_provider<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
) -> Result<Option<GithubConfig>, ConfigError> {
    let (Some(client_id), Some(client_secret)) = (vars.get("GITHUB_CLIENT_ID"), vars.get("GITHUB_CLIENT_SECRET"))
    else {
        return Ok(None);
    };
    let web_url = parse_base_url("GITHUB_URL", &vars.get("GITHUB_URL").unwrap_or_else(|| "https://github.com".into()))?;
    let api_url = match vars.get("GITHUB_API_URL") {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => url.trim_end_matches('/').to_owned(),
        Some(_) => return Err(ConfigError { name: "GITHUB_API_URL", reason: "must be an http(s) URL".into() }),
        None if web_url == "https://github.com" => "https://api.github.com".to_owned(),
        None => format!("{web_url}/api/v3"),
    };
    Ok(Some(GithubConfig { client_id, client_secret: Secret::new(client_secret), web_url, api_url }))
}

/// The OpenID Connect providers enabled by their variables: Google and GitLab (client id and secret both set)
/// and a generic issuer (`OIDC_ISSUER_URL` and `OIDC_CLIENT_ID`; the secret is optional for public clients).
pub(super) fn oidc_providers<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
) -> Result<Vec<OidcProviderConfig>, ConfigError> {
    let standard = ["openid", "email", "profile"].map(String::from).to_vec();
    let mut providers = Vec::new();
    if let (Some(client_id), Some(secret)) = (vars.get("GOOGLE_CLIENT_ID"), vars.get("GOOGLE_CLIENT_SECRET")) {
        providers.push(OidcProviderConfig {
            id: "google",
            display_name: "Google".into(),
            issuer: "https://accounts.google.com".into(),
            client_id,
            client_secret: Some(Secret::new(secret)),
            scopes: standard.clone(),
        });
    }
    if let (Some(client_id), Some(secret)) = (vars.get("GITLAB_CLIENT_ID"), vars.get("GITLAB_CLIENT_SECRET")) {
        let issuer =
            parse_base_url("GITLAB_URL", &vars.get("GITLAB_URL").unwrap_or_else(|| "https://gitlab.com".into()))?;
        providers.push(OidcProviderConfig {
            id: "gitlab",
            display_name: "GitLab".into(),
            issuer,
            client_id,
            client_secret: Some(Secret::new(secret)),
            scopes: standard.clone(),
        });
    }
    if let (Some(issuer), Some(client_id)) = (vars.get("OIDC_ISSUER_URL"), vars.get("OIDC_CLIENT_ID")) {
        if !issuer.starts_with("https://") && !issuer.starts_with("http://") {
            return Err(ConfigError { name: "OIDC_ISSUER_URL", reason: "must be an http(s) URL".into() });
        }
        providers.push(OidcProviderConfig {
            id: "oidc",
            display_name: vars.get("OIDC_DISPLAY_NAME").unwrap_or_else(|| "Single sign-on".into()),
            issuer,
            client_id,
            client_secret: vars.get("OIDC_CLIENT_SECRET").map(Secret::new),
            scopes: vars
                .get("OIDC_SCOPES")
                .unwrap_or_else(|| "openid email profile".into())
                .split_whitespace()
                .map(String::from)
                .collect(),
        });
    }
    Ok(providers)
}

#[cfg(test)]
mod tests {
    use crate::config::tests::config;

    #[test]
    fn an_oidc_provider_needs_base_url_and_turns_auto_local_login_off() {
        let oidc = [("OIDC_ISSUER_URL", "https://sso.example.com/realms/main"), ("OIDC_CLIENT_ID", "hub")];
        assert_eq!(config(&oidc).unwrap_err().name, "BASE_URL");
        let mut vars = oidc.to_vec();
        vars.push(("BASE_URL", "https://hub.example.com"));
        let c = config(&vars).unwrap();
        assert_eq!(c.auth.oidc.len(), 1);
        assert_eq!((c.auth.oidc[0].display_name.as_str(), c.auth.oidc[0].scopes.len()), ("Single sign-on", 3));
        assert!(c.auth.oidc[0].client_secret.is_none(), "a public client without OIDC_CLIENT_SECRET");
        assert!(!c.auth.local_login, "auto: no local login beside an OAuth provider without ADMIN_PASSWORD");
        vars.push(("ADMIN_PASSWORD", "pw"));
        assert!(config(&vars).unwrap().auth.local_login);
        vars.push(("OIDC_CLIENT_SECRET", "confidential"));
        let secret = config(&vars).unwrap().auth.oidc[0].client_secret.clone().unwrap();
        assert_eq!(secret.expose(), "confidential");
    }

    #[test]
    fn google_and_gitlab_need_both_credentials_and_keep_their_secrets() {
        let base = ("BASE_URL", "https://hub.example.com");
        assert!(config(&[base, ("GOOGLE_CLIENT_ID", "g")]).unwrap().auth.oidc.is_empty());
        let c = config(&[
            base,
            ("GOOGLE_CLIENT_ID", "g"),
            ("GOOGLE_CLIENT_SECRET", "gs"),
            ("GITLAB_CLIENT_ID", "l"),
            ("GITLAB_CLIENT_SECRET", "ls"),
        ])
        .unwrap();
        let shown: Vec<_> = c
            .auth
            .oidc
            .iter()
            .map(|p| (p.id, p.issuer.as_str(), p.client_secret.as_ref().map(|s| s.expose())))
            .collect();
        assert_eq!(
            shown,
            [("google", "https://accounts.google.com", Some("gs")), ("gitlab", "https://gitlab.com", Some("ls"))]
        );
    }

    #[test]
    fn github_needs_both_credentials_and_follows_an_enterprise_server() {
        let c = config(&[("GITHUB_CLIENT_ID", "x")]).unwrap();
        assert!(c.auth.github.is_none(), "a client id alone enables nothing");
        let both = [("GITHUB_CLIENT_ID", "id"), ("GITHUB_CLIENT_SECRET", "secret")];
        assert_eq!(config(&both).unwrap_err().name, "BASE_URL");
        let mut vars = both.to_vec();
        vars.push(("BASE_URL", "https://hub.example.com"));
        let c = config(&vars).unwrap();
        let github = c.auth.github.clone().unwrap();
        assert_eq!(
            (github.web_url.as_str(), github.api_url.as_str()),
            ("https://github.com", "https://api.github.com")
        );
        assert_eq!(github.client_secret.expose(), "secret");
        assert!(!c.auth.local_login, "auto local login is off once an OAuth provider is set");
        vars.push(("GITHUB_URL", "https://ghe.example.com"));
        let github = config(&vars).unwrap().auth.github.unwrap();
        assert_eq!(github.api_url, "https://ghe.example.com/api/v3");
        vars.push(("GITHUB_API_URL", "ftp://ghe"));
        assert_eq!(config(&vars).unwrap_err().name, "GITHUB_API_URL");
    }
}
