//! The Qt-free scheduling core, the ground floor: it can be tested,
//! benchmarked and model-checked without Qt.
//!
//! [`Core`] holds the ready queue, the timer queue and the thread-safe inbox,
//! and runs asyncio's iteration rule. It talks to whatever drives it (the Qt
//! driver, or a plain-Rust test driver) through [`Driver`], and reports
//! panics and slow callbacks through [`Hooks`]. It holds no `RefCell` borrow
//! while user code runs, so callbacks may schedule, cancel, or spin a nested
//! event loop that dispatches the core again.

mod budget;
pub mod clock;
pub(crate) mod handle;
pub(crate) mod inbox;
mod interfaces;
pub mod io;
mod reactor;
pub(crate) mod ready;
mod run;
mod settings;
pub(crate) mod sync;
pub(crate) mod timers;

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use budget::Budget;
pub use budget::{DEFAULT_BUDGET, MAX_BUDGET};
use clock::{Clock, Nanos, CLOCK_RESOLUTION};
use handle::{EntryRef, LocalEntry, SharedEntry, SoonEntry};
pub use handle::{Handle, SendTimerHandle, ThreadsafeHandle, TimerHandle};
pub use inbox::RemoteWake;
use inbox::{Inbox, Posted};
pub use interfaces::{Driver, Flow, Hooks};
use io::IoRegistry;
use ready::{Ready, ReadyQueue};
use timers::TimerQueue;

/// How many due timers are moved to the ready queue between two looks at
/// the clock (moving a million of them takes a quarter of a second).
const DUE_TIMERS_PER_CHECK: usize = 1024;

/// Below this capacity the queues never shrink.
const SHRINK_MIN: usize = 1024;

/// Where drops at close are reported from.
static CLOSE_LOCATION: &Location<'static> = Location::caller();

/// How an fd's callback is named in reports.
const IO_CALLBACK: &str = "fd callback";

/// Tasks carry their own context; the core names them by this location.
static TASK_LOCATION: &Location<'static> = Location::caller();

/// The scheduling core: queues, iteration rule and wake-up policy.
pub struct Core {
    clock: Clock,
    /// Shared with the [`Handle`]s, which cancel by sequence number.
    ready: Rc<RefCell<ReadyQueue>>,
    timers: RefCell<TimerQueue>,
    io: RefCell<IoRegistry>,
    inbox: Arc<Inbox>,
    driver: Box<dyn Driver>,
    hooks: Box<dyn Hooks>,
    /// Sequence end of the iteration in progress (None between iterations).
    iter_end: Cell<Option<u64>>,
    /// A tick was requested and has not been dispatched yet.
    tick_requested: Cell<bool>,
    /// A tick was wanted during a dispatch and deferred (see
    /// [`Driver::defer_tick`]).
    tick_deferred: Cell<bool>,
    /// The deadline the driver's timer is armed for.
    armed: Cell<Option<Nanos>>,
    /// Nesting depth of `dispatch` (> 1 inside a nested Qt loop).
    depth: Cell<u32>,
    running: Cell<bool>,
    stopping: Cell<bool>,
    closed: Cell<bool>,
    debug: Cell<bool>,
    slow_callback: Cell<Duration>,
    budget: Cell<Duration>,
    iterations: Cell<u64>,
    /// The last drain of the inbox stopped on the budget with posts left.
    posts_left: Cell<bool>,
    /// A precise clock read found the heap's head due, or the driver's
    /// timer fired: the next iteration reads the clock, whatever the coarse
    /// bound says (a coarse clock that lags more than it should cannot
    /// keep a due timer waiting, or the loop spinning for it).
    timer_due: Cell<bool>,
}

