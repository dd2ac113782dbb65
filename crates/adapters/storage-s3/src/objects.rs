//! Moving bytes between objects and local files with bounded memory, and removing everything below a prefix.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt};
use hub_domain::ports::StorageError;
use object_store::buffered::BufWriter;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Size of the parts of a multipart upload, and of the one buffered `PUT` below it: S3's minimum (every part but
/// the last must have at least 5 MiB), since an upload holds its parts in memory.
pub(crate) const PART: usize = 5 * 1024 * 1024;
/// Parts of one upload sent at once. With one, the next part is filled only once the previous one is sent, so an
/// upload holds one part: with 8 MiB parts, two in flight and one filling, a 1 GiB upload to S3 went over the
/// server's 64 MiB budget (`just bench-upload-s3`: 72.6 MiB streaming, 102 MiB chunked; see docs/uploads.md).
const UPLOAD_CONCURRENCY: usize = 1;
/// Read size of local files being uploaded.
const READ_BLOCK: usize = 256 * 1024;

/// What went wrong moving bytes: the object store, or the local scratch directory.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Fault {
    /// The object store failed or refused.
    #[error("object storage: {0}")]
    Store(#[from] object_store::Error),
    /// A local file failed.
    #[error("local scratch: {0}")]
    Local(#[from] std::io::Error),
}

impl Fault {
    /// Whether the object asked for does not exist.
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, Self::Store(object_store::Error::NotFound { .. }))
    }

    /// The port's error, with what was being done; unavailable when the object store could not be reached.
    pub(crate) fn storage(&self, doing: &str) -> StorageError {
        let message = format!("{doing}: {self}");
        match self {
            Self::Store(e) if is_unavailable(e) => StorageError::unavailable(message),
            Self::Store(_) | Self::Local(_) => StorageError::new(message),
        }
    }
}

/// The object store's error for `doing`, as the ports report storage failures: unavailable when the store could
/// not be reached.
pub(crate) fn storage(doing: &str, e: &object_store::Error) -> StorageError {
    let message = format!("{doing}: object storage: {e}");
    if is_unavailable(e) { StorageError::unavailable(message) } else { StorageError::new(message) }
}

/// Whether `e` says the object store could not be reached or was overloaded, after the client's own retries: a
/// connection refused, reset or closed early, a timeout, or an answer of 5xx, 429 (throttling) or 408, and S3's
/// `InternalError` and `SlowDown` sent with a 200. Answers about the request itself (not found, a failed
/// precondition, refused credentials) and everything local are faults.
pub(crate) fn is_unavailable(e: &object_store::Error) -> bool {
    match e {
        object_store::Error::Generic { source, .. } => unreachable_in(Some(source.as_ref())),
        _ => false,
    }
}

