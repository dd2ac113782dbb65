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

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "allure-hub.lock";

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
    /// Takes the lock of `data_dir` (which must exist) without waiting, and records this process's id in it.
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
        let mut locked = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => locked,
            Err((mut file, Errno::EWOULDBLOCK)) => {
                return Err(LockError::Held { dir: data_dir.to_path_buf(), pid: holder(&mut file) });
            }
            Err((_, errno)) => return Err(io_error(io::Error::from(errno))),
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
}
