//! The timer queue: a binary min-heap ordered by `(deadline, sequence)`, so
//! timers with equal deadlines run in the order they were scheduled.
//!
//! Cancelled timers stay in the heap (cancelling is O(1)) and are dropped when
//! they reach the head; when they are more than half of the heap (and more
//! than [`MIN_COMPACT`]) the heap is rebuilt without them, as asyncio does.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::clock::Nanos;
use super::handle::{is_cancelled, EntryRef};

/// Below this many cancelled timers the heap is never compacted
/// (asyncio's `_MIN_SCHEDULED_TIMER_HANDLES`).
pub(crate) const MIN_COMPACT: usize = 100;

/// How many cancelled heads [`TimerQueue::next_deadline`] drops per call.
const HEAD_DROPS: usize = 1024;

struct Timer {
    when: Nanos,
    seq: u64,
    entry: EntryRef,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.when, self.seq) == (other.when, other.seq)
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest first.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.when, other.seq).cmp(&(self.when, self.seq))
    }
}

pub(crate) struct TimerQueue {
    heap: BinaryHeap<Timer>,
    seq: u64,
    /// Cancelled entries still in the heap; shared with the timer handles.
    cancelled: Arc<AtomicUsize>,
}

impl Default for TimerQueue {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            seq: 0,
            cancelled: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl TimerQueue {
    /// The counter timer handles bump when they are cancelled in the heap.
    pub(crate) fn cancel_counter(&self) -> &Arc<AtomicUsize> {
        &self.cancelled
    }

    pub(crate) fn push(&mut self, when: Nanos, entry: EntryRef) {
        entry.get().set_in_heap(true);
        self.seq += 1;
        self.heap.push(Timer {
            when,
            seq: self.seq,
            entry,
        });
    }

    /// Removes the head; returns it unless it was cancelled.
    fn pop_head(&mut self) -> Option<Timer> {
        let t = self.heap.pop()?;
        let before = t.entry.get().set_in_heap(false);
        if is_cancelled(before) {
            self.uncount_cancelled();
            None
        } else {
            Some(t)
        }
    }

    fn uncount_cancelled(&self) {
        let _ = self
            .cancelled
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
    }

    /// Moves live timers due at or before `end` to `out`, in deadline
    /// order, and drops cancelled ones met on the way: at most `limit`
    /// entries in all. Returns how many it took off the heap.
    pub(crate) fn pop_due(
        &mut self,
        end: Nanos,
        limit: usize,
        mut out: impl FnMut(EntryRef),
    ) -> usize {
        let mut taken = 0;
        while taken < limit && self.heap.peek().is_some_and(|t| t.when <= end) {
            taken += 1;
            if let Some(t) = self.pop_head() {
                out(t.entry);
            }
        }
        taken
    }

    /// Gives memory back when the heap is large and mostly empty.
    pub(crate) fn maybe_shrink(&mut self, min: usize) {
        shrink_if_sparse(self.heap.capacity(), self.heap.len(), min, |c| {
            self.heap.shrink_to(c)
        });
    }

    /// The earliest deadline: of the first live timer, after dropping at
    /// most [`HEAD_DROPS`] cancelled heads (else of a cancelled one: a
    /// wake-up then, which drops more, rather than a long pause now).
    pub(crate) fn next_deadline(&mut self) -> Option<Nanos> {
        for _ in 0..HEAD_DROPS {
            let head = self.heap.peek()?;
            if !is_cancelled(head.entry.get().state()) {
                return Some(head.when);
            }
            let _ = self.pop_head();
        }
        self.heap.peek().map(|t| t.when)
    }

    /// Whether the head is a live timer (after [`next_deadline`] it is,
    /// unless that gave up on a run of cancelled heads).
    ///
    /// [`next_deadline`]: Self::next_deadline
    pub(crate) fn head_is_live(&self) -> bool {
        self.heap
            .peek()
            .is_some_and(|t| !is_cancelled(t.entry.get().state()))
    }

    /// Rebuilds the heap without cancelled entries when they are many.
    pub(crate) fn maybe_compact(&mut self) {
        let cancelled = self.cancelled.load(Ordering::Relaxed);
        if cancelled > MIN_COMPACT && cancelled * 2 > self.heap.len() {
            self.heap.retain(|t| {
                let keep = !is_cancelled(t.entry.get().state());
                if !keep {
                    t.entry.get().set_in_heap(false);
                }
                keep
            });
            self.cancelled.store(0, Ordering::Relaxed);
        }
    }

    /// The heap's capacity (for tests of shrinking).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.heap.capacity()
    }

    /// The head's deadline, live or cancelled (no clean-up): a lower bound
    /// of the next live deadline.
    #[inline]
    pub(crate) fn peek_when(&self) -> Option<Nanos> {
        self.heap.peek().map(|t| t.when)
    }

    /// Live and cancelled entries in the heap.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Takes every entry out (to be dropped by the caller outside any borrow).
    pub(crate) fn take_all(&mut self) -> Vec<EntryRef> {
        self.cancelled.store(0, Ordering::Relaxed);
        self.heap.drain().map(|t| t.entry).collect()
    }
}

/// Shrinks a collection of `capacity` holding `len` to twice `len` when it
/// is larger than `min` and less than 1/64 full.
///
/// Not at a quarter: a draining queue would then be copied again and again
/// (a million callbacks: 12 MB moved, and each smaller buffer makes glibc
/// consolidate every chunk freed so far), while at 1/64 what is copied is
/// at most 1/32 of the peak, and the memory still goes back after a burst.
pub(crate) fn shrink_if_sparse(
    capacity: usize,
    len: usize,
    min: usize,
    shrink: impl FnOnce(usize),
) {
    if capacity > min && len < capacity / 64 {
        shrink((len * 2).max(min));
    }
}
