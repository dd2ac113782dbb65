//! `allure-hub upload`: the CI client of the hub. It uploads an `allure-results` directory (zipped on the fly) or
//! a zip archive, streamed in one request (API §5) or, above a size threshold, in resumable parallel chunks
//! (API §6), optionally waits for the report, and maps the outcome to a distinct exit status.
//!
//! This crate is an HTTP client only: it knows the API contract, not the server's crates.

mod archive;
mod args;
mod chunked;
mod client;
mod error;
mod outcome;
mod progress;
mod stream;

use std::io::Write as _;
use std::sync::Arc;

use reqwest::Method;
use serde_json::Value;

pub use args::{DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_THRESHOLD, UploadArgs};
pub use chunked::state_file;
pub use error::UploadError;
pub use outcome::{
    EXIT_GATE_FAILED, EXIT_GENERATION_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_OTHER, EXIT_REFUSED, Outcome, Summary,
    error_exit_code,
};

use archive::Input;
use client::{Hub, enc};

/// Knobs that are not command-line flags: tests stop the chunk sender early (as a cut connection would) and
/// silence the progress output.
#[derive(Debug, Clone, Default)]
pub struct Control {
    /// Send at most this many chunks in this run, then fail as an interrupted upload.
    pub stop_after_chunks: Option<usize>,
    /// No progress output.
    pub quiet: bool,
}

/// Runs `allure-hub upload` and returns its exit status, after printing the outcome (stdout) or the error
/// (stderr).
pub async fn run(args: UploadArgs) -> u8 {
    // Stopping the upload future on Ctrl-C or SIGTERM (a cancelled CI job) drops the temporary archive, which
    // deletes it; an exiting process would leave it behind. The resume state stays, on purpose.
    let control = Control::default();
    let result = tokio::select! {
        result = run_with(&args, &control) => result,
        signal = interrupted() => {
            let _ = writeln!(std::io::stderr(), "allure-hub upload: {signal}; run the same command again to resume");
            return EXIT_INTERRUPTED;
        }
    };
    match result {
        Ok(summary) => {
            let hub_url = args.url.trim_end_matches('/').to_owned();
            let mut out = std::io::stdout().lock();
            for line in summary.outcome.lines(|path| format!("{hub_url}{path}")) {
                let _ = writeln!(out, "{line}");
            }
            summary.outcome.exit_code()
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "allure-hub upload: {e}");
            error_exit_code(&e)
        }
    }
}

/// Waits for SIGINT or SIGTERM and names it.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
        (Ok(mut int), Ok(mut term)) => tokio::select! {
            _ = int.recv() => "interrupted",
            _ = term.recv() => "terminated",
        },
        // Without signal handling the process simply dies on a signal, as it would without this function.
        _ => std::future::pending().await,
    }
}

/// The upload itself, returning what happened instead of printing it.
pub async fn run_with(args: &UploadArgs, control: &Control) -> Result<Summary, UploadError> {
    let input = Input::open(&args.input)?;
    let report_config = read_config(args)?;
    let hub = Hub::new(&args.url, args.key.clone(), &args.env, &args.project)?;
    if args.auto_create {
        hub.ensure_project().await?;
    }
    let size = match &input {
        Input::Directory { total_bytes, .. } => *total_bytes,
        Input::Zip { size, .. } => *size,
    };
    // Only chunked init carries a reportConfig (§6.1), so a config forces the chunked strategy.
    let (answer, chunks_sent, resumed) = if report_config.is_none() && size <= args.chunk_threshold {
        log(control, &format!("uploading {} as build {} (one streamed request)", args.input.display(), args.build));
        let progress =
            Arc::new(progress::Progress::new(matches!(input, Input::Zip { .. }).then_some(size), control.quiet));
        let options =
            stream::StreamOptions { replace: args.replace, wait: args.wait, report_name: args.report_name.as_deref() };
        let answer = stream::upload(&hub, &input, &args.build, &options, Arc::clone(&progress)).await;
        progress.finish();
        (answer?, 0, false)
    } else {
        chunked_upload(&hub, args, control, &input, report_config).await?
    };
    let outcome = if args.wait {
        let quality_gate = if answer["phase"] == "done" { quality_gate(&hub, &args.build).await? } else { Value::Null };
        Outcome::Waited { session: answer, quality_gate }
    } else {
        Outcome::Accepted {
            upload_id: answer["uploadId"].as_str().unwrap_or_default().to_owned(),
            report_url: answer["reportUrl"].as_str().map(str::to_owned),
        }
    };
    Ok(Summary { outcome, chunks_sent, resumed })
}

