//! The indexes of recently viewed reports, kept in memory so that serving a file costs one ranged `GET` of the
//! archive. A published report never changes (a new one gets a new key), so a cached index is never stale; the
//! cache is bounded by the number of files its indexes describe, the oldest report leaving first.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

use crate::report_pack::ReportIndex;

/// Files described by the cached indexes, at most (an entry is about 150 bytes with its name: ~8 MiB).
const MAX_FILES: usize = 50_000;

type Slot = Arc<OnceCell<Arc<ReportIndex>>>;

#[derive(Default)]
struct Slots {
    by_report: HashMap<String, Slot>,
    /// Reports in the order they were first asked for.
    order: VecDeque<String>,
}

/// Indexes by report (its key prefix); concurrent first requests for one report share one load.
#[derive(Default, Clone)]
pub(crate) struct IndexCache {
    slots: Arc<Mutex<Slots>>,
}

impl IndexCache {
    /// The index of `report`, loaded by `load` unless cached or being loaded by another request. A failed load
    /// is not kept: the next request tries again.
    pub(crate) async fn get<E, F>(&self, report: &str, load: impl FnOnce() -> F) -> Result<Arc<ReportIndex>, E>
    where
        F: Future<Output = Result<ReportIndex, E>>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            let slots = &mut *slots;
            if let Some(slot) = slots.by_report.get(report) {
                Arc::clone(slot)
            } else {
                let slot = Slot::default();
                slots.by_report.insert(report.to_owned(), Arc::clone(&slot));
                slots.order.push_back(report.to_owned());
                slot
            }
        };
        let index = slot.get_or_try_init(|| async { load().await.map(Arc::new) }).await.map(Arc::clone);
        if index.is_ok() {
            self.evict(report);
        }
        index
    }

    /// Forgets the reports below `prefix` (being deleted): this node then answers as the store does. Another
    /// node's cache may still hold them, which matters little, as the database no longer names them.
    pub(crate) fn forget_below(&self, prefix: &str) {
        let below =
            |report: &str| report.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.by_report.retain(|report, _| !below(report));
        slots.order.retain(|report| !below(report));
    }

    /// Drops the oldest reports (never `keep`) until the loaded indexes describe at most [`MAX_FILES`] files.
    fn evict(&self, keep: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let slots = &mut *slots;
        let size = |slot: &Slot| slot.get().map_or(0, |index| index.len());
        let mut total: usize = slots.by_report.values().map(size).sum();
        let mut kept = VecDeque::with_capacity(slots.order.len());
        while let Some(report) = slots.order.pop_front() {
            if total > MAX_FILES && report != keep {
                if let Some(slot) = slots.by_report.remove(&report) {
                    total -= size(&slot);
                }
            } else {
                kept.push_back(report);
            }
        }
        slots.order = kept;
    }

    /// The reports cached now (for tests).
    #[cfg(test)]
    fn reports(&self) -> Vec<String> {
        self.slots.lock().unwrap().order.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn index_of(files: usize) -> ReportIndex {
        serde_json::from_value(serde_json::json!({
            "files": (0..files)
                .map(|i| (format!("f{i}"), serde_json::json!({"offset": 0, "len": 0, "crc": 0, "modified": 0})))
                .collect::<serde_json::Map<_, _>>()
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn concurrent_requests_share_one_load_and_failures_are_not_kept() {
        let cache = IndexCache::default();
        let loads = AtomicUsize::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok::<_, ()>(index_of(3))
        };
        let (a, b) = tokio::join!(cache.get("r1", load), cache.get("r1", load));
        assert_eq!((a.unwrap().len(), b.unwrap().len(), loads.load(Ordering::SeqCst)), (3, 3, 1));

        assert!(cache.get("r2", || async { Err::<ReportIndex, _>("down") }).await.is_err());
        assert_eq!(cache.get("r2", || async { Ok::<_, ()>(index_of(2)) }).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn the_oldest_reports_leave_when_the_indexes_grow_too_large() {
        let cache = IndexCache::default();
        for report in ["a", "b", "c"] {
            cache.get(report, || async { Ok::<_, ()>(index_of(MAX_FILES / 2)) }).await.unwrap();
        }
        assert_eq!(cache.reports(), ["b", "c"]);
        // A report larger than the whole budget is still served, alone.
        cache.get("huge", || async { Ok::<_, ()>(index_of(MAX_FILES + 1)) }).await.unwrap();
        assert_eq!(cache.reports(), ["huge"]);
    }

    #[tokio::test]
    async fn reports_being_deleted_are_forgotten() {
        let cache = IndexCache::default();
        for report in ["envs/e/p/builds/1/reports/A", "envs/e/p/builds/10/reports/B", "envs/e/q/builds/1/reports/C"] {
            cache.get(report, || async { Ok::<_, ()>(index_of(1)) }).await.unwrap();
        }
        cache.forget_below("envs/e/p/builds/1");
        assert_eq!(cache.reports(), ["envs/e/p/builds/10/reports/B", "envs/e/q/builds/1/reports/C"]);
        cache.forget_below("envs/e");
        assert!(cache.reports().is_empty());
    }
}
