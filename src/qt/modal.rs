//! Blocking Qt calls (a modal dialog's `exec()`) from async code.

use std::panic::{catch_unwind, AssertUnwindSafe};

use futures::channel::oneshot;

use crate::error::{into_panic_message, Error, Result};

/// Runs a blocking Qt call such as `dialog.exec()` from a task without
/// freezing the others, and resolves with what it returned.
///
/// `f` runs in its own loop callback, not inside the awaiting task's poll:
/// while its nested Qt loop runs, every other callback, timer and task keeps
/// running (qtloop's driver works inside nested loops), and the awaiting
/// task is parked, not stuck mid-poll. A panic in `f` becomes
/// `Err(Error::Panicked)`. What `f` blocks on cannot be cancelled from
/// outside: dropping the future only discards the result. For a dialog that
/// can be dismissed from code, prefer the awaitable form: `open()` it and
/// await its `finished` signal with [`next_signal`](super::next_signal).
///
/// ```
/// use std::rc::Rc;
/// let lp = qtloop::EventLoop::new()?;
/// let modal = Rc::new(qtloop::qt::NestedEventLoop::new());
/// let m = modal.clone();
/// lp.call_later(0.02, move || m.exit())?; // the "user" closes it
/// let r = lp.run_until_complete(async move {
///     qtloop::qt::run_modal(move || { modal.exec().unwrap(); "closed" }).await
/// })??;
/// assert_eq!(r, "closed");
/// lp.close()?;
/// # Ok::<(), qtloop::Error>(())
/// ```
pub async fn run_modal<R, F>(f: F) -> Result<R>
where
    F: FnOnce() -> R + 'static,
    R: 'static,
{
    let lp = crate::get_event_loop()?;
    let (tx, rx) = oneshot::channel();
    lp.call_soon(move || {
        let r =
            catch_unwind(AssertUnwindSafe(f)).map_err(|p| Error::Panicked(into_panic_message(p)));
        let _ = tx.send(r);
    })?;
    // Dropped unsent only if the loop closed before the callback ran.
    rx.await.map_err(|_| Error::Closed)?
}