/// The chunked strategy. A directory is zipped into a temporary file first: chunks must be re-readable for
/// retries and resumes, and init needs the size and checksum. That file is the one temporary copy the uploader
/// ever makes; it is deleted when the upload ends.
async fn chunked_upload(
    hub: &Hub,
    args: &UploadArgs,
    control: &Control,
    input: &Input,
    mut report_config: Option<Value>,
) -> Result<(Value, usize, bool), UploadError> {
    let temp = match input {
        Input::Directory { root, files, .. } => {
            let temp = tempfile::Builder::new()
                .prefix("allure-hub-upload-")
                .suffix(".zip")
                .tempfile()
                .map_err(|e| UploadError::other(format!("temporary archive: {e}")))?;
            let (from, to) = (root.display(), temp.path().display());
            log(control, &format!("zipping {from} into the temporary file {to} for a chunked upload"));
            let file = temp.reopen().map_err(|e| UploadError::other(format!("temporary archive: {e}")))?;
            archive::write_zip(root, files, tokio::fs::File::from_std(file)).await?;
            Some(temp)
        }
        Input::Zip { .. } => None,
    };
    let path = match (&temp, input) {
        (Some(temp), _) => temp.path().to_path_buf(),
        (None, Input::Zip { path, .. }) => path.clone(),
        (None, Input::Directory { root, .. }) => root.clone(),
    };
    let fail = |e: std::io::Error| UploadError::other(format!("{}: {e}", path.display()));
    let size = tokio::fs::metadata(&path).await.map_err(fail)?.len();
    let sha256 = archive::sha256_of(tokio::fs::File::open(&path).await.map_err(fail)?).await.map_err(fail)?;
    if let Some(name) = &args.report_name {
        let config = report_config.get_or_insert_with(|| serde_json::json!({}));
        config["name"] = Value::String(name.clone());
    }
    let state_file = chunked::state_file(&args.state_dir(), &args.url, &args.env, &args.project, &args.build, &sha256);
    log(
        control,
        &format!(
            "uploading {} ({size} bytes) as build {} in chunks of {} bytes",
            args.input.display(),
            args.build,
            args.chunk_size
        ),
    );
    let job = chunked::ChunkedUpload {
        archive: &path,
        size,
        sha256: &sha256,
        file_name: input.file_name(),
        build: &args.build,
        replace: args.replace,
        wait: args.wait,
        report_config,
        chunk_size: args.chunk_size,
        parallel: usize::try_from(args.parallel).unwrap_or(4),
        retries: args.retries,
        state_file,
        stop_after_chunks: control.stop_after_chunks,
    };
    let progress = Arc::new(progress::Progress::new(Some(size), control.quiet));
    chunked::upload(hub, job, progress).await
}

/// `--config`: the YAML file as the JSON object sent as `reportConfig`.
fn read_config(args: &UploadArgs) -> Result<Option<Value>, UploadError> {
    let Some(path) = &args.config else { return Ok(None) };
    let text = std::fs::read_to_string(path).map_err(|e| UploadError::other(format!("{}: {e}", path.display())))?;
    let value: Value = serde_saphyr::from_str(&text)
        .map_err(|e| UploadError::other(format!("{}: not valid YAML: {e}", path.display())))?;
    if !value.is_object() {
        return Err(UploadError::other(format!("{}: the report config must be a mapping", path.display())));
    }
    Ok(Some(value))
}

/// The build's quality gate result (§16.3), read after a successful wait.
async fn quality_gate(hub: &Hub, build: &str) -> Result<Value, UploadError> {
    let res = hub
        .project_request(Method::GET, &format!("/reports/{}", enc(build)))
        .send()
        .await
        .map_err(|e| UploadError::other(format!("network error: {e}")))?;
    Ok(client::json_of(res).await?["qualityGate"].clone())
}

fn log(control: &Control, line: &str) {
    if !control.quiet {
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}
