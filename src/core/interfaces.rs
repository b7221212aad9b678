//! The core's two interfaces: what it asks of the driver that runs it (the
//! Qt driver, or a plain-Rust test driver), and what it reports to the
//! runtime above it.

use std::any::Any;
use std::panic::Location;
use std::time::Duration;

use super::clock::Nanos;
use super::io::{Direction, Fd};

/// What the core asks of its driver. All calls come from the loop thread.
pub trait Driver {
    /// Call [`Core::dispatch`](super::Core::dispatch) soon (the Qt driver posts an event).
    fn request_tick(&self);
    /// Work was scheduled while the core dispatches: no tick is posted for
    /// it, since the dispatch runs it (or plans a tick when it returns).
    /// But if user code spins a nested event loop meanwhile, that loop must
    /// call [`Core::flush_deferred_tick`](super::Core::flush_deferred_tick) before it waits (the Qt driver
    /// does it on its dispatcher's `aboutToBlock` and `awake`).
    fn defer_tick(&self);
    /// Call [`Core::timer_fired`](super::Core::timer_fired) in `wait` nanoseconds (never earlier),
    /// replacing any timer armed before. Waiting must sleep: the Qt driver
    /// arms a `timerfd` watched by its dispatcher, or a precise `QTimer`
    /// for the wait rounded up to whole milliseconds.
    fn arm_timer(&self, wait: Nanos);
    /// Cancel the armed timer, if any.
    fn disarm_timer(&self);
    /// Enable or disable the notifier of `fd` for `dir`, creating it if
    /// needed. When it fires, the driver calls [`Core::fd_ready`](super::Core::fd_ready) (which
    /// may turn it off).
    fn watch_fd(&self, fd: Fd, dir: Direction, enable: bool);
    /// Delete the notifier of `fd` for `dir` (its fd is about to close).
    fn unwatch_fd(&self, fd: Fd, dir: Direction);
}

/// What the core reports to the runtime above it.
pub trait Hooks {
    /// A callback or task panicked; the loop goes on.
    fn panicked(
        &self,
        what: &'static str,
        at: &'static Location<'static>,
        payload: Box<dyn Any + Send>,
    );
    /// In debug mode: a callback took longer than the slow-callback duration.
    fn slow_callback(&self, what: &'static str, at: &'static Location<'static>, took: Duration);
    /// A watched fd turned out to be closed (or never open): its listeners
    /// were dropped.
    fn fd_invalid(&self, fd: Fd);
}

/// What a call to [`Core::dispatch`](super::Core::dispatch) ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Nothing special: the core asked its driver for what it needs next.
    Continue,
    /// An iteration completed while the loop was running with a stop
    /// requested: the driver should leave `run_forever`.
    Stop,
}
