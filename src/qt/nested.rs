//! Nested `QEventLoop`s (what a modal dialog runs).

use crate::driver::qthread::NestedLoop;
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
    inner: NestedLoop,
}

impl NestedEventLoop {
    /// A new, idle nested loop for this thread.
    pub fn new() -> Self {
        Self {
            inner: NestedLoop::new(),
        }
    }

    /// Runs the loop until [`exit`](Self::exit). Fails with
    /// [`Error::AlreadyRunning`] if it is running already.
    pub fn exec(&self) -> Result<()> {
        match self.inner.exec() {
            Some(true) => Ok(()),
            Some(false) => Err(Error::AlreadyRunning),
            None => Err(Error::Qt(
                "the nested QEventLoop could not be created".into(),
            )),
        }
    }

    /// Makes [`exec`](Self::exec) return.
    pub fn exit(&self) {
        self.inner.exit();
    }

    /// Whether [`exec`](Self::exec) is running.
    pub fn is_running(&self) -> bool {
        self.inner.is_running()
    }
}

impl Default for NestedEventLoop {
    fn default() -> Self {
        Self::new()
    }
}
