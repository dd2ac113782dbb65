//! Where the objects live: `STORAGE_URL=s3://bucket[/prefix]` and the variables every S3 client reads
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL` or `S3_ENDPOINT`, `AWS_ALLOW_HTTP`,
//! web-identity and container credentials, ...), turned into an `object_store` [`AmazonS3Builder`].
//!
//! Requests use path-style addressing (`https://endpoint/bucket/key`), which every S3-compatible store answers;
//! `AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true` asks for `https://bucket.endpoint/key` instead. Credentials not given as
//! variables come from the crate's chain (web identity, ECS/EKS container credentials, instance metadata).
//!
//! Secrets are kept only for the builder: [`S3Settings`]'s `Debug` shows the values that are safe to log and
//! replaces every other one.

use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut};
use object_store::{ClientConfigKey, RetryConfig};
use thiserror::Error;

/// Variables read besides the `AWS_*` ones: the endpoint as MinIO and many tools name it.
const S3_ENDPOINT: &str = "S3_ENDPOINT";

/// Boolean variables checked here, so that a typo is reported with the variable's name at start-up.
const BOOLEANS: [&str; 2] = ["AWS_ALLOW_HTTP", "AWS_VIRTUAL_HOSTED_STYLE_REQUEST"];

/// Why the storage settings cannot be used; the message names the variable to fix and never holds a value.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SettingsError {
    /// `STORAGE_URL` is not `s3://bucket[/prefix]`.
    #[error("STORAGE_URL must be s3://bucket[/prefix]: {0}")]
    Url(&'static str),
    /// A variable holds a value that cannot be used.
    #[error("{variable}: {reason}")]
    Variable {
        /// The variable's name.
        variable: String,
        /// What is wrong with its value.
        reason: String,
    },
}

/// The bucket, the key prefix inside it, and the client options for `object_store`.
#[derive(Clone)]
pub struct S3Settings {
    bucket: String,
    prefix: String,
    options: Vec<(AmazonS3ConfigKey, String)>,
}

impl S3Settings {
    /// Reads `url` (`STORAGE_URL`) and the process's environment.
    ///
    /// # Errors
    /// [`SettingsError`] naming the variable that cannot be used.
    pub fn from_env(url: &str) -> Result<Self, SettingsError> {
        Self::parse(url, std::env::vars())
    }

    /// Reads `url` (`STORAGE_URL`) and the given variables (name, value); unknown variables are ignored.
    ///
    /// # Errors
    /// [`SettingsError`] naming the variable that cannot be used.
    pub fn parse(url: &str, vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, SettingsError> {
        let (bucket, prefix) = parse_url(url)?;
        let mut options = Vec::new();
        let mut fallback_endpoint = None;
        for (name, value) in vars {
            if value.is_empty() {
                continue;
            }
            if name == S3_ENDPOINT {
                fallback_endpoint = Some(value);
                continue;
            }
            if !name.starts_with("AWS_") {
                continue;
            }
            let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() else { continue };
            // The bucket is the URL's; conditional puts are what keeps history updates from overwriting each
            // other, so they are not for a variable to turn off.
            if matches!(key, AmazonS3ConfigKey::Bucket | AmazonS3ConfigKey::ConditionalPut) {
                continue;
            }
            if BOOLEANS.contains(&name.as_str()) && parse_bool(&value).is_none() {
                return Err(SettingsError::Variable { variable: name, reason: "expected true or false".to_owned() });
            }
            options.push((key, value));
        }
        let has_endpoint =
            options.iter().any(|(k, _)| matches!(k, AmazonS3ConfigKey::Endpoint | AmazonS3ConfigKey::S3Endpoint));
        if let Some(endpoint) = fallback_endpoint.filter(|_| !has_endpoint) {
            options.push((AmazonS3ConfigKey::Endpoint, endpoint));
        }
        Ok(Self { bucket, prefix, options })
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The prefix every key starts with (`""` for the bucket's root), without leading or trailing `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The client for these settings: bounded retries so that an outage is reported within seconds rather than
    /// after the crate's three minutes, and conditional puts by entity tag.
    pub(crate) fn builder(&self) -> AmazonS3Builder {
        let retry = RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(20), ..RetryConfig::default() };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&self.bucket)
            .with_retry(retry)
            .with_conditional_put(S3ConditionalPut::ETagMatch);
        for (key, value) in &self.options {
            builder = builder.with_config(*key, value);
        }
        builder
    }
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let options: Vec<(&str, &str)> = self
            .options
            .iter()
            .map(|(key, value)| (key.as_ref(), if loggable(*key) { value.as_str() } else { "<redacted>" }))
            .collect();
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("options", &options)
            .finish()
    }
}

