//! The life of a build and its generation jobs, as pure decisions: what claiming, finishing, releasing, recovering
//! and regenerating do to the job, the build and the session that reports them. A store computes the facts inside
//! its transaction, asks these functions, and persists the answer, so the rules live here once, tested case by case,
//! and every store applies the same ones.
//!
//! The states:
//! - a job is `queued` → `running` → `succeeded` | `failed` (a running job goes back to `queued` when the server
//!   stops or restarts, and fails after too many interrupted runs);
//! - a build is `pending` while a job waits and none runs, `generating` while one runs, and then `ready` or
//!   `failed` after the last job that finished, unless a follow-up job waits (`pending` again);
//! - the session reporting a job ends `done` or `failed` when the job does.

use super::build::BuildStatus;
use super::job::JobState;
use super::upload::Phase;

/// The failure text of a job interrupted by too many server restarts.
pub const INTERRUPTED: &str = "generation interrupted by server restarts";

/// A job taken from the queue by a free slot: the job runs, and so its build is generating.
pub const CLAIMED: (JobState, BuildStatus) = (JobState::Running, BuildStatus::Generating);

/// A running job handed back by a server that stops: it waits again (without counting an attempt), and so does its
/// build.
pub const RELEASED: (JobState, BuildStatus) = (JobState::Queued, BuildStatus::Pending);

/// How a finished job settles: its own final state, its build's status, and the final phase of the session that
/// reports it (when that session is still `generating`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    /// The job's final state.
    pub job: JobState,
    /// The build's status.
    pub build: BuildStatus,
    /// The reporting session's final phase.
    pub session: Phase,
}

/// A job ended: `succeeded` tells whether its report was published; `follow_up_queued` whether another job of the
/// same build waits (a regeneration asked for while this one ran). The build stays `pending` for that follow-up,
/// whatever this job's outcome; otherwise it takes this job's outcome. The session reports this job either way.
pub fn settle(succeeded: bool, follow_up_queued: bool) -> Settlement {
    let (job, session) = if succeeded { (JobState::Succeeded, Phase::Done) } else { (JobState::Failed, Phase::Failed) };
    let build = match (succeeded, follow_up_queued) {
        (_, true) => BuildStatus::Pending,
        (true, false) => BuildStatus::Ready,
        (false, false) => BuildStatus::Failed,
    };
    Settlement { job, build, session }
}

/// Whether publishing a report under `published` leaves the build's previous report behind elsewhere, to be
/// deleted after the switch (and remembered until it is): the build had a report, under another key. `previous`
/// is the key the build named; none is the storage's first place, where reports published before keys were
/// recorded are. A storage that replaces reports in place returns one key every time, so once its builds name it
/// nothing is ever left behind.
pub fn leaves_replaced_report(had_report: bool, previous: Option<&str>, published: &str) -> bool {
    had_report && previous != Some(published)
}

/// What start-up does with a job a previous process left running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Back to the queue (the build `pending`), with the interrupted run counted.
    Requeue {
        /// Interrupted runs so far, this one included.
        attempts: i64,
    },
    /// Interrupted too often: the job, its build and its session fail with [`INTERRUPTED`].
    Fail {
        /// Interrupted runs so far, this one included.
        attempts: i64,
    },
}

impl Recovery {
    /// The job's new state and its build's status.
    pub fn states(&self) -> (JobState, BuildStatus) {
        match self {
            Self::Requeue { .. } => (JobState::Queued, BuildStatus::Pending),
            Self::Fail { .. } => (JobState::Failed, BuildStatus::Failed),
        }
    }
}

/// A job found running at start-up after `attempts` earlier interruptions: requeued, or failed once the
/// interruptions reach `max_attempts`.
pub fn recover(attempts: i64, max_attempts: i64) -> Recovery {
    let attempts = attempts.saturating_add(1);
    if attempts >= max_attempts { Recovery::Fail { attempts } } else { Recovery::Requeue { attempts } }
}

/// What a store knows of a build when a regeneration is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildJobs {
    /// The build exists.
    pub exists: bool,
    /// A session for the build id is still `uploading` or `assembling` (new results are on their way).
    pub upload_in_progress: bool,
    /// A job of the build waits in the queue (at most one does).
    pub queued: bool,
    /// A job of the build runs.
    pub running: bool,
}

/// What a regeneration does (§8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegenerationPlan {
    /// Nothing: new results are being uploaded, and their own job will generate the report.
    RefuseUploadInProgress,
    /// Nothing: there is no such build.
    RefuseNotFound,
    /// The waiting job takes the new config; nothing new is queued and the build's status stays.
    Reconfigure,
    /// A new job is queued after the running one; the build stays `generating` until the running job settles, which
    /// then leaves it `pending` for this follow-up (see [`settle`]).
    FollowUp,
    /// A new job is queued on an idle build, which becomes `pending` and loses the error of its last failure.
    Start,
}

impl RegenerationPlan {
    /// The build's status after the plan, when it changes it.
    pub fn build_status(self) -> Option<BuildStatus> {
        matches!(self, Self::Start).then_some(BuildStatus::Pending)
    }
}

