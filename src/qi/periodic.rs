//! libqi's `PeriodicTask`: a callback called periodically on the loop
//! thread, with libqi's start/stop/asyncStop semantics and its rough edges
//! fixed (no drift, defined concurrent start/stop, cancellable trigger).

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::core::clock::LoopTime;
use crate::core::clock::Nanos;
use crate::core::sync::{Condvar, Mutex, MutexGuard};
use crate::error::{Error, Result};
use crate::runtime::report::report_panic;
use crate::SendTimerHandle;
use crate::{get_event_loop, LoopHandle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Stopped,
    /// A timer (or a request for one) is out.
    Scheduled,
    /// The callback is running.
    Running,
    /// The callback is running and a stop was requested.
    Stopping,
}

#[derive(Debug, Clone, Copy)]
enum When {
    Now,
    After(Nanos),
    /// At this time, or now if it has passed (a compensated task's next
    /// call: one call at once after an overrun, no burst of catch-ups).
    AtOrNow(Nanos),
}

struct State {
    status: Status,
    /// Bumped by every start, stop and trigger: a timer or schedule request
    /// of an older generation does nothing (so the last call wins).
    generation: u64,
    period: Option<Nanos>,
    compensate: bool,
    name: String,
    home: Option<LoopHandle>,
    timer: Option<SendTimerHandle>,
    in_callback: bool,
}

enum Callback {
    /// May be called from any thread (we call it on the loop thread).
    Send(std::sync::Mutex<Box<dyn FnMut() + Send>>),
    /// Lives in its loop thread's [`LOCAL_CALLBACKS`] under this key.
    Local { key: u64 },
}

thread_local! {
    /// `!Send` callbacks of the periodic tasks whose loop is this thread.
    static LOCAL_CALLBACKS: RefCell<HashMap<u64, Box<dyn FnMut()>>> = RefCell::new(HashMap::new());
}

struct Periodic {
    state: Mutex<State>,
    changed: Condvar,
    callback: OnceLock<Callback>,
    /// Under loom there is no Qt loop: schedule requests queue here and a
    /// model thread plays the loop (see `loom_tests`).
    #[cfg(loom)]
    requests: Mutex<Vec<(u64, When)>>,
}

impl Drop for Periodic {
    fn drop(&mut self) {
        if let Some(Callback::Local { key }) = self.callback.get() {
            let key = *key;
            let home = self.lock().home.clone();
            match home {
                Some(h) if !h.is_current() => {
                    let _ = h.call_soon_threadsafe(move || remove_local(key));
                }
                _ => remove_local(key),
            }
        }
    }
}

fn remove_local(key: u64) {
    let _ = LOCAL_CALLBACKS.try_with(|m| m.borrow_mut().remove(&key));
}