/// Whether a value may appear in logs: names, addresses and switches; never a credential, an encryption key, or
/// anything that may embed one (proxy URLs, headers, a credentials URI).
fn loggable(key: AmazonS3ConfigKey) -> bool {
    use AmazonS3ConfigKey as K;
    matches!(
        key,
        K::AccessKeyId
            | K::Region
            | K::DefaultRegion
            | K::Endpoint
            | K::S3Endpoint
            | K::VirtualHostedStyleRequest
            | K::S3Express
            | K::ImdsV1Fallback
            | K::MetadataEndpoint
            | K::UnsignedPayload
            | K::Checksum
            | K::WebIdentityTokenFile
            | K::RoleArn
            | K::RoleSessionName
            | K::StsEndpoint
            | K::SkipSignature
            | K::DisableTagging
            | K::RequestPayer
            | K::Client(ClientConfigKey::AllowHttp)
    )
}

/// The booleans `object_store` accepts.
fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" | "y" => Some(true),
        "0" | "false" | "off" | "no" | "n" => Some(false),
        _ => None,
    }
}

/// `s3://bucket[/prefix]` → (bucket, prefix without surrounding slashes).
fn parse_url(url: &str) -> Result<(String, String), SettingsError> {
    let rest = url.strip_prefix("s3://").ok_or(SettingsError::Url("the scheme must be s3://"))?;
    if rest.contains(['?', '#']) {
        return Err(SettingsError::Url("no query or fragment is allowed"));
    }
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.contains('@') {
        return Err(SettingsError::Url("credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, not the URL"));
    }
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !valid_bucket {
        return Err(SettingsError::Url("the bucket name must be 3-63 lower-case letters, digits, dots or hyphens"));
    }
    let segments: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
    if segments.iter().any(|s| *s == "." || *s == ".." || s.contains(|c: char| c.is_ascii_control() || c == '\\')) {
        return Err(SettingsError::Url("the prefix must be plain names separated by /"));
    }
    Ok((bucket.to_owned(), segments.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn settings(url: &str, pairs: &[(&str, &str)]) -> S3Settings {
        S3Settings::parse(url, vars(pairs)).unwrap()
    }

    #[test]
    fn the_url_gives_the_bucket_and_the_prefix() {
        let s = settings("s3://reports", &[]);
        assert_eq!((s.bucket(), s.prefix()), ("reports", ""));
        let s = settings("s3://my.bucket-1/hub/prod/", &[]);
        assert_eq!((s.bucket(), s.prefix()), ("my.bucket-1", "hub/prod"));
        let s = settings("s3://reports//a//b", &[]);
        assert_eq!(s.prefix(), "a/b");
    }

    #[test]
    fn urls_that_are_not_a_bucket_are_refused_without_echoing_them() {
        for bad in [
            "file:///data",
            "s3://",
            "s3://ab",
            "s3://Upper",
            "s3://-start",
            "s3://key:secret@bucket/x",
            "s3://bucket?region=x",
            "s3://bucket/../x",
            "s3://bucket/a/./b",
        ] {
            let err = S3Settings::parse(bad, Vec::new()).unwrap_err();
            assert!(matches!(err, SettingsError::Url(_)), "{bad}: {err:?}");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }

    #[test]
    fn the_usual_variables_configure_the_client() {
        let s = settings(
            "s3://reports/hub",
            &[
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI"),
                ("AWS_REGION", "eu-west-3"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
                ("AWS_ALLOW_HTTP", "true"),
                ("AWS_BUCKET", "not-this-one"),
                ("AWS_CONDITIONAL_PUT", "disabled"),
                ("AWS_PROFILE", "ignored"),
                ("HOME", "/root"),
            ],
        );
        let b = s.builder();
        let get = |key| b.get_config_value(&key);
        assert_eq!(get(AmazonS3ConfigKey::Bucket).as_deref(), Some("reports"), "the bucket is the URL's");
        assert_eq!(get(AmazonS3ConfigKey::AccessKeyId).as_deref(), Some("AKIDEXAMPLE"));
        assert_eq!(get(AmazonS3ConfigKey::SecretAccessKey).as_deref(), Some("wJalrXUtnFEMI"));
        assert_eq!(get(AmazonS3ConfigKey::Region).as_deref(), Some("eu-west-3"));
        assert_eq!(get(AmazonS3ConfigKey::Endpoint).as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(get(AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp)).as_deref(), Some("true"));
        assert_eq!(get(AmazonS3ConfigKey::ConditionalPut).as_deref(), Some("etag"), "history relies on it");
        assert_eq!(get(AmazonS3ConfigKey::VirtualHostedStyleRequest).as_deref(), Some("false"), "path-style");
    }

    #[test]
    fn s3_endpoint_is_the_fallback_of_aws_endpoint_url() {
        let b = settings("s3://reports", &[("S3_ENDPOINT", "http://minio:9000")]).builder();
        assert_eq!(b.get_config_value(&AmazonS3ConfigKey::Endpoint).as_deref(), Some("http://minio:9000"));
        let b = settings("s3://reports", &[("S3_ENDPOINT", "http://minio:9000"), ("AWS_ENDPOINT_URL", "http://a:1")])
            .builder();
        assert_eq!(b.get_config_value(&AmazonS3ConfigKey::Endpoint).as_deref(), Some("http://a:1"));
        let b = settings("s3://reports", &[("AWS_ENDPOINT_URL_S3", "http://s3only:2"), ("S3_ENDPOINT", "http://m:9")])
            .builder();
        assert_eq!(b.get_config_value(&AmazonS3ConfigKey::S3Endpoint).as_deref(), Some("http://s3only:2"));
        assert_eq!(b.get_config_value(&AmazonS3ConfigKey::Endpoint), None, "the S3-specific endpoint wins");
    }

    #[test]
    fn virtual_hosted_requests_and_the_default_region_can_be_chosen() {
        let b = settings(
            "s3://reports",
            &[("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "true"), ("AWS_DEFAULT_REGION", "us-west-2")],
        )
        .builder();
        assert_eq!(b.get_config_value(&AmazonS3ConfigKey::VirtualHostedStyleRequest).as_deref(), Some("true"));
        assert_eq!(b.get_config_value(&AmazonS3ConfigKey::Region).as_deref(), Some("us-west-2"));
        let b =
            settings("s3://reports", &[("AWS_REGION", "eu-north-1"), ("AWS_DEFAULT_REGION", "us-west-2")]).builder();
        assert_eq!(b.get_config_value(&AmazonS3ConfigKey::Region).as_deref(), Some("eu-north-1"));
    }

    #[test]
    fn a_switch_that_is_not_a_boolean_is_named() {
        let err = S3Settings::parse("s3://reports", vars(&[("AWS_ALLOW_HTTP", "sure")])).unwrap_err();
        assert_eq!(
            err,
            SettingsError::Variable { variable: "AWS_ALLOW_HTTP".into(), reason: "expected true or false".into() }
        );
        assert!(err.to_string().starts_with("AWS_ALLOW_HTTP: "));
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let s = settings(
            "s3://reports/hub",
            &[
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "very-secret-key"),
                ("AWS_SESSION_TOKEN", "session-token-value"),
                ("AWS_SSE_CUSTOMER_KEY_BASE64", "customer-key-value"),
                ("AWS_PROXY_URL", "http://user:proxy-password@proxy:3128"),
                ("AWS_REGION", "eu-west-3"),
            ],
        );
        let shown = format!("{s:?}");
        for secret in ["very-secret-key", "session-token-value", "customer-key-value", "proxy-password"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        for visible in ["reports", "hub", "AKIDEXAMPLE", "eu-west-3", "<redacted>"] {
            assert!(shown.contains(visible), "{shown}");
        }
    }
}
