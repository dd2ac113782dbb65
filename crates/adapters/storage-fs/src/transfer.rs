//! [`StorageTransfer`] on the filesystem: items are already files here, so exporting copies them out and importing
//! copies them into `tmp/` and swaps them into place in one rename, as publishing does.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use hub_domain::ports::{StorageError, StorageTransfer, StoredItem};

use crate::FsResultStore;
use crate::reports::{swap_into_place, write_history};

/// The history's file name, here and in an exported item.
const HISTORY: &str = "history.jsonl";

impl FsResultStore {
    /// Where `item` lives: a directory, or the history file.
    fn item_path(&self, item: &StoredItem) -> PathBuf {
        match item {
            StoredItem::History { env, project } => self.envs.join(env.as_str()).join(project.as_str()).join(HISTORY),
            StoredItem::Results { env, project, build } => self.build_dir(env, project, build).join("results"),
            // A build has one report directory, whatever key its record names.
            StoredItem::Report(at) => self.report_dir(&at.env, &at.project, &at.build),
        }
    }
}

/// Copies the tree at `from` to `to` (which must not exist): directories and regular files only, as the
/// adapter writes nothing else.
pub(crate) fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn export(item: &StoredItem, path: &Path, dir: &Path) -> io::Result<bool> {
    if let StoredItem::History { .. } = item {
        return match std::fs::read(path) {
            Ok(text) => {
                std::fs::create_dir(dir)?;
                std::fs::write(dir.join(HISTORY), text).map(|()| true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        };
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => copy_tree(path, dir).map(|()| true),
        Ok(_) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

fn import(item: &StoredItem, path: &Path, dir: &Path, staging: &Path) -> io::Result<()> {
    let parent = path.parent().ok_or_else(|| io::Error::other("an item path has a parent"))?;
    std::fs::create_dir_all(parent)?;
    if let StoredItem::History { .. } = item {
        return write_history(path, &std::fs::read_to_string(dir.join(HISTORY))?);
    }
    copy_tree(dir, staging)?;
    // The previous item, if any, ends up at `staging`.
    swap_into_place(staging, path)?;
    match std::fs::remove_dir_all(staging) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[async_trait]
impl StorageTransfer for FsResultStore {
    async fn export(&self, item: &StoredItem, dir: &Path) -> Result<bool, StorageError> {
        let (item, path, dir) = (item.clone(), self.item_path(item), dir.to_path_buf());
        tokio::task::spawn_blocking(move || export(&item, &path, &dir))
            .await
            .map_err(|e| StorageError::new(e.to_string()))?
            .map_err(|e| StorageError::new(format!("cannot copy out a stored item: {e}")))
    }

    async fn import(&self, item: &StoredItem, dir: &Path) -> Result<(), StorageError> {
        let staging = self.tmp.join(format!("import-{}", ulid::Ulid::new()));
        let (copy, path, dir) = (item.clone(), self.item_path(item), dir.to_path_buf());
        let lock = std::sync::Arc::clone(&self.history_lock);
        let imported = tokio::task::spawn_blocking(move || {
            let _serialised = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let imported = import(&copy, &path, &dir, &staging);
            if imported.is_err() {
                let _ = std::fs::remove_dir_all(&staging);
            }
            imported
        })
        .await
        .map_err(|e| StorageError::new(e.to_string()))?;
        imported.map_err(|e| StorageError::new(format!("cannot store {item}: {e}")))
    }
}
