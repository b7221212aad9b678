//! Time: `sleep`, `sleep_until`, `timeout` (`wait_for`) and `interval`.
//!
//! These futures are `Send`, so they work in tasks spawned from other
//! threads with `LoopHandle::spawn`; they must be polled on a loop thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::task::AtomicWaker;
use futures::Stream;
use pin_project_lite::pin_project;

// Built on the runtime's public API only, as another crate could be:
// `get_event_loop`, `EventLoop::now` and `EventLoop::call_at_send`.
pub use crate::core::clock::LoopTime;
use crate::core::clock::{nanos_to_instant, IntoDeadline, IntoDelay, Nanos};
use crate::error::{Error, Result};
use crate::{get_event_loop, EventLoop, SendTimerHandle};

struct Fired {
    done: AtomicBool,
    waker: AtomicWaker,
}

enum When {
    /// Not yet known: the delay counts from the first poll.
    After(Nanos),
    At(Nanos),
    Invalid(Error),
}

/// A future that completes at a deadline ([`sleep`], [`sleep_until`]).
/// Dropping it cancels its timer.
pub struct Sleep {
    when: When,
    armed: Option<(Arc<Fired>, SendTimerHandle)>,
}

/// Completes after `delay` (`f64` seconds or `Duration`; negative means
/// now) with `Ok(())`, or at once with `Err(Error::InvalidDelay)` for a NaN
/// or infinite delay (asyncio raises at the `await` too).
///
/// ```
/// qtloop::run(async {
///     qtloop::sleep(0.01).await.unwrap();
///     assert!(qtloop::sleep(f64::NAN).await.is_err());
/// })
/// .unwrap();
/// ```
pub fn sleep(delay: impl IntoDelay) -> Sleep {
    let when = match delay.into_nanos() {
        Err(e) => When::Invalid(e),
        Ok(delay) => match get_event_loop() {
            Ok(lp) => When::At(after(&lp, delay)),
            Err(_) => When::After(delay),
        },
    };
    Sleep { when, armed: None }
}

/// Lets the other ready callbacks and tasks run, then resumes: the task
/// goes to the back of the loop's FIFO (asyncio's `sleep(0)`, tokio's
/// `yield_now`). Needs no loop and cannot fail.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// qtloop::run(async {
///     let ran = Rc::new(Cell::new(false));
///     let r = ran.clone();
///     qtloop::get_running_loop().unwrap().call_soon(move || r.set(true)).unwrap();
///     qtloop::yield_now().await;
///     assert!(ran.get()); // the callback ran while this task yielded
/// })
/// .unwrap();
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Completes at `when` (loop seconds or an `Instant`); see [`sleep`].
pub fn sleep_until(when: impl IntoDeadline) -> Sleep {
    let when = match when.into_deadline() {
        Ok(t) => When::At(t),
        Err(e) => When::Invalid(e),
    };
    Sleep { when, armed: None }
}

impl Sleep {
    /// The deadline as an `Instant` (once known).
    pub fn deadline(&self) -> Option<Instant> {
        match self.when {
            When::At(t) => Some(nanos_to_instant(t)),
            When::After(_) | When::Invalid(_) => None,
        }
    }
}

