//! QThreads running Rust closures (for loops on Qt-started threads).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use crate::core::sync::lock;
use crate::driver::qthread::{self, QtThread};
use crate::error::{into_panic_message, Error, Result};

type Slot<T> = Arc<Mutex<Option<std::thread::Result<T>>>>;

/// A `QThread` (started by Qt, with Qt's own event dispatcher) running a
/// Rust closure: an [`EventLoop`](crate::EventLoop) created in it runs on
/// that thread's Qt loop. Dropping the handle waits for the thread (unless
/// it is dropped by that thread itself: then the `QThread` object is
/// deleted once the thread has finished, by the event loop of the thread
/// that created it; if that thread runs no Qt event loop, the small
/// `QThread` object is never deleted).
///
/// ```
/// let t = qtloop::qt::spawn_qthread("worker", || {
///     let lp = qtloop::EventLoop::new().unwrap();
///     let v = lp.run_until_complete(async { qtloop::sleep(0.01).await.map(|_| 7) });
///     lp.close().unwrap();
///     (v.unwrap().unwrap(), qtloop::qt::current_qthread_name())
/// });
/// assert_eq!(t.join()?, (7, "worker".to_string()));
/// # Ok::<(), qtloop::Error>(())
/// ```
pub struct QThreadHandle<T> {
    thread: QtThread,
    result: Slot<T>,
}

/// Starts a `QThread` named `name` that runs `f`.
pub fn spawn_qthread<T, F>(name: &str, f: F) -> QThreadHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let result: Slot<T> = Arc::new(Mutex::new(None));
    let slot = result.clone();
    // The body catches its own panic (it never unwinds into Qt) and leaves
    // it for the joiner.
    let body = Box::new(move || {
        let r = catch_unwind(AssertUnwindSafe(f));
        *lock(&slot) = Some(r);
    });
    QThreadHandle {
        thread: QtThread::spawn(name, body),
        result,
    }
}

impl<T> QThreadHandle<T> {
    /// Whether the thread has finished.
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// The `QThread` object, for its signals: `finished()` is emitted on
    /// the thread it manages, and [`qt::signal`](crate::qt::signal) queues
    /// it to the loop's thread. `None` if Qt could not create the thread.
    pub fn object(&self) -> Option<crate::qt::QtObject> {
        self.thread.object().map(crate::qt::QtObject::from_handle)
    }

    /// Waits for the thread and returns what `f` returned;
    /// `Err(Error::Panicked)` if it panicked, `Err(Error::WouldDeadlock)`
    /// if called by that thread itself.
    pub fn join(self) -> Result<T> {
        if self.thread.is_current() {
            return Err(Error::WouldDeadlock);
        }
        self.thread.wait();
        let r = lock(&self.result).take();
        match r {
            Some(Ok(v)) => Ok(v),
            Some(Err(p)) => Err(Error::Panicked(into_panic_message(p))),
            None => Err(Error::Qt("the QThread did not run".into())),
        }
    }
}

/// The `objectName` of the current thread's `QThread` object (empty for
/// threads that Qt did not start, or did not name).
pub fn current_qthread_name() -> String {
    qthread::current_qthread_name()
}
