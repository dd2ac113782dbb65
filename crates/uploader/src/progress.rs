//! Upload progress: on a terminal one line (bytes, rate, ETA) redrawn in place; otherwise a plain log line now
//! and then, so CI logs stay readable.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Shared progress of one upload; cheap to update from several chunk tasks.
#[derive(Debug)]
pub struct Progress {
    total: Option<u64>,
    done: AtomicU64,
    started: Instant,
    terminal: bool,
    last: Mutex<Instant>,
    quiet: bool,
}

impl Progress {
    /// Progress towards `total` bytes (unknown for a directory zipped on the fly).
    pub fn new(total: Option<u64>, quiet: bool) -> Self {
        let started = Instant::now();
        Self {
            total,
            done: AtomicU64::new(0),
            started,
            terminal: std::io::stderr().is_terminal(),
            last: Mutex::new(started),
            quiet,
        }
    }

    /// Counts bytes already on the server (chunks stored before a resume).
    pub fn skip(&self, bytes: u64) {
        self.done.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts `bytes` more sent, redrawing at most every 200 ms on a terminal and every 5 s otherwise.
    pub fn add(&self, bytes: u64) {
        let done = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let every = if self.terminal { Duration::from_millis(200) } else { Duration::from_secs(5) };
        let Ok(mut last) = self.last.lock() else { return };
        if last.elapsed() >= every {
            *last = Instant::now();
            self.draw(done, false);
        }
    }

    /// Bytes counted so far.
    pub fn bytes(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Draws the final state (and ends the in-place line).
    pub fn finish(&self) {
        self.draw(self.bytes(), true);
    }

    fn draw(&self, done: u64, last: bool) {
        if self.quiet {
            return;
        }
        let line = describe(done, self.total, self.started.elapsed());
        let mut err = std::io::stderr().lock();
        let _ = if self.terminal {
            write!(err, "\r\x1b[2K{line}{}", if last { "\n" } else { "" })
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }
}

/// `12.0 MiB / 40.0 MiB (30%), 4.0 MiB/s, ETA 7s`.
pub fn describe(done: u64, total: Option<u64>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = done as f64 / secs;
    let mut line = format!("uploaded {}", size(done));
    if let Some(total) = total.filter(|t| *t > 0) {
        let pct = (done.min(total) as f64 * 100.0 / total as f64).floor();
        line.push_str(&format!(" / {} ({pct}%)", size(total)));
        if rate > 0.0 && done < total {
            line.push_str(&format!(", {}/s, ETA {}s", size(rate as u64), ((total - done) as f64 / rate).ceil()));
            return line;
        }
    }
    line.push_str(&format!(", {}/s", size(rate as u64)));
    line
}

fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_bytes_share_rate_and_eta() {
        let line = describe(4 * 1024 * 1024, Some(12 * 1024 * 1024), Duration::from_secs(2));
        assert_eq!(line, "uploaded 4.0 MiB / 12.0 MiB (33%), 2.0 MiB/s, ETA 4s");
        assert_eq!(describe(500, None, Duration::from_secs(1)), "uploaded 500 B, 500 B/s");
    }
}