impl Core {
    /// A core driven by `driver`, woken from other threads by `waker`.
    pub fn new(driver: Box<dyn Driver>, waker: Box<dyn RemoteWake>, hooks: Box<dyn Hooks>) -> Self {
        clock::real_now(); // start the process epoch no later than the first loop
        Self {
            clock: Clock::new(),
            ready: Rc::default(),
            timers: RefCell::default(),
            io: RefCell::default(),
            inbox: Arc::new(Inbox::new(waker)),
            driver,
            hooks,
            iter_end: Cell::new(None),
            tick_requested: Cell::new(false),
            tick_deferred: Cell::new(false),
            armed: Cell::new(None),
            depth: Cell::new(0),
            running: Cell::new(false),
            stopping: Cell::new(false),
            closed: Cell::new(false),
            debug: Cell::new(false),
            slow_callback: Cell::new(Duration::from_millis(100)),
            budget: Cell::new(DEFAULT_BUDGET),
            iterations: Cell::new(0),
            posts_left: Cell::new(false),
            timer_due: Cell::new(false),
        }
    }

    /// The loop clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Current loop time in nanoseconds.
    #[inline]
    pub fn now(&self) -> Nanos {
        self.clock.now()
    }

    pub(crate) fn inbox(&self) -> &Arc<Inbox> {
        &self.inbox
    }

    fn check_open(&self) -> Result<(), Error> {
        if self.closed.get() {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    #[inline]
    fn request_tick(&self) {
        if self.tick_requested.get() {
            return;
        }
        if self.depth.get() > 0 {
            // The running dispatch will see the work (or plan a tick as it
            // returns); a nested loop flushes it first.
            if !self.tick_deferred.replace(true) {
                self.driver.defer_tick();
            }
            return;
        }
        self.post_tick();
    }

    fn post_tick(&self) {
        self.tick_requested.set(true);
        self.driver.request_tick();
    }

    /// The thread's event loop is about to wait while a dispatch is on the
    /// stack (a nested loop): posts the tick that was deferred, so what was
    /// scheduled runs inside the nested loop.
    pub fn flush_deferred_tick(&self) {
        if self.tick_deferred.replace(false) && !self.tick_requested.get() && !self.closed.get() {
            self.post_tick();
        }
    }

    /// Schedules `f` to run in a later iteration, FIFO (asyncio `call_soon`).
    #[inline]
    pub fn call_soon<F: FnOnce() + 'static>(
        &self,
        f: F,
        at: &'static Location<'static>,
    ) -> Result<Handle, Error> {
        self.check_open()?;
        let seq = self.push_ready(Ready::Soon(SoonEntry::new(f, at)));
        self.request_tick();
        Ok(Handle::new(Rc::downgrade(&self.ready), seq))
    }

    /// Appends to the ready queue. What other threads posted before comes
    /// first: asyncio has one FIFO, so `call_soon_threadsafe(a)` then
    /// `call_soon(b)` runs `a` first (also when `a` came from another
    /// thread and its post finished before this call).
    /// Returns the item's sequence number.
    #[inline]
    fn push_ready(&self, item: Ready) -> u64 {
        let mut ready = self.ready.borrow_mut();
        if self.inbox.has_posts() {
            self.drain_inbox(&mut ready);
        }
        let seq = ready.pushed();
        ready.push(item);
        seq
    }

    fn drain_inbox(&self, ready: &mut ReadyQueue) {
        self.inbox.drain(|p| ready.push(Ready::from(p)));
    }

    /// Schedules `f` at loop time `when` (asyncio `call_at`).
    pub fn call_at<F: FnOnce() + 'static>(
        &self,
        when: Nanos,
        f: F,
        at: &'static Location<'static>,
    ) -> Result<TimerHandle, Error> {
        self.check_open()?;
        self.push_timer(when, EntryRef::Local(LocalEntry::new(f, at)))
    }

