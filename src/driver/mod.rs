//! The Qt driver, the floor above the core: the only code that touches C++.
//!
//! A `LoopDriver` QObject lives in the loop's thread: a custom posted event
//! means "run iterations"; a `timerfd` watched by a `QSocketNotifier` (or,
//! without one, a single-shot `Qt::PreciseTimer` rounded up to whole
//! milliseconds) means "the earliest deadline is due"; one
//! `QSocketNotifier` per watched fd and direction reports readiness.
//! Because it is an ordinary QObject, it keeps working in nested Qt loops
//! (`QDialog::exec`, `QMenu::exec`, drag and drop) and when the application
//! calls Qt's `exec()` itself.

// The bridge to C++ is private to this floor: everything above reaches Qt
// through the safe functions and types of these modules.
pub(crate) mod app;
#[allow(unsafe_code)]
// cxx and cxx-qt: each block has a `// SAFETY:` comment
// Without `testing`, the probes and screenshot helpers are declared unused.
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
#[path = "../bridge/mod.rs"]
mod bridge;
pub(crate) mod net;
pub(crate) mod qml;
pub(crate) mod qthread;
pub(crate) mod signal;
pub(crate) mod sink;

use bridge::driver as ffi;

use std::rc::Weak;

use cxx::{SharedPtr, UniquePtr};

use crate::core::clock::Nanos;
use crate::core::io::{Direction, Fd};
use crate::core::{Driver, RemoteWake};
pub(crate) use sink::SinkTarget;

/// Owns the C++ driver object; lives and dies on the loop thread.
pub(crate) struct QtDriver {
    object: UniquePtr<ffi::LoopDriver>,
}

impl QtDriver {
    /// Creates the driver QObject in the current thread. `target` receives
    /// its ticks and timer expiries.
    pub(crate) fn new(target: Weak<dyn SinkTarget>) -> Self {
        let sink = ffi::DriverSink(Box::new(sink::Forward { target }));
        let object = ffi::new_loop_driver(Box::new(sink));
        Self { object }
    }

    fn get(&self) -> Option<&ffi::LoopDriver> {
        self.object.as_ref()
    }

    /// A thread-safe waker that posts ticks to this driver.
    pub(crate) fn remote_waker(&self) -> QtWaker {
        QtWaker(
            self.get()
                .map(|d| d.waker())
                .unwrap_or_else(SharedPtr::null),
        )
    }

    /// Runs a `QEventLoop` until [`exit_loop`](Self::exit_loop).
    pub(crate) fn exec_loop(&self) {
        if let Some(d) = self.get() {
            d.exec_loop();
        }
    }

    /// Whether deadlines wait on a `timerfd` (else a rounded-up `QTimer`).
    pub(crate) fn uses_timerfd(&self) -> bool {
        self.get().is_some_and(|d| d.uses_timerfd())
    }

    /// The `QSocketNotifier`s the driver holds.
    pub(crate) fn notifier_count(&self) -> usize {
        self.get().map_or(0, |d| d.notifier_count())
    }

    /// Makes the running `exec_loop` return.
    pub(crate) fn exit_loop(&self) {
        if let Some(d) = self.get() {
            d.exit_loop();
        }
    }
}

impl Driver for QtDriver {
    fn request_tick(&self) {
        if let Some(d) = self.get() {
            d.post_tick();
        }
    }
    fn defer_tick(&self) {
        if let Some(d) = self.get() {
            d.defer_tick();
        }
    }
    fn arm_timer(&self, wait: Nanos) {
        if let Some(d) = self.get() {
            d.arm_timer(wait);
        }
    }
    fn disarm_timer(&self) {
        if let Some(d) = self.get() {
            d.disarm_timer();
        }
    }
    fn watch_fd(&self, fd: Fd, dir: Direction, enable: bool) {
        if let Some(d) = self.get() {
            d.watch_fd(fd, dir as u8, enable);
        }
    }
    fn unwatch_fd(&self, fd: Fd, dir: Direction) {
        if let Some(d) = self.get() {
            d.unwatch_fd(fd, dir as u8);
        }
    }
}

/// Whether `fd` is an open file descriptor.
pub(crate) fn fd_is_open(fd: Fd) -> bool {
    ffi::fd_is_open(fd)
}

impl Drop for QtDriver {
    fn drop(&mut self) {
        let object = std::mem::replace(&mut self.object, UniquePtr::null());
        if !object.is_null() {
            ffi::dispose_loop_driver(object);
        }
    }
}

/// Wakes the loop from any thread by posting a tick event.
pub(crate) struct QtWaker(SharedPtr<ffi::LoopWaker>);

impl RemoteWake for QtWaker {
    fn wake(&self) {
        if let Some(w) = self.0.as_ref() {
            w.wake();
        }
    }
}
