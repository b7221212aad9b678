//! Qt integration: awaiting signals, tasks scoped to a QObject, nested
//! (modal) loops, the application's own `exec()`.

mod modal;
mod scope;
mod signal;
pub(crate) mod thread;

pub use modal::run_modal;
pub use scope::{ObjectRef, TaskScope};
pub use signal::{next_signal, signal_stream, NextSignal, SignalSender, SignalStream};
pub use thread::{current_qthread_name, spawn_qthread, QThreadHandle};

use std::time::Duration;

use cxx::UniquePtr;

use crate::driver::ffi;
use crate::error::{Error, Result};

/// A `QEventLoop` to run nested inside a callback or task (what a modal
/// dialog does). While it runs, the [`EventLoop`](crate::EventLoop) keeps
/// running *other* callbacks, timers and tasks; the one that is nested is
/// never re-entered.
///
/// ```
/// use std::rc::Rc;
/// let lp = qtloop::EventLoop::new().unwrap();
/// let nested = Rc::new(qtloop::qt::NestedEventLoop::new());
/// let n = nested.clone();
/// lp.call_later(0.01, move || n.exit()).unwrap();
/// lp.run_until_complete(async move { nested.exec().unwrap() }).unwrap();
/// lp.close().unwrap();
/// ```
pub struct NestedEventLoop {
    inner: UniquePtr<ffi::NestedLoop>,
}

impl NestedEventLoop {
    /// A new, idle nested loop for this thread.
    pub fn new() -> Self {
        Self {
            inner: ffi::new_nested_loop(),
        }
    }

    /// Runs the loop until [`exit`](Self::exit). Fails with
    /// [`Error::AlreadyRunning`] if it is running already.
    pub fn exec(&self) -> Result<()> {
        match self.inner.as_ref() {
            Some(l) if l.exec() => Ok(()),
            Some(_) => Err(Error::AlreadyRunning),
            None => Err(Error::Qt(
                "the nested QEventLoop could not be created".into(),
            )),
        }
    }

    /// Makes [`exec`](Self::exec) return.
    pub fn exit(&self) {
        if let Some(l) = self.inner.as_ref() {
            l.exit();
        }
    }

    /// Whether [`exec`](Self::exec) is running.
    pub fn is_running(&self) -> bool {
        self.inner.as_ref().is_some_and(|l| l.is_running())
    }
}

impl Default for NestedEventLoop {
    fn default() -> Self {
        Self::new()
    }
}

/// Processes pending Qt events for at most `max` (`processEvents`).
pub fn process_events(max: Duration) {
    ffi::process_events(max.as_millis().min(i32::MAX as u128) as i32);
}

/// Runs the application's own event loop (`QCoreApplication::exec()`);
/// qtloop's callbacks and tasks run inside it. Fails if there is no
/// application object.
///
/// When it returns (Qt's `aboutToQuit`), the application thread's
/// [`EventLoop`](crate::EventLoop) is closed cleanly: its tasks are
/// cancelled and its default executor is shut down.
pub fn exec() -> Result<i32> {
    if !ffi::has_application() {
        return Err(Error::Qt(
            "there is no Q*Application: create one (or an EventLoop) first".into(),
        ));
    }
    Ok(ffi::exec_application())
}

/// Makes the application's `exec()` return 0 (`QCoreApplication::quit()`).
pub fn quit() {
    if ffi::has_application() {
        ffi::quit_application();
    }
}

/// Makes the application's `exec()` return `code`.
pub fn exit(code: i32) {
    if ffi::has_application() {
        ffi::exit_application(code);
    }
}

/// Whether this thread is the application object's thread.
pub fn on_application_thread() -> bool {
    ffi::on_application_thread()
}

/// Creates the process's `QCoreApplication` now, if it has no application
/// object yet (a console application; a GUI one creates its
/// `QGuiApplication` instead). [`EventLoop::new`](crate::EventLoop::new)
/// does it too, but logs a warning, since a GUI application that forgot
/// its `QGuiApplication` would otherwise fail silently later. Returns
/// whether it created one. Safe to call from racing threads.
pub fn ensure_core_application() -> bool {
    crate::driver::ensure_application(true)
}

/// A Qt-side precise `QTimer` that records the longest gap between its
/// ticks: how responsive Qt stays while the loop is busy (the benchmark's
/// W8 and the flood tests use it). It ticks while the thread's Qt event
/// loop runs; dropping it stops it.
pub struct TimerProbe {
    inner: UniquePtr<ffi::TimerProbe>,
}

impl TimerProbe {
    /// Starts a timer with the given interval (whole milliseconds).
    pub fn start(interval: Duration) -> Self {
        let ms = interval.as_millis().clamp(0, i32::MAX as u128) as i32;
        Self {
            inner: ffi::new_timer_probe(ms),
        }
    }

    /// How many times it ticked.
    pub fn ticks(&self) -> u64 {
        self.inner.as_ref().map_or(0, |p| p.ticks())
    }

    /// The longest gap between two ticks.
    pub fn max_gap(&self) -> Duration {
        Duration::from_nanos(self.inner.as_ref().map_or(0, |p| p.max_gap_ns()))
    }
}

/// The cost of Qt's own wake-up, for benchmarks: runs `count` posted events
/// on this thread's event loop, each handler posting the next, and returns
/// the time per round trip.
pub fn posted_event_round_trip(count: u64) -> Duration {
    let total = ffi::posted_event_round_trips(count);
    Duration::from_nanos(total / count.max(1))
}
