//! libqi's `Promise` and `Future`: a value, an error or a cancellation that
//! arrives later, shared by any number of readers.

use std::fmt;
use std::future::Future as StdFuture;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use slab::Slab;

use crate::core::clock::IntoDelay;
use crate::error::{into_panic_message, Error, Result};
use crate::runtime::report::report_panic_payload;
use crate::{get_event_loop, LoopHandle};

/// Where a [`Future`] is (libqi's `FutureState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FutureState {
    /// Not finished yet.
    Running,
    /// Finished by cancellation.
    Canceled,
    /// Finished with an error.
    FinishedWithError,
    /// Finished with a value.
    FinishedWithValue,
}

#[derive(Clone)]
enum Outcome<T> {
    Value(T),
    Error(String),
    Canceled,
}

type Callback<T> = Box<dyn FnOnce(&Future<T>) + Send>;
type OnCancel<T> = Box<dyn FnOnce(&Promise<T>) + Send>;

struct Inner<T: Clone + Send + 'static> {
    outcome: Option<Outcome<T>>,
    cancel_requested: bool,
    on_cancel: Option<OnCancel<T>>,
    /// Callbacks waiting for the outcome, with the loop to run them on.
    callbacks: Vec<(Option<LoopHandle>, Callback<T>)>,
    /// The awaiting futures' wakers, one slot each: an awaiter that is
    /// dropped (a timed-out `await`) frees its slot.
    wakers: Slab<Waker>,
    promises: usize,
}

struct Shared<T: Clone + Send + 'static> {
    inner: Mutex<Inner<T>>,
    done: Condvar,
}

impl<T: Clone + Send + 'static> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        crate::core::sync::lock(&self.inner)
    }
}

/// The writing end: sets the value, an error or the cancellation, once.
///
/// Cloning gives another handle to the same promise. When the last handle is
/// dropped without an outcome, the future finishes with the error "Promise
/// broken (all promises are destroyed)", as in libqi.
pub struct Promise<T: Clone + Send + 'static> {
    shared: Arc<Shared<T>>,
}

impl<T: Clone + Send + 'static> Promise<T> {
    /// A promise whose future is running.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner {
                    outcome: None,
                    cancel_requested: false,
                    on_cancel: None,
                    callbacks: Vec::new(),
                    wakers: Slab::new(),
                    promises: 1,
                }),
                done: Condvar::new(),
            }),
        }
    }

    /// A promise that calls `on_cancel` when its future's `cancel()` is
    /// called (at most once); `on_cancel` decides, e.g. by calling
    /// [`set_canceled`](Self::set_canceled).
    pub fn with_on_cancel(on_cancel: impl FnOnce(&Promise<T>) + Send + 'static) -> Self {
        let p = Self::new();
        p.shared.lock().on_cancel = Some(Box::new(on_cancel));
        p
    }

    /// The reading end.
    pub fn future(&self) -> Future<T> {
        Future::of(&self.shared)
    }

    /// Finishes the future with `value`; `Err(Error::PromiseAlreadySet)`
    /// if it has finished already.
    pub fn set_value(&self, value: T) -> Result<()> {
        finish(&self.shared, Outcome::Value(value))
    }

    /// Finishes the future with an error message.
    pub fn set_error(&self, message: impl Into<String>) -> Result<()> {
        finish(&self.shared, Outcome::Error(message.into()))
    }

    /// Finishes the future as canceled.
    pub fn set_canceled(&self) -> Result<()> {
        finish(&self.shared, Outcome::Canceled)
    }

    /// Whether the future's `cancel()` was called.
    pub fn is_cancel_requested(&self) -> bool {
        self.shared.lock().cancel_requested
    }
}

impl<T: Clone + Send + 'static> Default for Promise<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Send + 'static> Clone for Promise<T> {
    fn clone(&self) -> Self {
        self.shared.lock().promises += 1;
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T: Clone + Send + 'static> Drop for Promise<T> {
    fn drop(&mut self) {
        let broken = {
            let mut inner = self.shared.lock();
            inner.promises -= 1;
            inner.promises == 0 && inner.outcome.is_none()
        };
        if broken {
            let _ = finish(
                &self.shared,
                Outcome::Error("Promise broken (all promises are destroyed)".into()),
            );
        }
    }
}

impl<T: Clone + Send + 'static> fmt::Debug for Promise<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Promise")
            .field("state", &self.future().state())
            .finish()
    }
}