    /// Like [`call_at`](Self::call_at) with a `Send` callback: the handle may
    /// be cancelled from any thread (used by `Send` futures such as `Sleep`).
    pub(crate) fn call_at_shared<F: FnOnce() + Send + 'static>(
        &self,
        when: Nanos,
        f: F,
        at: &'static Location<'static>,
    ) -> Result<SendTimerHandle, Error> {
        self.check_open()?;
        let entry = SharedEntry::new(f, at);
        let handle = self.push_timer(when, EntryRef::Shared(entry.clone()))?;
        Ok(SendTimerHandle {
            entry,
            when: handle.when,
            heap_cancelled: handle.heap_cancelled,
        })
    }

    fn push_timer(&self, when: Nanos, entry: EntryRef) -> Result<TimerHandle, Error> {
        // Deadlines past the end of loop time saturate there, as delays do:
        // a loop whose clock reached the end runs them at once.
        let when = when.min(clock::MAX_DELAY);
        let heap_cancelled = {
            let mut timers = self.timers.borrow_mut();
            timers.push(when, entry.clone());
            timers.cancel_counter().clone()
        };
        // An earlier deadline than the armed one needs a new wake-up plan;
        // a pending tick computes it anyway.
        if self.armed.get().is_none_or(|a| when < a) {
            self.request_tick();
        }
        Ok(TimerHandle {
            entry,
            when,
            heap_cancelled,
        })
    }

    /// Pushes a task runnable onto the ready queue (loop thread).
    #[inline]
    pub(crate) fn schedule_runnable(&self, runnable: async_task::Runnable) {
        self.push_ready(Ready::Task(runnable));
        self.request_tick();
    }

    /// Posts `f` from any thread (asyncio `call_soon_threadsafe`).
    pub(crate) fn post_shared<F: FnOnce() + Send + 'static>(
        inbox: &Inbox,
        f: F,
        at: &'static Location<'static>,
    ) -> Result<ThreadsafeHandle, Error> {
        let entry = SharedEntry::new(f, at);
        inbox
            .post(Posted::Callback(entry.clone()))
            .map_err(|_| Error::Closed)?;
        Ok(ThreadsafeHandle { entry })
    }

    /// Runs iterations until the ready queue is empty or the time budget is
    /// spent, then asks the driver for the next wake-up. Called by the driver
    /// for its tick and (via [`timer_fired`](Self::timer_fired)) its timer.
    pub fn dispatch(&self) -> Flow {
        self.tick_requested.set(false);
        if self.closed.get() {
            return Flow::Continue;
        }
        self.depth.set(self.depth.get() + 1);
        let mut budget = Budget::new(self.budget.get());
        let mut flow = Flow::Continue;
        loop {
            if !self.run_iteration(&mut budget) {
                break; // budget spent in the middle of an iteration
            }
            if self.running.get() && self.stopping.get() {
                self.stopping.set(false);
                flow = Flow::Stop;
                break;
            }
            if !self.has_work_now() || budget.spent {
                break;
            }
        }
        self.depth.set(self.depth.get() - 1);
        if self.depth.get() == 0 {
            // What was deferred is either done or planned for below.
            self.tick_deferred.set(false);
            self.maybe_shrink();
        }
        // A loop that is leaving run_forever is not idle: no auto-advance.
        self.plan_wakeup(flow == Flow::Continue);
        flow
    }

    /// The driver's timer fired.
    pub fn timer_fired(&self) -> Flow {
        self.armed.set(None);
        self.timer_due.set(true);
        self.dispatch()
    }

    /// Whether an iteration started now would have something to run.
    pub(crate) fn has_work_now(&self) -> bool {
        self.iter_end.get().is_some()
            || !self.ready.borrow().is_empty()
            // The flag, not the queue: a post whose flag is not set yet
            // wakes the loop itself, and the drain leaves it until then.
            || self.inbox.has_posts()
            || self.timers.borrow_mut().next_deadline().is_some_and(|d| {
                self.may_be_due(d) && d <= self.now() + CLOCK_RESOLUTION
            })
    }

    /// One asyncio iteration, possibly resumed. Returns false if the budget
    /// ran out before it completed.
    ///
    /// 1. move every timer due within the clock resolution to the ready
    ///    queue, in deadline order;
    /// 2. move what other threads posted to the ready queue;
    /// 3. run exactly the items that were ready when the iteration began;
    ///    what they schedule waits for the next iteration.
    fn run_iteration(&self, budget: &mut Budget) -> bool {
        if self.iter_end.get().is_none() && !self.begin_iteration(budget) {
            return false; // moving due timers spent the budget
        }
        loop {
            // Re-read the end each time: a nested dispatch (a callback that
            // spins a Qt loop) may have finished this iteration and begun
            // the next one. Either way the queue is consumed in order.
            let item = match self.iter_end.get() {
                Some(end) => self.ready.borrow_mut().pop_before(end),
                None => None,
            };
            let Some(item) = item else { break };
            self.guard_nesting();
            self.run_item(item);
            if budget.item_done() {
                let popped = self.ready.borrow().popped();
                if self.iter_end.get().is_some_and(|end| popped < end) {
                    return false;
                }
            }
        }
        if self.iter_end.take().is_some() {
            self.iterations.set(self.iterations.get() + 1);
        }
        true
    }

    /// Moves due timers and posted work to the ready queue. Returns false
    /// (the iteration did not begin) if the budget ran out while moving
    /// due timers: the rest stay due and are moved by the next dispatch.
    fn begin_iteration(&self, budget: &mut Budget) -> bool {
        let mut ready = self.ready.borrow_mut();
        // What other threads posted first: in asyncio it was appended to
        // `_ready` when it was posted, before this iteration's due timers.
        // If the budget runs out first, what was moved still makes this
        // iteration (the rest stays posted; plan_wakeup comes back for it):
        // a flood that never stops cannot keep the loop from running.
        let mut posts_left = false;
        loop {
            let moved = self
                .inbox
                .drain_some(DUE_TIMERS_PER_CHECK, |p| ready.push(Ready::from(p)));
            if moved < DUE_TIMERS_PER_CHECK {
                break;
            }
            if budget.check() {
                posts_left = true;
                break;
            }
        }
        self.posts_left.set(posts_left);
        {
            let mut timers = self.timers.borrow_mut();
            // No timer near, no clock read (a chain of call_soon pays
            // nothing, also with timers pending far ahead).
            if timers.peek_when().is_some_and(|when| self.may_be_due(when)) {
                self.timer_due.set(false);
                // The clock read serves the budget too: one read per
                // iteration when timers are pending.
                let real = clock::real_now();
                budget.observe(real);
                let end = self.clock.at(real).saturating_add(CLOCK_RESOLUTION);
                loop {
                    let moved = timers.pop_due(end, DUE_TIMERS_PER_CHECK, |e| {
                        ready.push(Ready::from(e));
                    });
                    // Under a flood of posts, one chunk of timers joins the
                    // posts that were moved, and the rest wait their turn.
                    if moved < DUE_TIMERS_PER_CHECK || posts_left {
                        break;
                    }
                    if budget.check() {
                        // Qt gets its turn; what is ready already runs next.
                        return false;
                    }
                }
            }
            // Also when no timer is near: a heap of cancelled timers far
            // ahead shrinks all the same.
            timers.maybe_compact();
        }
        self.iter_end.set(Some(ready.pushed()));
        true
    }

    /// Gives memory back after a burst: a queue that is mostly empty and
    /// large shrinks (asyncio's deque and heap keep theirs).
    fn maybe_shrink(&self) {
        self.ready.borrow_mut().maybe_shrink(SHRINK_MIN);
        self.timers.borrow_mut().maybe_shrink(SHRINK_MIN);
    }

    /// Before user code runs: make sure the loop would be woken if that
    /// code spins a nested Qt loop (a modal dialog, `processEvents`), so
    /// that the other ready callbacks and the timers keep running inside it.
    #[inline]
    fn guard_nesting(&self) {
        if self.tick_requested.get() {
            return; // a tick will come, and its dispatch plans the rest
        }
        if !self.ready.borrow().is_empty() {
            // Posted, not deferred: a nested loop that is not Qt's (a GTK
            // dialog's g_main_loop) would never flush a deferred tick.
            self.post_tick();
        } else if self.clock.is_paused() || self.armed.get() != self.timers.borrow().peek_when() {
            // (Armed for the head already, also a cancelled head whose
            // wake-up is merely early: nothing to plan, no clock read. A
            // paused clock plans anyway: it jumps, the armed timer is moot.)
            self.plan_timer(false);
        }
    }

    /// Whether a timer at `when` may be due now: the coarse bound says so,
    /// or a precise read or the driver's timer did (see `timer_due`).
    #[inline]
    fn may_be_due(&self, when: Nanos) -> bool {
        self.timer_due.get() || when <= self.clock.upper_bound().saturating_add(CLOCK_RESOLUTION)
    }

    /// Tells the driver what the loop needs next: a tick (work is ready),
    /// the timer (the earliest deadline), or nothing.
    fn plan_wakeup(&self, may_advance: bool) {
        if self.closed.get() {
            return;
        }
        // Posts left by a drain that the budget cut short have no wake-up
        // of their own coming (their flag is still set): come back for them.
        // (Posts that set the flag themselves woke the loop already.)
        if self.iter_end.get().is_some()
            || !self.ready.borrow().is_empty()
            || self.posts_left.replace(false)
        {
            self.request_tick();
            return;
        }
        self.plan_timer(may_advance);
    }

    /// Arms the driver's timer for the earliest deadline.
    ///
    /// The driver sleeps until then in the kernel (nanosecond wait; a
    /// driver that counts milliseconds rounds up), so callbacks never run
    /// early and nothing spins while the loop waits. With a paused clock
    /// and an `idle` loop, time jumps to the deadline instead (auto-advance).
    fn plan_timer(&self, idle: bool) {
        let next = self.timers.borrow_mut().next_deadline();
        let Some(deadline) = next else {
            if self.armed.take().is_some() {
                self.driver.disarm_timer();
            }
            return;
        };
        if self.armed.get() == Some(deadline) && !self.clock.is_paused() {
            // Armed for this deadline already: the driver's timer fires
            // then (or has, and its dispatch is coming). No clock read.
            return;
        }
        let now = self.now();
        if deadline <= now + CLOCK_RESOLUTION {
            self.timer_due.set(true);
            self.request_tick();
        } else if self.clock.is_paused() {
            // A cancelled head (many cancelled timers ahead of the live
            // ones): drop more first, never jump to a time nothing is due.
            if idle && self.timers.borrow().head_is_live() {
                self.clock.jump_to(deadline);
                if self.now() + CLOCK_RESOLUTION < deadline {
                    return; // past the end of loop time: it never fires
                }
            }
            self.request_tick();
        } else if self.armed.get() != Some(deadline) {
            self.armed.set(Some(deadline));
            self.driver.arm_timer(deadline - now);
        }
    }

    /// Closes the core: scheduling fails with `Error::Closed` from now on,
    /// and everything still queued is dropped (after the borrows are gone,
    /// so drop code may touch the loop). Idempotent.
    pub fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        let ready = self.ready.borrow_mut().take_all();
        let timers = self.timers.borrow_mut().take_all();
        let (io_callbacks, io_wakers, notifiers) = self.io.borrow_mut().take_all();
        let posted = self.inbox.close();
        self.iter_end.set(None);
        if self.armed.take().is_some() {
            self.driver.disarm_timer();
        }
        // The notifiers go now: the fds they watch may close any time.
        for (fd, dir) in notifiers {
            self.driver.unwatch_fd(fd, dir);
        }
        // One drop at a time: a panicking `Drop` is reported and the rest
        // are still dropped (two panics at once would abort).
        self.drop_each(ready);
        self.drop_each(timers);
        self.drop_each(io_callbacks);
        self.drop_each(io_wakers);
        self.drop_each(posted);
    }

    fn drop_each<T>(&self, items: impl IntoIterator<Item = T>) {
        for item in items {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(item))) {
                self.hooks
                    .panicked("a drop at close", CLOSE_LOCATION, payload);
            }
        }
    }
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("ready", &self.ready_len())
            .field("timers", &self.timers_len())
            .field("running", &self.running.get())
            .field("closed", &self.closed.get())
            .finish()
    }
}

#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fairness;
#[cfg(test)]
mod tests_handles;
