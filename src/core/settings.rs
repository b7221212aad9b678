//! The core's settings and counters (debug mode, budget, queue lengths).

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
}
