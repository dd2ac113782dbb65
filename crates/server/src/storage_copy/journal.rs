//! The item versions a copy has finished, one line each after a first line naming the target, appended and flushed as each
//! item is verified: a run cut short (killed, a store failing) resumes after the last recorded item. A journal
//! for another target is started afresh.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::Context;

/// The finished items of copies to one target.
pub(super) struct Journal {
    done: HashSet<String>,
    file: std::fs::File,
}

impl Journal {
    /// Opens the journal at `path` for copies to `target`, keeping what it holds when it is for that target.
    ///
    /// # Errors
    /// When the file cannot be read or written.
    pub(super) fn open(path: &Path, target: &str) -> anyhow::Result<Self> {
        let header = format!("target {target}");
        let mut done = HashSet::new();
        let mut same_target = false;
        match std::fs::File::open(path) {
            Ok(file) => {
                let mut lines = std::io::BufReader::new(file).lines();
                same_target = lines.next().transpose()?.is_some_and(|first| first == header);
                if same_target {
                    done = lines.collect::<Result<_, _>>()?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
        let mut options = std::fs::OpenOptions::new();
        if same_target {
            options.append(true);
        } else {
            options.write(true).create(true).truncate(true);
        }
        let mut file = options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
        if !same_target {
            writeln!(file, "{header}")?;
        }
        Ok(Self { done, file })
    }

    /// Items recorded so far.
    pub(super) fn len(&self) -> usize {
        self.done.len()
    }

    /// Whether the item version `entry` (one line, without line breaks) was copied and verified already.
    pub(super) fn contains(&self, entry: &str) -> bool {
        self.done.contains(entry)
    }

    /// Records the item version `entry` as copied and verified.
    ///
    /// # Errors
    /// When the journal cannot be written.
    pub(super) fn record(&mut self, entry: &str) -> anyhow::Result<()> {
        writeln!(self.file, "{entry}")?;
        self.file.sync_data()?;
        self.done.insert(entry.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_resumes_for_its_target_and_starts_afresh_for_another() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let mut journal = Journal::open(&path, "s3://a").unwrap();
        journal.record("results e/p/1 @ t1").unwrap();
        assert!(journal.contains("results e/p/1 @ t1") && !journal.contains("results e/p/1 @ t2"));
        drop(journal);

        let mut again = Journal::open(&path, "s3://a").unwrap();
        assert!(again.contains("results e/p/1 @ t1"));
        again.record("results e/p/2 @ t1").unwrap();
        drop(again);
        assert_eq!(Journal::open(&path, "s3://a").unwrap().len(), 2);

        let other = Journal::open(&path, "s3://b").unwrap();
        assert_eq!(other.len(), 0);
        drop(other);
        assert_eq!(Journal::open(&path, "s3://a").unwrap().len(), 0, "the journal now belongs to s3://b");
    }
}