/// Decides a regeneration from the build's jobs. Uploads in progress come first (their results replace the
/// build's), then existence; a waiting job is reconfigured rather than doubled, so a build never has two queued
/// jobs.
pub fn plan_regeneration(build: BuildJobs) -> RegenerationPlan {
    if build.upload_in_progress {
        RegenerationPlan::RefuseUploadInProgress
    } else if !build.exists {
        RegenerationPlan::RefuseNotFound
    } else if build.queued {
        RegenerationPlan::Reconfigure
    } else if build.running {
        RegenerationPlan::FollowUp
    } else {
        RegenerationPlan::Start
    }
}

/// A build's warnings with `extra` added, each remark once and in order of first appearance (a regeneration or a
/// finished job adds its own to those the upload found).
pub fn merge_warnings(mut warnings: Vec<String>, extra: &[String]) -> Vec<String> {
    for w in extra {
        if !warnings.contains(w) {
            warnings.push(w.clone());
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_job_settles_its_build_and_session() {
        use BuildStatus as B;
        use JobState as J;
        // (report published, follow-up queued) → (job, build, session)
        let cases = [
            ((true, false), (J::Succeeded, B::Ready, Phase::Done)),
            ((false, false), (J::Failed, B::Failed, Phase::Failed)),
            ((true, true), (J::Succeeded, B::Pending, Phase::Done)),
            ((false, true), (J::Failed, B::Pending, Phase::Failed)),
        ];
        for ((succeeded, follow_up), (job, build, session)) in cases {
            assert_eq!(
                settle(succeeded, follow_up),
                Settlement { job, build, session },
                "succeeded {succeeded}, follow-up {follow_up}"
            );
        }
    }

    #[test]
    fn only_a_report_published_beside_the_previous_one_leaves_it_behind() {
        // (had a report, previous key, published key) → left behind
        let cases = [
            ((false, None, "r2"), false),
            ((true, Some("r1"), "r2"), true),
            ((true, Some("r2"), "r2"), false),
            // Published before keys were recorded: in the first place, which an object store's new key is not.
            ((true, None, "r2"), true),
        ];
        for ((had_report, previous, published), expected) in cases {
            assert_eq!(leaves_replaced_report(had_report, previous, published), expected, "{previous:?} → {published}");
        }
    }

    #[test]
    fn claiming_and_releasing_move_job_and_build_together() {
        assert_eq!(CLAIMED, (JobState::Running, BuildStatus::Generating));
        assert_eq!(RELEASED, (JobState::Queued, BuildStatus::Pending));
    }

    #[test]
    fn an_interrupted_job_is_requeued_until_it_reaches_the_limit() {
        // (attempts before, limit) → recovery
        let cases = [
            ((0, 3), Recovery::Requeue { attempts: 1 }),
            ((1, 3), Recovery::Requeue { attempts: 2 }),
            ((2, 3), Recovery::Fail { attempts: 3 }),
            ((5, 3), Recovery::Fail { attempts: 6 }),
            ((0, 1), Recovery::Fail { attempts: 1 }),
            ((i64::MAX, 3), Recovery::Fail { attempts: i64::MAX }),
        ];
        for ((attempts, max), expected) in cases {
            assert_eq!(recover(attempts, max), expected, "{attempts} of {max}");
        }
        assert_eq!(Recovery::Requeue { attempts: 1 }.states(), (JobState::Queued, BuildStatus::Pending));
        assert_eq!(Recovery::Fail { attempts: 3 }.states(), (JobState::Failed, BuildStatus::Failed));
    }

    #[test]
    fn a_regeneration_is_planned_from_the_builds_jobs() {
        use RegenerationPlan as P;
        let build =
            |exists, upload_in_progress, queued, running| BuildJobs { exists, upload_in_progress, queued, running };
        // (exists, upload in progress, queued, running) → plan
        let cases = [
            (build(true, false, false, false), P::Start),
            (build(true, false, false, true), P::FollowUp),
            (build(true, false, true, false), P::Reconfigure),
            (build(true, false, true, true), P::Reconfigure),
            (build(true, true, false, false), P::RefuseUploadInProgress),
            (build(true, true, true, true), P::RefuseUploadInProgress),
            (build(false, false, false, false), P::RefuseNotFound),
            // An upload of a build id that does not exist yet is still an upload in progress.
            (build(false, true, false, false), P::RefuseUploadInProgress),
        ];
        for (facts, plan) in cases {
            assert_eq!(plan_regeneration(facts), plan, "{facts:?}");
        }
        assert_eq!(P::Start.build_status(), Some(BuildStatus::Pending));
        for plan in [P::FollowUp, P::Reconfigure, P::RefuseNotFound, P::RefuseUploadInProgress] {
            assert_eq!(plan.build_status(), None, "{plan:?}");
        }
    }

    #[test]
    fn warnings_are_merged_once_each_in_order() {
        let merged = merge_warnings(vec!["a".into(), "b".into()], &["b".into(), "c".into(), "c".into()]);
        assert_eq!(merged, ["a", "b", "c"]);
        assert_eq!(merge_warnings(Vec::new(), &[]), Vec::<String>::new());
    }
}
