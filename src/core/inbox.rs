//! The thread-safe inbox: work posted from other threads.
//!
//! An unbounded MPSC queue (`concurrent-queue`) plus one atomic "wake
//! pending" flag: the first post of a burst wakes the loop (one Qt event),
//! the others only push. The loop clears the flag *before* draining, so a
//! post that lands after the drain sees the flag clear and wakes again: no
//! wake-up is lost, and a burst of N posts costs one wake-up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use concurrent_queue::ConcurrentQueue;

use super::handle::Entry;

/// Wakes the loop from any thread (the Qt driver posts an event).
pub trait RemoteWake: Send + Sync {
    /// Asks the loop's thread to run an iteration soon.
    fn wake(&self);
}

/// Work posted from another thread.
pub(crate) enum Posted {
    Callback(Arc<dyn Entry + Send + Sync>),
    Task(async_task::Runnable),
}

pub(crate) struct Inbox {
    queue: ConcurrentQueue<Posted>,
    wake_pending: AtomicBool,
    waker: Box<dyn RemoteWake>,
}

impl Inbox {
    pub(crate) fn new(waker: Box<dyn RemoteWake>) -> Self {
        Self {
            queue: ConcurrentQueue::unbounded(),
            wake_pending: AtomicBool::new(false),
            waker,
        }
    }

    /// Posts work and wakes the loop once per burst. Gives the work back if
    /// the loop is closed.
    pub(crate) fn post(&self, item: Posted) -> Result<(), Posted> {
        self.queue.push(item).map_err(|e| e.into_inner())?;
        if !self.wake_pending.swap(true, Ordering::SeqCst) {
            self.waker.wake();
        }
        Ok(())
    }

    /// Moves everything posted so far to `out` (loop thread only).
    pub(crate) fn drain(&self, mut out: impl FnMut(Posted)) {
        self.wake_pending.store(false, Ordering::SeqCst);
        while let Ok(item) = self.queue.pop() {
            out(item);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Refuses further posts; returns what was still queued.
    pub(crate) fn close(&self) -> Vec<Posted> {
        self.queue.close();
        let mut left = Vec::new();
        while let Ok(item) = self.queue.pop() {
            left.push(item);
        }
        left
    }
}