impl Periodic {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Calls a callback every period on the loop thread (libqi's
/// `qi::PeriodicTask`). The callback may touch GUI objects' thread-bound
/// state through the loop; it is never called twice at once.
///
/// - `start(immediate)`: no effect if running; an error without callback
///   or period. `stop()`: when it returns, the callback is not running and
///   will not be called again; it waits for an in-flight callback, except on
///   the loop thread (from inside the callback, or while it runs a nested
///   loop), where waiting could never end. `async_stop()`: the same request
///   without waiting.
/// - Without compensation the period counts from the end of a call. With
///   [`compensate_callback_time`](Self::compensate_callback_time) it counts
///   from the *planned* start of the previous call, so the schedule never
///   drifts. A call that overran the period (or a loop that was blocked)
///   is followed by one call at once, and the cadence goes on from there:
///   as in libqi, which waits `max(0, period − call duration)`, missed
///   calls are not made up in a burst.
/// - `start`, `stop`, `async_stop` and `trigger` may be called from any
///   thread at any time: the last call wins.
/// - A panicking callback stops the task; the panic goes to the loop's
///   exception handler.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// let lp = qtloop::EventLoop::new().unwrap();
/// let task = qtloop::qi::PeriodicTask::new();
/// let n = Arc::new(AtomicU32::new(0));
/// let c = n.clone();
/// task.set_callback(move || { c.fetch_add(1, Ordering::SeqCst); }).unwrap();
/// task.set_period(Duration::from_millis(5)).unwrap();
/// task.start(true).unwrap();
/// lp.run_until_complete(qtloop::sleep(0.052)).unwrap().unwrap();
/// task.stop();
/// assert!(n.load(Ordering::SeqCst) >= 5);
/// lp.close().unwrap();
/// ```
pub struct PeriodicTask {
    inner: Arc<Periodic>,
}

impl Default for PeriodicTask {
    fn default() -> Self {
        Self::new()
    }
}

impl PeriodicTask {
    /// A stopped task bound to this thread's loop (or, if this thread has
    /// none, to the loop of the thread that first calls `start`).
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Periodic {
                state: Mutex::new(State {
                    status: Status::Stopped,
                    generation: 0,
                    period: None,
                    compensate: false,
                    name: String::from("PeriodicTask"),
                    home: get_event_loop().ok().map(|lp| lp.handle()),
                    timer: None,
                    in_callback: false,
                }),
                changed: Condvar::new(),
                callback: OnceLock::new(),
                #[cfg(loom)]
                requests: Mutex::new(Vec::new()),
            }),
        }
    }

    /// A stopped task whose callback runs on `home`'s loop.
    pub fn with_loop(home: LoopHandle) -> Self {
        let t = Self::new();
        t.inner.lock().home = Some(home);
        t
    }

    /// Sets the callback, once: a second call is `Err(Error::CallbackAlreadySet)`.
    pub fn set_callback(&self, f: impl FnMut() + Send + 'static) -> Result<()> {
        self.inner
            .callback
            .set(Callback::Send(std::sync::Mutex::new(Box::new(f))))
            .map_err(|_| Error::CallbackAlreadySet)
    }

    /// Sets a `!Send` callback (one that holds GUI state, `Rc`s...), once.
    /// It must be called on the loop thread the task runs on
    /// (`Err(Error::WrongThread)` otherwise); the task itself can still be
    /// started and stopped from any thread.
    pub fn set_callback_local(&self, f: impl FnMut() + 'static) -> Result<()> {
        let here = get_event_loop().ok().map(|lp| lp.handle());
        {
            let mut st = self.inner.lock();
            if st.home.is_none() {
                st.home.clone_from(&here);
            }
            if here.is_none() || st.home.as_ref().is_none_or(|h| !h.is_current()) {
                return Err(Error::WrongThread(
                    "set_callback_local must be called on the loop thread the task runs on",
                ));
            }
        }
        static NEXT_KEY: AtomicU64 = AtomicU64::new(1);
        let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        self.inner
            .callback
            .set(Callback::Local { key })
            .map_err(|_| Error::CallbackAlreadySet)?;
        LOCAL_CALLBACKS.with(|m| m.borrow_mut().insert(key, Box::new(f)));
        Ok(())
    }

    /// Sets the period in microseconds (libqi's `setUsPeriod`); zero or
    /// negative is `Err(Error::InvalidPeriod)`. It applies from the next
    /// scheduling: at once if called from inside the callback.
    pub fn set_us_period(&self, us: i64) -> Result<()> {
        if us <= 0 {
            return Err(Error::InvalidPeriod);
        }
        // Saturates at about 146 years (the loop's longest delay).
        let ns = (us as u64)
            .saturating_mul(1_000)
            .min(crate::core::clock::MAX_DELAY);
        self.inner.lock().period = Some(ns);
        Ok(())
    }

    /// Sets the period; zero is `Err(Error::InvalidPeriod)`.
    pub fn set_period(&self, period: Duration) -> Result<()> {
        let ns = u64::try_from(period.as_nanos())
            .unwrap_or(u64::MAX)
            .min(crate::core::clock::MAX_DELAY);
        if ns == 0 {
            return Err(Error::InvalidPeriod);
        }
        self.inner.lock().period = Some(ns);
        Ok(())
    }

    /// The period.
    pub fn period(&self) -> Option<Duration> {
        self.inner.lock().period.map(Duration::from_nanos)
    }

    /// Counts the period from the planned start of the previous call
    /// (`true`) or from the end of it (`false`, the default).
    pub fn compensate_callback_time(&self, compensate: bool) {
        self.inner.lock().compensate = compensate;
    }

    /// Names the task (for logs and error reports).
    pub fn set_name(&self, name: &str) {
        name.clone_into(&mut self.inner.lock().name);
    }

    /// The task's name.
    pub fn name(&self) -> String {
        self.inner.lock().name.clone()
    }

    /// Starts calling the callback every period, the first time at once if
    /// `immediate`, else after one period. No effect if already running.
    /// Errors: no callback (`InvalidArgument`), no period (`InvalidPeriod`),
    /// no event loop to run on (`NoRunningLoop`).
    pub fn start(&self, immediate: bool) -> Result<()> {
        if self.inner.callback.get().is_none() {
            return Err(Error::InvalidArgument(
                "PeriodicTask::start: no callback (call set_callback first)".into(),
            ));
        }
        let mut st = self.inner.lock();
        let period = st.period.ok_or(Error::InvalidPeriod)?;
        #[cfg(not(loom))]
        if st.home.is_none() {
            st.home = Some(get_event_loop()?.handle());
        }
        match st.status {
            Status::Scheduled | Status::Running => Ok(()),
            Status::Stopping => {
                // A stop is waiting for the callback to return: this start
                // is the later call, so the task goes on.
                st.status = Status::Running;
                Ok(())
            }
            Status::Stopped => {
                st.generation += 1;
                st.status = Status::Scheduled;
                let gen = st.generation;
                let home = st.home.clone();
                drop(st);
                let when = if immediate {
                    When::Now
                } else {
                    When::After(period)
                };
                schedule(&self.inner, home, gen, when);
                Ok(())
            }
        }
    }

    /// Stops the task. When it returns, the callback is not running (unless
    /// this is the loop thread, see the type's docs) and will not be called
    /// again, unless `start` is called again.
    pub fn stop(&self) {
        let home = self.request_stop();
        let on_loop = home.is_some_and(|h| h.is_current());
        if on_loop {
            return;
        }
        let mut st = self.inner.lock();
        while st.in_callback {
            st = self
                .inner
                .changed
                .wait(st)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Requests a stop and returns at once (callable from the callback).
    pub fn async_stop(&self) {
        self.request_stop();
    }

    fn request_stop(&self) -> Option<LoopHandle> {
        let (timer, home) = {
            let mut st = self.inner.lock();
            st.generation += 1;
            st.status = match st.status {
                Status::Stopped | Status::Scheduled => Status::Stopped,
                Status::Running | Status::Stopping => Status::Stopping,
            };
            (st.timer.take(), st.home.clone())
        };
        if let Some(t) = timer {
            t.cancel();
        }
        self.inner.changed.notify_all();
        home
    }

    /// Calls the callback as soon as possible instead of at its next time,
    /// if the task is waiting for it (no effect while it runs or is stopped).
    pub fn trigger(&self) {
        let (timer, home, gen) = {
            let mut st = self.inner.lock();
            if st.status != Status::Scheduled {
                return;
            }
            st.generation += 1;
            (st.timer.take(), st.home.clone(), st.generation)
        };
        if let Some(t) = timer {
            t.cancel();
        }
        schedule(&self.inner, home, gen, When::Now);
    }

    /// Whether the task is started (waiting for its next call or in it).
    pub fn is_running(&self) -> bool {
        matches!(
            self.inner.lock().status,
            Status::Scheduled | Status::Running
        )
    }

    /// Whether the task is stopping or stopped (callable from the callback
    /// to see whether `stop`/`async_stop` was called).
    pub fn is_stopping(&self) -> bool {
        matches!(self.inner.lock().status, Status::Stopping | Status::Stopped)
    }
}

impl Drop for PeriodicTask {
    /// Stops the task (waiting for an in-flight callback off the loop thread).
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for PeriodicTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.inner.lock();
        f.debug_struct("PeriodicTask")
            .field("name", &st.name)
            .field("status", &st.status)
            .field("period", &st.period.map(Duration::from_nanos))
            .field("compensate", &st.compensate)
            .finish()
    }
}

