//! Running one queued item (a callback, a due timer, a posted callback, a
//! task's poll, an fd's callback), and reporting its panic, or in debug
//! mode its slowness, to the hooks. No item's panic leaves the core.

use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::time::Instant;

use super::handle::Entry;
use super::ready::Ready;
use super::{Core, IO_CALLBACK, TASK_LOCATION};

impl Core {
    #[inline]
    pub(super) fn run_item(&self, item: Ready) {
        if let Ready::Soon(cb) = item {
            // The hot path: the callback reports its own panic (its type
            // and place are read only then), and only debug mode times it.
            if !self.debug.get() {
                return cb.run(&*self.hooks);
            }
            let (what, at, start) = (cb.describe(), cb.location(), Instant::now());
            cb.run(&*self.hooks);
            return self.after_run(Some(start), None, || (what, at));
        }
        let debug_start = self.debug.get().then(Instant::now);
        match item {
            Ready::Soon(_) | Ready::Cancelled => {}
            Ready::Local(e) => self.run_entry(&*e, debug_start),
            Ready::Shared(e) => self.run_entry(&*e, debug_start),
            Ready::Task(r) => {
                let res = catch_unwind(AssertUnwindSafe(|| {
                    r.run();
                }));
                self.after_run(debug_start, res.err(), || ("task", TASK_LOCATION));
            }
            Ready::Io(ev) => {
                let run = self.io.borrow_mut().take_run(ev);
                let Some((f, at)) = run else { return }; // replaced or removed
                                                         // `f` may be the last reference (the callback removed
                                                         // itself): its drop is guarded too.
                let res = catch_unwind(AssertUnwindSafe(move || f()));
                let change = self.io.borrow_mut().ran(ev);
                self.apply(ev.fd, ev.dir, change);
                self.after_run(debug_start, res.err(), || (IO_CALLBACK, at));
            }
        }
    }

    /// Runs a timer's or a posted callback's entry.
    #[inline]
    fn run_entry(&self, e: &dyn Entry, debug_start: Option<Instant>) {
        let r = catch_unwind(AssertUnwindSafe(|| e.run()));
        self.after_run(debug_start, r.err(), || (e.describe(), e.location()));
    }

    /// Reports a panic, and in debug mode a slow callback, of the item that
    /// just ran; `who` names it.
    #[inline]
    fn after_run(
        &self,
        debug_start: Option<Instant>,
        panic: Option<Box<dyn std::any::Any + Send>>,
        who: impl FnOnce() -> (&'static str, &'static Location<'static>),
    ) {
        if panic.is_none() && debug_start.is_none() {
            return;
        }
        let (what, at) = who();
        if let Some(payload) = panic {
            self.hooks.panicked(what, at, payload);
        }
        if let Some(start) = debug_start {
            let took = start.elapsed();
            if took >= self.slow_callback.get() {
                self.hooks.slow_callback(what, at, took);
            }
        }
    }
}
