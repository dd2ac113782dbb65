//! The command line of `allure-hub upload`: every flag also comes from an environment variable so CI files stay short.

use std::path::PathBuf;

/// 50 MB: archives above this size go chunked (API §6) unless `--chunk-threshold` says otherwise.
pub const DEFAULT_CHUNK_THRESHOLD: u64 = 50 * 1024 * 1024;
/// 8 MiB chunks: well below the server's default `MAX_CHUNK_BYTES` (50 MB) and small enough to retry cheaply.
pub const DEFAULT_CHUNK_SIZE: u64 = 8 * 1024 * 1024;

/// Arguments of `allure-hub upload`, parsed by clap inside the server binary's command line.
// From the environment, a switch accepts the contract's boolean spellings (`true`/`false`, `1`/`0`, `yes`/`no`,
// `on`/`off`), not only clap's default `true`/`false`.
use clap::builder::BoolishValueParser;

#[derive(Debug, Clone, clap::Args)]
pub struct UploadArgs {
    /// An `allure-results` directory (zipped on the fly) or a `.zip` archive of one.
    pub input: PathBuf,
    /// Base URL of the hub, for example `https://hub.example.com`.
    #[arg(long, env = "ALLURE_HUB_URL")]
    pub url: String,
    /// API key (`ah_…`), sent as a bearer token.
    #[arg(long, env = "ALLURE_HUB_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Environment id.
    #[arg(long = "env", env = "ALLURE_HUB_ENV")]
    pub env: String,
    /// Project id.
    #[arg(long, env = "ALLURE_HUB_PROJECT")]
    pub project: String,
    /// Build id (for example the CI pipeline number).
    #[arg(long, env = "ALLURE_HUB_BUILD")]
    pub build: String,
    /// Report title for this build.
    #[arg(long, env = "ALLURE_HUB_REPORT_NAME")]
    pub report_name: Option<String>,
    /// Replace an existing build with the same id.
    #[arg(long, env = "ALLURE_HUB_REPLACE", value_parser = BoolishValueParser::new())]
    pub replace: bool,
    /// Create the environment and the project first when they do not exist (needs a key with `manage`).
    #[arg(long, env = "ALLURE_HUB_AUTO_CREATE", value_parser = BoolishValueParser::new())]
    pub auto_create: bool,
    /// An `allurerc.yml` sent as `reportConfig` (forces the chunked strategy: only chunked init carries it).
    #[arg(long, env = "ALLURE_HUB_CONFIG")]
    pub config: Option<PathBuf>,
    /// Wait for the report and print stats, quality gate and report URL.
    #[arg(long, env = "ALLURE_HUB_WAIT", value_parser = BoolishValueParser::new())]
    pub wait: bool,
    /// Archives above this many bytes are uploaded in chunks.
    #[arg(long, env = "ALLURE_HUB_CHUNK_THRESHOLD", default_value_t = DEFAULT_CHUNK_THRESHOLD)]
    pub chunk_threshold: u64,
    /// Bytes per chunk.
    #[arg(long, env = "ALLURE_HUB_CHUNK_SIZE", default_value_t = DEFAULT_CHUNK_SIZE,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk_size: u64,
    /// Chunks sent at the same time.
    #[arg(long, env = "ALLURE_HUB_PARALLEL", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub parallel: u64,
    /// Retries per chunk (and per status or complete call) after a network error, a 5xx, 408 or 429.
    #[arg(long, env = "ALLURE_HUB_RETRIES", default_value_t = 5)]
    pub retries: u32,
    /// Where unfinished chunked uploads are remembered for resuming (default `$XDG_CACHE_HOME/allure-hub/uploads`).
    #[arg(long, env = "ALLURE_HUB_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

impl UploadArgs {
    /// The directory of resume state files: the flag, else `$XDG_CACHE_HOME`, else `$HOME/.cache`, else the
    /// system temporary directory.
    pub fn state_dir(&self) -> PathBuf {
        if let Some(dir) = &self.state_dir {
            return dir.clone();
        }
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        cache.join("allure-hub").join("uploads")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: UploadArgs,
    }

    #[test]
    fn switches_from_the_environment_take_the_usual_boolean_spellings() {
        let command = Wrapper::command();
        for name in ["replace", "auto_create", "wait"] {
            let arg = command.get_arguments().find(|a| a.get_id() == name).unwrap();
            let accepted: Vec<String> = arg
                .get_value_parser()
                .possible_values()
                .map(|values| {
                    values.flat_map(|v| v.get_name_and_aliases().map(str::to_owned).collect::<Vec<_>>()).collect()
                })
                .unwrap_or_default();
            for text in ["1", "yes", "true", "on", "0", "no", "false", "off"] {
                assert!(accepted.iter().any(|a| a == text), "{name} accepts {text}: {accepted:?}");
            }
        }
        let parsed = Wrapper::try_parse_from([
            "x",
            "dir",
            "--url",
            "http://hub",
            "--key",
            "ah_x",
            "--env",
            "e",
            "--project",
            "p",
            "--build",
            "b",
            "--wait",
        ]);
        let parsed = parsed.unwrap();
        assert!(parsed.args.wait && !parsed.args.replace, "a bare flag still means true");
    }
}
