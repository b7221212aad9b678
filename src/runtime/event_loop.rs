//! `EventLoop`: the asyncio API on the core and the Qt driver.

use std::cell::RefCell;
use std::future::Future;
use std::panic::Location;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::context;
use super::exception::ExceptionContext;
use super::inner;
pub(crate) use super::inner::Remote;
use super::inner::{default_handler, DriverRef, HandlerFn, LoopHooks};
pub(crate) use super::inner::{ExecutorSlot, LoopInner};
pub use super::loop_handle::LoopHandle;
use super::task::{self, AbortHandle, Task, TaskInfo};
use crate::core::clock::{self, nanos_to_secs, IntoDeadline, IntoDelay, LoopTime};
use crate::core::{Core, Handle, SendTimerHandle, TimerHandle};
use crate::driver::{self, QtDriver, SinkTarget};
use crate::error::{Error, Result};

/// An asyncio event loop that runs on Qt's event loop.
///
/// One per thread; it lives on that thread (`!Send`) and clones are cheap.
/// Its callbacks and tasks run whenever the thread's Qt event loop runs:
/// in [`run_forever`](Self::run_forever) / [`run_until_complete`](Self::run_until_complete),
/// in the application's own `exec()`, and in nested loops such as modal
/// dialogs. Use [`handle`](Self::handle) to reach it from other threads.
///
/// ```
/// let lp = qtloop::EventLoop::new().unwrap();
/// let t0 = lp.time();
/// let answer = lp.run_until_complete(async move {
///     qtloop::sleep(0.01).await;
///     42
/// });
/// assert_eq!(answer, Ok(42));
/// assert!(lp.time() - t0 >= 0.01);
/// lp.close().unwrap();
/// ```
#[derive(Clone)]
pub struct EventLoop {
    pub(crate) inner: Rc<LoopInner>,
}

impl EventLoop {
    /// Creates the event loop of this thread, and a `QCoreApplication` if
    /// the process has no application object yet (create your
    /// `QGuiApplication` first if you need one).
    ///
    /// Fails with [`Error::LoopExists`] if this thread already has an open
    /// loop: use [`get_event_loop`] to reach it, or close it first.
    pub fn new() -> Result<EventLoop> {
        if inner::current().is_some_and(|l| !l.core.is_closed()) {
            return Err(Error::LoopExists);
        }
        driver::app::ensure_core_application(false);
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let inner = Rc::new_cyclic(|this: &Weak<LoopInner>| {
            let target: Weak<dyn SinkTarget> = this.clone();
            let driver = Rc::new(QtDriver::new(target));
            let core = Core::new(
                Box::new(DriverRef(driver.clone())),
                Box::new(driver.remote_waker()),
                Box::new(LoopHooks(this.clone())),
            );
            let remote = Arc::new(Remote::new(
                id,
                context::thread_token(),
                core.inbox().clone(),
            ));
            LoopInner {
                core,
                driver,
                remote,
                handler: RefCell::new(None),
                tasks: RefCell::new(inner::TaskRegistry::default()),
                executor: RefCell::new(ExecutorSlot::Unset),
                this: this.clone(),
            }
        });
        inner::set_current(&inner, id);
        Ok(EventLoop { inner })
    }

    pub(crate) fn from_inner(inner: Rc<LoopInner>) -> Self {
        Self { inner }
    }

    pub(crate) fn core(&self) -> &Core {
        &self.inner.core
    }

    /// The loop's time in seconds, on a monotonic clock (asyncio `loop.time()`).
    pub fn time(&self) -> f64 {
        nanos_to_secs(self.core().now())
    }

