//! [`DiskProbe`] on the filesystem (contract §13.3): one walk of the data directory that sums every regular file
//! and attributes those under `envs/<env>/<project>/` (results, reports, history, stored chunks) to their project,
//! plus `statvfs` of the data directory for free and total space.
//!
//! Walks are iterative (an explicit stack, so a deep tree cannot exhaust the thread's stack), never follow symbolic
//! links (a link to `/` must not count the whole machine), and skip entries that vanish while being walked (a
//! build deleted or a report swapped in meanwhile is normal).

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use hub_domain::Timestamp;
use hub_domain::model::disk::{DiskUsage, DiskUsageEntry};
use hub_domain::ports::DiskProbe;

/// Entries of the breakdown (§13.3).
const BREAKDOWN_LEN: usize = 20;

/// What an unreadable entry does to a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnError {
    /// The walk fails: the caller reports the sum as a figure (a build's freed bytes).
    Fail,
    /// The entry is skipped with a warning: a measurement is best effort and always completes.
    Skip,
}

/// Where a directory is in the data directory's layout, to know which project its files belong to.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// The data directory itself.
    Root,
    /// `envs/`.
    Envs,
    /// `envs/<env>/`, by index into the environment names.
    Env(usize),
    /// Under `envs/<env>/<project>/`, by index into the breakdown.
    Project(usize),
    /// Anywhere else (`tmp/`, the database's folder, ...).
    Other,
}

/// `Ok(None)` for an entry that vanished; other errors are the caller's to handle by its [`OnError`].
fn ignore_vanished<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Applies `policy` to the error of reading `path`: `Ok(())` means carry on without it.
fn handle(policy: OnError, path: &Path, error: io::Error) -> io::Result<()> {
    match policy {
        OnError::Fail => Err(io::Error::new(error.kind(), format!("{}: {error}", path.display()))),
        OnError::Skip => {
            tracing::warn!(path = %path.display(), error = %error, "not counted in the disk usage");
            Ok(())
        }
    }
}

/// What a walk does with what it finds.
trait Visitor {
    /// Where a directory is, as the visitor needs to know it.
    type Place: Copy;
    /// The place of the sub-directory `name` of a directory at `parent`.
    fn enter(&mut self, parent: Self::Place, name: &str) -> Self::Place;
    /// A regular file of `bytes` in a directory at `place`.
    fn file(&mut self, place: Self::Place, bytes: u64);
}

/// Walks the tree at `root` (placed at `start`) for `visitor`. A missing `root` is an empty tree.
fn walk<V: Visitor>(root: &Path, start: V::Place, policy: OnError, visitor: &mut V) -> io::Result<()> {
    let mut pending: Vec<(PathBuf, V::Place)> = vec![(root.to_path_buf(), start)];
    while let Some((dir, place)) = pending.pop() {
        let entries = match ignore_vanished(std::fs::read_dir(&dir)) {
            Ok(Some(entries)) => entries,
            Ok(None) => continue,
            Err(e) => {
                handle(policy, &dir, e)?;
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    handle(policy, &dir, e)?;
                    continue;
                }
            };
            // `DirEntry::file_type` and `DirEntry::metadata` do not follow symbolic links.
            let file_type = match ignore_vanished(entry.file_type()) {
                Ok(Some(file_type)) => file_type,
                Ok(None) => continue,
                Err(e) => {
                    handle(policy, &entry.path(), e)?;
                    continue;
                }
            };
            if file_type.is_dir() {
                let name = entry.file_name();
                pending.push((entry.path(), visitor.enter(place, &name.to_string_lossy())));
            } else if file_type.is_file() {
                match ignore_vanished(entry.metadata()) {
                    Ok(Some(meta)) => visitor.file(place, meta.len()),
                    Ok(None) => {}
                    Err(e) => handle(policy, &entry.path(), e)?,
                }
            }
        }
    }
    Ok(())
}

/// Sums every file of a tree.
struct Sum(u64);

impl Visitor for Sum {
    type Place = ();

    fn enter(&mut self, (): (), _: &str) {}

    fn file(&mut self, (): (), bytes: u64) {
        self.0 = self.0.saturating_add(bytes);
    }
}

