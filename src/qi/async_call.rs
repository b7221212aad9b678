//! libqi's `qi.async`: a call on the loop thread, soon or after a delay,
//! returning a [`Future`] that can cancel it while it waits.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use super::future::{Future, Promise};
use crate::core::clock::IntoDelay;
use crate::error::into_panic_message;
use crate::get_event_loop;

const WAITING: u8 = 0;
const STARTED: u8 = 1;
const CANCELED: u8 = 2;

/// Calls `f` on this thread's loop soon; see [`async_delay`].
///
/// ```
/// let lp = qtloop::EventLoop::new().unwrap();
/// let f = qtloop::qi::async_call(|| 40 + 2);
/// assert_eq!(lp.run_until_complete(f).unwrap(), Ok(42));
/// lp.close().unwrap();
/// ```
pub fn async_call<T, F>(f: F) -> Future<T>
where
    T: Clone + Send + 'static,
    F: FnOnce() -> T + 'static,
{
    async_delay(f, 0.0)
}

/// Calls `f` on this thread's loop after `delay` (`f64` seconds or
/// `Duration`) and gives its result as a [`Future`].
///
/// Cancelling the future before the call starts (whatever the delay, 0
/// included) cancels the call: the future finishes `Canceled` and `f` never
/// runs. Once started, the call runs to its end. A panic in `f` makes the
/// future carry the panic message as its error; the loop goes on. Without
/// an event loop on this thread (or with an invalid delay) the future
/// finishes with an error at once.
pub fn async_delay<T, F>(f: F, delay: impl IntoDelay) -> Future<T>
where
    T: Clone + Send + 'static,
    F: FnOnce() -> T + 'static,
{
    let lp = match get_event_loop() {
        Ok(lp) => lp,
        Err(e) => return Future::from_error(e.to_string()),
    };
    let state = Arc::new(AtomicU8::new(WAITING));
    let s = state.clone();
    let promise = Promise::with_on_cancel(move |p: &Promise<T>| {
        if s.compare_exchange(WAITING, CANCELED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            let _ = p.set_canceled();
        }
    });
    let future = promise.future();
    let scheduled = lp.call_later(delay, move || {
        if state
            .compare_exchange(WAITING, STARTED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return; // canceled while it waited
        }
        let _ = match catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => promise.set_value(v),
            Err(p) => promise.set_error(into_panic_message(p)),
        };
    });
    match scheduled {
        Ok(_) => future,
        // The closure (and its promise) was dropped: the future is broken;
        // say why instead.
        Err(e) => Future::from_error(e.to_string()),
    }
}