/// Walks `error` and its sources (also into I/O errors, whose `source` skips the error they wrap) for a sign of
/// an unreachable store.
fn unreachable_in(mut error: Option<&(dyn std::error::Error + 'static)>) -> bool {
    use object_store::client::{HttpError, HttpErrorKind};
    use std::io::ErrorKind;
    while let Some(e) = error {
        if let Some(http) = e.downcast_ref::<HttpError>()
            && matches!(
                http.kind(),
                HttpErrorKind::Connect | HttpErrorKind::Request | HttpErrorKind::Timeout | HttpErrorKind::Interrupted
            )
        {
            return true;
        }
        if is_overloaded_answer(&e.to_string()) {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::NotConnected
                    | ErrorKind::BrokenPipe
                    | ErrorKind::TimedOut
                    | ErrorKind::UnexpectedEof
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
            ) {
                return true;
            }
            if let Some(inner) = io.get_ref() {
                error = Some(inner as &(dyn std::error::Error + 'static));
                continue;
            }
        }
        error = e.source();
    }
    false
}

/// Whether a message is the client's account of a failed answer from an overloaded or failing store. The crate
/// does not export the error that carries the status (its retry error), only its message: `Server returned
/// non-2xx status code: 503 Service Unavailable: <body>`, or `Server returned error response: <body>` for an
/// `InternalError` or `SlowDown` sent with a 200. The unit tests pin both against a real client.
fn is_overloaded_answer(message: &str) -> bool {
    if message.starts_with("Server returned error response: ") {
        return true;
    }
    let Some(rest) = message.strip_prefix("Server returned non-2xx status code: ") else { return false };
    let status: u16 = rest.get(..3).and_then(|code| code.parse().ok()).unwrap_or(0);
    status >= 500 || status == 429 || status == 408
}

/// An upload into `key` that buffers one part and sends larger bodies as a multipart upload; the object appears
/// only when [`finish`] completes it.
pub(crate) fn writer(store: &Arc<dyn ObjectStore>, key: Key) -> BufWriter {
    BufWriter::with_capacity(Arc::clone(store), key, PART).with_max_concurrency(UPLOAD_CONCURRENCY)
}

/// Completes an upload begun with [`writer`].
pub(crate) async fn finish(mut writer: BufWriter) -> Result<(), Fault> {
    // The writer's errors arrive as I/O errors of its `AsyncWrite` face, but they are the object store's.
    writer.shutdown().await.map_err(|e| Fault::Store(object_store::Error::Generic { store: "S3", source: e.into() }))
}

/// Uploads the local file at `path` as `key`; returns its size. On failure nothing is left at `key` (a started
/// multipart upload is aborted).
pub(crate) async fn upload_file(store: &Arc<dyn ObjectStore>, path: &std::path::Path, key: Key) -> Result<u64, Fault> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut upload = writer(store, key);
    let sent = async {
        let mut size = 0u64;
        loop {
            let mut block = BytesMut::with_capacity(READ_BLOCK);
            if file.read_buf(&mut block).await? == 0 {
                return Ok::<_, Fault>(size);
            }
            size += block.len() as u64;
            upload.put(block.freeze()).await?;
        }
    }
    .await;
    match sent {
        Ok(size) => {
            finish(upload).await?;
            Ok(size)
        }
        Err(e) => {
            let _ = upload.abort().await;
            Err(e)
        }
    }
}

/// Appends the object `key` to `out` as it arrives, feeding `hasher` when given; returns the bytes written.
/// A missing object is [`Fault::is_not_found`].
pub(crate) async fn download(
    store: &Arc<dyn ObjectStore>,
    key: &Key,
    out: &mut (impl AsyncWrite + Unpin),
    mut hasher: Option<&mut Sha256>,
) -> Result<u64, Fault> {
    let mut body = store.get(key).await?.into_stream();
    let mut size = 0u64;
    while let Some(block) = body.next().await {
        let block: Bytes = block?;
        if let Some(hasher) = hasher.as_deref_mut() {
            hasher.update(&block);
        }
        out.write_all(&block).await?;
        size += block.len() as u64;
    }
    Ok(size)
}

/// Downloads `key` into a new local file at `path` (replacing any); returns its size.
pub(crate) async fn download_file(
    store: &Arc<dyn ObjectStore>,
    key: &Key,
    path: &std::path::Path,
) -> Result<u64, Fault> {
    let mut file = tokio::io::BufWriter::with_capacity(READ_BLOCK, tokio::fs::File::create(path).await?);
    let result = async {
        let size = download(store, key, &mut file, None).await?;
        file.flush().await?;
        Ok(size)
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(path).await;
    }
    result
}

/// Deletes every object below `prefix` (a listing and batch deletes of up to 1,000 keys each); returns how many
/// were deleted. Objects that vanish meanwhile are no error.
pub(crate) async fn delete_prefix(store: &Arc<dyn ObjectStore>, prefix: &Key) -> Result<usize, object_store::Error> {
    let listed = store.list(Some(prefix)).map_ok(|meta| meta.location).boxed();
    let mut deleted = store.delete_stream(listed);
    let mut count = 0;
    while let Some(result) = deleted.next().await {
        match result {
            Ok(_) => count += 1,
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(count)
}

/// Bytes of every object below `prefix`.
pub(crate) async fn bytes_below(store: &Arc<dyn ObjectStore>, prefix: &Key) -> Result<u64, object_store::Error> {
    store.list(Some(prefix)).try_fold(0u64, |sum, meta| async move { Ok(sum + meta.size) }).await
}

/// The object `key` as text, with the version a conditional put needs; `None` when it does not exist.
pub(crate) async fn read_text(
    store: &Arc<dyn ObjectStore>,
    key: &Key,
) -> Result<Option<(String, object_store::UpdateVersion)>, object_store::Error> {
    let got = match store.get(key).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let version = object_store::UpdateVersion { e_tag: got.meta.e_tag.clone(), version: got.meta.version.clone() };
    let bytes = got.bytes().await?;
    Ok(Some((String::from_utf8_lossy(&bytes).into_owned(), version)))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    use super::*;

    /// A client with the adapter's settings (and so its retries) for an S3 at `endpoint`.
    fn client(endpoint: &str) -> Arc<dyn ObjectStore> {
        let vars = [
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
        ];
        let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        let settings = crate::S3Settings::parse("s3://bucket", vars).unwrap();
        Arc::new(settings.builder().build().unwrap())
    }

    /// An endpoint that answers every request with `response` (`None`: closes each connection unanswered).
    fn endpoint(response: Option<&'static str>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                if let Some(response) = response {
                    std::thread::spawn(move || answer(&mut stream, response));
                }
            }
        });
        format!("http://{address}")
    }

    /// Reads requests without bodies (`GET`, `HEAD`) and answers each with `response`.
    fn answer(stream: &mut TcpStream, response: &str) {
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        while let Ok(read) = stream.read(&mut buffer) {
            if read == 0 {
                return;
            }
            request.extend_from_slice(&buffer[..read]);
            while let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                request.drain(..end + 4);
                if stream.write_all(response.as_bytes()).is_err() {
                    return;
                }
            }
        }
    }

    fn status(line: &str, body: &str) -> &'static str {
        let response =
            format!("HTTP/1.1 {line}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        Box::leak(response.into_boxed_str())
    }

    async fn get_error(endpoint: &str) -> object_store::Error {
        client(endpoint).get(&Key::from("a/b")).await.map(drop).unwrap_err()
    }

    #[tokio::test]
    async fn a_store_that_cannot_be_reached_or_is_overloaded_is_unavailable() {
        let refused = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", listener.local_addr().unwrap())
        };
        let slow_down = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
        let cases = [
            ("connection refused", refused),
            ("connection closed", endpoint(None)),
            ("503", endpoint(Some(status("503 Service Unavailable", slow_down)))),
            ("500", endpoint(Some(status("500 Internal Server Error", "")))),
            ("429", endpoint(Some(status("429 Too Many Requests", "")))),
        ];
        for (case, endpoint) in cases {
            let err = get_error(&endpoint).await;
            assert!(is_unavailable(&err), "{case}: {err}");
            assert!(storage("cannot read", &err).is_unavailable(), "{case}");
            assert!(Fault::Store(err).storage("cannot read").is_unavailable(), "{case}");
        }
    }

    #[tokio::test]
    async fn answers_about_the_request_and_local_failures_are_faults() {
        let denied = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
        let cases = [
            ("403", status("403 Forbidden", denied)),
            ("400", status("400 Bad Request", "<Error><Code>InvalidRequest</Code></Error>")),
            ("404", status("404 Not Found", "<Error><Code>NoSuchKey</Code></Error>")),
        ];
        for (case, response) in cases {
            let err = get_error(&endpoint(Some(response))).await;
            assert!(!is_unavailable(&err), "{case}: {err}");
            assert!(!storage("cannot read", &err).is_unavailable(), "{case}");
        }
        let local = Fault::Local(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert!(!local.storage("cannot write").is_unavailable(), "local scratch is not the object store");
    }
}
