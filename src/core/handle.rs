//! Scheduled callbacks and the handles that cancel them.
//!
//! A `call_soon` callback is a boxed closure owned by the ready queue alone:
//! its [`Handle`] is the callback's sequence number in that queue, so the
//! handle costs nothing until it is used, and `cancel` finds the callback
//! by position (the queue is FIFO and numbered). Timers and callbacks posted
//! from other threads live in one shared allocation together with their
//! state (`Rc`/`Cell` on the loop thread, `Arc`/atomics across threads),
//! because their handles must reach them from a heap or another thread.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::clock::{nanos_to_secs, Nanos};
use super::interfaces::Hooks;
use super::ready::{Ready, ReadyQueue};

const CANCELLED: u8 = 1;
const DONE: u8 = 2;
/// The entry sits in the timer heap (cancelling it counts towards compaction).
const IN_HEAP: u8 = 4;

/// What the loop knows of a scheduled callback.
pub(crate) trait Entry {
    /// Runs the callback unless it was cancelled; returns whether it ran.
    /// The closure is taken out first: an entry can never run twice.
    fn run(&self) -> bool;
    /// Marks the entry cancelled and drops its closure. Returns the state
    /// before, so the caller knows whether it was still in the timer heap.
    fn cancel(&self) -> u8;
    fn state(&self) -> u8;
    /// Sets or clears the in-heap flag; returns the state before.
    fn set_in_heap(&self, yes: bool) -> u8;
    /// The callback's type, for logs and the exception handler.
    fn describe(&self) -> &'static str;
    /// Where the callback was scheduled.
    fn location(&self) -> &'static Location<'static>;
}

pub(crate) fn is_cancelled(state: u8) -> bool {
    state & CANCELLED != 0
}

pub(crate) fn is_in_heap(state: u8) -> bool {
    state & IN_HEAP != 0
}

/// A `call_soon` callback: run once, by value.
pub(crate) trait Soon {
    /// Runs the callback (and drops what it captured); a panic, also from
    /// a captured value's `Drop`, goes to `hooks` with the callback's name
    /// and place.
    fn run(self: Box<Self>, hooks: &dyn Hooks);
    /// The callback's type, for logs and the exception handler.
    fn describe(&self) -> &'static str;
    /// Where the callback was scheduled.
    fn location(&self) -> &'static Location<'static>;
}

/// A closure and where it was scheduled: one allocation per `call_soon`.
pub(crate) struct SoonEntry<F> {
    f: F,
    at: &'static Location<'static>,
}

impl<F: FnOnce() + 'static> SoonEntry<F> {
    pub(crate) fn new(f: F, at: &'static Location<'static>) -> Box<Self> {
        Box::new(Self { f, at })
    }
}

impl<F: FnOnce() + 'static> Soon for SoonEntry<F> {
    #[inline]
    fn run(self: Box<Self>, hooks: &dyn Hooks) {
        let Self { f, at } = *self;
        if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
            hooks.panicked(std::any::type_name::<F>(), at, payload);
        }
    }
    fn describe(&self) -> &'static str {
        std::any::type_name::<F>()
    }
    fn location(&self) -> &'static Location<'static> {
        self.at
    }
}

/// A callback scheduled on the loop thread.
pub(crate) struct LocalEntry<F> {
    state: Cell<u8>,
    f: Cell<Option<F>>,
    at: &'static Location<'static>,
}

impl<F: FnOnce() + 'static> LocalEntry<F> {
    pub(crate) fn new(f: F, at: &'static Location<'static>) -> Rc<Self> {
        Rc::new(Self {
            state: Cell::new(0),
            f: Cell::new(Some(f)),
            at,
        })
    }
}

