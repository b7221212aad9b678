//! Structured concurrency: [`TaskGroup`] (asyncio's `TaskGroup`, tokio's
//! `JoinSet`), built on [`spawn_local`](crate::spawn_local) and
//! [`Task::cancel_on_drop`].
//!
//! asyncio's helpers map to qtloop and `futures` like this:
//!
//! | asyncio | qtloop |
//! |---|---|
//! | `TaskGroup` | [`TaskGroup::wait`] / [`TaskGroup::try_wait`] (fail-fast) |
//! | `gather(*aws)` | `futures::future::join_all`, or a `TaskGroup` to run them as tasks |
//! | `gather(..., return_exceptions=True)` | [`TaskGroup::join_next`] until `None` |
//! | `as_completed` | [`TaskGroup::join_next`], or `futures::stream::FuturesUnordered` |
//! | `wait(FIRST_COMPLETED)` | `futures::future::select` / `select_all` |
//! | `wait_for(aw, t)` / `timeout(t)` | [`crate::wait_for`] / [`crate::timeout`] |
//! | `shield(aw)` | spawn it: a [`Task`] dropped or left behind keeps running |
//! | `sleep(0)` | [`crate::yield_now`] |

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::{FuturesUnordered, StreamExt};

use crate::runtime::event_loop::{get_event_loop, spawn_local};
use crate::{AbortHandle, ExceptionContext, Task, TaskError};

/// A set of tasks on this thread's loop that end together.
///
/// - [`spawn`](Self::spawn) starts a task in the group;
/// - [`join_next`](Self::join_next) gives the next one to finish (tokio's
///   `JoinSet`), `None` once the group is empty;
/// - [`wait`](Self::wait) / [`try_wait`](Self::try_wait) wait for all of
///   them, fail-fast: the first panic (or `Err`) cancels the others and is
///   returned (asyncio's `TaskGroup`);
/// - [`abort_all`](Self::abort_all) cancels them; dropping the group
///   cancels what is left.
///
/// ```
/// use qtloop::{TaskGroup, TaskError};
/// qtloop::run(async {
///     let mut group = TaskGroup::new();
///     for i in 1..=3u64 {
///         group.spawn(async move {
///             qtloop::sleep(0.001 * i as f64).await.unwrap();
///             i * 10
///         });
///     }
///     assert_eq!(group.wait().await, Ok(vec![10, 20, 30])); // spawn order
///
///     // Fail-fast: a panic cancels the siblings.
///     let mut group = TaskGroup::new();
///     let slow = group.spawn(async { qtloop::sleep(10.0).await.unwrap(); 1 });
///     group.spawn(async { panic!("sensor unplugged") });
///     assert!(matches!(group.wait().await, Err(TaskError::Panicked(_))));
///     qtloop::yield_now().await;
///     assert!(slow.is_done());
/// })
/// .unwrap();
/// ```
pub struct TaskGroup<T> {
    running: FuturesUnordered<Indexed<T>>,
    /// Finished but not yet given out, in completion order: a `wait`
    /// that is itself cancelled (a time-out) leaves them here.
    finished: VecDeque<(usize, Result<T, TaskError>)>,
    handles: Vec<AbortHandle>,
    next_index: usize,
}

/// A member task and its spawn index.
struct Indexed<T> {
    index: usize,
    task: Task<T>,
}

impl<T> Future for Indexed<T> {
    type Output = (usize, Result<T, TaskError>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let index = self.index;
        Pin::new(&mut self.task).poll(cx).map(|r| (index, r))
    }
}

