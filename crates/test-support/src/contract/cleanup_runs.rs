//! [`CleanupRunRepo`](hub_domain::ports::CleanupRunRepo): the records of cleanup sweeps, newest kept.

use chrono::TimeDelta;
use hub_domain::Timestamp;
use hub_domain::ids::CleanupRunId;
use hub_domain::model::retention::{CleanupRun, CleanupStatus, CleanupTrigger};

use super::StoreFixture;
use super::fixtures::{t, ulid};

/// Run `n`, started at `minute`; every optional field varies with `n` so that round trips are checked.
fn run(n: u32, minute: i64, status: CleanupStatus) -> CleanupRun {
    CleanupRun {
        id: CleanupRunId::parse(&ulid(n)).unwrap(),
        started_at: t(minute),
        finished_at: t(minute) + TimeDelta::milliseconds(1250),
        status,
        trigger: if n.is_multiple_of(2) { CleanupTrigger::Schedule } else { CleanupTrigger::Manual },
        deleted_count: i64::from(n),
        skipped_count: 1,
        freed_bytes: 1 << 33,
        dry_run: n == 3,
        error_message: (status == CleanupStatus::Failed).then(|| format!("sweep {n} could not list builds")),
    }
}

/// Each record keeps only the newest `keep` by start time, whatever the order they were recorded in.
pub async fn only_the_newest_cleanup_runs_are_kept(f: &StoreFixture) {
    // Recorded out of start order: the 7th run recorded started earliest.
    let minutes = [10, 20, 30, 40, 50, 60, 5];
    let runs: Vec<CleanupRun> = minutes
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let n = u32::try_from(i).unwrap() + 1;
            run(n, *m, if n == 4 { CleanupStatus::Failed } else { CleanupStatus::Success })
        })
        .collect();
    for r in &runs {
        f.cleanup_runs.record(r, 5).await.unwrap();
    }
    let listed = f.cleanup_runs.list().await.unwrap();
    let started: Vec<Timestamp> = listed.iter().map(|r| r.started_at).collect();
    assert_eq!(started, [t(60), t(50), t(40), t(30), t(20)], "newest five, newest first");
    assert_eq!(listed[2], runs[3], "every field round-trips, the error message too");
    assert_eq!(f.cleanup_runs.get(runs[2].id).await.unwrap().as_ref(), Some(&runs[2]));
    assert_eq!(f.cleanup_runs.get(runs[0].id).await.unwrap(), None, "the oldest was pruned");
    assert_eq!(f.cleanup_runs.get(runs[6].id).await.unwrap(), None, "recorded last but started first");
    f.cleanup_runs.record(&run(9, 70, CleanupStatus::Success), 2).await.unwrap();
    assert_eq!(f.cleanup_runs.list().await.unwrap().len(), 2);
}