impl<F: FnOnce() + 'static> Entry for LocalEntry<F> {
    #[inline]
    fn run(&self) -> bool {
        match self.f.take() {
            Some(f) => {
                self.state.set(self.state.get() | DONE);
                f();
                true
            }
            None => false,
        }
    }
    fn cancel(&self) -> u8 {
        let before = self.state.get();
        self.state.set(before | CANCELLED);
        drop(self.f.take());
        before
    }
    fn state(&self) -> u8 {
        self.state.get()
    }
    fn set_in_heap(&self, yes: bool) -> u8 {
        let s = self.state.get();
        self.state.set(if yes { s | IN_HEAP } else { s & !IN_HEAP });
        s
    }
    fn describe(&self) -> &'static str {
        std::any::type_name::<F>()
    }
    fn location(&self) -> &'static Location<'static> {
        self.at
    }
}

/// A callback that may be scheduled or cancelled from any thread.
pub(crate) struct SharedEntry<F> {
    state: AtomicU8,
    f: Mutex<Option<F>>,
    at: &'static Location<'static>,
}

impl<F: FnOnce() + Send + 'static> SharedEntry<F> {
    pub(crate) fn new(f: F, at: &'static Location<'static>) -> Arc<Self> {
        Arc::new(Self {
            state: AtomicU8::new(0),
            f: Mutex::new(Some(f)),
            at,
        })
    }

    fn take(&self) -> Option<F> {
        super::sync::lock(&self.f).take()
    }
}

impl<F: FnOnce() + Send + 'static> Entry for SharedEntry<F> {
    fn run(&self) -> bool {
        match self.take() {
            Some(f) => {
                self.state.fetch_or(DONE, Ordering::AcqRel);
                f();
                true
            }
            None => false,
        }
    }
    fn cancel(&self) -> u8 {
        let before = self.state.fetch_or(CANCELLED, Ordering::AcqRel);
        drop(self.take());
        before
    }
    fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }
    fn set_in_heap(&self, yes: bool) -> u8 {
        if yes {
            self.state.fetch_or(IN_HEAP, Ordering::AcqRel)
        } else {
            self.state.fetch_and(!IN_HEAP, Ordering::AcqRel)
        }
    }
    fn describe(&self) -> &'static str {
        std::any::type_name::<F>()
    }
    fn location(&self) -> &'static Location<'static> {
        self.at
    }
}

/// A shared callback of either kind, as the timer heap holds it.
#[derive(Clone)]
pub(crate) enum EntryRef {
    Local(Rc<dyn Entry>),
    Shared(Arc<dyn Entry + Send + Sync>),
}

impl EntryRef {
    #[inline]
    pub(crate) fn get(&self) -> &dyn Entry {
        match self {
            EntryRef::Local(e) => &**e,
            EntryRef::Shared(e) => &**e,
        }
    }
}

/// A scheduled callback (asyncio's `Handle`), returned by `call_soon`.
///
/// Dropping a handle does not cancel the callback. Cancelling a callback that
/// already ran or was cancelled is a no-op. A handle stays on the thread that
/// got it (it is `!Send`). It is the callback's place in the loop's queue,
/// not a reference to it: holding one keeps neither the callback nor the
/// loop alive.
pub struct Handle {
    pub(crate) queue: Weak<RefCell<ReadyQueue>>,
    pub(crate) seq: u64,
    cancelled: Cell<bool>,
}

impl Handle {
    pub(crate) fn new(queue: Weak<RefCell<ReadyQueue>>, seq: u64) -> Self {
        Self {
            queue,
            seq,
            cancelled: Cell::new(false),
        }
    }

    /// Cancels the callback: it will not run. Its closure is dropped now.
    pub fn cancel(&self) {
        if self.cancelled.get() {
            return;
        }
        let Some(queue) = self.queue.upgrade() else {
            return; // the loop is gone: nothing of it runs
        };
        // Taken out under the borrow, dropped after it: the closure's drop
        // may schedule or cancel. No user code runs while the core borrows
        // the queue (it too drops what it takes out afterwards), so the
        // borrow succeeds.
        let taken = match queue.try_borrow_mut() {
            Ok(mut q) => q.cancel(self.seq),
            Err(_) => {
                debug_assert!(false, "Handle::cancel while the ready queue is borrowed");
                None
            }
        };
        if let Some(item) = taken {
            self.cancelled.set(true);
            drop(item);
        }
    }

