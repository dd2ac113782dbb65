//! A small fixed set of long-lived threads for archive extraction.
//!
//! Extraction is CPU and disk work, so running more of them at once than there are cores gains nothing; and
//! keeping it on the same few threads keeps its memory in the same few allocator arenas. On tokio's blocking pool
//! each extraction could land on a new thread, and with glibc's per-thread arenas the resident set then grew with
//! every upload (measured with `just bench-upload`: +34 MiB over two 500 MiB uploads; flat on fixed threads).

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// The extraction threads; jobs beyond their number wait in order.
#[derive(Clone)]
pub struct Workers {
    jobs: mpsc::Sender<Job>,
    threads: usize,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers").field("threads", &self.threads).finish_non_exhaustive()
    }
}

impl Workers {
    /// Starts `threads` (at least one) named threads.
    ///
    /// # Errors
    /// When a thread cannot be started.
    pub fn start(name: &str, threads: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new().name(format!("{name}-{i}")).spawn(move || {
                loop {
                    // The lock is held only while taking a job, not while running it.
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(poisoned) => poisoned.into_inner().recv(),
                    };
                    match job {
                        Ok(job) => job(),
                        // Every sender is gone: the store was dropped.
                        Err(_) => return,
                    }
                }
            })?;
        }
        Ok(Self { jobs, threads })
    }

    /// Runs `work` on one of the threads and waits for its result without blocking the async runtime.
    ///
    /// # Errors
    /// When the threads are gone or `work` panicked.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let _ = done.send(outcome);
        });
        self.jobs.send(job).map_err(|_| "the extraction threads are gone".to_owned())?;
        match result.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err("the extraction panicked".to_owned()),
            Err(_) => Err("the extraction thread stopped".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_named_threads_and_a_panic_is_an_error() {
        let workers = Workers::start("test-extract", 2).unwrap();
        let name = workers.run(|| std::thread::current().name().map(str::to_owned)).await.unwrap();
        assert!(name.unwrap().starts_with("test-extract-"));
        assert_eq!(workers.run(|| 6 * 7).await, Ok(42));
        let failed = workers.run(|| -> u8 { panic!("boom") }).await;
        assert_eq!(failed, Err("the extraction panicked".to_owned()));
        assert_eq!(workers.run(|| 1).await, Ok(1), "the thread survives a panicking job");
    }
}