fn finish<T: Clone + Send + 'static>(shared: &Arc<Shared<T>>, outcome: Outcome<T>) -> Result<()> {
    let (callbacks, wakers) = {
        let mut inner = shared.lock();
        if inner.outcome.is_some() {
            return Err(Error::PromiseAlreadySet);
        }
        inner.outcome = Some(outcome);
        inner.on_cancel = None;
        (
            std::mem::take(&mut inner.callbacks),
            std::mem::take(&mut inner.wakers),
        )
    };
    shared.done.notify_all();
    for w in wakers.into_iter().map(|(_, w)| w) {
        w.wake();
    }
    for (home, cb) in callbacks {
        schedule_callback(home, Future::of(shared), cb);
    }
    Ok(())
}

/// Schedules a callback of a finished future: on its loop (posted, also
/// from the loop's own thread, so it never runs inside the setter); if it
/// has none, on this thread's loop if there is one; else (or if that loop
/// is gone) on this thread once the outermost continuation here returns.
/// Either way a chain of `then`s of any length runs one link at a time and
/// never grows the stack.
fn schedule_callback<T: Clone + Send + 'static>(
    home: Option<LoopHandle>,
    fut: Future<T>,
    cb: Callback<T>,
) {
    let job: Job = Box::new(move || call_guarded(&fut, cb));
    let home = home.or_else(|| get_event_loop().ok().map(|lp| lp.handle()));
    if let Some(h) = home {
        // The slot gives the job back if the loop refuses the post.
        let slot = Arc::new(Mutex::new(Some(job)));
        let s = slot.clone();
        let posted = h.call_soon_threadsafe(move || {
            let job = crate::core::sync::lock(&s).take();
            if let Some(job) = job {
                job();
            }
        });
        if posted.is_ok() {
            return;
        }
        log::debug!("qi::Future: a callback's loop is closed; it runs in the setter's thread");
        let Some(job) = crate::core::sync::lock(&slot).take() else {
            return;
        };
        trampoline(job);
    } else {
        trampoline(job);
    }
}

type Job = Box<dyn FnOnce() + Send>;

fn call_guarded<T: Clone + Send + 'static>(fut: &Future<T>, cb: Callback<T>) {
    if let Err(p) = catch_unwind(AssertUnwindSafe(|| cb(fut))) {
        report_panic_payload("Exception in qi::Future callback", p);
    }
}

/// Runs `job` on this thread without nesting: inside another job it is
/// queued and runs when that one returns. What chains of continuations and
/// of cancellations (one `then` cancelling its source) run through, so
/// that no chain length overflows the stack. Each job's panic (or its
/// drop's) goes to the exception handler.
fn trampoline(job: Job) {
    // During thread teardown (a promise dropped by a thread-local's
    // destructor) the queue is gone: run the job here.
    let queued = RUNNING.try_with(|r| r.replace(true));
    match queued {
        Err(_) => return run_job(job),
        Ok(true) => {
            if let Err(job) = push_job(job) {
                run_job(job);
            }
            return;
        }
        Ok(false) => {}
    }
    run_job(job);
    run_queued_jobs();
    let _ = RUNNING.try_with(|r| r.set(false));
}

thread_local! {
    /// Whether this thread is inside [`trampoline`].
    static RUNNING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static QUEUE: std::cell::RefCell<std::collections::VecDeque<Job>> =
        const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
}

/// Queues `job` behind the running one; gives it back if the queue is
/// gone (thread teardown).
fn push_job(job: Job) -> std::result::Result<(), Job> {
    let slot = std::cell::Cell::new(Some(job));
    match QUEUE.try_with(|q| q.borrow_mut().extend(slot.take())) {
        Ok(()) => Ok(()),
        Err(_) => Err(slot.take().expect("not taken when the queue is gone")),
    }
}

fn run_job(job: Job) {
    if let Err(p) = catch_unwind(AssertUnwindSafe(job)) {
        report_panic_payload("Exception in qi::Future callback", p);
    }
}

/// Runs what the trampoline queued on this thread, until nothing is left.
fn run_queued_jobs() {
    while let Some(job) = QUEUE
        .try_with(|q| q.borrow_mut().pop_front())
        .ok()
        .flatten()
    {
        run_job(job);
    }
}

/// Whether this thread is inside a continuation run by the trampoline
/// (then a blocking wait must run the queued ones itself: they are queued
/// behind the one that waits).
fn in_trampoline() -> bool {
    RUNNING.try_with(|r| r.get()).unwrap_or(false)
}