impl Future for Sleep {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if let Some((fired, _)) = &self.armed {
            if fired.done.load(Ordering::Acquire) {
                return Poll::Ready(Ok(()));
            }
            fired.waker.register(cx.waker());
            // The timer may have fired between the load and the register.
            if fired.done.load(Ordering::Acquire) {
                return Poll::Ready(Ok(()));
            }
            return Poll::Pending;
        }
        if let When::Invalid(e) = &self.when {
            return Poll::Ready(Err(e.clone()));
        }
        // A thread without an open loop: an error, not a hang (a closed
        // loop would never fire the timer).
        let lp = match get_event_loop() {
            Ok(lp) => lp,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let at = match self.when {
            When::At(t) => t,
            When::After(d) => after(&lp, d),
            When::Invalid(_) => unreachable!("handled above"),
        };
        self.when = When::At(at);
        let fired = Arc::new(Fired {
            done: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        });
        fired.waker.register(cx.waker());
        let f = fired.clone();
        let timer = lp.call_at_send(LoopTime::from_nanos(at), move || {
            f.done.store(true, Ordering::Release);
            f.waker.wake();
        });
        match timer {
            Ok(t) => {
                self.armed = Some((fired, t));
                Poll::Pending
            }
            // A closed loop never fires timers: say so rather than hang.
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some((fired, timer)) = &self.armed {
            if !fired.done.load(Ordering::Acquire) {
                timer.cancel();
            }
        }
    }
}

/// The error of [`timeout`]: the deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline has elapsed")]
pub struct Elapsed;

pin_project! {
    /// A future with a deadline ([`timeout`]).
    pub struct Timeout<F> {
        #[pin]
        fut: F,
        sleep: Sleep,
    }
}

/// Runs `fut` with a time limit: `Err(Elapsed)` if `delay` passes first
/// (asyncio `wait_for`; `fut` is dropped with the `Timeout`). An invalid
/// (NaN or infinite) delay elapses at once and is logged as an error.
///
/// ```
/// let r = qtloop::run(async {
///     qtloop::timeout(0.01, qtloop::sleep(10.0)).await
/// });
/// assert_eq!(r, Ok(Err(qtloop::Elapsed)));
/// ```
pub fn timeout<F: Future>(delay: impl IntoDelay, fut: F) -> Timeout<F> {
    Timeout {
        fut,
        sleep: sleep(delay),
    }
}

/// asyncio's argument order for [`timeout`].
pub fn wait_for<F: Future>(fut: F, delay: impl IntoDelay) -> Timeout<F> {
    timeout(delay, fut)
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let When::Invalid(e) = &this.sleep.when {
            // As documented: before `fut` is even polled.
            log::error!("qtloop::timeout: {e}; the timeout elapses at once");
            return Poll::Ready(Err(Elapsed));
        }
        if let Poll::Ready(v) = this.fut.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Err(Elapsed)),
            Poll::Ready(Err(e)) => {
                log::error!("qtloop::timeout: {e}; the timeout elapses at once");
                Poll::Ready(Err(Elapsed))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What an [`Interval`] does when ticks were missed (tokio's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back to catch up.
    #[default]
    Burst,
    /// Re-base: the next tick is one period after the late one.
    Delay,
    /// Skip the missed ticks and stay on the original phase.
    Skip,
}

/// A stream of ticks every `period` ([`interval`]); the first tick is
/// immediate. Yields the tick's scheduled time.
pub struct Interval {
    period: Nanos,
    next: Option<Nanos>,
    sleep: Option<Sleep>,
    missed: MissedTickBehavior,
}

/// Ticks every `period` (`f64` seconds or `Duration`); a zero period is
/// `Error::InvalidPeriod`.
pub fn interval(period: impl IntoDelay) -> Result<Interval> {
    let period = period.into_nanos()?;
    if period == 0 {
        return Err(crate::Error::InvalidPeriod);
    }
    Ok(Interval {
        period,
        next: None,
        sleep: None,
        missed: MissedTickBehavior::default(),
    })
}

impl Interval {
    /// Sets the missed-tick behaviour.
    pub fn set_missed_tick_behavior(&mut self, b: MissedTickBehavior) {
        self.missed = b;
    }

    /// The missed-tick behaviour.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Waits for the next tick.
    pub async fn tick(&mut self) -> Instant {
        futures::StreamExt::next(self)
            .await
            .expect("an interval never ends")
    }
}

impl Stream for Interval {
    type Item = Instant;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        let this = &mut *self;
        let lp = polling_loop();
        let now = lp.now().as_nanos();
        let scheduled = *this.next.get_or_insert(now);
        if scheduled > now {
            let sleep = this.sleep.get_or_insert_with(|| Sleep {
                when: When::At(scheduled),
                armed: None,
            });
            if Pin::new(sleep).poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        this.sleep = None;
        let now = lp.now().as_nanos();
        let p = this.period;
        let next = match this.missed {
            MissedTickBehavior::Burst => scheduled + p,
            MissedTickBehavior::Delay if now > scheduled + p => now + p,
            MissedTickBehavior::Delay => scheduled + p,
            MissedTickBehavior::Skip if now >= scheduled + p => {
                scheduled + p * ((now - scheduled) / p + 1)
            }
            MissedTickBehavior::Skip => scheduled + p,
        };
        this.next = Some(next);
        Poll::Ready(Some(nanos_to_instant(scheduled)))
    }
}

/// The loop of the thread that polls a time future.
fn polling_loop() -> EventLoop {
    get_event_loop()
        .expect("qtloop::time futures must be polled on a thread with an open EventLoop")
}

/// `delay` after the loop's now, in loop nanoseconds (saturating).
fn after(lp: &EventLoop, delay: Nanos) -> Nanos {
    (lp.now() + std::time::Duration::from_nanos(delay)).as_nanos()
}

/// Pauses this thread's loop clock (a test clock, like tokio's
/// `time::pause`): `time()` only moves by [`advance`], or jumps to the next
/// deadline when the loop is idle with only timers pending, so timing tests
/// are exact and fast. `Err(Error::NoRunningLoop)` without a loop.
///
/// ```
/// let lp = qtloop::EventLoop::new().unwrap();
/// qtloop::time::pause().unwrap();
/// let t0 = lp.time();
/// let wall = std::time::Instant::now();
/// lp.run_until_complete(qtloop::sleep(3600.0)).unwrap().unwrap(); // an hour...
/// assert!(wall.elapsed().as_secs() < 5); // ...in no time
/// assert!((lp.time() - t0 - 3600.0).abs() < 1e-6);
/// lp.close().unwrap();
/// ```
pub fn pause() -> Result<()> {
    get_event_loop()?.pause_clock();
    Ok(())
}

/// Lets this thread's loop clock follow real time again.
pub fn resume() -> Result<()> {
    get_event_loop()?.resume_clock();
    Ok(())
}

/// Moves this thread's paused loop clock forward by `by`; what becomes due
/// runs in the next iteration.
pub fn advance(by: std::time::Duration) -> Result<()> {
    get_event_loop()?.advance(by);
    Ok(())
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline())
            .field("armed", &self.armed.is_some())
            .finish()
    }
}

impl<F> std::fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeout")
            .field("sleep", &self.sleep)
            .finish()
    }
}

impl std::fmt::Debug for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interval")
            .field("period", &std::time::Duration::from_nanos(self.period))
            .field("missed_tick_behavior", &self.missed)
            .finish()
    }
}
