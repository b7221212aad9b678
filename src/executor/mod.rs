//! A thread pool for blocking work (`ThreadPoolExecutor`), behind
//! `EventLoop::run_in_executor`.
//!
//! Workers start lazily, up to `max_workers`, when no worker is idle, and are
//! reused. A job's result wakes the task awaiting it; that wake-up reaches
//! the loop through its inbox (one coalesced Qt event per burst), so results
//! need no extra thread hop. Dropping or cancelling an [`ExecutorFuture`]
//! cancels its job if it has not started; a panic in a job becomes
//! `Err(Error::Panicked)`.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::core::sync::lock;
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use futures::task::AtomicWaker;

use crate::error::{into_panic_message, Error, Result};

mod token;
use token::TokenState;
pub use token::{JobToken, Progress};

const PENDING: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
const CANCELLED: u8 = 3;

/// One job's state, shared by the worker and the future.
struct JobState<T> {
    state: AtomicU8,
    result: Mutex<Option<Result<T>>>,
    waker: AtomicWaker,
    /// The job's token, for jobs that take one.
    token: Option<Arc<TokenState>>,
}

impl<T> JobState<T> {
    fn new(state: u8, result: Option<Result<T>>, token: Option<Arc<TokenState>>) -> Self {
        Self {
            state: AtomicU8::new(state),
            result: Mutex::new(result),
            waker: AtomicWaker::new(),
            token,
        }
    }

    fn finish(&self, r: Result<T>, state: u8) {
        *lock(&self.result) = Some(r);
        self.state.store(state, Ordering::Release);
        self.waker.wake();
        if let Some(t) = &self.token {
            t.finish();
        }
    }

    /// Cancels the job if it has not started; returns whether it did. A
    /// running job's token says it is cancelled.
    fn cancel(&self) -> bool {
        if let Some(t) = &self.token {
            t.cancel();
        }
        let cancelled = self
            .state
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if cancelled {
            *lock(&self.result) = Some(Err(Error::Cancelled));
            self.waker.wake();
            if let Some(t) = &self.token {
                t.finish();
            }
        }
        cancelled
    }
}

/// What the pool holds of a job: run it, or cancel it.
trait Job: Send {
    /// Runs the job; gives the worker's idle token back (`idle += 1`)
    /// *before* the result is published, so a caller that submits again on
    /// seeing the result reuses this worker. Returns whether it ran.
    fn run(self: Box<Self>, idle: &AtomicUsize) -> bool;
    fn cancel(&self);
}

struct TypedJob<T, F> {
    f: F,
    state: Arc<JobState<T>>,
}

impl<T: Send + 'static, F: FnOnce() -> T + Send + 'static> Job for TypedJob<T, F> {
    fn run(self: Box<Self>, idle: &AtomicUsize) -> bool {
        let s = &self.state;
        if s.state
            .compare_exchange(PENDING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false; // cancelled before it started
        }
        let state = self.state.clone();
        let r = catch_unwind(AssertUnwindSafe(self.f))
            .map_err(|p| Error::Panicked(into_panic_message(p)));
        idle.fetch_add(1, Ordering::AcqRel);
        state.finish(r, DONE);
        true
    }
    fn cancel(&self) {
        self.state.cancel();
    }
}

/// The result of a job submitted to a [`ThreadPoolExecutor`]: awaiting it
/// gives `Ok(value)`, or `Err(Error::Cancelled)`, `Err(Error::Panicked(..))`,
/// `Err(Error::ExecutorShutdown)`.
#[must_use = "dropping an ExecutorFuture cancels its job if it has not started"]
pub struct ExecutorFuture<T> {
    state: Arc<JobState<T>>,
}

impl<T> ExecutorFuture<T> {
    fn failed(e: Error) -> Self {
        Self {
            state: Arc::new(JobState::new(DONE, Some(Err(e)), None)),
        }
    }