/// Arms the next call, on the loop thread (posted there from other threads).
fn schedule(p: &Arc<Periodic>, home: Option<LoopHandle>, gen: u64, when: When) {
    #[cfg(loom)]
    {
        let _ = home;
        p.requests.lock().unwrap().push((gen, when));
    }
    #[cfg(not(loom))]
    schedule_via(p, home, gen, when);
}

#[cfg(not(loom))]
fn schedule_via(p: &Arc<Periodic>, home: Option<LoopHandle>, gen: u64, when: When) {
    let Some(home) = home else { return };
    if home.is_current() {
        schedule_on_loop(p, gen, when);
    } else {
        let p = p.clone();
        if home
            .call_soon_threadsafe(move || schedule_on_loop(&p, gen, when))
            .is_err()
        {
            log::warn!("PeriodicTask: its event loop is closed; the task stops");
        }
    }
}

fn schedule_on_loop(p: &Arc<Periodic>, gen: u64, when: When) {
    #[cfg(loom)]
    {
        p.requests.lock().unwrap().push((gen, when));
        return;
    }
    #[allow(unreachable_code)]
    let lp = get_event_loop().ok();
    let Some(lp) = lp else {
        // The loop closed before this request ran: the task stops.
        let mut st = p.lock();
        if st.generation == gen && st.status == Status::Scheduled {
            st.status = Status::Stopped;
            drop(st);
            p.changed.notify_all();
        }
        return;
    };
    let now = lp.now().as_nanos();
    let at = match when {
        When::Now => now,
        When::After(d) => now.saturating_add(d),
        When::AtOrNow(t) => t.max(now),
    };
    let mut st = p.lock();
    if st.generation != gen || st.status != Status::Scheduled {
        return; // a later start/stop/trigger took over
    }
    let task = p.clone();
    match lp.call_at_send(LoopTime::from_nanos(at), move || fire(&task, gen, at)) {
        Ok(t) => st.timer = Some(t),
        Err(_) => {
            st.status = Status::Stopped;
            drop(st);
            p.changed.notify_all();
        }
    }
}

