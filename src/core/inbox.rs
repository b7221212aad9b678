//! The thread-safe inbox: work posted from other threads.
//!
//! An unbounded MPSC queue (`concurrent-queue`) plus one atomic "wake
//! pending" flag: the first post of a burst wakes the loop (one Qt event),
//! the others only push. The loop clears the flag *before* draining (with a
//! swap, see `drain`), so a post that lands after the drain sees the flag
//! clear and wakes again: no wake-up is lost, and a burst of N posts costs
//! one wake-up. `scripts/loom` checks this on every interleaving.

use std::sync::Arc;

use concurrent_queue::ConcurrentQueue;

use super::handle::Entry;
use super::sync::{AtomicBool, Ordering};

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

    /// The first half of a post, as another thread may be caught between
    /// its push and its flag (tests of that window).
    #[cfg(test)]
    pub(crate) fn push_without_flag(&self, item: Posted) {
        let _ = self.queue.push(item);
    }

    /// Moves everything posted so far to `out` (loop thread only).
    pub(crate) fn drain(&self, mut out: impl FnMut(Posted)) {
        // A read-modify-write, not a store: if it reads a poster's `true`,
        // it synchronises with that poster, so the pops below see what it
        // pushed before setting the flag. A plain store reads nothing and
        // gives no such guarantee: loom found an item left in the queue
        // with the flag cleared and no wake-up coming.
        self.wake_pending.swap(false, Ordering::SeqCst);
        while let Ok(item) = self.queue.pop() {
            out(item);
        }
    }

    /// Moves at most `limit` posts to `out` (loop thread only); returns
    /// how many. If it stops with posts left, their flag stays set: no
    /// poster wakes the loop for them, so the loop comes back by itself
    /// (the core checks [`has_posts`](Self::has_posts) before it sleeps).
    ///
    /// With the flag clear it does nothing (one load, no read-modify-write,
    /// no pop): a post whose flag is not set yet is about to set it, and
    /// then wakes the loop, which drains it then.
    pub(crate) fn drain_some(&self, limit: usize, mut out: impl FnMut(Posted)) -> usize {
        if !self.wake_pending.load(Ordering::Acquire) {
            return 0;
        }
        self.wake_pending.swap(false, Ordering::SeqCst);
        let mut moved = 0;
        while moved < limit {
            let Ok(item) = self.queue.pop() else {
                return moved;
            };
            out(item);
            moved += 1;
        }
        if !self.queue.is_empty() {
            self.wake_pending.store(true, Ordering::SeqCst);
        }
        moved
    }

    /// Whether a post is waiting to be drained (one atomic load: what the
    /// loop thread checks before it appends to the ready queue, so that a
    /// post that finished earlier runs earlier).
    #[inline]
    pub(crate) fn has_posts(&self) -> bool {
        self.wake_pending.load(Ordering::Acquire)
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

/// loom models of the inbox: `RUSTFLAGS="--cfg loom" cargo test --lib loom`
/// (`scripts/loom`). Every interleaving of posters and the loop thread.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::panic::Location;
    use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};

    use loom::sync::Arc;

    use super::*;
    use crate::core::handle::SharedEntry;

    struct CountWakes(Arc<loom::sync::atomic::AtomicUsize>);
    impl RemoteWake for CountWakes {
        fn wake(&self) {
            self.0.fetch_add(1, loom::sync::atomic::Ordering::SeqCst);
        }
    }

    fn post(inbox: &Inbox, ran: &std::sync::Arc<AtomicUsize>) {
        let r = ran.clone();
        let e = SharedEntry::new(
            move || drop(r.fetch_add(1, StdOrdering::SeqCst)),
            Location::caller(),
        );
        assert!(inbox.post(Posted::Callback(e)).is_ok());
    }

    fn run_all(inbox: &Inbox) -> usize {
        let mut n = 0;
        inbox.drain(|p| {
            if let Posted::Callback(e) = p {
                e.run();
                n += 1;
            }
        });
        n
    }

    type Posters = Vec<loom::thread::JoinHandle<()>>;

    /// An inbox, its wake-up count, a run count, and two threads posting
    /// one item each.
    fn two_posters() -> (
        Arc<Inbox>,
        Arc<loom::sync::atomic::AtomicUsize>,
        std::sync::Arc<AtomicUsize>,
        Posters,
    ) {
        let wakes = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let inbox = Arc::new(Inbox::new(Box::new(CountWakes(wakes.clone()))));
        let ran = std::sync::Arc::new(AtomicUsize::new(0));
        let posters = (0..2)
            .map(|_| {
                let (inbox, ran) = (inbox.clone(), ran.clone());
                loom::thread::spawn(move || post(&inbox, &ran))
            })
            .collect();
        (inbox, wakes, ran, posters)
    }

    /// Two posters and the loop thread draining concurrently: each item is
    /// run exactly once, and whatever is left after the loop's last drain
    /// has a wake-up pending (the loop will come back for it).
    #[test]
    fn no_lost_wakeup_no_double_dispatch() {
        loom::model(|| {
            let (inbox, wakes, ran, posters) = two_posters();
            let drained_early = run_all(&inbox);
            for p in posters {
                p.join().unwrap();
            }
            let left = !inbox.queue.is_empty();
            if left {
                assert!(
                    inbox.wake_pending.load(Ordering::SeqCst)
                        && wakes.load(loom::sync::atomic::Ordering::SeqCst) > 0,
                    "items left without a pending wake-up"
                );
            }
            let drained_late = run_all(&inbox);
            assert_eq!(drained_early + drained_late, 2);
            assert_eq!(
                ran.load(StdOrdering::SeqCst),
                2,
                "each item ran exactly once"
            );
        });
    }

    /// A drain cut short by the budget (`drain_some(1)`) while posters
    /// post: whatever is left is flagged (the loop comes back for it, and
    /// `has_posts` tells the loop thread before it appends local work), and
    /// each item runs once.
    #[test]
    fn a_partial_drain_leaves_the_rest_flagged() {
        loom::model(|| {
            let (inbox, _wakes, ran, posters) = two_posters();
            let run_one = |p: Posted| {
                if let Posted::Callback(e) = p {
                    e.run();
                }
            };
            let first = inbox.drain_some(1, run_one);
            for p in posters {
                p.join().unwrap();
            }
            if !inbox.queue.is_empty() {
                assert!(inbox.has_posts(), "items left without a flag");
            }
            let rest = inbox.drain_some(2, run_one);
            assert_eq!(first + rest, 2);
            assert_eq!(ran.load(StdOrdering::SeqCst), 2);
        });
    }

    /// A burst wakes the loop once: two posts before any drain, one wake.
    #[test]
    fn a_burst_wakes_once() {
        loom::model(|| {
            let wakes = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
            let inbox = Arc::new(Inbox::new(Box::new(CountWakes(wakes.clone()))));
            let ran = std::sync::Arc::new(AtomicUsize::new(0));
            let t = {
                let (inbox, ran) = (inbox.clone(), ran.clone());
                loom::thread::spawn(move || post(&inbox, &ran))
            };
            post(&inbox, &ran);
            t.join().unwrap();
            assert_eq!(wakes.load(loom::sync::atomic::Ordering::SeqCst), 1);
            assert_eq!(run_all(&inbox), 2);
        });
    }
}
