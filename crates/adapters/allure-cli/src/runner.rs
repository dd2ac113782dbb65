//! [`ReportGenerator`] with the Allure 3 CLI: `allure generate <results> --output <dir> --config <file>` as a
//! child process in its own process group, in an empty working directory, with a scrubbed environment and a
//! time limit (contract §8.3 steps 3–5).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use hub_domain::model::syntax::format_duration;
use hub_domain::ports::{GenerateError, GenerateRequest, Generated, ReportGenerator};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use crate::{output, redact};

/// stderr lines kept for an error message, and their most bytes.
const TAIL_LINES: usize = 20;
const TAIL_BYTES: usize = 2048;
/// Grace between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(10);

/// How the CLI is run.
#[derive(Debug, Clone)]
pub struct CliSettings {
    /// Time limit of one run; `None` for none (`ALLURE_TIMEOUT=0`).
    pub timeout: Option<Duration>,
    /// Node heap limit (`ALLURE_NODE_HEAP_MB`).
    pub node_heap_mb: u32,
    /// `DATA_DIR`, replaced by `$DATA_DIR` in messages.
    pub data_dir: PathBuf,
}

/// The CLI runner; the executable can be switched while the server runs (a new version installed).
#[derive(Debug, Clone)]
pub struct AllureCli {
    settings: CliSettings,
    binary: Arc<RwLock<Result<PathBuf, String>>>,
}

/// Kills the child's whole process group if the run is abandoned (timeout, cancellation, a dropped future).
struct Group(Option<Pid>);

impl Group {
    fn signal(&self, signal: Signal) {
        if let Some(pid) = self.0 {
            let _ = killpg(pid, signal);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
    }
}

/// What the output streams said.
#[derive(Debug, Default)]
struct Streams {
    stderr_tail: VecDeque<String>,
    harmless: Vec<String>,
    unexplained_stderr: bool,
    plugin_error: bool,
}

async fn read_lines(stream: impl AsyncRead + Unpin, is_stderr: bool, into: Arc<std::sync::Mutex<Streams>>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut streams = into.lock().unwrap_or_else(|e| e.into_inner());
        streams.plugin_error |= output::is_plugin_error(&line);
        if is_stderr && !line.trim().is_empty() {
            if output::is_harmless(&line) {
                if streams.harmless.len() < 10 && !streams.harmless.contains(&line) {
                    streams.harmless.push(line.clone());
                }
            } else {
                streams.unexplained_stderr = true;
            }
            if streams.stderr_tail.len() == TAIL_LINES {
                streams.stderr_tail.pop_front();
            }
            streams.stderr_tail.push_back(line);
        }
    }
}

impl AllureCli {
    /// A runner for `binary`, or one that answers [`GenerateError::Unavailable`] with the reason until
    /// [`AllureCli::set_binary`] is called.
    pub fn new(settings: CliSettings, binary: Result<PathBuf, String>) -> Self {
        Self { settings, binary: Arc::new(RwLock::new(binary)) }
    }

    /// Switches the executable for the next runs.
    pub fn set_binary(&self, binary: Result<PathBuf, String>) {
        *self.binary.write().unwrap_or_else(|e| e.into_inner()) = binary;
    }

    fn binary(&self) -> Result<PathBuf, GenerateError> {
        self.binary.read().unwrap_or_else(|e| e.into_inner()).clone().map_err(GenerateError::Unavailable)
    }

    /// The executable runs use now; `None` while none is available.
    pub fn binary_path(&self) -> Option<PathBuf> {
        self.binary().ok()
    }

    fn tail(&self, streams: &Streams) -> String {
        let text = streams.stderr_tail.iter().cloned().collect::<Vec<_>>().join("\n");
        redact::scrubbed_tail(&text, &self.settings.data_dir, TAIL_BYTES)
    }

    async fn run(&self, request: &GenerateRequest) -> Result<Generated, GenerateError> {
        let binary = self.binary()?;
        let io = |e: std::io::Error| GenerateError::Unavailable(format!("cannot prepare the run: {e}"));
        let home = request.work_dir.join("home");
        let tmp = request.work_dir.join("tmp");
        for dir in [&home, &tmp, &request.output_dir] {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        // JSON is valid YAML: the CLI reads it as its YAML config format, never as code.
        let config_file = request.work_dir.join("allurerc.yml");
        tokio::fs::write(&config_file, request.config.to_string()).await.map_err(io)?;

        let mut command = Command::new(&binary);
        command
            .arg("generate")
            .arg(&request.results_dir)
            .arg("--output")
            .arg(&request.output_dir)
            .arg("--config")
            .arg(&config_file)
            .current_dir(&request.work_dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("TMPDIR", &tmp)
            .env("LANG", "C.UTF-8")
            .env("NODE_OPTIONS", format!("--max-old-space-size={}", self.settings.node_heap_mb))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child =
            command.spawn().map_err(|e| GenerateError::Unavailable(format!("cannot run {}: {e}", binary.display())))?;
        let group = Group(child.id().and_then(|id| i32::try_from(id).ok()).map(Pid::from_raw));
        let streams = Arc::new(std::sync::Mutex::new(Streams::default()));
        let readers = [
            child.stdout.take().map(|s| tokio::spawn(read_lines(s, false, Arc::clone(&streams)))),
            child.stderr.take().map(|s| tokio::spawn(read_lines(s, true, Arc::clone(&streams)))),
        ];

        let status = match self.settings.timeout {
            None => child.wait().await,
            Some(limit) => match tokio::time::timeout(limit, child.wait()).await {
                Ok(status) => status,
                Err(_) => {
                    group.signal(Signal::SIGTERM);
                    if tokio::time::timeout(KILL_GRACE, child.wait()).await.is_err() {
                        group.signal(Signal::SIGKILL);
                        let _ = child.wait().await;
                    }
                    return Err(GenerateError::TimedOut(format_duration(limit)));
                }
            },
        }
        .map_err(|e| GenerateError::Unavailable(format!("cannot wait for the CLI: {e}")))?;
        // The CLI has exited; anything it left running in its group goes with it.
        group.signal(Signal::SIGKILL);
        for reader in readers.into_iter().flatten() {
            let _ = reader.await;
        }
        let streams = std::mem::take(&mut *streams.lock().unwrap_or_else(|e| e.into_inner()));

        let code = status.code().unwrap_or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            status.signal().map_or(-1, |s| 128 + s)
        });
        if code != 0 && streams.unexplained_stderr {
            return Err(GenerateError::Exited { status: code, stderr_tail: self.tail(&streams) });
        }
        let output_dir = request.output_dir.clone();
        let usable =
            tokio::task::spawn_blocking(move || output::has_index(&output_dir) && output::summaries_parse(&output_dir))
                .await
                .unwrap_or(false);
        if streams.plugin_error || !usable {
            return Err(GenerateError::NoIndex);
        }
        if !request.output_dir.join("index.html").is_file() {
            let output_dir = request.output_dir.clone();
            tokio::task::spawn_blocking(move || output::write_root_index(&output_dir))
                .await
                .map_err(|e| GenerateError::Unavailable(e.to_string()))?
                .map_err(io)?;
        }
        Ok(Generated { warnings: streams.harmless })
    }
}

#[async_trait]
impl ReportGenerator for AllureCli {
    async fn generate(&self, request: GenerateRequest) -> Result<Generated, GenerateError> {
        self.run(&request).await
    }
}

/// The `allure` executable inside an npm prefix.
pub fn binary_in(prefix: &Path) -> PathBuf {
    prefix.join("node_modules").join(".bin").join("allure")
}
