//! Tasks tied to a QObject's life, and safe access to it after awaits.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

use cxx_qt::{CxxQtThread, Threading};
use futures::channel::oneshot;

use crate::error::{Error, Result};
use crate::{AbortHandle, Task};

/// The tasks of one owner, cancelled together when the scope is dropped.
///
/// Put one in the Rust struct of a cxx-qt QObject: the struct is dropped
/// when the QObject is destroyed, and so every task spawned through the
/// scope is cancelled then (its future dropped at its next poll, at once if
/// it is waiting). Cancelling is also explicit with
/// [`cancel_all`](Self::cancel_all).
///
/// ```
/// let lp = qtloop::EventLoop::new()?;
/// let scope = qtloop::qt::TaskScope::new();
/// let task = scope.spawn(async { qtloop::sleep(60.0).await });
/// drop(scope); // the owner is gone
/// assert!(matches!(lp.run_until_complete(task)?, Err(qtloop::TaskError::Cancelled)));
/// lp.close()?;
/// # Ok::<(), qtloop::Error>(())
/// ```
#[derive(Default)]
pub struct TaskScope {
    tasks: RefCell<Vec<AbortHandle>>,
}

impl TaskScope {
    /// An empty scope.
    pub fn new() -> Self {
        Self::default()
    }

    /// Spawns `fut` on this thread's loop, owned by the scope; the returned
    /// handle can be awaited for its output or cancelled alone (dropping it
    /// detaches, the scope still owns the task).
    ///
    /// # Panics
    /// If this thread has no open [`EventLoop`](crate::EventLoop).
    pub fn spawn<F>(&self, fut: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let task = crate::spawn_local(fut);
        let mut tasks = self.tasks.borrow_mut();
        tasks.retain(|t| !t.is_done());
        tasks.push(task.abort_handle());
        task
    }

    /// Cancels every task of the scope.
    pub fn cancel_all(&self) {
        // Out of the RefCell first: cancelling may drop a future whose own
        // Drop touches this scope.
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        for t in &tasks {
            t.cancel();
        }
        drop(tasks);
    }

    /// How many of its tasks have not finished.
    pub fn len(&self) -> usize {
        self.tasks.borrow().iter().filter(|t| !t.is_done()).count()
    }

    /// Whether all of its tasks have finished.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for TaskScope {
    fn drop(&mut self) {
        self.cancel_all();
    }
}

/// Safe access to a cxx-qt QObject from a task, across awaits.
///
/// A task must not keep a `Pin<&mut T>` across an `await` (the object could
/// be destroyed, or QML could be using it meanwhile). `ObjectRef` keeps
/// cxx-qt's thread handle instead and gives the object to a closure, run on
/// the object's thread through Qt's event queue (in order); if the object is
/// gone the call fails with [`Error::ObjectDestroyed`], so a loop that
/// updates it ends by itself.
///
/// ```ignore
/// let obj = qtloop::qt::ObjectRef::new(self.qt_thread());
/// self.rust().scope.spawn(async move {
///     loop {
///         let reading = read_sensor().await;
///         obj.update(move |o| o.set_value(reading)).await?;
///     }
/// });
/// ```
pub struct ObjectRef<T: Threading> {
    thread: CxxQtThread<T>,
}

impl<T: Threading> Clone for ObjectRef<T> {
    fn clone(&self) -> Self {
        Self {
            thread: self.thread.clone(),
        }
    }
}

impl<T: Threading> ObjectRef<T> {
    /// From the object's `qt_thread()`.
    pub fn new(thread: CxxQtThread<T>) -> Self {
        Self { thread }
    }

    /// Runs `f` with the object on its thread and returns what it returned;
    /// `Err(Error::ObjectDestroyed)` if the object is destroyed first.
    pub async fn update<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(Pin<&mut T>) -> R + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.thread
            .queue(move |obj| {
                // Never unwind through cxx-qt's trampoline (it aborts): the
                // caller gets the panic, and so does the exception handler.
                let r = guarded("ObjectRef::update", move || f(obj));
                let _ = tx.send(r);
            })
            .map_err(|_| Error::ObjectDestroyed)?;
        // A queued call dropped unrun means the object died meanwhile.
        rx.await.map_err(|_| Error::ObjectDestroyed)?
    }

    /// Queues `f` without waiting for it (dropped if the object is gone);
    /// false if the object is destroyed already.
    pub fn post<F>(&self, f: F) -> bool
    where
        F: FnOnce(Pin<&mut T>) + Send + 'static,
    {
        self.thread
            .queue(move |obj| {
                let _ = guarded("ObjectRef::post", move || f(obj));
            })
            .is_ok()
    }

    /// Whether the object has been destroyed.
    pub fn is_destroyed(&self) -> bool {
        self.thread.is_destroyed()
    }
}

/// Runs `f`; a panic is reported to the exception handler and returned as
/// `Error::Panicked` instead of unwinding into C++.
fn guarded<R>(what: &str, f: impl FnOnce() -> R) -> Result<R> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        crate::runtime::report::report_panic(format!("Exception in {what}"), &*p);
        Error::Panicked(crate::error::into_panic_message(p))
    })
}
