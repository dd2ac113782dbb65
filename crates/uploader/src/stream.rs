//! Strategy A (API §5): the whole archive in one request body. A directory is zipped into an in-memory pipe of
//! fixed size while the request reads the other end, so neither a temporary archive nor the whole archive in
//! memory is ever needed; a `.zip` file is read from disk as the request goes.

use std::sync::Arc;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt as _};

use crate::archive::{Input, write_zip};
use crate::client::{Hub, enc, json_of};
use crate::error::UploadError;
use crate::progress::Progress;

/// Pipe capacity between the zip writer and the request body.
const PIPE_BYTES: usize = 256 * 1024;

/// What the server answered: the 202 body, or with `wait` the 200 UploadSession.
pub async fn upload(
    hub: &Hub,
    input: &Input,
    build: &str,
    options: &StreamOptions<'_>,
    progress: Arc<Progress>,
) -> Result<Value, UploadError> {
    let mut query = format!("/results?buildId={}&replace={}&wait={}", enc(build), options.replace, options.wait);
    if let Some(name) = options.report_name {
        query.push_str(&format!("&reportName={}", enc(name)));
    }
    let req = hub
        .project_request(Method::POST, &query)
        .header(CONTENT_TYPE, "application/zip")
        .header("X-Filename", input.file_name());
    let (answer, zipping) = match input {
        Input::Zip { path, size } => {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| UploadError::other(format!("{}: {e}", path.display())))?;
            let req = req.header(CONTENT_LENGTH, *size).body(body_of(file, progress));
            (req.send().await, None)
        }
        Input::Directory { root, files, .. } => {
            let (writer, reader) = tokio::io::duplex(PIPE_BYTES);
            let (root, files) = (root.clone(), files.clone());
            let zipping = tokio::spawn(async move { write_zip(&root, &files, writer).await });
            (req.body(body_of(reader, progress)).send().await, Some(zipping))
        }
    };
    let ok = matches!(&answer, Ok(res) if res.status().is_success());
    let zipped = match zipping {
        // A successful answer means the server read the whole archive: the zip task has finished or is finishing.
        Some(task) if ok || task.is_finished() => {
            task.await.map_err(|e| UploadError::other(format!("zip task: {e}")))?
        }
        // The server answered without reading everything (a refusal): nobody reads the pipe any more.
        Some(task) => {
            task.abort();
            Ok(())
        }
        None => Ok(()),
    };
    match (answer, zipped) {
        // A local failure (an unreadable file) explains a cut or corrupt archive better than the server can.
        (Ok(res), Err(local)) if res.status().as_u16() == 400 => Err(local),
        (Ok(res), _) => json_of(res).await,
        (Err(_), Err(local)) => Err(local),
        (Err(e), Ok(())) => Err(UploadError::other(format!("network error: {e}"))),
    }
}

/// The query options of a streaming upload.
#[derive(Debug, Clone, Copy)]
pub struct StreamOptions<'a> {
    /// `replace=true`.
    pub replace: bool,
    /// `wait=true` (§5.2).
    pub wait: bool,
    /// `reportName`.
    pub report_name: Option<&'a str>,
}

/// A request body that reads `reader` to its end, counting the bytes.
fn body_of<R: AsyncRead + Unpin + Send + Sync + 'static>(reader: R, progress: Arc<Progress>) -> reqwest::Body {
    let stream = futures_util::stream::unfold(Some(reader), move |state| {
        let progress = Arc::clone(&progress);
        async move {
            let mut reader = state?;
            let mut buf = vec![0u8; 64 * 1024];
            match reader.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    progress.add(n as u64);
                    Some((Ok(Bytes::from(buf)), Some(reader)))
                }
                Err(e) => Some((Err(e), None)),
            }
        }
    });
    reqwest::Body::wrap_stream(stream)
}
