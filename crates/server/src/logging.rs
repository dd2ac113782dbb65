//! Structured logs with `tracing`: JSON lines or human-readable console output.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber. `RUST_LOG`, when set, refines `LOG_LEVEL` per module.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level));
    let writer =
        if config.to_stderr { BoxMakeWriter::new(std::io::stderr) } else { BoxMakeWriter::new(std::io::stdout) };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    // A second initialisation (tests starting several servers) keeps the first subscriber.
    let _ = match config.format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Console => builder.try_init(),
    };
}