/// Bytes of the regular files under `root` (0 when it does not exist).
///
/// # Errors
/// When a directory or file exists but cannot be read.
pub(crate) fn tree_bytes(root: &Path) -> io::Result<u64> {
    let mut sum = Sum(0);
    walk(root, (), OnError::Fail, &mut sum)?;
    Ok(sum.0)
}

/// Totals of one walk of the data directory.
#[derive(Debug, Default)]
struct Tally {
    used: u64,
    /// Names of the environment directories met, for naming their projects.
    envs: Vec<String>,
    /// `(<env>/<project>, bytes)` of every project directory, unordered.
    projects: Vec<(String, u64)>,
}

impl Visitor for Tally {
    type Place = Place;

    fn enter(&mut self, parent: Place, name: &str) -> Place {
        match parent {
            Place::Root if name == "envs" => Place::Envs,
            Place::Envs => {
                self.envs.push(name.to_owned());
                Place::Env(self.envs.len() - 1)
            }
            Place::Env(env) => {
                self.projects.push((format!("{}/{name}", self.envs[env]), 0));
                Place::Project(self.projects.len() - 1)
            }
            Place::Project(project) => Place::Project(project),
            Place::Root | Place::Other => Place::Other,
        }
    }

    fn file(&mut self, place: Place, bytes: u64) {
        self.used = self.used.saturating_add(bytes);
        if let Place::Project(project) = place {
            let total = &mut self.projects[project].1;
            *total = total.saturating_add(bytes);
        }
    }
}

/// Sums the data directory, project by project, in one walk.
fn tally(data_dir: &Path) -> Tally {
    let mut tally = Tally::default();
    // With `OnError::Skip` the walk never fails.
    let _ = walk(data_dir, Place::Root, OnError::Skip, &mut tally);
    tally
}

/// The largest `BREAKDOWN_LEN` projects, largest first, ties by path.
fn breakdown(mut projects: Vec<(String, u64)>) -> Vec<DiskUsageEntry> {
    projects.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    projects.truncate(BREAKDOWN_LEN);
    projects.into_iter().map(|(path, bytes)| DiskUsageEntry { path, bytes: to_i64(bytes) }).collect()
}

fn to_i64(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// Free bytes for unprivileged users and capacity of the filesystem holding `path`; zeros when it cannot be
/// queried.
// The statvfs field types are u64 on 64-bit Linux but narrower on some targets, hence the conversions.
#[allow(clippy::useless_conversion)]
fn space(path: &Path) -> (u64, u64) {
    match nix::sys::statvfs::statvfs(path) {
        Ok(stats) => {
            let fragment = u64::from(stats.fragment_size());
            (
                u64::from(stats.blocks_available()).saturating_mul(fragment),
                u64::from(stats.blocks()).saturating_mul(fragment),
            )
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot query the filesystem's free space");
            (0, 0)
        }
    }
}

/// Measures everything under the data directory.
fn measure_now(data_dir: &Path, at: Timestamp) -> DiskUsage {
    let Tally { used, projects, .. } = tally(data_dir);
    let (free, total) = space(data_dir);
    DiskUsage {
        used_bytes: to_i64(used),
        free_bytes: to_i64(free),
        total_bytes: to_i64(total),
        breakdown: breakdown(projects),
        computed_at: at,
    }
}

/// The filesystem adapter of [`DiskProbe`], measuring `DATA_DIR`.
#[derive(Debug, Clone)]
pub struct FsDiskProbe {
    data_dir: PathBuf,
}

impl FsDiskProbe {
    /// Measures `data_dir` (the `DATA_DIR` holding `envs/`, `tmp/` and possibly the database).
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self { data_dir: data_dir.into() }
    }
}