    /// Cancels the job if it has not started yet (then the future gives
    /// `Err(Error::Cancelled)`); returns whether it did. A running job runs
    /// to its end, as with `concurrent.futures`; one started with a
    /// [`JobToken`] sees `token.is_cancelled()` and may stop early.
    pub fn cancel(&self) -> bool {
        self.state.cancel()
    }

    /// The job's progress, from [`JobToken::set_progress`], as a `Stream`
    /// read where it is polled (the loop thread): the latest value since
    /// the last read, then the end when the job has finished. A job without
    /// a token ends the stream at once.
    pub fn progress(&self) -> Progress {
        Progress {
            state: self.state.token.clone(),
            seen: 0,
        }
    }

    /// Whether the job has started (or finished).
    pub fn is_started(&self) -> bool {
        self.state.state.load(Ordering::Acquire) != PENDING
    }

    /// Whether the result is there.
    pub fn is_done(&self) -> bool {
        lock(&self.state.result).is_some()
    }
}

impl<T> Future for ExecutorFuture<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        if let Some(r) = lock(&self.state.result).take() {
            return Poll::Ready(r);
        }
        self.state.waker.register(cx.waker());
        match lock(&self.state.result).take() {
            Some(r) => Poll::Ready(r),
            None => Poll::Pending,
        }
    }
}

impl<T> Drop for ExecutorFuture<T> {
    fn drop(&mut self) {
        self.state.cancel();
    }
}

impl<T> std::fmt::Debug for ExecutorFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutorFuture")
            .field("state", &self.state.state.load(Ordering::Acquire))
            .finish()
    }
}

struct Pool {
    max_workers: usize,
    sender: Mutex<Option<Sender<Box<dyn Job>>>>,
    receiver: Receiver<Box<dyn Job>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    spawned: AtomicUsize,
    /// Idle tokens: workers done with their job and not claimed yet.
    idle: AtomicUsize,
    shutdown: AtomicBool,
}

/// A pool of worker threads for blocking work (Python's
/// `concurrent.futures.ThreadPoolExecutor`). Cheap to clone; clones share
/// the pool.
///
/// ```
/// use qtloop::executor::ThreadPoolExecutor;
/// let pool = ThreadPoolExecutor::new(2).unwrap();
/// let fut = pool.submit(|| (1..=10).sum::<u32>());
/// assert_eq!(futures::executor::block_on(fut), Ok(55));
/// pool.shutdown(true, false);
/// assert!(pool.submit(|| 1).is_done()); // Err(ExecutorShutdown) at once
/// ```
///
/// When the last clone is dropped, the pool takes no more work: its workers
/// finish what is queued and exit (as CPython's executors do when they are
/// collected), so a pool dropped without `shutdown` leaves no threads.
#[derive(Clone)]
pub struct ThreadPoolExecutor {
    pool: Arc<Pool>,
    _owner: Arc<Owner>,
}

/// Held by the user's handles only (the workers hold the `Pool`): its drop
/// closes the job queue.
struct Owner(Arc<Pool>);

impl Drop for Owner {
    fn drop(&mut self) {
        drop(lock(&self.0.sender).take());
    }
}

impl ThreadPoolExecutor {
    /// A pool of at most `max_workers` threads (`Error::InvalidArgument`
    /// for 0). Threads start when work arrives and no worker is idle.
    pub fn new(max_workers: usize) -> Result<Self> {
        if max_workers == 0 {
            return Err(Error::InvalidArgument(
                "max_workers must be greater than 0".into(),
            ));
        }
        let (sender, receiver) = crossbeam_channel::unbounded();
        let pool = Arc::new(Pool {
            max_workers,
            sender: Mutex::new(Some(sender)),
            receiver,
            workers: Mutex::new(Vec::new()),
            spawned: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
        });
        Ok(Self {
            _owner: Arc::new(Owner(pool.clone())),
            pool,
        })
    }

