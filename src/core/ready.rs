//! The ready queue: callbacks and task runnables that run in FIFO order.
//!
//! Besides the items, it counts what was ever pushed and popped. An iteration
//! runs the items whose sequence number is below the `pushed` count captured
//! when the iteration began, which is asyncio's rule ("exactly the callbacks
//! ready at the start of the iteration run"). Because the rule is stated in
//! sequence numbers and not in a local counter, an iteration can be paused
//! (time budget) and resumed, or continued by a nested dispatch while a
//! callback spins a nested Qt loop, without ever running an item twice or
//! out of order.

use std::collections::VecDeque;

use std::sync::Arc;

use super::handle::{Entry, EntryRef, Soon};
use super::io::IoEvent;

/// One unit of work for the loop (24 bytes: a wide pointer and a tag).
pub(crate) enum Ready {
    /// A `call_soon` callback, owned by the queue alone.
    Soon(Box<dyn Soon>),
    /// A timer that came due (its handle shares the entry).
    Local(std::rc::Rc<dyn Entry>),
    /// A timer with a `Send` callback, or a callback posted from another
    /// thread.
    Shared(Arc<dyn Entry + Send + Sync>),
    Task(async_task::Runnable),
    /// A ready fd's callback (looked up when it runs).
    Io(IoEvent),
    /// A `call_soon` callback that was cancelled in the queue.
    Cancelled,
}

impl From<super::inbox::Posted> for Ready {
    fn from(p: super::inbox::Posted) -> Self {
        match p {
            super::inbox::Posted::Callback(e) => Ready::Shared(e),
            super::inbox::Posted::Task(r) => Ready::Task(r),
        }
    }
}

impl From<EntryRef> for Ready {
    fn from(e: EntryRef) -> Self {
        match e {
            EntryRef::Local(e) => Ready::Local(e),
            EntryRef::Shared(e) => Ready::Shared(e),
        }
    }
}

#[derive(Default)]
pub(crate) struct ReadyQueue {
    items: VecDeque<Ready>,
    pushed: u64,
    popped: u64,
}

impl ReadyQueue {
    #[inline]
    pub(crate) fn push(&mut self, item: Ready) {
        self.items.push_back(item);
        self.pushed += 1;
    }

    /// Pops the front item if its sequence number is below `end`.
    #[inline]
    pub(crate) fn pop_before(&mut self, end: u64) -> Option<Ready> {
        if self.popped >= end {
            return None;
        }
        let item = self.items.pop_front()?;
        self.popped += 1;
        Some(item)
    }

    /// The item numbered `seq`, while it is queued.
    pub(crate) fn get(&self, seq: u64) -> Option<&Ready> {
        let index = seq.checked_sub(self.popped)?;
        self.items.get(usize::try_from(index).ok()?)
    }

    /// Cancels the `call_soon` callback numbered `seq` if it is still
    /// queued: its slot becomes [`Ready::Cancelled`] (skipped when reached,
    /// so the numbering stays) and the callback is given back to be
    /// dropped outside the borrow.
    pub(crate) fn cancel(&mut self, seq: u64) -> Option<Ready> {
        let index = usize::try_from(seq.checked_sub(self.popped)?).ok()?;
        let slot = self.items.get_mut(index)?;
        if !matches!(slot, Ready::Soon(_)) {
            return None;
        }
        Some(std::mem::replace(slot, Ready::Cancelled))
    }

    /// The sequence number the next pushed item will get.
    pub(crate) fn pushed(&self) -> u64 {
        self.pushed
    }

    /// How many items were popped so far.
    pub(crate) fn popped(&self) -> u64 {
        self.popped
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Gives memory back when the queue is large and mostly empty.
    pub(crate) fn maybe_shrink(&mut self, min: usize) {
        let items = &mut self.items;
        super::timers::shrink_if_sparse(items.capacity(), items.len(), min, |c| items.shrink_to(c));
    }

    /// The queue's capacity (for tests of shrinking).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.items.capacity()
    }

    /// Takes every item out (to be dropped by the caller outside any borrow).
    pub(crate) fn take_all(&mut self) -> VecDeque<Ready> {
        self.popped = self.pushed;
        std::mem::take(&mut self.items)
    }
}
