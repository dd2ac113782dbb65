//! Where results, reports, history and chunks are kept (`STORAGE_URL`): the data directory, or an S3-compatible
//! bucket with the variables every S3 client reads.

use std::path::{Path, PathBuf};

use super::vars::Vars;
use super::{ConfigError, Secret};

/// The S3 client variables read, beside `STORAGE_URL`; their values are handed to the S3 adapter as they are.
const S3_VARIABLES: [&str; 12] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "S3_ENDPOINT",
    "AWS_ALLOW_HTTP",
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
];

/// The S3 client variables that hold credentials: kept as [`Secret`]s.
const S3_SECRETS: [&str; 2] = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

/// Where the files are.
#[derive(Debug, Clone)]
pub enum StorageConfig {
    /// Under the data directory (`STORAGE_URL` unset, or `file://` naming `DATA_DIR`).
    Filesystem,
    /// In an S3-compatible bucket; `DATA_DIR` then holds only local scratch work.
    S3 {
        /// `s3://bucket[/prefix]`.
        url: String,
        /// The S3 client variables that are set, by name.
        variables: Vec<(&'static str, String)>,
        /// The credential variables that are set, by name.
        secrets: Vec<(&'static str, Secret)>,
    },
}

impl StorageConfig {
    /// Reads `STORAGE_URL` (and, for `s3://`, the S3 client variables). A `file://` URL must name `data_dir`: the
    /// files live under `DATA_DIR` with the database and the scratch work, so two places would only disagree.
    pub(super) fn from_vars<F: Fn(&str) -> Option<String>>(
        vars: &Vars<F>,
        data_dir: &Path,
    ) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError { name: "STORAGE_URL", reason };
        let Some(url) = vars.get("STORAGE_URL") else { return Ok(Self::Filesystem) };
        if let Some(path) = url.strip_prefix("file://") {
            let path = std::path::absolute(PathBuf::from(path)).map_err(|e| invalid(e.to_string()))?;
            return if path == data_dir {
                Ok(Self::Filesystem)
            } else {
                Err(invalid(format!("a file:// URL must name DATA_DIR ({})", data_dir.display())))
            };
        }
        if !url.starts_with("s3://") {
            return Err(invalid("expected s3://bucket[/prefix] or file://DATA_DIR".to_owned()));
        }
        Ok(Self::bucket(url, vars))
    }

    /// A bucket's configuration: `url` and the S3 client variables that are set.
    fn bucket<F: Fn(&str) -> Option<String>>(url: String, vars: &Vars<F>) -> Self {
        let variables = S3_VARIABLES.into_iter().filter_map(|name| vars.get(name).map(|v| (name, v))).collect();
        let secrets =
            S3_SECRETS.into_iter().filter_map(|name| vars.get(name).map(|v| (name, Secret::new(v)))).collect();
        Self::S3 { url, variables, secrets }
    }

    /// The S3 client variables with their values, secrets included, for the adapter's settings.
    pub fn s3_variables(&self) -> Vec<(String, String)> {
        match self {
            Self::Filesystem => Vec::new(),
            Self::S3 { variables, secrets, .. } => variables
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.clone()))
                .chain(secrets.iter().map(|(name, secret)| ((*name).to_owned(), secret.expose().to_owned())))
                .collect(),
        }
    }
}

/// Where `allure-hub storage copy --to <url>` copies to.
#[derive(Debug, Clone)]
pub enum CopyTarget {
    /// A directory laid out like `DATA_DIR` (`file:///absolute/path`): the place to copy a bucket back to.
    Directory(PathBuf),
    /// A bucket (`s3://bucket[/prefix]`), reached with the S3 client variables of the environment.
    Bucket(StorageConfig),
}

impl CopyTarget {
    /// Reads `url` (named `--to` in errors), with the S3 client variables `lookup` gives (the process
    /// environment's, or a test's).
    ///
    /// # Errors
    /// When the URL is neither `file:///absolute/path` nor `s3://bucket[/prefix]`.
    pub fn from_lookup(url: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_vars(url, &Vars(lookup))
    }

    fn from_vars<F: Fn(&str) -> Option<String>>(url: &str, vars: &Vars<F>) -> Result<Self, ConfigError> {
        let invalid = |reason: &str| ConfigError { name: "--to", reason: reason.to_owned() };
        if let Some(path) = url.strip_prefix("file://") {
            let path = PathBuf::from(path);
            return if path.is_absolute() {
                Ok(Self::Directory(path))
            } else {
                Err(invalid("a file:// URL must name an absolute directory (file:///srv/hub-data)"))
            };
        }
        if url.starts_with("s3://") {
            return Ok(Self::Bucket(StorageConfig::bucket(url.to_owned(), vars)));
        }
        Err(invalid("expected s3://bucket[/prefix] or file:///absolute/directory"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<StorageConfig, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        StorageConfig::from_vars(&Vars(|name: &str| map.get(name).cloned()), Path::new("/srv/hub"))
    }

    #[test]
    fn unset_or_the_data_directory_is_the_filesystem() {
        assert!(matches!(read(&[]), Ok(StorageConfig::Filesystem)));
        assert!(matches!(read(&[("STORAGE_URL", "file:///srv/hub")]), Ok(StorageConfig::Filesystem)));
        let elsewhere = read(&[("STORAGE_URL", "file:///elsewhere")]).unwrap_err();
        assert_eq!(
            (elsewhere.name, elsewhere.reason),
            ("STORAGE_URL", "a file:// URL must name DATA_DIR (/srv/hub)".into())
        );
        assert_eq!(read(&[("STORAGE_URL", "gs://bucket")]).unwrap_err().name, "STORAGE_URL");
    }

    #[test]
    fn copies_go_to_an_absolute_directory_or_a_bucket() {
        let vars = Vars(|name: &str| (name == "AWS_REGION").then(|| "eu-west-1".to_owned()));
        assert!(
            matches!(CopyTarget::from_vars("file:///srv/copy", &vars), Ok(CopyTarget::Directory(p)) if p == Path::new("/srv/copy"))
        );
        let Ok(CopyTarget::Bucket(bucket)) = CopyTarget::from_vars("s3://reports/hub", &vars) else { panic!() };
        assert_eq!(bucket.s3_variables(), [("AWS_REGION".to_owned(), "eu-west-1".to_owned())]);
        for wrong in ["file://relative", "gs://bucket", "/srv/copy"] {
            assert_eq!(CopyTarget::from_vars(wrong, &vars).unwrap_err().name, "--to", "{wrong}");
        }
    }

    #[test]
    fn a_bucket_takes_the_s3_variables_and_never_shows_the_credentials() {
        let config = read(&[
            ("STORAGE_URL", "s3://reports/hub"),
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-very-secret"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
            ("AWS_ALLOW_HTTP", "true"),
            ("UNRELATED", "x"),
        ])
        .unwrap();
        let shown = format!("{config:?}");
        assert!(shown.contains("s3://reports/hub") && shown.contains("AKIAEXAMPLE"), "{shown}");
        assert!(!shown.contains("very-secret"), "{shown}");
        let mut handed = config.s3_variables();
        handed.sort();
        assert_eq!(
            handed,
            [
                ("AWS_ACCESS_KEY_ID".to_owned(), "AKIAEXAMPLE".to_owned()),
                ("AWS_ALLOW_HTTP".to_owned(), "true".to_owned()),
                ("AWS_ENDPOINT_URL".to_owned(), "http://127.0.0.1:9000".to_owned()),
                ("AWS_SECRET_ACCESS_KEY".to_owned(), "wJalrXUtnFEMI-very-secret".to_owned()),
            ]
        );
    }
}