/// The reading end of a [`Promise`]: shared (clones read the same outcome),
/// awaitable (`Result<T>`), and blockable off the loop thread.
///
/// ```
/// use qtloop::qi::{Promise, FutureState};
/// let p = Promise::new();
/// let f = p.future();
/// std::thread::spawn(move || p.set_value(42).unwrap());
/// assert_eq!(f.value(1.0), Ok(42)); // blocks: fine off the loop thread
/// assert_eq!(f.wait(0.0), FutureState::FinishedWithValue);
/// ```
pub struct Future<T: Clone + Send + 'static> {
    shared: Arc<Shared<T>>,
    /// This reader's slot in the wakers while it is awaited.
    waiter: Option<usize>,
}

impl<T: Clone + Send + 'static> Clone for Future<T> {
    fn clone(&self) -> Self {
        Self::of(&self.shared)
    }
}

impl<T: Clone + Send + 'static> Drop for Future<T> {
    fn drop(&mut self) {
        if let Some(key) = self.waiter.take() {
            let mut inner = self.shared.lock();
            // After the outcome the slab is a new, empty one: nothing to free.
            if inner.outcome.is_none() {
                inner.wakers.try_remove(key);
            }
        }
    }
}

impl<T: Clone + Send + 'static> Future<T> {
    fn of(shared: &Arc<Shared<T>>) -> Self {
        Self {
            shared: shared.clone(),
            waiter: None,
        }
    }

    /// A future finished with `value`.
    pub fn from_value(value: T) -> Self {
        let p = Promise::new();
        let _ = p.set_value(value);
        p.future()
    }

    /// A future finished with an error.
    pub fn from_error(message: impl Into<String>) -> Self {
        let p = Promise::new();
        let _ = p.set_error(message);
        p.future()
    }

    fn outcome_result(o: &Outcome<T>) -> Result<T> {
        match o {
            Outcome::Value(v) => Ok(v.clone()),
            Outcome::Error(m) => Err(Error::Failed(m.clone())),
            Outcome::Canceled => Err(Error::Cancelled),
        }
    }

    /// The state now.
    pub fn state(&self) -> FutureState {
        match &self.shared.lock().outcome {
            None => FutureState::Running,
            Some(Outcome::Value(_)) => FutureState::FinishedWithValue,
            Some(Outcome::Error(_)) => FutureState::FinishedWithError,
            Some(Outcome::Canceled) => FutureState::Canceled,
        }
    }

    /// Waits up to `timeout` for the outcome and gives the state then
    /// (`Running` if it timed out). On a thread with an event loop it does
    /// not block (a wait there could never end): it gives the state now.
    pub fn wait(&self, timeout: impl IntoDelay) -> FutureState {
        let _ = self.wait_outcome(timeout);
        self.state()
    }

    /// The value: waits up to `timeout`, then `Err(Error::Timeout)`. An
    /// error gives `Err(Error::Failed(msg))`, a cancellation
    /// `Err(Error::Cancelled)`. On a thread with an event loop it never
    /// blocks: an unfinished future gives `Err(Error::WouldDeadlock)` at
    /// once (await it instead).
    pub fn value(&self, timeout: impl IntoDelay) -> Result<T> {
        self.wait_outcome(timeout)
    }

    fn wait_outcome(&self, timeout: impl IntoDelay) -> Result<T> {
        let nanos = timeout.into_nanos()?;
        let mut inner = self.shared.lock();
        if let Some(o) = &inner.outcome {
            return Self::outcome_result(o);
        }
        if get_event_loop().is_ok() {
            return Err(Error::WouldDeadlock);
        }
        let deadline = Instant::now() + std::time::Duration::from_nanos(nanos);
        loop {
            if let Some(o) = &inner.outcome {
                return Self::outcome_result(o);
            }
            // Inside a continuation on a thread without a loop, what would
            // set this future may be queued behind us: run it first.
            if in_trampoline() {
                drop(inner);
                run_queued_jobs();
                inner = self.shared.lock();
                if let Some(o) = &inner.outcome {
                    return Self::outcome_result(o);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout);
            }
            inner = self
                .shared
                .done
                .wait_timeout(inner, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The outcome if the future has finished, without waiting (any
    /// thread, the loop's too): `None` while it runs, else what
    /// [`value`](Self::value) would give.
    ///
    /// ```
    /// let p = qtloop::qi::Promise::new();
    /// let f = p.future();
    /// assert_eq!(f.try_value(), None);
    /// p.set_value(5).unwrap();
    /// assert_eq!(f.try_value(), Some(Ok(5)));
    /// ```
    pub fn try_value(&self) -> Option<Result<T>> {
        self.shared
            .lock()
            .outcome
            .as_ref()
            .map(Self::outcome_result)
    }

    /// Requests cancellation: the promise's `on_cancel` runs (once), and
    /// decides. No effect on a finished future.
    pub fn cancel(&self) {
        let on_cancel = {
            let mut inner = self.shared.lock();
            if inner.outcome.is_some() {
                return;
            }
            inner.cancel_requested = true;
            inner.on_cancel.take()
        };
        if let Some(f) = on_cancel {
            let p = {
                self.shared.lock().promises += 1;
                Promise {
                    shared: self.shared.clone(),
                }
            };
            // Through the trampoline: a `then` cancels its source from its
            // own `on_cancel`, and a long chain must not recurse.
            trampoline(Box::new(move || f(&p)));
        }
    }

    /// Whether it finished by cancellation.
    pub fn is_canceled(&self) -> bool {
        self.state() == FutureState::Canceled
    }

    /// Whether it finished (value, error or cancellation).
    pub fn is_finished(&self) -> bool {
        self.state() != FutureState::Running
    }

    /// Whether it finished with an error.
    pub fn has_error(&self) -> bool {
        self.state() == FutureState::FinishedWithError
    }

    /// Whether it finished with a value.
    pub fn has_value(&self) -> bool {
        self.state() == FutureState::FinishedWithValue
    }

    /// The error message, if it finished with an error.
    pub fn error(&self) -> Option<String> {
        match &self.shared.lock().outcome {
            Some(Outcome::Error(m)) => Some(m.clone()),
            _ => None,
        }
    }

    /// Calls `f` with this future once it has finished, as asyncio's
    /// `add_done_callback` and libqi's asynchronous callbacks do: scheduled
    /// on the loop of the thread that added it (or else of the thread that
    /// finishes the future), never inside `set_value`, and also when it has
    /// finished already. On threads without a loop it runs in the thread
    /// that finishes the future (or here, if it has finished), after the
    /// continuation that is running there, if any.
    pub fn add_callback(&self, f: impl FnOnce(&Future<T>) + Send + 'static) {
        let home = get_event_loop().ok().map(|lp| lp.handle());
        let mut inner = self.shared.lock();
        if inner.outcome.is_none() {
            inner.callbacks.push((home, Box::new(f)));
            return;
        }
        drop(inner);
        schedule_callback(home, self.clone(), Box::new(f));
    }

    /// A future of what `f` makes of this one once it has finished (libqi's
    /// `then`). A panic in `f` becomes an error. Cancelling the new future
    /// cancels this one.
    pub fn then<U: Clone + Send + 'static>(
        &self,
        f: impl FnOnce(&Future<T>) -> U + Send + 'static,
    ) -> Future<U> {
        let src = self.clone();
        let p = Promise::with_on_cancel(move |_: &Promise<U>| src.cancel());
        let out = p.future();
        self.add_callback(move |fut| {
            let _ = match catch_unwind(AssertUnwindSafe(|| f(fut))) {
                Ok(u) => p.set_value(u),
                Err(e) => p.set_error(into_panic_message(e)),
            };
        });
        out
    }

    /// A future of `f(value)`; errors and cancellation pass through
    /// (libqi's `andThen`).
    pub fn and_then<U: Clone + Send + 'static>(
        &self,
        f: impl FnOnce(T) -> U + Send + 'static,
    ) -> Future<U> {
        let src = self.clone();
        let p = Promise::with_on_cancel(move |_: &Promise<U>| src.cancel());
        let out = p.future();
        self.add_callback(move |fut| {
            let outcome = fut.shared.lock().outcome.clone();
            let _ = match outcome {
                Some(Outcome::Value(v)) => match catch_unwind(AssertUnwindSafe(|| f(v))) {
                    Ok(u) => p.set_value(u),
                    Err(e) => p.set_error(into_panic_message(e)),
                },
                Some(Outcome::Error(m)) => p.set_error(m),
                Some(Outcome::Canceled) | None => p.set_canceled(),
            };
        });
        out
    }
}

impl<T: Clone + Send + 'static> StdFuture for Future<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.get_mut();
        let mut inner = this.shared.lock();
        if let Some(o) = &inner.outcome {
            this.waiter = None;
            return Poll::Ready(Self::outcome_result(o));
        }
        match this.waiter.and_then(|k| inner.wakers.get_mut(k)) {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => *w = cx.waker().clone(),
            None => this.waiter = Some(inner.wakers.insert(cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl<T: Clone + Send + 'static> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("qi::Future")
            .field("state", &self.state())
            .finish()
    }
}