/// A timer fired: run the callback and plan the next call.
fn fire(p: &Arc<Periodic>, gen: u64, planned: Nanos) {
    {
        let mut st = p.lock();
        if st.generation != gen || st.status != Status::Scheduled {
            return;
        }
        st.status = Status::Running;
        st.in_callback = true;
        st.timer = None;
    }
    let result = match p.callback.get() {
        Some(Callback::Send(cb)) => catch_unwind(AssertUnwindSafe(|| {
            let mut f = cb.lock().unwrap_or_else(|e| e.into_inner());
            f()
        })),
        Some(Callback::Local { key }) => {
            // Out of the table while it runs: no borrow is held across it.
            let f = LOCAL_CALLBACKS.with(|m| m.borrow_mut().remove(key));
            match f {
                Some(mut f) => {
                    let r = catch_unwind(AssertUnwindSafe(&mut f));
                    LOCAL_CALLBACKS.with(|m| m.borrow_mut().insert(*key, f));
                    r
                }
                None => Ok(()),
            }
        }
        None => Ok(()),
    };
    let mut st = p.lock();
    st.in_callback = false;
    let next = match (&result, st.status) {
        (Err(_), _) => {
            st.status = Status::Stopped;
            st.generation += 1;
            None
        }
        (Ok(()), Status::Running) => {
            let period = st.period.unwrap_or(1);
            st.status = Status::Scheduled;
            let when = if st.compensate {
                When::AtOrNow(planned.saturating_add(period))
            } else {
                When::After(period)
            };
            Some((st.generation, when))
        }
        (Ok(()), _) => {
            st.status = Status::Stopped;
            None
        }
    };
    let name = st.name.clone();
    drop(st);
    p.changed.notify_all();
    if let Some((gen, when)) = next {
        schedule_on_loop(p, gen, when);
    }
    if let Err(payload) = result {
        report_panic(
            format!("Exception in PeriodicTask {name}; the task is stopped"),
            &*payload,
        );
    }
}

/// loom models of the state machine (`scripts/loom`): start, stop,
/// async_stop and trigger from several threads while a model thread plays
/// the loop (it takes schedule requests and fires the callback).
#[cfg(all(test, loom))]
mod loom_tests {
    // loom's atomic, so that loom sees the callback's effect as a step it
    // can interleave (a std atomic would be invisible to it).
    use loom::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// The loop's side of a schedule request: fire if still current.
    fn run_one(p: &Arc<Periodic>) -> bool {
        let req = p.requests.lock().unwrap().pop();
        match req {
            Some((gen, _)) => {
                fire(p, gen, 0);
                true
            }
            None => false,
        }
    }

    fn has_live_request(p: &Arc<Periodic>) -> bool {
        let gen = p.lock().generation;
        p.requests.lock().unwrap().iter().any(|(g, _)| *g == gen)
    }

    fn counting() -> (Arc<PeriodicTask>, Arc<AtomicUsize>) {
        let task = Arc::new(PeriodicTask::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        task.set_callback(move || {
            c.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        task.set_us_period(1000).unwrap();
        (task, calls)
    }

    /// When stop() returns (off the loop thread), the callback is not
    /// running and is never called again.
    #[test]
    fn no_call_after_stop_returns() {
        loom::model(|| {
            let (task, calls) = counting();
            task.start(true).unwrap();
            let p = task.inner.clone();
            let the_loop = loom::thread::spawn(move || {
                for _ in 0..2 {
                    run_one(&p);
                }
            });
            let (t, c) = (task.clone(), calls.clone());
            let stopper = loom::thread::spawn(move || {
                t.stop();
                c.load(Ordering::SeqCst)
            });
            let at_stop = stopper.join().unwrap();
            the_loop.join().unwrap();
            while run_one(&task.inner) {}
            assert_eq!(calls.load(Ordering::SeqCst), at_stop);
            assert!(!task.is_running());
        });
    }

    /// Racing start/stop/trigger: at rest, the task is running exactly when
    /// a call for its current generation is on its way (never "running"
    /// with nothing scheduled, never stopped with a live call).
    #[test]
    fn racing_calls_leave_a_consistent_state() {
        loom::model(|| {
            let (task, _calls) = counting();
            let p = task.inner.clone();
            let the_loop = loom::thread::spawn(move || {
                run_one(&p);
            });
            let t = task.clone();
            let a = loom::thread::spawn(move || {
                t.start(false).unwrap();
                t.trigger();
            });
            let t = task.clone();
            let b = loom::thread::spawn(move || {
                t.async_stop();
                t.start(true).unwrap();
            });
            a.join().unwrap();
            b.join().unwrap();
            the_loop.join().unwrap();
            let running = task.is_running();
            assert_eq!(
                running,
                has_live_request(&task.inner) || task.inner.lock().in_callback
            );
        });
    }
}