    /// Schedules `f` for the next iteration; callbacks run in the order
    /// they were scheduled (asyncio `call_soon`).
    ///
    /// Fails with [`Error::Closed`] on a closed loop.
    #[track_caller]
    pub fn call_soon<F: FnOnce() + 'static>(&self, f: F) -> Result<Handle> {
        self.core().call_soon(f, Location::caller())
    }

    /// Schedules `f` after `delay` (`f64` seconds or `Duration`). Timers
    /// run in deadline order, equal deadlines in scheduling order. As in
    /// asyncio the deadline is `time() + delay`, also for a negative delay:
    /// `call_later(-2.0, b)` runs before `call_later(-1.0, a)`.
    #[track_caller]
    pub fn call_later<F: FnOnce() + 'static>(
        &self,
        delay: impl IntoDelay,
        f: F,
    ) -> Result<TimerHandle> {
        let delay = delay.into_signed_nanos()?;
        let when = clock::deadline_after(self.core().now(), delay);
        self.core().call_at(when, f, Location::caller())
    }

    /// The loop clock now, exact to the nanosecond ([`time`](Self::time)
    /// is the same clock in seconds). Follows a paused clock.
    pub fn now(&self) -> LoopTime {
        LoopTime::from_nanos(self.core().now())
    }

    /// Like [`call_at`](Self::call_at), for a `Send` callback: the handle
    /// is `Send + Sync` and cancels the timer from any thread (the callback
    /// still runs on the loop thread). The timer primitive that `Send`
    /// futures such as [`sleep`](crate::sleep) and `qi::PeriodicTask` are
    /// built on.
    #[track_caller]
    pub fn call_at_send<F: FnOnce() + Send + 'static>(
        &self,
        when: impl IntoDeadline,
        f: F,
    ) -> Result<SendTimerHandle> {
        let when = when.into_deadline()?;
        self.core().call_at_shared(when, f, Location::caller())
    }

    /// Schedules `f` at `when`: loop time in seconds (`lp.time() + 0.2`),
    /// a [`LoopTime`] or an `Instant`.
    #[track_caller]
    pub fn call_at<F: FnOnce() + 'static>(
        &self,
        when: impl IntoDeadline,
        f: F,
    ) -> Result<TimerHandle> {
        let when = when.into_deadline()?;
        self.core().call_at(when, f, Location::caller())
    }

    /// Wraps `fut` in a task scheduled on this loop (`!Send` futures are
    /// fine). The task starts in the next iteration.
    pub fn create_task<F>(&self, fut: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let (runnable, task) = task::spawn_local(self.inner.remote.scheduler(false), fut);
        runnable.schedule();
        task
    }

    /// Runs the loop until `fut` completes and returns its output.
    ///
    /// Fails with [`Error::AlreadyRunning`] inside a running loop,
    /// [`Error::Closed`] on a closed one, [`Error::StoppedBeforeComplete`]
    /// if `stop()` ended the loop first, [`Error::Panicked`] if `fut`
    /// panicked.
    pub fn run_until_complete<F>(&self, fut: F) -> Result<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.check_can_run()?;
        let armed = Rc::new(std::cell::Cell::new(true));
        let stopper = StopOnDrop(Rc::downgrade(&self.inner), armed.clone());
        let mut task = self.create_task(async move {
            let _stop_when_done = stopper;
            fut.await
        });
        self.run_forever()?;
        // A future that finishes after this call returned must not stop a
        // later, unrelated run (asyncio removes its done-callback too).
        armed.set(false);
        match task.take_output() {
            Some(r) => r.map_err(Error::from),
            None => Err(Error::StoppedBeforeComplete),
        }
    }

    fn check_can_run(&self) -> Result<()> {
        if self.core().is_closed() {
            return Err(Error::Closed);
        }
        if self.core().is_running() {
            return Err(Error::AlreadyRunning);
        }
        Ok(())
    }

    /// Runs the loop until [`stop`](Self::stop) is called (or the
    /// application quits). A `stop()` issued before the call makes it run
    /// one iteration and return, as in asyncio.
    pub fn run_forever(&self) -> Result<()> {
        self.check_can_run()?;
        self.core().set_running(true);
        self.inner.driver.exec_loop();
        self.core().set_running(false);
        Ok(())
    }

    /// Asks `run_forever` to return once the current iteration completes.
    pub fn stop(&self) {
        self.core().stop();
    }

    /// Whether `run_forever` or `run_until_complete` is running.
    pub fn is_running(&self) -> bool {
        self.core().is_running()
    }

    /// Closes the loop: pending tasks are cancelled (their futures dropped
    /// here, on the loop thread), queued callbacks and timers are dropped,
    /// and scheduling fails with [`Error::Closed`] from now on. Idempotent;
    /// [`Error::AlreadyRunning`] while running.
    pub fn close(&self) -> Result<()> {
        if self.core().is_running() {
            return Err(Error::AlreadyRunning);
        }
        if self.core().is_closed() {
            return Ok(());
        }
        self.inner.shut();
        Ok(())
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.core().is_closed()
    }

    /// A `Send + Sync` handle for other threads.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle {
            remote: self.inner.remote.clone(),
        }
    }

    /// Sets the handler that receives panics of callbacks and tasks
    /// (`None` restores the default, which logs at ERROR). If the handler
    /// itself panics, the default handler reports both.
    pub fn set_exception_handler<H>(&self, handler: Option<H>)
    where
        H: Fn(&EventLoop, &ExceptionContext) + 'static,
    {
        *self.inner.handler.borrow_mut() = handler.map(|h| Rc::new(h) as Rc<HandlerFn>);
    }

    /// Restores the default exception handler (what
    /// `set_exception_handler(None)` does, without naming a handler type
    /// for the `None`).
    pub fn reset_exception_handler(&self) {
        *self.inner.handler.borrow_mut() = None;
    }

    /// Calls the current exception handler with `ctx`.
    pub fn call_exception_handler(&self, ctx: ExceptionContext) {
        self.inner.call_exception_handler(ctx);
    }

    /// The default exception handler: logs `ctx` at ERROR.
    pub fn default_exception_handler(&self, ctx: &ExceptionContext) {
        default_handler(ctx);
    }

    /// Turns debug mode on or off: slow callbacks are logged at WARN.
    pub fn set_debug(&self, on: bool) {
        self.core().set_debug(on);
    }

    /// Whether debug mode is on.
    pub fn get_debug(&self) -> bool {
        self.core().debug()
    }

    /// Sets the duration above which debug mode reports a callback (100 ms
    /// by default).
    pub fn set_slow_callback_duration(&self, d: Duration) {
        self.core().set_slow_callback_duration(d);
    }

    /// The slow-callback duration.
    pub fn slow_callback_duration(&self) -> Duration {
        self.core().slow_callback_duration()
    }

    /// The time one Qt wake-up may spend running callbacks before control
    /// goes back to Qt (1.5 ms by default).
    pub fn set_dispatch_budget(&self, d: Duration) {
        self.core().set_budget(d);
    }

    /// How the loop sleeps until its next deadline: `"timerfd"` (Linux: a
    /// nanosecond `timerfd` watched by Qt's dispatcher) or `"qtimer"` (a
    /// precise `QTimer` for the wait rounded up to whole milliseconds;
    /// chosen elsewhere, or with `QTLOOP_TIMER=qtimer`). Both sleep in the
    /// kernel, and neither fires early.
    pub fn deadline_timer(&self) -> &'static str {
        if self.inner.driver.uses_timerfd() {
            "timerfd"
        } else {
            "qtimer"
        }
    }

    /// Snapshots of the tasks that have started and not finished, by id.
    pub fn all_tasks(&self) -> Vec<TaskInfo> {
        let mut v: Vec<_> = self
            .inner
            .tasks
            .borrow()
            .iter()
            .map(|(_, t)| t.info())
            .collect();
        v.sort_by_key(|t| t.id);
        v
    }

    /// Pauses the loop clock (a test clock): time moves only by
    /// [`advance`](Self::advance), or jumps to the next timer when the loop
    /// is idle with only timers pending.
    pub fn pause_clock(&self) {
        self.core().clock().pause();
    }

    /// Lets the loop clock run in real time again.
    pub fn resume_clock(&self) {
        self.core().clock().resume();
    }

    /// Moves a paused clock forward by `by`; what becomes due runs in the
    /// next iteration.
    pub fn advance(&self, by: Duration) {
        // A Duration always converts (it saturates); see IntoDelay.
        self.core()
            .advance(by.into_nanos().unwrap_or(clock::MAX_DELAY));
    }
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("id", &self.inner.remote.id)
            .field("core", &self.inner.core)
            .finish()
    }
}

