//! Tasks: futures driven by the loop (async-task runnables).

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;

use std::task::{Context, Poll};

use pin_project_lite::pin_project;

pub use super::abort::AbortHandle;
use super::context;
use super::exception::ExceptionContext;
use super::inner;
use super::scheduler::Scheduler;
pub(crate) use super::task_state::TaskState;
use crate::error::Panic;

/// Why a task did not produce its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The task was cancelled (`Task::cancel`, or its loop closed).
    #[error("the task was cancelled")]
    Cancelled,
    /// The task's future panicked: the message, and the payload to re-raise
    /// it (`Panic::into_panic`).
    #[error("the task panicked: {0}")]
    Panicked(Panic),
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Waiting to be polled (scheduled or waiting for a wake-up).
    Pending,
    /// Being polled right now: the task asking about itself, or code it
    /// calls. Other threads see `Pending`, and so does a task that spins a
    /// nested loop while another task runs inside it (the innermost one is
    /// `Running`). Nothing is stored per poll for it.
    Running,
    /// Finished with a value.
    Done,
    /// Cancelled.
    Cancelled,
    /// Its future panicked.
    Panicked,
}

impl TaskStatus {
    pub(super) fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Running,
            2 => Self::Done,
            3 => Self::Cancelled,
            4 => Self::Panicked,
            _ => Self::Pending,
        }
    }
}

/// A snapshot of a task, from [`crate::current_task`] and `EventLoop::all_tasks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    /// Unique in the process.
    pub id: u64,
    /// The name given with `Task::set_name`, if any.
    pub name: Option<String>,
    /// Its state when the snapshot was taken.
    pub status: TaskStatus,
}

/// Reports a panic nobody will see to the loop's exception handler.
fn report_unretrieved(loop_id: u64, state: &TaskState, msg: String) {
    let ctx = ExceptionContext {
        message: "Task exception was never retrieved".into(),
        panic: Some(msg),
        task: Some(state.label()),
        ..ExceptionContext::default()
    };
    match inner::current().filter(|_| context::current_id() == loop_id) {
        Some(inner) => inner.call_exception_handler(ctx),
        None => log::error!("{ctx}"),
    }
}

/// Like [`report_unretrieved`], from any thread: on another thread than the
/// task's loop, the report is posted to that loop (its handler runs there);
/// if the loop is closed, it is logged.
fn report_unretrieved_from(sched: &Scheduler, state: Arc<TaskState>, msg: String) {
    let loop_id = sched.0.loop_id;
    if context::current_id() == loop_id {
        return report_unretrieved(loop_id, &state, msg);
    }
    let post = crate::core::Core::post_shared(
        &sched.0.inbox,
        {
            let (state, msg) = (state.clone(), msg.clone());
            move || report_unretrieved(loop_id, &state, msg)
        },
        std::panic::Location::caller(),
    );
    if post.is_err() {
        report_unretrieved(loop_id, &state, msg);
    }
}

pin_project! {
    /// Wraps a task's future: cancellation, panics, registry, current task.
    #[project = GuardedProj]
    pub(crate) struct Guarded<F> {
        #[pin]
        fut: Option<F>,
        state: Arc<TaskState>,
        loop_id: u64,
        // The slot in the loop's registry once the task has joined it, or
        // UNJOINED / LEFT.
        slot: usize,
    }

    impl<F> PinnedDrop for Guarded<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let slot = std::mem::replace(this.slot, LEFT);
            if slot < LEFT {
                deregister(*this.loop_id, slot);
            }
            // async-task aborts the process if dropping the future panics
            // (a parked task dropped at close, a cancelled runnable): the
            // drop is guarded here, and its panic reported.
            if this.fut.is_some() {
                if let Err(p) = catch_unwind(AssertUnwindSafe(|| this.fut.set(None))) {
                    crate::runtime::report::report_panic_payload(
                        format!("Exception while dropping task {}", this.state.id()),
                        p,
                    );
                }
            }
            // Dropped before it ended (its loop closed): cancelled.
            this.state.finish(TaskStatus::Cancelled);
        }
    }
}

/// A task's registry slot before its first poll.
const UNJOINED: usize = usize::MAX;
/// After it has left the registry (or joined none: no loop there).
const LEFT: usize = usize::MAX - 1;

fn deregister(loop_id: u64, slot: usize) {
    if context::current_id() == loop_id {
        if let Some(inner) = inner::current() {
            inner.tasks.borrow_mut().try_remove(slot);
        }
    }
}