    /// Whether [`cancel`](Self::cancel) was called before the callback ran.
    pub fn cancelled(&self) -> bool {
        self.cancelled.get()
    }

    /// The callback, while it is still queued (for `Debug`).
    fn queued<T>(&self, f: impl FnOnce(&dyn Soon) -> T) -> Option<T> {
        let queue = self.queue.upgrade()?;
        let q = queue.try_borrow().ok()?;
        match q.get(self.seq)? {
            Ready::Soon(cb) => Some(f(&**cb)),
            _ => None,
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Handle");
        if let Some((what, at)) = self.queued(|cb| (cb.describe(), cb.location())) {
            d.field("callback", &what).field("scheduled_at", &at);
        }
        d.field("cancelled", &self.cancelled()).finish()
    }
}

/// A callback posted from another thread (`LoopHandle::call_soon_threadsafe`).
///
/// Like [`Handle`], but `Send + Sync`: it can be cancelled from any thread.
#[derive(Clone)]
pub struct ThreadsafeHandle {
    pub(crate) entry: Arc<dyn Entry + Send + Sync>,
}

impl ThreadsafeHandle {
    /// Cancels the callback: it will not run. Its closure is dropped now.
    pub fn cancel(&self) {
        self.entry.cancel();
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn cancelled(&self) -> bool {
        is_cancelled(self.entry.state())
    }
}

impl fmt::Debug for ThreadsafeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadsafeHandle")
            .field("callback", &self.entry.describe())
            .field("scheduled_at", &self.entry.location())
            .field("cancelled", &self.cancelled())
            .finish()
    }
}

/// A callback scheduled for a time (asyncio's `TimerHandle`), returned by
/// `call_later` and `call_at`.
#[derive(Clone)]
pub struct TimerHandle {
    pub(crate) entry: EntryRef,
    pub(crate) when: Nanos,
    /// The timer queue's count of cancelled entries still in the heap.
    pub(crate) heap_cancelled: Arc<AtomicUsize>,
}

impl TimerHandle {
    /// Cancels the timer: its callback will not run.
    pub fn cancel(&self) {
        cancel_timer(self.entry.get(), &self.heap_cancelled);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn cancelled(&self) -> bool {
        is_cancelled(self.entry.get().state())
    }

    /// The scheduled time, in loop seconds (compare with `EventLoop::time`).
    pub fn when(&self) -> f64 {
        nanos_to_secs(self.when)
    }
}

pub(crate) fn cancel_timer(entry: &dyn Entry, heap_cancelled: &AtomicUsize) {
    let before = entry.cancel();
    if !is_cancelled(before) && is_in_heap(before) {
        heap_cancelled.fetch_add(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.entry.get();
        f.debug_struct("TimerHandle")
            .field("when", &self.when())
            .field("callback", &e.describe())
            .field("scheduled_at", &e.location())
            .field("cancelled", &self.cancelled())
            .finish()
    }
}

/// A timer with a `Send` callback (`EventLoop::call_at_send`): like
/// [`TimerHandle`], but `Send + Sync`, so it can be cancelled from any
/// thread. What `Send` futures such as `sleep` are built on.
#[derive(Clone)]
pub struct SendTimerHandle {
    pub(crate) entry: Arc<dyn Entry + Send + Sync>,
    pub(crate) when: Nanos,
    pub(crate) heap_cancelled: Arc<AtomicUsize>,
}

impl SendTimerHandle {
    /// Cancels the timer: its callback will not run. Its closure is
    /// dropped now (on this thread).
    pub fn cancel(&self) {
        cancel_timer(&*self.entry, &self.heap_cancelled);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn cancelled(&self) -> bool {
        is_cancelled(self.entry.state())
    }

    /// The scheduled time, in loop seconds.
    pub fn when(&self) -> f64 {
        nanos_to_secs(self.when)
    }
}

impl fmt::Debug for SendTimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendTimerHandle")
            .field("when", &self.when())
            .field("callback", &self.entry.describe())
            .field("scheduled_at", &self.entry.location())
            .field("cancelled", &self.cancelled())
            .finish()
    }
}
