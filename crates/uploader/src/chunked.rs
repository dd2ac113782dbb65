//! Strategy B (API §6): a re-readable archive file sent in numbered chunks, several at a time, each retried with
//! exponential backoff. The upload id is remembered in a small state file so that re-running the same command
//! after a network failure or a server restart asks the status endpoint which chunks the server holds and sends
//! only the missing ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use crate::archive::hex;
use crate::client::{Hub, error_of, json_of, retryable};
use crate::error::UploadError;
use crate::progress::Progress;

/// One chunked upload to do.
#[derive(Debug)]
pub struct ChunkedUpload<'a> {
    /// The archive (re-read per chunk).
    pub archive: &'a Path,
    /// Its size.
    pub size: u64,
    /// Its SHA-256, declared at init and part of the resume key.
    pub sha256: &'a str,
    /// Display name.
    pub file_name: String,
    /// Build id.
    pub build: &'a str,
    /// `replace=true` at init.
    pub replace: bool,
    /// `wait=true` at complete.
    pub wait: bool,
    /// The `reportConfig` of init.
    pub report_config: Option<Value>,
    /// Bytes per chunk.
    pub chunk_size: u64,
    /// Chunks in flight at once.
    pub parallel: usize,
    /// Retries per request.
    pub retries: u32,
    /// Where the resume state lives.
    pub state_file: PathBuf,
    /// Tests stop the sender after this many chunks, as a cut connection would.
    pub stop_after_chunks: Option<usize>,
}

/// The resume state: enough to find the session again and to cut the archive the same way.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct State {
    upload_id: String,
    chunk_size: u64,
    total_chunks: u64,
}

/// The state file name for one upload: a digest of everything that makes it "the same command".
pub fn state_file(dir: &Path, url: &str, env: &str, project: &str, build: &str, sha256: &str) -> PathBuf {
    let key = format!("{}\n{env}\n{project}\n{build}\n{sha256}", url.trim_end_matches('/'));
    dir.join(format!("{}.json", hex(&Sha256::digest(key.as_bytes()))))
}

/// Runs the upload; answers the complete call's body (the 202 body, or with `wait` the UploadSession), the
/// number of chunks this run sent and whether it resumed an earlier run.
pub async fn upload(
    hub: &Hub,
    mut job: ChunkedUpload<'_>,
    progress: Arc<Progress>,
) -> Result<(Value, usize, bool), UploadError> {
    let (upload_id, missing, resumed) = match resume(hub, &job).await? {
        Some((id, missing, chunk_size)) => {
            // The archive is cut as the first run cut it, even if `--chunk-size` changed since.
            job.chunk_size = chunk_size;
            (id, missing, true)
        }
        None => {
            let (id, total) = init(hub, &job).await?;
            (id, (0..total).collect(), false)
        }
    };
    let total = job.size.div_ceil(job.chunk_size);
    let missing_set: std::collections::HashSet<u64> = missing.iter().copied().collect();
    let stored: u64 = (0..total).filter(|i| !missing_set.contains(i)).map(|i| chunk_len(&job, i)).sum();
    progress.skip(stored);
    let to_send: Vec<u64> = match job.stop_after_chunks {
        Some(n) => missing.iter().copied().take(n).collect(),
        None => missing.clone(),
    };
    let sent = send_chunks(hub, &job, &upload_id, total, &to_send, &progress).await?;
    progress.finish();
    if to_send.len() < missing.len() {
        return Err(UploadError::other(format!(
            "stopped after {sent} chunks; run the same command again to resume upload {upload_id}"
        )));
    }
    let wait = if job.wait { "true" } else { "false" };
    let path = format!("/uploads/{upload_id}/complete?wait={wait}");
    let answer = complete(hub, &path, job.retries).await;
    if !matches!(&answer, Err(UploadError::Other(_))) {
        // Done, or refused for good (a failed session cannot be resumed): forget it either way.
        let _ = tokio::fs::remove_file(&job.state_file).await;
    }
    Ok((answer?, sent, resumed))
}

/// Calls complete. A retried complete whose first attempt reached the server finds the session assembling
/// (409): that is progress, not a refusal, so it waits for the phase to move on (complete is idempotent from
/// `generating` on), for up to ten minutes.
async fn complete(hub: &Hub, path: &str, retries: u32) -> Result<Value, UploadError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    loop {
        match with_retries(retries, || hub.project_request(Method::POST, path).send()).await {
            Err(UploadError::Refused { status: 409, message })
                if message.ends_with("is being assembled") && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            other => return other,
        }
    }
}