impl<T: 'static> TaskGroup<T> {
    /// An empty group.
    pub fn new() -> Self {
        Self {
            running: FuturesUnordered::new(),
            finished: VecDeque::new(),
            handles: Vec::new(),
            next_index: 0,
        }
    }

    /// Starts `fut` as a task of this thread's loop, in the group. The
    /// handle cancels just this task.
    ///
    /// # Panics
    /// If this thread has no open loop (as [`crate::spawn_local`]).
    pub fn spawn<F>(&mut self, fut: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.add(spawn_local(fut))
    }

    /// Adds a task spawned elsewhere (`LoopHandle::spawn`,
    /// `qtloop::tokio::spawn`, ...) to the group; it is cancelled with it.
    pub fn add(&mut self, task: Task<T>) -> AbortHandle {
        let task = task.cancel_on_drop();
        let handle = task.abort_handle();
        // Forget the handles of finished tasks now and then: the list
        // stays proportional to what runs.
        if self.handles.len() >= 2 * self.running.len() + 16 {
            self.handles.retain(|h| !h.is_done());
        }
        self.handles.push(handle.clone());
        self.running.push(Indexed {
            index: self.next_index,
            task,
        });
        self.next_index += 1;
        handle
    }

    /// The number of tasks not yet joined.
    pub fn len(&self) -> usize {
        self.running.len() + self.finished.len()
    }

    /// Whether every task has been joined.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next task to finish, in completion order: its output,
    /// `Err(TaskError::Cancelled)` or `Err(TaskError::Panicked(..))`.
    /// `None` when the group is empty. Cancel-safe: dropping the future
    /// loses nothing.
    pub async fn join_next(&mut self) -> Option<Result<T, TaskError>> {
        if let Some((_, r)) = self.finished.pop_front() {
            return Some(r);
        }
        self.running.next().await.map(|(_, r)| r)
    }

    /// Cancels every task of the group; they end with
    /// `TaskError::Cancelled` at their next await (join them to see it).
    pub fn abort_all(&mut self) {
        for h in self.handles.drain(..) {
            h.cancel();
        }
    }

    /// Waits for every task and gives their outputs in spawn order.
    /// Fail-fast: the first task to panic or be cancelled cancels the
    /// others, which are joined, and its error is returned; later panics
    /// go to the loop's exception handler. Cancel-safe: a `wait` dropped
    /// early (`timeout(d, group.wait())`) leaves the finished outputs in
    /// the group for the next `wait` or `join_next`.
    pub async fn wait(&mut self) -> Result<Vec<T>, TaskError> {
        self.wait_with(|r| r.is_err(), |r| r).await
    }

    async fn wait_with<U, E>(
        &mut self,
        failed: impl Fn(&Result<T, TaskError>) -> bool,
        convert: impl Fn(Result<T, TaskError>) -> Result<U, E>,
    ) -> Result<Vec<U>, E> {
        // Fail-fast also for a failure from before (an earlier, cancelled
        // wait saw it).
        let mut failing = self.finished.iter().any(|(_, r)| failed(r));
        if failing {
            self.abort_all();
        }
        while let Some(done) = self.running.next().await {
            if !failing && failed(&done.1) {
                failing = true;
                self.abort_all();
            }
            self.finished.push_back(done);
        }
        self.handles.clear();
        let mut finished = std::mem::take(&mut self.finished);
        if let Some(first) = finished.iter().position(|(_, r)| failed(r)) {
            let (_, first) = finished.remove(first).expect("found above");
            report_later_panics(finished.into_iter().map(|(_, r)| r));
            return convert(first).map(|_| Vec::new());
        }
        let mut finished = Vec::from(finished);
        finished.sort_unstable_by_key(|(index, _)| *index);
        finished.into_iter().map(|(_, r)| convert(r)).collect()
    }
}

/// Panics of a failed group's other tasks: nobody will see them in the
/// result, so they go to the exception handler (asyncio keeps them all in
/// an `ExceptionGroup`).
fn report_later_panics<T>(rest: impl Iterator<Item = Result<T, TaskError>>) {
    for r in rest {
        if let Err(TaskError::Panicked(msg)) = r {
            let ctx = ExceptionContext {
                message: "TaskGroup: another task panicked after the group had failed".into(),
                panic: Some(msg.to_string()),
                ..ExceptionContext::default()
            };
            match get_event_loop() {
                Ok(lp) => lp.call_exception_handler(ctx),
                Err(_) => log::error!("{ctx}"),
            }
        }
    }
}

impl<U: 'static, E: From<TaskError> + 'static> TaskGroup<Result<U, E>> {
    /// [`wait`](Self::wait) for tasks that return `Result`: the first
    /// `Err`, panic or cancellation cancels the others and is returned
    /// (`TaskError` converted with `From`, as `qtloop::Error` does); the
    /// values are in spawn order. Cancel-safe, as `wait`.
    ///
    /// ```
    /// qtloop::run(async {
    ///     let mut group = qtloop::TaskGroup::new();
    ///     group.spawn(async { qtloop::sleep(0.01).await?; Ok(1) });
    ///     group.spawn(async { Err(qtloop::Error::Timeout) });
    ///     assert_eq!(group.try_wait().await, Err(qtloop::Error::Timeout));
    /// })
    /// .unwrap();
    /// ```
    pub async fn try_wait(&mut self) -> Result<Vec<U>, E> {
        self.wait_with(
            |r| !matches!(r, Ok(Ok(_))),
            |r| r.map_err(E::from).and_then(|v| v),
        )
        .await
    }
}

impl<T: 'static> Default for TaskGroup<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> std::fmt::Debug for TaskGroup<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskGroup")
            .field("running", &self.running.len())
            .field("finished", &self.finished.len())
            .finish()
    }
}