impl<F: Future> Future for Guarded<F> {
    type Output = Result<F::Output, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let GuardedProj {
            mut fut,
            state,
            loop_id,
            slot,
        } = self.project();
        // Borrowed, not cloned: no reference count traffic per poll.
        let state: &Arc<TaskState> = state;
        let loop_id = *loop_id;
        if *slot == UNJOINED {
            // First poll, on the loop thread: join the registry and keep the
            // task's waker (async-task's waker never changes) for cancel().
            *slot = match inner::current() {
                Some(inner) => inner.tasks.borrow_mut().insert(state.clone()),
                None => LEFT,
            };
            state.set_waker(cx.waker());
        }
        let me = (state.id(), *slot);
        let finish = |slot: &mut usize, status: TaskStatus| {
            state.finish(status);
            let key = std::mem::replace(slot, LEFT);
            if key < LEFT {
                deregister(loop_id, key);
            }
        };
        if state.cancel_requested() {
            // Dropped inside the task, as asyncio runs `finally:` blocks:
            // `current_task()` works in the future's `Drop`.
            let prev = context::enter_task(Some(me));
            let dropped = catch_unwind(AssertUnwindSafe(|| fut.set(None)));
            context::enter_task(prev);
            if let Err(p) = dropped {
                finish(slot, TaskStatus::Panicked);
                return Poll::Ready(Err(self_panicked(loop_id, state, p)));
            }
            finish(slot, TaskStatus::Cancelled);
            return Poll::Ready(Err(TaskError::Cancelled));
        }
        let Some(inner_fut) = fut.as_mut().as_pin_mut() else {
            return Poll::Ready(Err(TaskError::Cancelled));
        };
        // `Running` is not stored: it is the task being polled (see
        // `TaskState::status`), so a poll writes nothing shared.
        let prev = context::enter_task(Some(me));
        let polled = catch_unwind(AssertUnwindSafe(|| inner_fut.poll(cx)));
        context::enter_task(prev);
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => {
                let _ = catch_unwind(AssertUnwindSafe(|| fut.set(None)));
                finish(slot, TaskStatus::Done);
                Poll::Ready(Ok(v))
            }
            Err(p) => {
                let _ = catch_unwind(AssertUnwindSafe(|| fut.set(None)));
                finish(slot, TaskStatus::Panicked);
                Poll::Ready(Err(self_panicked(loop_id, state, p)))
            }
        }
    }
}

/// Records a task's panic: reported now if nobody holds the task, else
/// kept until the handle sees it or is dropped.
fn self_panicked(loop_id: u64, state: &TaskState, p: Box<dyn std::any::Any + Send>) -> TaskError {
    let panic = Panic::new(p);
    let msg = panic.message().to_owned();
    if state.is_detached() {
        report_unretrieved(loop_id, state, msg.clone());
    } else {
        state.set_unretrieved(msg.clone());
        if state.is_detached() {
            if let Some(m) = state.take_unretrieved() {
                report_unretrieved(loop_id, state, m);
            }
        }
    }
    TaskError::Panicked(panic)
}

/// A future running on the loop, like asyncio's `Task` or tokio's
/// `JoinHandle`.
///
/// Awaiting it gives `Ok(value)`, or `Err(TaskError::Cancelled)` /
/// `Err(TaskError::Panicked(msg))`. Dropping it detaches the task, which
/// keeps running; a panic that nobody awaits then goes to the loop's
/// exception handler ("Task exception was never retrieved").
///
/// # Who polls and drops the future
///
/// - It is polled only on its loop's thread, whichever thread woke it (a
///   wake-up from another thread is posted to the loop).
/// - It is dropped when it finishes or is cancelled (at its next poll), on
///   the loop's thread.
/// - When the loop closes (`close()`, or its last handle dropped), every
///   task is cancelled and its future dropped there and then, on the loop's
///   thread, one at a time; a `Drop` that panics goes to the exception
///   handler and the others are still dropped.
/// - A task created on a closed loop is cancelled at once: its future is
///   dropped where it was created (a `Send` one from `LoopHandle::spawn`
///   may be on any thread).
/// - A task of a closed loop woken later on its own thread is dropped
///   there; a `Send` one woken on another thread is dropped there. A `!Send`
///   one woken on another thread cannot be dropped safely: it is leaked,
///   and the log says so.
pub struct Task<T> {
    raw: Option<async_task::FallibleTask<Result<T, TaskError>>>,
    state: Arc<TaskState>,
    /// Its loop's scheduler: a panic found when the handle is dropped on
    /// another thread is posted to that loop's handler.
    sched: Scheduler,
}

impl<T> Task<T> {
    /// Requests cancellation: the future is dropped at its next poll
    /// (asyncio raises `CancelledError` at the next `await`), and the task
    /// ends with `TaskError::Cancelled`. No effect on a finished task.
    pub fn cancel(&self) {
        if !self.is_done() {
            self.state.request_cancel();
        }
    }

    /// Whether the task has finished (value, cancellation or panic).
    pub fn is_done(&self) -> bool {
        self.raw.as_ref().is_none_or(|r| r.is_finished())
    }

    /// Whether the task ended by cancellation.
    pub fn is_cancelled(&self) -> bool {
        self.status() == TaskStatus::Cancelled
    }

    /// The task's state now.
    pub fn status(&self) -> TaskStatus {
        self.state.status()
    }

    /// Names the task (shown by `all_tasks` and in error reports).
    pub fn set_name(&self, name: impl Into<String>) {
        self.state.set_name(name.into());
    }

