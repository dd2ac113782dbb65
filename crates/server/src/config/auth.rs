//! Sign-in and session settings (Appendix A.5): local sign-in, the bootstrap admin, cookies and sessions. The
//! OAuth providers beside them are read in [`super::providers`].

use std::path::PathBuf;
use std::time::Duration;

use hub_domain::model::syntax as parse;

use super::ConfigError;
use super::providers::{GithubConfig, OidcProviderConfig, github_provider, oidc_providers};
use super::secret::Secret;
use super::vars::Vars;

/// Sign-in and session settings (Appendix A.5).
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Session lifetime (`SESSION_TTL`).
    pub session_ttl: Duration,
    /// `Secure` attribute on cookies (`SECURE_COOKIE`, `auto` = on when `BASE_URL` is https).
    pub secure_cookie: bool,
    /// Role policy file (`AUTH_POLICY_FILE`).
    pub policy_file: PathBuf,
    /// Whether local sign-in is enabled (`LOCAL_LOGIN`).
    pub local_login: bool,
    /// Bootstrap admin account (`ADMIN_EMAIL`).
    pub admin_email: String,
    /// Its password (`ADMIN_PASSWORD`).
    pub admin_password: Option<Secret>,
    /// Key material for cookies the server seals (`SESSION_SECRET`); generated into `DATA_DIR/secret` when unset.
    pub session_secret: Option<Secret>,
    /// Where a sign-in without `next` ends (`AUTH_AFTER_LOGIN_URL`).
    pub after_login_url: String,
    /// Enabled OpenID Connect providers.
    pub oidc: Vec<OidcProviderConfig>,
    /// GitHub sign-in, when `GITHUB_CLIENT_ID` and `GITHUB_CLIENT_SECRET` are both set.
    pub github: Option<GithubConfig>,
}

impl AuthConfig {
    pub(super) fn from_vars<F: Fn(&str) -> Option<String>>(
        vars: &Vars<F>,
        base_url: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let admin_password = vars.get("ADMIN_PASSWORD");
        if admin_password.as_ref().is_some_and(|p| p.chars().count() > 1024) {
            return Err(ConfigError { name: "ADMIN_PASSWORD", reason: "must be at most 1024 characters".into() });
        }
        let oidc = oidc_providers(vars)?;
        let github = github_provider(vars)?;
        let oauth = !oidc.is_empty() || github.is_some();
        if oauth && base_url.is_none() {
            return Err(ConfigError {
                name: "BASE_URL",
                reason: "is required when an OAuth provider is configured".into(),
            });
        }
        let local_login = match vars.get("LOCAL_LOGIN").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("auto") => !oauth || admin_password.is_some(),
            Some(v) => parse::boolean(v)
                .ok_or_else(|| ConfigError { name: "LOCAL_LOGIN", reason: "expected true, false or auto".into() })?,
        };
        if !local_login && !oauth {
            return Err(ConfigError { name: "LOCAL_LOGIN", reason: "no sign-in method would be enabled".into() });
        }
        let session_secret = vars.get("SESSION_SECRET");
        if session_secret.as_ref().is_some_and(|s| s.len() < 32) {
            return Err(ConfigError { name: "SESSION_SECRET", reason: "must be at least 32 bytes".into() });
        }
        let after_login_url = vars.get("AUTH_AFTER_LOGIN_URL").unwrap_or_else(|| "/".into());
        // It becomes a `Location` header: a space or control character would make every sign-in a 500.
        if !after_login_url.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError {
                name: "AUTH_AFTER_LOGIN_URL",
                reason: "must be a path or URL of visible ASCII characters (percent-encode the rest)".into(),
            });
        }
        let secure_cookie = match vars.get("SECURE_COOKIE").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("auto") => base_url.is_some_and(|u| u.starts_with("https://")),
            Some(v) => parse::boolean(v)
                .ok_or_else(|| ConfigError { name: "SECURE_COOKIE", reason: "expected true, false or auto".into() })?,
        };
        let admin_email = vars.get("ADMIN_EMAIL").unwrap_or_else(|| "admin@localhost".into());
        if hub_domain::ids::Email::parse(&admin_email).is_err() {
            return Err(ConfigError { name: "ADMIN_EMAIL", reason: "expected an email address".into() });
        }
        let session_ttl = vars.duration("SESSION_TTL", Duration::from_secs(7 * 86_400))?;
        if session_ttl.is_zero() {
            return Err(ConfigError { name: "SESSION_TTL", reason: "must be positive".into() });
        }
        Ok(Self {
            session_ttl,
            secure_cookie,
            policy_file: PathBuf::from(vars.get("AUTH_POLICY_FILE").unwrap_or_else(|| "./policy.yaml".into())),
            local_login,
            admin_email,
            admin_password: admin_password.map(Secret::new),
            session_secret: session_secret.map(Secret::new),
            after_login_url,
            oidc,
            github,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::tests::{assert_rejected, config};

    #[test]
    fn auth_defaults_follow_the_contract() {
        let c = config(&[]).unwrap();
        assert_eq!(c.auth.session_ttl, Duration::from_secs(7 * 86_400));
        assert!(!c.auth.secure_cookie && c.auth.local_login);
        assert_eq!(c.auth.admin_email, "admin@localhost");
        assert!(c.auth.policy_file.ends_with("policy.yaml"));
        let c = config(&[("BASE_URL", "https://hub.example.com")]).unwrap();
        assert!(c.auth.secure_cookie, "auto turns Secure on for an https BASE_URL");
        let c = config(&[("BASE_URL", "https://hub.example.com"), ("SECURE_COOKIE", "false")]).unwrap();
        assert!(!c.auth.secure_cookie);
    }

    #[test]
    fn the_after_login_url_must_be_usable_as_a_location_header() {
        assert_eq!(config(&[]).unwrap().auth.after_login_url, "/");
        assert_eq!(config(&[("AUTH_AFTER_LOGIN_URL", "/environments")]).unwrap().auth.after_login_url, "/environments");
        for bad in ["/a b", "/a\tb", "/a\nb", "/café"] {
            assert_eq!(config(&[("AUTH_AFTER_LOGIN_URL", bad)]).unwrap_err().name, "AUTH_AFTER_LOGIN_URL", "{bad:?}");
        }
    }

    #[test]
    fn the_admin_password_and_session_secret_are_kept_as_given() {
        let key = "k".repeat(32);
        let c = config(&[("ADMIN_PASSWORD", " pw "), ("SESSION_SECRET", key.as_str())]).unwrap();
        assert_eq!(c.auth.admin_password.as_ref().map(|p| p.expose()), Some("pw"), "trimmed like every value");
        assert_eq!(c.auth.session_secret.as_ref().map(|s| s.expose()), Some(key.as_str()));
        assert!(config(&[]).unwrap().auth.session_secret.is_none(), "generated at start-up when unset");
        assert_eq!(config(&[("ADMIN_PASSWORD", "p".repeat(1025).as_str())]).unwrap_err().name, "ADMIN_PASSWORD");
    }

    #[test]
    fn invalid_auth_values_name_their_variable() {
        assert_rejected(&[
            ("SESSION_TTL", "0"),
            ("LOCAL_LOGIN", "false"),
            ("SESSION_SECRET", "too-short"),
            ("ADMIN_EMAIL", "not-an-email"),
        ]);
    }
}