    /// Python's default size: `min(32, cpus + 4)`.
    pub fn default_max_workers() -> usize {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cpus + 4).min(32)
    }

    /// The maximum number of worker threads.
    pub fn max_workers(&self) -> usize {
        self.pool.max_workers
    }

    /// Worker threads started so far.
    pub fn workers(&self) -> usize {
        self.pool.spawned.load(Ordering::Acquire)
    }

    /// Runs `f` on a worker thread. After [`shutdown`](Self::shutdown) the
    /// future gives `Err(Error::ExecutorShutdown)` at once.
    pub fn submit<T, F>(&self, f: F) -> ExecutorFuture<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.submit_job(f, None)
    }

    /// Runs `f` on a worker thread with a [`JobToken`]: it tells `f` that
    /// the future was dropped or cancelled, and takes `f`'s progress
    /// ([`ExecutorFuture::progress`]).
    pub fn submit_with<T, F>(&self, f: F) -> ExecutorFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(JobToken) -> T + Send + 'static,
    {
        let state = Arc::new(TokenState::default());
        let token = JobToken {
            state: state.clone(),
        };
        self.submit_job(move || f(token), Some(state))
    }

    fn submit_job<T, F>(&self, f: F, token: Option<Arc<TokenState>>) -> ExecutorFuture<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let state = Arc::new(JobState::new(PENDING, None, token));
        let job = Box::new(TypedJob {
            f,
            state: state.clone(),
        });
        {
            let sender = lock(&self.pool.sender);
            let Some(sender) = sender.as_ref() else {
                return ExecutorFuture::failed(Error::ExecutorShutdown);
            };
            if sender.send(job).is_err() {
                return ExecutorFuture::failed(Error::ExecutorShutdown);
            }
        }
        self.adjust_workers();
        ExecutorFuture { state }
    }

    /// Claims an idle worker for the job just queued, or starts one if the
    /// pool is not full (CPython's idle semaphore: a submit consumes a token,
    /// a worker gives it back when it is done with a job).
    fn adjust_workers(&self) {
        let pool = &self.pool;
        if pool
            .idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
        {
            return;
        }
        let n = pool.spawned.load(Ordering::Acquire);
        if n >= pool.max_workers
            || pool
                .spawned
                .compare_exchange(n, n + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return;
        }
        let p = pool.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("qtloop-worker-{n}"))
            .spawn(move || worker(&p));
        match spawned {
            Ok(h) => lock(&pool.workers).push(h),
            Err(e) => {
                pool.spawned.fetch_sub(1, Ordering::AcqRel);
                log::error!("qtloop: cannot start a worker thread: {e}");
            }
        }
    }

    /// Stops taking work. With `cancel_futures`, jobs that have not started
    /// are cancelled; the others run to their end. With `wait`, blocks until
    /// every worker has finished (never call that from a job).
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.pool.shutdown.store(true, Ordering::Release);
        drop(lock(&self.pool.sender).take());
        if cancel_futures {
            for job in self.pool.receiver.try_iter() {
                job.cancel();
            }
        }
        if wait {
            self.join();
        }
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutdown(&self) -> bool {
        self.pool.shutdown.load(Ordering::Acquire)
    }

    /// Waits for the workers after a shutdown.
    pub(crate) fn join(&self) {
        let workers = std::mem::take(&mut *lock(&self.pool.workers));
        for w in workers {
            let _ = w.join();
        }
    }
}

impl Default for ThreadPoolExecutor {
    fn default() -> Self {
        Self::new(Self::default_max_workers()).expect("the default size is positive")
    }
}

impl std::fmt::Debug for ThreadPoolExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPoolExecutor")
            .field("max_workers", &self.pool.max_workers)
            .field("workers", &self.workers())
            .field("shutdown", &self.is_shutdown())
            .finish()
    }
}

/// A worker is started for a job and takes jobs until the pool shuts down;
/// after each job it gives an idle token back.
fn worker(pool: &Pool) {
    while let Ok(job) = pool.receiver.recv() {
        if !job.run(&pool.idle) {
            pool.idle.fetch_add(1, Ordering::AcqRel); // the job was cancelled
        }
    }
}