    /// The task's name, if set.
    pub fn name(&self) -> Option<String> {
        self.state.name()
    }

    /// The task's unique id.
    pub fn id(&self) -> u64 {
        self.state.id()
    }

    /// Lets the task run on without a handle (what dropping does, unless
    /// [`Task::cancel_on_drop`] was asked for: then it runs on all the same).
    pub fn detach(self) {
        self.state.set_cancel_on_drop(false);
    }

    /// Makes dropping this handle cancel the task (tokio-util's
    /// `AbortOnDropHandle`, asyncio's `TaskGroup` members): for work whose
    /// result nobody else wants, such as a request behind a button.
    /// [`Task::detach`] still lets it run on.
    ///
    /// ```
    /// qtloop::run(async {
    ///     let t = qtloop::spawn_local(qtloop::sleep(10.0)).cancel_on_drop();
    ///     let abort = t.abort_handle();
    ///     drop(t);
    ///     qtloop::yield_now().await;
    ///     assert!(abort.is_done());
    /// })
    /// .unwrap();
    /// ```
    #[must_use = "dropping the returned Task cancels it; .detach() lets it run on"]
    pub fn cancel_on_drop(self) -> Self {
        self.state.set_cancel_on_drop(true);
        self
    }

    /// Calls `hook` once, on the cancelling thread, when cancellation is
    /// first requested (`cancel()`, an [`AbortHandle`], a drop after
    /// [`cancel_on_drop`](Self::cancel_on_drop)), before the loop gets to
    /// the task: for work the task waits on elsewhere, which can stop at
    /// once (`qtloop::tokio::spawn` aborts its tokio task so). Also called
    /// when the task's loop closes and cancels it; not for a task that
    /// finishes.
    pub fn on_cancel(self, hook: impl FnOnce() + Send + 'static) -> Self {
        if !self.is_done() {
            self.state.set_on_cancel(Box::new(hook));
        }
        self
    }

    /// A handle that can only cancel the task and see whether it is done
    /// (cloneable, `Send`, whatever the task's output type).
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle::from_state(self.state.clone())
    }

    /// The task's output if it has finished (taken: a second call gives
    /// `None`), without waiting.
    pub fn take_output(&mut self) -> Option<Result<T, TaskError>> {
        if !self.raw.as_ref()?.is_finished() {
            return None;
        }
        let waker = futures::task::noop_waker();
        match Pin::new(self).poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    }
}

impl From<TaskError> for crate::Error {
    fn from(e: TaskError) -> Self {
        match e {
            TaskError::Cancelled => crate::Error::Cancelled,
            TaskError::Panicked(m) => crate::Error::Panicked(m.message().to_owned()),
        }
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(raw) = self.raw.as_mut() else {
            return Poll::Ready(Err(TaskError::Cancelled));
        };
        match Pin::new(raw).poll(cx) {
            Poll::Pending => Poll::Pending,
            // The loop dropped the task before it ended (closed).
            Poll::Ready(None) => {
                self.raw = None;
                Poll::Ready(Err(TaskError::Cancelled))
            }
            Poll::Ready(Some(r)) => {
                self.raw = None;
                if r.is_err() {
                    self.state.take_unretrieved();
                }
                Poll::Ready(r)
            }
        }
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take() {
            if self.state.set_detached() && !raw.is_finished() {
                self.state.request_cancel();
            }
            raw.detach();
            if let Some(msg) = self.state.take_unretrieved() {
                report_unretrieved_from(&self.sched, self.state.clone(), msg);
            }
        }
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.state.id())
            .field("name", &self.name())
            .field("status", &self.status())
            .finish()
    }
}

fn guarded<F>(sched: &Scheduler, fut: F) -> (Arc<TaskState>, Guarded<F>) {
    let state = Arc::new(TaskState::new());
    let g = Guarded {
        fut: Some(fut),
        state: state.clone(),
        loop_id: sched.0.loop_id,
        slot: UNJOINED,
    };
    (state, g)
}

/// Spawns a `!Send` future on the loop thread.
pub(crate) fn spawn_local<F>(sched: Scheduler, fut: F) -> (async_task::Runnable, Task<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
{
    let (state, g) = guarded(&sched, fut);
    let sched_copy = sched.clone();
    let (runnable, raw) =
        async_task::Builder::new().spawn_local(move |_| g, move |r| sched.schedule(r));
    (
        runnable,
        Task {
            raw: Some(raw.fallible()),
            state,
            sched: sched_copy,
        },
    )
}

/// Spawns a `Send` future from any thread.
pub(crate) fn spawn_send<F>(sched: Scheduler, fut: F) -> (async_task::Runnable, Task<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (state, g) = guarded(&sched, fut);
    let sched_copy = sched.clone();
    let (runnable, raw) = async_task::Builder::new().spawn(move |_| g, move |r| sched.schedule(r));
    (
        runnable,
        Task {
            raw: Some(raw.fallible()),
            state,
            sched: sched_copy,
        },
    )
}
