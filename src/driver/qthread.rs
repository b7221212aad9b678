//! `QThread`s, nested `QEventLoop`s and Qt-side timer probes: the Qt
//! objects that `qtloop::qt` wraps for users.

use cxx::UniquePtr;

use super::bridge::driver as ffi;

/// A `QThread` running a closure (owned; see `qt::QThreadHandle`).
pub(crate) struct QtThread(UniquePtr<ffi::QtThread>);

impl QtThread {
    /// Starts a `QThread` named `name` that runs `body` once.
    pub(crate) fn spawn(name: &str, body: Box<dyn FnOnce() + Send>) -> Self {
        Self(ffi::spawn_qthread(Box::new(ffi::ThreadBody(body)), name))
    }

    /// Whether it has finished (or could not be created).
    pub(crate) fn is_finished(&self) -> bool {
        self.0.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Whether the calling thread is this one.
    pub(crate) fn is_current(&self) -> bool {
        self.0.as_ref().is_some_and(|t| t.is_current())
    }

    /// A guarded pointer to the `QThread` object.
    pub(crate) fn object(&self) -> Option<UniquePtr<ffi::ObjectHandle>> {
        self.0.as_ref().map(ffi::qthread_object)
    }

    /// Waits until it has finished.
    pub(crate) fn wait(&self) {
        if let Some(t) = self.0.as_ref() {
            t.wait();
        }
    }
}

/// The `objectName` of the current thread's `QThread` object.
pub(crate) fn current_qthread_name() -> String {
    ffi::current_qthread_name()
}

/// A nested `QEventLoop` of this thread.
pub(crate) struct NestedLoop(UniquePtr<ffi::NestedLoop>);

impl NestedLoop {
    pub(crate) fn new() -> Self {
        Self(ffi::new_nested_loop())
    }

    /// Runs it: `Some(true)` when it was exited, `Some(false)` if it was
    /// running already, `None` if it could not be created.
    pub(crate) fn exec(&self) -> Option<bool> {
        self.0.as_ref().map(|l| l.exec())
    }

    pub(crate) fn exit(&self) {
        if let Some(l) = self.0.as_ref() {
            l.exit();
        }
    }

    pub(crate) fn is_running(&self) -> bool {
        self.0.as_ref().is_some_and(|l| l.is_running())
    }
}

/// A precise `QTimer` that counts its ticks and their longest gap.
#[cfg(any(test, feature = "testing"))]
pub(crate) struct TimerProbe(UniquePtr<ffi::TimerProbe>);

#[cfg(any(test, feature = "testing"))]
impl TimerProbe {
    pub(crate) fn start(msec: i32) -> Self {
        Self(ffi::new_timer_probe(msec))
    }

    pub(crate) fn ticks(&self) -> u64 {
        self.0.as_ref().map_or(0, |p| p.ticks())
    }

    pub(crate) fn max_gap_ns(&self) -> u64 {
        self.0.as_ref().map_or(0, |p| p.max_gap_ns())
    }
}

/// Runs `count` posted events on this thread's event loop, each posting
/// the next; the total time in nanoseconds.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn posted_event_round_trips(count: u64) -> u64 {
    ffi::posted_event_round_trips(count)
}
