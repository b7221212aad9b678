//! QThreads running Rust closures (for loops on Qt-started threads).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use cxx::UniquePtr;

use crate::core::sync::lock;
use crate::driver::ffi;
use crate::error::{into_panic_message, Error, Result};

type Slot<T> = Arc<Mutex<Option<std::thread::Result<T>>>>;

/// What the QThread runs; called once from C++.
pub(crate) struct ThreadBody(Box<dyn FnOnce() + Send>);

/// Runs the body on the QThread. The body catches its own panic (it never
/// unwinds into Qt) and leaves it for the joiner.
#[allow(clippy::boxed_local)] // cxx passes Rust-owned values as a Box
pub(crate) fn run_thread_body(body: Box<ThreadBody>) {
    (body.0)();
}

/// A `QThread` (started by Qt, with Qt's own event dispatcher) running a
/// Rust closure: an [`EventLoop`](crate::EventLoop) created in it runs on
/// that thread's Qt loop. Dropping the handle waits for the thread (unless
/// it is dropped by that thread itself: then the `QThread` object is
/// deleted once the thread has finished).
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
    thread: UniquePtr<ffi::QtThread>,
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
    let body = ThreadBody(Box::new(move || {
        let r = catch_unwind(AssertUnwindSafe(f));
        *lock(&slot) = Some(r);
    }));
    QThreadHandle {
        thread: ffi::spawn_qthread(Box::new(body), name),
        result,
    }
}

impl<T> QThreadHandle<T> {
    /// Whether the thread has finished.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits for the thread and returns what `f` returned;
    /// `Err(Error::Panicked)` if it panicked, `Err(Error::WouldDeadlock)`
    /// if called by that thread itself.
    pub fn join(self) -> Result<T> {
        if let Some(t) = self.thread.as_ref() {
            if t.is_current() {
                return Err(Error::WouldDeadlock);
            }
            t.wait();
        }
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
    ffi::current_qthread_name()
}
