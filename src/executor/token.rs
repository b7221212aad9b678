//! A pool job's link back to its future: cancellation and progress.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::task::AtomicWaker;
use futures::Stream;

use crate::core::sync::lock;
use crate::error::{Error, Result};

/// What a job's token and its future share.
#[derive(Default)]
pub(crate) struct TokenState {
    cancelled: Mutex<bool>,
    wake_sleepers: Condvar,
    /// The latest progress, as `f64` bits, and a count of updates.
    progress: AtomicU64,
    updates: AtomicU64,
    /// Set when the job has finished: the progress stream ends.
    finished: AtomicBool,
    waker: AtomicWaker,
}

impl TokenState {
    pub(crate) fn cancel(&self) {
        *lock(&self.cancelled) = true;
        self.wake_sleepers.notify_all();
    }

    pub(crate) fn finish(&self) {
        self.finished.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// Given to a job started with
/// [`run_in_executor_with`](crate::EventLoop::run_in_executor_with) or
/// [`ThreadPoolExecutor::submit_with`](crate::ThreadPoolExecutor::submit_with):
/// the job asks it whether it should stop, and tells its progress. `Send`
/// and cheap to clone, for helper threads of the job.
///
/// ```
/// use std::time::Duration;
/// let lp = qtloop::EventLoop::new().unwrap();
/// let job = lp.run_in_executor_with(|token| {
///     for i in 1..=4 {
///         if token.sleep(Duration::from_millis(1)).is_err() {
///             return None; // the future was dropped or cancelled
///         }
///         token.set_progress(i as f64 / 4.0);
///     }
///     Some("done")
/// });
/// let mut progress = job.progress();
/// let (seen, out) = lp
///     .run_until_complete(async move {
///         use futures::StreamExt;
///         let mut seen = Vec::new();
///         while let Some(p) = progress.next().await {
///             seen.push(p); // on the loop thread; the latest value wins
///         }
///         (seen, job.await)
///     })
///     .unwrap();
/// assert_eq!(out, Ok(Some("done")));
/// assert_eq!(seen.last(), Some(&1.0));
/// lp.close().unwrap();
/// ```
#[derive(Clone)]
pub struct JobToken {
    pub(crate) state: Arc<TokenState>,
}

impl JobToken {
    /// Whether the job's future was dropped or cancelled: the job should
    /// stop (its result is not wanted any more).
    pub fn is_cancelled(&self) -> bool {
        *lock(&self.state.cancelled)
    }

    /// `Err(Error::Cancelled)` once the job is cancelled, for `?` in loops.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Sleeps for `d` on this thread, or less if the job is cancelled
    /// meanwhile (then `Err(Error::Cancelled)`, at once).
    pub fn sleep(&self, d: Duration) -> Result<()> {
        let deadline = Instant::now().checked_add(d);
        let mut cancelled = lock(&self.state.cancelled);
        while !*cancelled {
            let left = match deadline {
                Some(t) => t.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return Ok(());
            }
            cancelled = self
                .state
                .wake_sleepers
                .wait_timeout(cancelled, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        Err(Error::Cancelled)
    }

    /// Reports the job's progress (any `f64`; `0.0..=1.0` by convention).
    /// The future's [`progress`](crate::ExecutorFuture::progress) stream
    /// gives it on the loop thread; updates faster than the loop reads
    /// them are coalesced, the latest wins.
    pub fn set_progress(&self, progress: f64) {
        self.state
            .progress
            .store(progress.to_bits(), Ordering::Release);
        self.state.updates.fetch_add(1, Ordering::AcqRel);
        self.state.waker.wake();
    }
}

impl std::fmt::Debug for JobToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// A job's progress as a `Stream` of the latest values (from
/// [`ExecutorFuture::progress`](crate::ExecutorFuture::progress)); it ends
/// when the job has finished. One reader: a second stream of the same job
/// takes the wake-ups from the first.
pub struct Progress {
    pub(crate) state: Option<Arc<TokenState>>,
    pub(crate) seen: u64,
}

impl Stream for Progress {
    type Item = f64;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<f64>> {
        let Some(state) = self.state.clone() else {
            return Poll::Ready(None);
        };
        for attempt in 0..2 {
            // `finished` first: every update made before it is seen below.
            let finished = state.finished.load(Ordering::Acquire);
            let updates = state.updates.load(Ordering::Acquire);
            if updates != self.seen {
                self.seen = updates;
                let v = f64::from_bits(state.progress.load(Ordering::Acquire));
                return Poll::Ready(Some(v));
            }
            if finished {
                self.state = None;
                return Poll::Ready(None);
            }
            if attempt == 0 {
                // Checked again after registering: an update in between
                // is not missed.
                state.waker.register(cx.waker());
            }
        }
        Poll::Pending
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("ended", &self.state.is_none())
            .finish()
    }
}