/// Stops the loop when `run_until_complete`'s future is done, while that
/// call is still running (the flag).
struct StopOnDrop(Weak<LoopInner>, Rc<std::cell::Cell<bool>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if !self.1.get() {
            return;
        }
        if let Some(inner) = self.0.upgrade() {
            inner.core.stop();
        }
    }
}

/// The loop of this thread if it is running or running callbacks (asyncio
/// `get_running_loop`); [`Error::NoRunningLoop`] otherwise.
pub fn get_running_loop() -> Result<EventLoop> {
    match inner::current() {
        Some(inner) if inner.core.is_running() || inner.core.is_dispatching() => {
            Ok(EventLoop { inner })
        }
        _ => Err(Error::NoRunningLoop),
    }
}

/// This thread's open loop, running or not; [`Error::NoRunningLoop`] if
/// the thread has none.
pub fn get_event_loop() -> Result<EventLoop> {
    match inner::current() {
        Some(inner) if !inner.core.is_closed() => Ok(EventLoop { inner }),
        _ => Err(Error::NoRunningLoop),
    }
}

/// Spawns a `!Send` future on this thread's loop (tokio's `spawn_local`).
///
/// # Panics
/// If this thread has no open [`EventLoop`].
pub fn spawn_local<F>(fut: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    get_event_loop()
        .expect("qtloop::spawn_local needs an EventLoop on this thread (EventLoop::new())")
        .create_task(fut)
}

/// The task being polled on this thread, if any (asyncio's
/// `current_task()`): a handle that names it (`set_name`), reads it
/// (`info()`, `status()`) or cancels it (`cancel()`: it ends with
/// `TaskError::Cancelled` at its next await).
pub fn current_task() -> Option<AbortHandle> {
    let (id, slot) = context::current_task()?;
    let inner = inner::current()?;
    let tasks = inner.tasks.borrow();
    tasks
        .get(slot)
        .filter(|t| t.id() == id)
        .map(|t| AbortHandle::from_state(t.clone()))
}
