//! The Qt driver (DESIGN.md floor 2): the only code that touches C++.
//!
//! A `LoopDriver` QObject lives in the loop's thread: a custom posted event
//! means "run iterations"; a `timerfd` watched by a `QSocketNotifier` (or,
//! without one, a single-shot `Qt::PreciseTimer` rounded up to whole
//! milliseconds) means "the earliest deadline is due"; one
//! `QSocketNotifier` per watched fd and direction reports readiness.
//! Because it is an ordinary QObject, it keeps working in nested Qt loops
//! (`QDialog::exec`, `QMenu::exec`, drag and drop) and when the application
//! calls Qt's `exec()` itself.

pub(crate) use crate::bridge::driver as ffi;
pub(crate) mod sink;

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
        let object = ffi::new_loop_driver(Box::new(ffi::DriverSink { target }));
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

/// Serialises the creation of the application object: threads that create
/// their first loop at once (or a loop and a `QmlApp`) make one
/// application, never two (Qt's undefined behaviour).
pub(crate) fn with_application_lock<R>(f: impl FnOnce() -> R) -> R {
    static APPLICATION: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = crate::core::sync::lock(&APPLICATION);
    f()
}

/// Creates a `QCoreApplication` if the process has no application object,
/// logging a warning that says how a GUI application avoids it (unless
/// `quiet`). Returns whether it created one.
pub(crate) fn ensure_application(quiet: bool) -> bool {
    let created = with_application_lock(ffi::ensure_core_application);
    if created && !quiet {
        log::warn!(
            "qtloop: EventLoop::new() found no Qt application and created a \
             QCoreApplication. A GUI application needs its QGuiApplication made \
             first (qtloop::qml::QmlApp::new() or qtloop::qml::ensure_gui_application(), \
             or its own), before the first EventLoop, or its windows will not work. \
             A console application can call qtloop::qt::ensure_core_application() \
             first to say that it means it."
        );
    }
    created
}
