//! Calls from C++ into Rust: the driver's tick and timer.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Weak;

use super::bridge::driver::DriverEvents;
use crate::core::io::{Direction, Fd};

/// What a tick or a timer expiry drives (the runtime's loop).
pub(crate) trait SinkTarget {
    fn tick(&self);
    fn timer(&self);
    fn about_to_quit(&self);
    fn fd_ready(&self, fd: Fd, dir: Direction);
    fn fd_invalid(&self, fd: Fd);
    fn deferred(&self);
}

/// Owned by the C++ driver (inside the bridge's `DriverSink`); forwards to
/// the loop while it exists.
pub(crate) struct Forward {
    pub(crate) target: Weak<dyn SinkTarget>,
}

impl Forward {
    fn forward(&self, f: impl FnOnce(&dyn SinkTarget)) {
        let Some(target) = self.target.upgrade() else {
            return;
        };
        guard(|| f(&*target));
    }
}

/// Runs a callback from C++, keeping any panic from unwinding into Qt's
/// frames (user code is guarded deeper down; this is the last fence).
pub(crate) fn guard(f: impl FnOnce()) {
    if let Err(p) = catch_unwind(AssertUnwindSafe(f)) {
        log::error!(
            "qtloop: internal panic in a Qt callback: {}",
            crate::error::into_panic_message(p)
        );
    }
}

impl DriverEvents for Forward {
    fn tick(&self) {
        self.forward(|t| t.tick());
    }

    fn timer(&self) {
        self.forward(|t| t.timer());
    }

    fn about_to_quit(&self) {
        self.forward(|t| t.about_to_quit());
    }

    fn fd(&self, fd: i32, dir: u8) {
        let dir = if dir == 0 {
            Direction::Read
        } else {
            Direction::Write
        };
        self.forward(|t| t.fd_ready(fd, dir));
    }

    fn deferred(&self) {
        self.forward(|t| t.deferred());
    }

    fn fd_invalid(&self, fd: i32) {
        self.forward(|t| t.fd_invalid(fd));
    }
}
