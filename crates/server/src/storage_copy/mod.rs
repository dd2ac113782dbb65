//! `allure-hub storage copy --to <url>`: copies every item the configured storage holds for the database's
//! environments, projects and builds (trend histories, results, reports) into another storage, verifying each one by
//! reading it back, and recording it in a journal so that a run cut short resumes where it stopped, and a run after
//! the server was stopped copies only what changed since. This is how an installation moves from `DATA_DIR` into a
//! bucket, or back.
//!
//! The database is not changed: the target lays every item out so that the same records name it (a report keeps
//! its key). Objects no record names (orphans, chunks of unfinished uploads) are not copied.

mod digest;
mod journal;

use std::path::{Path, PathBuf};

use anyhow::Context;
use hub_domain::model::build::OutcomeFilter;
use hub_domain::model::page::PageRequest;
use hub_domain::ports::{BuildRepo, ProjectRepo, ReportLocation, StorageTransfer, StoredItem};

use self::journal::Journal;
use crate::config::{Config, CopyTarget, StorageConfig};

/// Builds read from the database at a time.
const PAGE: i64 = 500;

/// What a copy did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CopySummary {
    /// Items copied and verified by this run.
    pub copied: u64,
    /// Items an earlier run had copied as they are now (in the journal).
    pub skipped: u64,
    /// Items the records name but the source does not hold (a build without a report, a project without history).
    pub absent: u64,
    /// Bytes of the files copied by this run.
    pub bytes: u64,
}

/// Copies everything to `to` (see the module's documentation), an S3 target reached with the variables `lookup`
/// gives (the process environment's).
///
/// # Errors
/// When `to` is not a storage URL or names the configured storage, when either storage or the database cannot be
/// used, or when an item fails to copy or to verify (the items copied before it stay recorded).
pub async fn run(config: &Config, to: &str, lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<CopySummary> {
    let target = CopyTarget::from_lookup(to, lookup)?;
    if names_the_configured_storage(config, &target) {
        anyhow::bail!("--to names the storage this installation uses (STORAGE_URL): nothing to copy");
    }
    let work = config.data_dir.join("storage-copy");
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let store = crate::startup::open_database(config).await?;
    let source = crate::startup::open_transfer(config, None, &work.join("source")).await?;
    let target = crate::startup::open_transfer(config, Some(&target), &work.join("target")).await?;
    let items = items(&store).await?;
    let mut journal = Journal::open(&work.join("journal"), to)?;
    tracing::info!(items = items.len(), done_before = journal.len(), to, "copying the storage");

    let mut summary = CopySummary::default();
    for (done, (item, version)) in items.iter().enumerate() {
        let entry = version.as_ref().map(|version| format!("{item} @ {version}"));
        if entry.as_ref().is_some_and(|entry| journal.contains(entry)) {
            summary.skipped += 1;
            continue;
        }
        match copy_item(source.as_ref(), target.as_ref(), item, &work).await? {
            Some(bytes) => {
                summary.copied += 1;
                summary.bytes += bytes;
            }
            None => summary.absent += 1,
        }
        if let Some(entry) = &entry {
            journal.record(entry)?;
        }
        tracing::info!(item = %item, done = done + 1, of = items.len(), "copied");
    }
    tracing::info!(
        copied = summary.copied,
        skipped = summary.skipped,
        absent = summary.absent,
        bytes = summary.bytes,
        "storage copied and verified"
    );
    Ok(summary)
}

/// Whether `target` is where the files are now: copying a storage onto itself would replace each item by itself
/// at best.
fn names_the_configured_storage(config: &Config, target: &CopyTarget) -> bool {
    match (target, &config.storage) {
        (CopyTarget::Directory(dir), StorageConfig::Filesystem) => {
            let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            canonical(dir) == canonical(&config.data_dir)
        }
        (CopyTarget::Bucket(StorageConfig::S3 { url: to, .. }), StorageConfig::S3 { url: from, .. }) => {
            to.trim_end_matches('/') == from.trim_end_matches('/')
        }
        _ => false,
    }
}

/// Every item the database's records name (each project's history, each build's results and report), with what
/// identifies its current content for the journal: a build's creation (a new upload replaces it) for its results, its
/// completion and report key for its report. Histories have none: they change with every generation and are
/// copied on every run (one file per project).
async fn items<S: ProjectRepo + BuildRepo>(store: &S) -> anyhow::Result<Vec<(StoredItem, Option<String>)>> {
    let mut items = Vec::new();
    for (env, projects) in ProjectRepo::list_all_ids(store).await? {
        for project in projects {
            items.push((StoredItem::History { env: env.clone(), project: project.clone() }, None));
            for offset in (0..).step_by(usize::try_from(PAGE).unwrap_or(1)) {
                let page = PageRequest { limit: PAGE, offset };
                let builds = BuildRepo::list(store, &env, &project, OutcomeFilter::All, page).await?.items;
                for build in &builds {
                    let (env, project, id) = (env.clone(), project.clone(), build.build_id.clone());
                    let created = build.created_at.to_rfc3339();
                    let results = StoredItem::Results { env: env.clone(), project: project.clone(), build: id.clone() };
                    items.push((results, Some(created)));
                    if build.has_report {
                        let key = build.report_key.clone();
                        let completed = build.completed_at.map(|at| at.to_rfc3339()).unwrap_or_default();
                        let version = format!("{completed} {}", key.as_deref().unwrap_or("-"));
                        items
                            .push((StoredItem::Report(ReportLocation { env, project, build: id, key }), Some(version)));
                    }
                }
                if builds.len() < usize::try_from(PAGE).unwrap_or(0) {
                    break;
                }
            }
        }
    }
    Ok(items)
}

/// Copies one item through local files and checks that the target gives back the same files. Returns the bytes
/// copied, or `None` when the source does not hold the item.
async fn copy_item(
    source: &dyn StorageTransfer,
    target: &dyn StorageTransfer,
    item: &StoredItem,
    work: &Path,
) -> anyhow::Result<Option<u64>> {
    let sent = work.join(format!("item-{}", ulid::Ulid::new()));
    let back = work.join(format!("check-{}", ulid::Ulid::new()));
    let copied = async {
        if !source.export(item, &sent).await.with_context(|| format!("cannot read {item}"))? {
            return Ok(None);
        }
        target.import(item, &sent).await.with_context(|| format!("cannot write {item}"))?;
        if !target.export(item, &back).await.with_context(|| format!("cannot read {item} back"))? {
            anyhow::bail!("{item} is missing from the target after it was written");
        }
        let (expected, found) = (sent.clone(), back.clone());
        let (expected, found) =
            tokio::task::spawn_blocking(move || Ok::<_, std::io::Error>((digest::of(&expected)?, digest::of(&found)?)))
                .await??;
        if expected != found {
            anyhow::bail!("{item} differs in the target after it was written: {expected} against {found}");
        }
        Ok(Some(expected.bytes))
    }
    .await;
    for dir in [&sent, &back] {
        remove(dir).await;
    }
    copied
}

/// Deletes a work directory (best effort: the next run's directory names are new ones).
async fn remove(dir: &PathBuf) {
    if let Err(e) = tokio::fs::remove_dir_all(dir).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %dir.display(), error = %e, "could not delete a copy's work files");
    }
}
