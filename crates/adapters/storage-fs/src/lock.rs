//! One process per data directory. Two `allure-hub` processes on one `DATA_DIR` (a second unit, a container
//! restarted while the old one still drains) would run two schedulers, two job dispatchers and two sweeps over one
//! database and one directory tree; the second is refused at start instead.
//!
//! The lock is an advisory `flock` on `DATA_DIR/allure-hub.lock`, held by an open file for the life of the process:
//! the kernel releases it when the process ends, however it ends (`kill -9` included), so a stale lock file never
//! blocks a restart. The file holds the holder's process id, for the refusal's message.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "allure-hub.lock";
/// How long a held lock is asked for again before the directory counts as in use.
const HELD_GRACE: Duration = Duration::from_secs(2);
/// The pause between two attempts.
const HELD_RETRY: Duration = Duration::from_millis(50);

/// The exclusive lock on a data directory; released when dropped.
#[derive(Debug)]
pub struct DataDirLock {
    _file: Flock<File>,
}

/// Why the data directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "DATA_DIR {} is in use by another allure-hub process{}; stop it first, or give this one its own DATA_DIR",
        .dir.display(),
        .pid.map(|p| format!(" (process id {p})")).unwrap_or_default()
    )]
    Held {
        /// The data directory.
        dir: PathBuf,
        /// The holder's process id, when it could be read.
        pid: Option<u32>,
    },
    /// The lock file could not be opened or written.
    #[error("cannot lock DATA_DIR {}: {source}", .dir.display())]
    Io {
        /// The data directory.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl DataDirLock {
    /// Takes the lock of `data_dir` (which must exist), asking again for up to two seconds while it is held, and
    /// records this process's id in it. Called once at start-up (it blocks the thread while it waits).
    ///
    /// # Errors
    /// [`LockError::Held`] when another process (or another lock in this one) holds it; [`LockError::Io`] when
    /// the lock file cannot be used.
    pub fn acquire(data_dir: &Path) -> Result<Self, LockError> {
        let io_error = |source| LockError::Io { dir: data_dir.to_path_buf(), source };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(data_dir.join(LOCK_FILE))
            .map_err(io_error)?;
        // The kernel may release a dead holder's lock a moment after the process is gone (the last close of a
        // file can be deferred past the exit a supervisor sees), so a restart right after a crash asks again for a
        // short while before it calls the directory taken.
        let deadline = Instant::now() + HELD_GRACE;
        let mut file = file;
        let mut locked = loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(locked) => break locked,
                Err((back, Errno::EWOULDBLOCK)) if Instant::now() < deadline => {
                    file = back;
                    std::thread::sleep(HELD_RETRY);
                }
                Err((mut back, Errno::EWOULDBLOCK)) => {
                    return Err(LockError::Held { dir: data_dir.to_path_buf(), pid: holder(&mut back) });
                }
                Err((_, errno)) => return Err(io_error(io::Error::from(errno))),
            }
        };
        // Only the holder writes, so the content is always the current holder's id (or empty just before).
        locked.set_len(0).map_err(io_error)?;
        locked.rewind().map_err(io_error)?;
        locked.write_all(format!("{}\n", std::process::id()).as_bytes()).map_err(io_error)?;
        Ok(Self { _file: locked })
    }
}

/// The process id written by the holder; `None` when it is not there (yet).
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holders_id_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let refused = DataDirLock::acquire(dir.path()).unwrap_err();
        match &refused {
            LockError::Held { pid, .. } => assert_eq!(*pid, Some(std::process::id())),
            other => panic!("{other}"),
        }
        assert!(refused.to_string().contains(&format!("(process id {})", std::process::id())), "{refused}");
        drop(first);
        let again = DataDirLock::acquire(dir.path());
        assert!(again.is_ok(), "a released lock is free again; a stale lock file does not block");
    }

    #[test]
    fn a_lock_released_while_a_start_waits_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let releasing = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(first);
        });
        let second = DataDirLock::acquire(dir.path());
        releasing.join().unwrap();
        assert!(second.is_ok(), "{:?}", second.err());
    }
}
