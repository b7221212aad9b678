//! The async toolkit of libqi (the C++/Python messaging library of
//! Aldebaran's NAOqi robots), on the event loop: [`async_call`] /
//! [`async_delay`], [`Promise`] / [`Future`], [`Signal`], [`PeriodicTask`].
//!
//! An asynchronous API returns a [`Future`] that a [`Promise`] sets later
//! (what libqi's guide calls `betterBar`, as opposed to a blocking `bar`):
//!
//! ```
//! use qtloop::qi::{Future, Promise};
//!
//! // Calls `done` later, from another thread.
//! fn mycrazydelay_async(delay: u32, done: impl FnOnce(u32) + Send + 'static) {
//!     std::thread::spawn(move || done(delay));
//! }
//!
//! fn better_bar() -> Future<u32> {
//!     let p = Promise::new();
//!     let f = p.future();
//!     mycrazydelay_async(50, move |d| p.set_value(d).unwrap());
//!     f // returns at once; the value arrives later
//! }
//!
//! let lp = qtloop::EventLoop::new().unwrap();
//! assert_eq!(lp.run_until_complete(better_bar()).unwrap(), Ok(50));
//! lp.close().unwrap();
//! ```

mod async_call;
mod future;
mod periodic;
mod signal;

pub use async_call::{async_call, async_delay};
pub use future::{Future, FutureState, Promise};
pub use periodic::PeriodicTask;
pub use signal::{Next, Signal, SignalLink};
