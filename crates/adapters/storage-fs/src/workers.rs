//! A small fixed set of long-lived threads for archive extraction.
//!
//! Extraction is CPU and disk work, so running more of them at once than there are cores gains nothing; and
//! keeping it on the same few threads keeps its memory in the same few allocator arenas. On tokio's blocking pool
//! each extraction could land on a new thread, and with glibc's per-thread arenas the resident set then grew with
//! every upload (measured with `just bench-upload`: +34 MiB over two 500 MiB uploads; flat on fixed threads).
//!
//! A job goes to the thread that became idle last, so one upload after another runs on the same thread and reuses
//! the memory the previous one left in its arena; the other threads are used only while it is busy. Handing jobs
//! out in turn instead, the second of two uploads in a row found a fresh arena (measured with
//! `just bench-upload-s3` and glibc's default arenas: a chunked 1 GiB upload after a streaming one peaked at 69 MiB
//! against 63 MiB).

use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

/// A job runs its work and returns what hands the result over: the thread hands it over only once it is listed
/// as idle again (or has taken the next waiting job), so the caller's next job finds the thread free.
type Job = Box<dyn FnOnce() -> Deliver + Send>;
type Deliver = Box<dyn FnOnce() + Send>;

/// Who is free and what waits, changed under one lock so that a job is never left queued while a thread idles.
#[derive(Default)]
struct Board {
    /// Idle threads, the one that became idle last on top.
    idle: Vec<usize>,
    /// Jobs that came while every thread was busy, oldest first.
    waiting: VecDeque<Job>,
}

/// The extraction threads; jobs beyond their number wait in order.
#[derive(Clone)]
pub struct Workers {
    board: Arc<Mutex<Board>>,
    /// Each thread's own queue, by index.
    threads: Arc<Vec<mpsc::Sender<Job>>>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers").field("threads", &self.threads.len()).finish_non_exhaustive()
    }
}

impl Workers {
    /// Starts `threads` (at least one) named threads.
    ///
    /// # Errors
    /// When a thread cannot be started.
    pub fn start(name: &str, threads: usize) -> std::io::Result<Self> {
        let count = threads.max(1);
        let board = Arc::new(Mutex::new(Board { idle: (0..count).rev().collect(), waiting: VecDeque::new() }));
        let mut senders = Vec::with_capacity(count);
        for index in 0..count {
            let (jobs, queue) = mpsc::channel::<Job>();
            senders.push(jobs);
            let board = Arc::clone(&board);
            std::thread::Builder::new().name(format!("{name}-{index}")).spawn(move || {
                // Every sender is gone when the store was dropped: the thread ends.
                while let Ok(mut job) = queue.recv() {
                    loop {
                        let deliver = job();
                        let mut board = board.lock().unwrap_or_else(PoisonError::into_inner);
                        let next = board.waiting.pop_front();
                        if next.is_none() {
                            board.idle.push(index);
                        }
                        drop(board);
                        deliver();
                        match next {
                            Some(next) => job = next,
                            None => break,
                        }
                    }
                }
            })?;
        }
        Ok(Self { board, threads: Arc::new(senders) })
    }

    /// Runs `work` on one of the threads and waits for its result without blocking the async runtime.
    ///
    /// # Errors
    /// When the threads are gone or `work` panicked.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            Box::new(move || {
                let _ = done.send(outcome);
            })
        });
        self.submit(job)?;
        match result.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err("the extraction panicked".to_owned()),
            Err(_) => Err("the extraction thread stopped".to_owned()),
        }
    }

    /// Gives `job` to the thread that became idle last, or queues it when all are busy.
    fn submit(&self, job: Job) -> Result<(), String> {
        let mut board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(index) = board.idle.pop() else {
            board.waiting.push_back(job);
            return Ok(());
        };
        self.threads[index].send(job).map_err(|_| "the extraction threads are gone".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread_name() -> String {
        std::thread::current().name().map(str::to_owned).unwrap_or_default()
    }

    #[tokio::test]
    async fn jobs_run_on_the_named_threads_and_a_panic_is_an_error() {
        let workers = Workers::start("test-extract", 2).unwrap();
        let name = workers.run(thread_name).await.unwrap();
        assert!(name.starts_with("test-extract-"));
        assert_eq!(workers.run(|| 6 * 7).await, Ok(42));
        let failed = workers.run(|| -> u8 { panic!("boom") }).await;
        assert_eq!(failed, Err("the extraction panicked".to_owned()));
        assert_eq!(workers.run(|| 1).await, Ok(1), "the thread survives a panicking job");
    }

    #[tokio::test]
    async fn jobs_one_after_another_run_on_one_thread() {
        let workers = Workers::start("test-reuse", 3).unwrap();
        let first = workers.run(thread_name).await.unwrap();
        for _ in 0..5 {
            assert_eq!(workers.run(thread_name).await.unwrap(), first);
        }
    }

    #[tokio::test]
    async fn jobs_at_once_use_every_thread_and_the_rest_wait_their_turn() {
        let workers = Workers::start("test-spread", 2).unwrap();
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let both = (0..2).map(|_| {
            let barrier = Arc::clone(&barrier);
            // Each job waits for the other: they finish only when both run at once.
            workers.run(move || {
                barrier.wait();
                thread_name()
            })
        });
        let queued = (0..4).map(|i| workers.run(move || i));
        let (names, values) =
            tokio::join!(futures_util::future::join_all(both), futures_util::future::join_all(queued));
        let names: std::collections::HashSet<_> = names.into_iter().map(Result::unwrap).collect();
        assert_eq!(names.len(), 2, "two threads: {names:?}");
        assert_eq!(values, (0..4).map(Ok).collect::<Vec<_>>());
    }
}
