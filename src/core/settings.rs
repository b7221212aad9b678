//! The core's settings, state and counters (debug mode, budget, running
//! and stopping, clock advances, queue lengths).

use std::time::Duration;

use super::budget::MAX_BUDGET;
use super::clock::Nanos;
use super::Core;

impl Core {
    /// Turns debug mode (slow-callback warnings) on or off.
    pub fn set_debug(&self, on: bool) {
        self.debug.set(on);
    }

    /// Whether debug mode is on.
    pub fn debug(&self) -> bool {
        self.debug.get()
    }

    /// Sets the duration above which debug mode reports a slow callback.
    pub fn set_slow_callback_duration(&self, d: Duration) {
        self.slow_callback.set(d);
    }

    /// The slow-callback duration.
    pub fn slow_callback_duration(&self) -> Duration {
        self.slow_callback.get()
    }

    /// Sets the time budget of one dispatch.
    pub fn set_budget(&self, d: Duration) {
        // Saturates: `Instant::now() + budget` must not overflow.
        self.budget.set(d.min(MAX_BUDGET));
    }

    /// Completed iterations so far.
    pub fn iterations(&self) -> u64 {
        self.iterations.get()
    }

    /// Items waiting in the ready queue.
    pub fn ready_len(&self) -> usize {
        self.ready.borrow().len()
    }

    /// Timers in the heap (cancelled ones not yet removed included).
    pub fn timers_len(&self) -> usize {
        self.timers.borrow().len()
    }

    /// The earliest live timer deadline.
    pub fn next_deadline(&self) -> Option<Nanos> {
        self.timers.borrow_mut().next_deadline()
    }

    /// Moves a paused clock forward by `by` and asks for a dispatch, so what
    /// became due runs (no effect on the clock if it is not paused).
    pub fn advance(&self, by: Nanos) {
        self.clock.advance(by);
        if !self.closed.get() {
            self.request_tick();
        }
    }

    /// Whether `run_forever` is active (set by the runtime).
    pub fn is_running(&self) -> bool {
        self.running.get()
    }

    /// Marks the loop running or not (the runtime's `run_forever`).
    pub fn set_running(&self, yes: bool) {
        self.running.set(yes);
        if yes {
            self.request_tick();
        } else {
            self.stopping.set(false);
        }
    }

    /// Asks `run_forever` to return after the current iteration.
    pub fn stop(&self) {
        self.stopping.set(true);
        if !self.closed.get() {
            self.request_tick();
        }
    }

    /// Whether the core is inside a dispatch (user code is running).
    pub fn is_dispatching(&self) -> bool {
        self.depth.get() > 0
    }

    /// Whether the core is closed.
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }
}