/// The earlier run's upload and its missing chunks, when there is a state file and the server still has the
/// session waiting for chunks (or already completed it: then nothing is missing and complete is repeated).
async fn resume(hub: &Hub, job: &ChunkedUpload<'_>) -> Result<Option<(String, Vec<u64>, u64)>, UploadError> {
    let Ok(text) = tokio::fs::read_to_string(&job.state_file).await else { return Ok(None) };
    let Ok(state) = serde_json::from_str::<State>(&text) else { return Ok(None) };
    if state.chunk_size == 0 || state.total_chunks != job.size.div_ceil(state.chunk_size) {
        return Ok(None);
    }
    let path = format!("/uploads/{}", state.upload_id);
    match with_retries(job.retries, || hub.project_request(Method::GET, &path).send()).await {
        Ok(session) => match session["phase"].as_str() {
            Some("uploading") => {
                let missing = session["missingChunks"].as_array().into_iter().flatten().filter_map(Value::as_u64);
                Ok(Some((state.upload_id, missing.collect(), state.chunk_size)))
            }
            Some("assembling" | "generating" | "done") => Ok(Some((state.upload_id, Vec::new(), state.chunk_size))),
            _ => Ok(None),
        },
        // Gone (pruned, another server): start again.
        Err(UploadError::Refused { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn init(hub: &Hub, job: &ChunkedUpload<'_>) -> Result<(String, u64), UploadError> {
    let total = job.size.div_ceil(job.chunk_size);
    let mut body = serde_json::json!({
        "buildId": job.build,
        "fileName": job.file_name,
        "totalSize": job.size,
        "totalChunks": total,
        "sha256": job.sha256,
    });
    if let Some(config) = &job.report_config {
        body["reportConfig"] = config.clone();
    }
    let path = format!("/uploads?replace={}", job.replace);
    let answer = with_retries(job.retries, || hub.project_request(Method::POST, &path).json(&body).send()).await?;
    let id = answer["uploadId"].as_str().ok_or_else(|| UploadError::other(format!("no uploadId in {answer}")))?;
    let state = State { upload_id: id.to_owned(), chunk_size: job.chunk_size, total_chunks: total };
    if let Some(dir) = job.state_file.parent() {
        let _ = tokio::fs::create_dir_all(dir).await;
    }
    // Without the state file the upload still works; only a resume would start over.
    if let Ok(text) = serde_json::to_string(&state) {
        let _ = tokio::fs::write(&job.state_file, text).await;
    }
    Ok((id.to_owned(), total))
}

fn chunk_len(job: &ChunkedUpload<'_>, index: u64) -> u64 {
    job.chunk_size.min(job.size - index * job.chunk_size)
}

async fn send_chunks(
    hub: &Hub,
    job: &ChunkedUpload<'_>,
    upload_id: &str,
    total: u64,
    indices: &[u64],
    progress: &Progress,
) -> Result<usize, UploadError> {
    let path = format!("/uploads/{upload_id}");
    let results: Vec<Result<(), UploadError>> = futures_util::stream::iter(indices.iter().copied())
        .map(|index| {
            let path = path.as_str();
            async move {
                let bytes = read_chunk(job.archive, index * job.chunk_size, chunk_len(job, index)).await?;
                let digest = hex(&Sha256::digest(&bytes));
                let bytes = bytes::Bytes::from(bytes);
                with_retries(job.retries, || {
                    hub.project_request(Method::PUT, path)
                        .header(CONTENT_TYPE, "application/octet-stream")
                        .header("X-Chunk-Index", index)
                        .header("X-Total-Chunks", total)
                        .header("X-Chunk-Sha256", &digest)
                        .body(bytes.clone())
                        .send()
                })
                .await?;
                progress.add(bytes.len() as u64);
                Ok(())
            }
        })
        .buffer_unordered(job.parallel.max(1))
        .collect()
        .await;
    let sent = results.iter().filter(|r| r.is_ok()).count();
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(sent)
}

async fn read_chunk(path: &Path, offset: u64, len: u64) -> Result<Vec<u8>, UploadError> {
    let fail = |e: std::io::Error| UploadError::other(format!("{}: {e}", path.display()));
    let mut file = tokio::fs::File::open(path).await.map_err(fail)?;
    file.seek(std::io::SeekFrom::Start(offset)).await.map_err(fail)?;
    let mut bytes = vec![0u8; usize::try_from(len).map_err(|e| UploadError::other(e.to_string()))?];
    file.read_exact(&mut bytes).await.map_err(fail)?;
    Ok(bytes)
}

/// Sends a request until it succeeds, is refused for good, or `retries` repetitions after network errors, 5xx,
/// 408 and 429 are used up; waits 250 ms, 500 ms, 1 s … (at most 10 s) in between, or longer when a 429's
/// `Retry-After` asks for it.
pub async fn with_retries<F, Fut>(retries: u32, mut send: F) -> Result<Value, UploadError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = reqwest::Result<reqwest::Response>>,
{
    let mut attempt = 0;
    loop {
        let mut retry_after = None;
        let failure = match send().await {
            Ok(res) if res.status().is_success() => return json_of(res).await,
            Ok(res) if retryable(res.status()) => {
                let status = res.status();
                // A rate-limited client waits at least as long as the server asks (capped at a minute).
                let asked = res.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok());
                retry_after = asked.and_then(|v| v.trim().parse::<u64>().ok()).map(|s| Duration::from_secs(s.min(60)));
                error_of(status, &res.text().await.unwrap_or_default())
            }
            Ok(res) => return json_of(res).await,
            Err(e) => UploadError::other(format!("network error: {e}")),
        };
        if attempt >= retries {
            return Err(failure);
        }
        tokio::time::sleep(backoff(attempt).max(retry_after.unwrap_or_default())).await;
        attempt += 1;
    }
}

/// The pause before retry number `attempt` (0-based).
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1u64 << attempt.min(10))).min(Duration::from_secs(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_ten_seconds() {
        let waits: Vec<u128> = (0..8).map(|a| backoff(a).as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 8000, 10000, 10000]);
    }

    #[test]
    fn the_state_file_depends_on_every_part_of_the_command() {
        let dir = Path::new("/s");
        let a = state_file(dir, "http://h/", "e", "p", "b", "00");
        assert_eq!(a, state_file(dir, "http://h", "e", "p", "b", "00"), "a trailing slash is the same hub");
        for other in [
            state_file(dir, "http://g", "e", "p", "b", "00"),
            state_file(dir, "http://h", "f", "p", "b", "00"),
            state_file(dir, "http://h", "e", "q", "b", "00"),
            state_file(dir, "http://h", "e", "p", "c", "00"),
            state_file(dir, "http://h", "e", "p", "b", "01"),
        ] {
            assert_ne!(a, other);
        }
    }
}
