//! Waiting for the first of several things, or for all of them: the
//! combinators QCoro's users asked for (qcoro#74, #250, #251), named for
//! what they do.
//!
//! ```
//! # let lp = qtloop::EventLoop::new()?;
//! # lp.run_until_complete(async {
//! #[derive(Debug, PartialEq)]
//! enum First { Clicked, Replied(u32), TimedOut }
//! // In an application: `qt::signal(&button, "clicked()")?.next()`,
//! // `http.get(url).send()` and a 5 s sleep.
//! let click = async { qtloop::sleep(60.0).await.ok(); First::Clicked };
//! let reply = async { qtloop::sleep(0.01).await.ok(); First::Replied(200) };
//! let timeout = async { qtloop::sleep(5.0).await.ok(); First::TimedOut };
//! let first = qtloop::race_all([
//!     Box::pin(click) as std::pin::Pin<Box<dyn std::future::Future<Output = First>>>,
//!     Box::pin(reply),
//!     Box::pin(timeout),
//! ]).await.1;
//! assert_eq!(first, First::Replied(200)); // the others were dropped: cancelled
//! # });
//! # lp.close()?;
//! # Ok::<(), qtloop::Error>(())
//! ```
//!
//! The losers are dropped as soon as the winner is ready, and dropping is
//! cancelling throughout qtloop: a signal source disconnects, an HTTP reply
//! is aborted, a task handle with `cancel_on_drop` cancels its task. For all
//! of several results, `futures`' [`join`](futures::future::join),
//! [`join_all`](futures::future::join_all) and
//! [`try_join_all`](futures::future::try_join_all) (re-exported here) run
//! them concurrently on the awaiting task; [`TaskGroup`](crate::TaskGroup)
//! runs them as tasks of their own.

use std::future::Future;
use std::pin::pin;

use futures::future::Either;

pub use futures::future::{join, join_all, try_join, try_join_all};

/// The output of whichever of `a` and `b` completes first; the other is
/// dropped (cancelled). When both are ready at the same poll, `a` wins.
pub async fn race<T>(a: impl Future<Output = T>, b: impl Future<Output = T>) -> T {
    match futures::future::select(pin!(a), pin!(b)).await {
        Either::Left((v, _)) | Either::Right((v, _)) => v,
    }
}

/// The index and output of the first of `futures` to complete; the rest
/// are dropped (cancelled). Ties go to the lowest index.
///
/// # Panics
/// If `futures` is empty (nothing could ever complete).
pub async fn race_all<F, I>(futures: I) -> (usize, F::Output)
where
    I: IntoIterator<Item = F>,
    F: Future + Unpin,
{
    let (v, i, rest) = futures::future::select_all(futures).await;
    drop(rest);
    (i, v)
}