#[async_trait]
impl DiskProbe for FsDiskProbe {
    async fn measure(&self, at: Timestamp) -> DiskUsage {
        let data_dir = self.data_dir.clone();
        match tokio::task::spawn_blocking(move || measure_now(&data_dir, at)).await {
            Ok(usage) => usage,
            Err(e) => {
                tracing::error!(error = %e, "the disk measurement did not finish");
                DiskUsage { used_bytes: 0, free_bytes: 0, total_bytes: 0, breakdown: Vec::new(), computed_at: at }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, file: &str, bytes: usize) {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, vec![b'x'; bytes]).unwrap();
    }

    fn entry(path: &str, bytes: i64) -> DiskUsageEntry {
        DiskUsageEntry { path: path.to_owned(), bytes }
    }

    #[tokio::test]
    async fn every_file_counts_and_each_project_gets_its_whole_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "hub.db", 1000);
        write(root, "tmp/upload-1.zip", 300);
        write(root, "envs/stray-file", 7);
        write(root, "envs/prod/checkout/history.jsonl", 10);
        write(root, "envs/prod/checkout/builds/1/results/a.json", 100);
        write(root, "envs/prod/checkout/builds/1/report/index.html", 200);
        write(root, "envs/prod/checkout/uploads/01J/0.chunk", 50);
        write(root, "envs/prod/search/builds/2/results/deep/er/still/b.json", 400);
        write(root, "envs/staging/checkout/history.jsonl", 5);
        std::fs::create_dir_all(root.join("envs/staging/empty")).unwrap();

        let at = Timestamp::from(std::time::SystemTime::now());
        let usage = FsDiskProbe::new(root).measure(at).await;

        assert_eq!(usage.used_bytes, 1000 + 300 + 7 + 10 + 100 + 200 + 50 + 400 + 5);
        assert_eq!(
            usage.breakdown,
            vec![
                entry("prod/search", 400),
                entry("prod/checkout", 360),
                entry("staging/checkout", 5),
                entry("staging/empty", 0),
            ]
        );
        assert_eq!(usage.computed_at, at);
        assert!(usage.total_bytes > 0, "the temp directory's filesystem has a size");
        assert!((0..=usage.total_bytes).contains(&usage.free_bytes));
    }

    #[tokio::test]
    async fn the_breakdown_keeps_the_20_largest_with_ties_by_path() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..25 {
            // p00..p24 of 1..=25 bytes, and two of equal size to check the tie order.
            write(dir.path(), &format!("envs/e/p{i:02}/f"), i + 1);
        }
        write(dir.path(), "envs/d/p24/f", 25);
        let usage = FsDiskProbe::new(dir.path()).measure(Timestamp::UNIX_EPOCH).await;
        assert_eq!(usage.breakdown.len(), 20);
        assert_eq!(usage.breakdown[0], entry("d/p24", 25));
        assert_eq!(usage.breakdown[1], entry("e/p24", 25));
        assert_eq!(usage.breakdown[2], entry("e/p23", 24));
        assert_eq!(usage.breakdown[19], entry("e/p06", 7));
    }

    #[tokio::test]
    async fn symbolic_links_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "big", 10_000);
        write(dir.path(), "envs/e/p/f", 3);
        std::os::unix::fs::symlink(outside.path(), dir.path().join("envs/e/p/link-dir")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("big"), dir.path().join("envs/e/p/link-file")).unwrap();
        let usage = FsDiskProbe::new(dir.path()).measure(Timestamp::UNIX_EPOCH).await;
        assert_eq!(usage.used_bytes, 3);
        assert_eq!(usage.breakdown, vec![entry("e/p", 3)]);
    }

    #[tokio::test]
    async fn a_missing_data_directory_measures_nothing_and_no_space() {
        let dir = tempfile::tempdir().unwrap();
        let usage = FsDiskProbe::new(dir.path().join("absent")).measure(Timestamp::UNIX_EPOCH).await;
        assert_eq!((usage.used_bytes, usage.free_bytes, usage.total_bytes), (0, 0, 0));
        assert!(usage.breakdown.is_empty());
    }

    #[test]
    fn a_thousand_levels_deep_tree_is_walked_to_its_bottom() {
        let dir = tempfile::tempdir().unwrap();
        let mut level = dir.path().to_path_buf();
        for _ in 0..1000 {
            level = level.join("d");
            std::fs::create_dir(&level).unwrap();
        }
        std::fs::write(level.join("f"), b"12345").unwrap();
        assert_eq!(tree_bytes(dir.path()).unwrap(), 5);
    }

    #[test]
    fn a_missing_tree_has_no_bytes() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(tree_bytes(&dir.path().join("none")).unwrap(), 0);
    }
}
