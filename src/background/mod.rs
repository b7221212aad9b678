//! Background tasks as QMI (the Quantum Measurement Infrastructure, a
//! Python framework for laboratory instruments) has them: user code in its own thread with
//! settings, status, stop requests, interruptible sleep, `join`, and loop
//! tasks with missed-loop policies. Settings and status updates reach the
//! loop thread as [`qi::Signal`]s.
//!
//! ```
//! use std::time::Duration;
//! use qtloop::background::{self, BackgroundTask, TaskContext, TaskFailure};
//!
//! struct Counter;
//! impl BackgroundTask for Counter {
//!     type Settings = u32; // the step
//!     type Status = u32;   // the count
//!     fn initial_settings(&self) -> u32 { 1 }
//!     fn run(&mut self, ctx: &TaskContext<u32, u32>) -> Result<(), TaskFailure> {
//!         while !ctx.stop_requested() {
//!             ctx.update_settings();
//!             ctx.set_status(ctx.status() + ctx.settings());
//!             ctx.sleep(Duration::from_millis(1))?; // Err(TaskStopped) ends run
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let runner = background::spawn("counter", Counter);
//! runner.start().unwrap();
//! runner.set_settings(10);
//! std::thread::sleep(Duration::from_millis(20));
//! runner.stop();
//! runner.join().unwrap();
//! assert!(runner.get_status() > 10);
//! ```

mod context;
mod loop_task;

use std::any::Any;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;

pub use context::TaskContext;
use context::{lock, Phase, RunState, Shared};
pub use loop_task::{LoopRunner, LoopStats, LoopTask, MissedLoopPolicy};

use crate::error::{into_panic_message, Error, Result};
use crate::qi::{self, Promise, Signal};
use crate::{get_event_loop, LoopHandle};

/// A stop request escaping a wait: `?` it out of `run` (a normal end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the task was asked to stop")]
pub struct TaskStopped;

/// How a task ended badly, as `join` reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskFailure {
    /// A stop request ended `run` (from `?` on [`TaskStopped`]); `join`
    /// treats it as a normal end.
    #[error("the task was stopped")]
    Stopped,
    /// The task could not be constructed.
    #[error("the task could not be constructed: {0}")]
    Init(String),
    /// `run` (or a loop hook) returned an error.
    #[error("the task failed: {0}")]
    Failed(String),
    /// `run` (or a loop hook) panicked.
    #[error("the task panicked: {0}")]
    Panicked(String),
    /// `join` on a task that was neither started nor stopped.
    #[error("the task was never started: start or stop it before join")]
    NotStarted,
    /// `join` on the loop thread of a task that runs on that loop.
    #[error("join would deadlock: the task runs on this loop thread; await finished() instead")]
    WouldDeadlock,
}

impl From<TaskStopped> for TaskFailure {
    fn from(_: TaskStopped) -> Self {
        TaskFailure::Stopped
    }
}

impl From<String> for TaskFailure {
    fn from(msg: String) -> Self {
        TaskFailure::Failed(msg)
    }
}

impl From<&str> for TaskFailure {
    fn from(msg: &str) -> Self {
        TaskFailure::Failed(msg.to_owned())
    }
}

impl From<Error> for TaskFailure {
    fn from(e: Error) -> Self {
        TaskFailure::Failed(e.to_string())
    }
}

/// A background task (QMI's `QMI_Task`): `run` is its main code, in its own
/// thread. Settings come from outside (`TaskRunner::set_settings`), the
/// status goes out (`TaskRunner::get_status`, *status updated*).
pub trait BackgroundTask: Send + 'static {
    /// What others may change while the task runs.
    type Settings: Clone + Send + Default + 'static;
    /// What the task exposes of its activity.
    type Status: Clone + Send + Default + 'static;

    /// The task's main code. Returning ends the task; `Err(TaskStopped)`
    /// from `ctx.sleep(..)?` is a normal end.
    fn run(
        &mut self,
        ctx: &TaskContext<Self::Settings, Self::Status>,
    ) -> std::result::Result<(), TaskFailure>;

    /// The settings active before the first `update_settings`.
    fn initial_settings(&self) -> Self::Settings {
        Self::Settings::default()
    }

    /// The status before the task sets one.
    fn initial_status(&self) -> Self::Status {
        Self::Status::default()
    }
}

pub(crate) fn short_type_name<T>() -> &'static str {
    std::any::type_name::<T>()
}

/// Owns the thread; dropping the last handle stops and joins it.
pub(crate) struct RunnerInner<S: Clone + Send + 'static, St: Clone + Send + 'static> {
    pub(crate) shared: Arc<Shared<S, St>>,
    pub(crate) thread: Mutex<Option<JoinHandle<()>>>,
    /// The task's own thread (a join from there would wait for itself).
    pub(crate) thread_id: Option<std::thread::ThreadId>,
    /// The loop that drives an on-loop task (None for thread tasks).
    pub(crate) on_loop: Option<LoopHandle>,
    /// How an on-loop task is started (None for thread tasks).
    pub(crate) start_on_loop: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl<S: Clone + Send + 'static, St: Clone + Send + 'static> Drop for RunnerInner<S, St> {
    fn drop(&mut self) {
        self.shared.request_stop();
        let handle = lock(&self.thread).take();
        if let Some(h) = handle {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

/// The handle to a background task (QMI's `QMI_TaskRunner`): `Send + Sync
/// + Clone`. Dropping the last clone of a started task stops and joins it.
pub struct TaskRunner<S: Clone + Send + 'static, St: Clone + Send + 'static> {
    pub(crate) inner: Arc<RunnerInner<S, St>>,
}

impl<S: Clone + Send + 'static, St: Clone + Send + 'static> Clone for TaskRunner<S, St> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<S: Clone + Send + 'static, St: Clone + Send + 'static> TaskRunner<S, St> {
    fn shared(&self) -> &Shared<S, St> {
        &self.inner.shared
    }

    /// Starts the task's `run`, once: a second call is
    /// `Err(Error::AlreadyStarted)`; a task whose construction failed gives
    /// `Err(Error::TaskInit(..))`. After a `stop()` it does nothing (the stop
    /// came first: `run` is skipped).
    pub fn start(&self) -> Result<()> {
        let sh = self.shared();
        let mut st = lock(&sh.state);
        while st.phase == Phase::Initial {
            st = sh.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        match &st.phase {
            Phase::InitFailed(msg) => Err(Error::TaskInit(msg.clone())),
            _ if st.started => Err(Error::AlreadyStarted),
            _ if st.stop => {
                st.started = true; // the stop came first: run is skipped
                Ok(())
            }
            Phase::Ready => {
                st.started = true;
                st.phase = Phase::Running;
                drop(st);
                sh.changed.notify_all();
                if let Some(start) = lock(&self.inner.start_on_loop).take() {
                    start();
                }
                Ok(())
            }
            Phase::Running | Phase::Finished(_) | Phase::Initial => Err(Error::AlreadyStarted),
        }
    }

    /// Asks the task to stop and returns at once. Its sleeps and waits end
    /// with `TaskStopped`; before `start`, `run` is skipped entirely.
    pub fn stop(&self) {
        self.shared().request_stop();
    }

    /// Waits until the task has ended and gives its outcome: `Ok(())`, or
    /// its error, panic, missed deadline or construction failure.
    /// A stop that ended `run` is `Ok(())`.
    pub fn join(&self) -> std::result::Result<(), TaskFailure> {
        let sh = self.shared();
        {
            let mut st = lock(&sh.state);
            while st.phase == Phase::Initial {
                st = sh.changed.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            match &st.phase {
                Phase::InitFailed(msg) => return Err(TaskFailure::Init(msg.clone())),
                Phase::Ready if !st.stop => return Err(TaskFailure::NotStarted),
                Phase::Finished(r) => return r.clone(),
                _ => {}
            }
        }
        if self.inner.on_loop.as_ref().is_some_and(|h| h.is_current()) {
            return Err(TaskFailure::WouldDeadlock);
        }
        // From the task's own thread: waiting for itself would never end
        // (std's join panics "Resource deadlock avoided").
        if self.inner.thread_id == Some(std::thread::current().id()) {
            return Err(TaskFailure::WouldDeadlock);
        }
        if let Some(h) = lock(&self.inner.thread).take() {
            let _ = h.join();
        }
        let mut st = lock(&sh.state);
        loop {
            if let Phase::Finished(r) = &st.phase {
                return r.clone();
            }
            st = sh.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The task's outcome as a future (await it on the loop instead of a
    /// blocking `join`).
    pub fn finished(&self) -> qi::Future<std::result::Result<(), TaskFailure>> {
        self.shared().done.future()
    }

    /// Whether `run` has started and not ended.
    pub fn is_running(&self) -> bool {
        lock(&self.shared().state).phase == Phase::Running
    }

    /// Sends settings; the task takes them with `update_settings` (a queue
    /// of one: the latest wins).
    pub fn set_settings(&self, settings: S) {
        *lock(&self.shared().pending) = Some(settings);
        self.shared().changed.notify_all();
    }

    /// The settings in effect.
    pub fn get_settings(&self) -> S {
        lock(&self.shared().settings).clone()
    }

    /// Settings sent but not yet taken by the task.
    pub fn get_pending_settings(&self) -> Option<S> {
        lock(&self.shared().pending).clone()
    }

    /// A snapshot of the task's status.
    pub fn get_status(&self) -> St {
        lock(&self.shared().status).clone()
    }

    /// The task's name.
    pub fn name(&self) -> &str {
        &self.shared().name
    }

    /// The task type's name.
    pub fn task_class_name(&self) -> &'static str {
        self.shared().class_name
    }

    /// *Settings updated*: emitted by `update_settings`, delivered on the
    /// loop thread of the thread that spawned the task.
    pub fn settings_updated(&self) -> Signal<S> {
        self.shared().settings_updated.clone()
    }

    /// *Status updated*: emitted by `publish_status`, delivered on the loop
    /// thread of the thread that spawned the task.
    pub fn status_updated(&self) -> Signal<St> {
        self.shared().status_updated.clone()
    }

    /// Per-iteration lateness of a loop task.
    pub fn loop_stats(&self) -> LoopStats {
        lock(&self.shared().stats).clone()
    }
}

impl<S: Clone + Send + 'static, St: Clone + Send + 'static> std::fmt::Debug for TaskRunner<S, St> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRunner")
            .field("name", &self.name())
            .field("class", &self.task_class_name())
            .field("running", &self.is_running())
            .finish()
    }
}

pub(crate) fn new_shared<S, St>(name: &str, class_name: &'static str) -> Arc<Shared<S, St>>
where
    S: Clone + Send + Default + 'static,
    St: Clone + Send + Default + 'static,
{
    let home = get_event_loop().ok().map(|lp| lp.handle());
    Arc::new(Shared {
        name: name.to_owned(),
        class_name,
        state: Mutex::new(RunState {
            phase: Phase::Initial,
            stop: false,
            started: false,
        }),
        changed: Condvar::new(),
        settings: Mutex::new(S::default()),
        pending: Mutex::new(None),
        status: Mutex::new(St::default()),
        settings_updated: Signal::with_home(home.clone()),
        status_updated: Signal::with_home(home),
        stats: Mutex::new(LoopStats::default()),
        done: Promise::new(),
        stop_waker: futures::task::AtomicWaker::new(),
    })
}

/// Spawns `task` in its own thread (named `name`), ready to `start`.
pub fn spawn<T: BackgroundTask>(name: &str, task: T) -> TaskRunner<T::Settings, T::Status> {
    spawn_with(name, move || Ok(task))
}

/// Like [`spawn`], but the task is constructed by `make` in its own thread
/// (QMI constructs tasks there); a failure or panic in `make` is reported
/// by `start` and `join` as an init error.
pub fn spawn_with<T, F>(name: &str, make: F) -> TaskRunner<T::Settings, T::Status>
where
    T: BackgroundTask,
    F: FnOnce() -> std::result::Result<T, TaskFailure> + Send + 'static,
{
    let shared = new_shared::<T::Settings, T::Status>(name, short_type_name::<T>());
    let sh = shared.clone();
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || task_thread(&sh, make));
    let thread = match thread {
        Ok(t) => Some(t),
        Err(e) => {
            shared.set_phase(Phase::InitFailed(format!("cannot start a thread: {e}")));
            None
        }
    };
    TaskRunner {
        inner: Arc::new(RunnerInner {
            shared,
            thread_id: thread.as_ref().map(|t| t.thread().id()),
            thread: Mutex::new(thread),
            on_loop: None,
            start_on_loop: Mutex::new(None),
        }),
    }
}

fn task_thread<T, F>(sh: &Arc<Shared<T::Settings, T::Status>>, make: F)
where
    T: BackgroundTask,
    F: FnOnce() -> std::result::Result<T, TaskFailure>,
{
    let mut task = match catch_unwind(AssertUnwindSafe(make)) {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return sh.set_phase(Phase::InitFailed(e.to_string())),
        Err(p) => return sh.set_phase(Phase::InitFailed(into_panic_message(p))),
    };
    *lock(&sh.settings) = task.initial_settings();
    *lock(&sh.status) = task.initial_status();
    sh.set_phase(Phase::Ready);
    // Wait for start (or a stop, which skips run).
    {
        let mut st = lock(&sh.state);
        while st.phase == Phase::Ready && !st.stop {
            st = sh.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        if st.phase == Phase::Ready {
            drop(st);
            return sh.set_phase(Phase::Finished(Ok(())));
        }
    }
    let ctx = TaskContext { shared: sh.clone() };
    let result = finish_result(catch_unwind(AssertUnwindSafe(|| task.run(&ctx))));
    if let Err(e) = &result {
        log::error!("background task {} ended with an error: {e}", sh.name);
    }
    drop(task);
    sh.set_phase(Phase::Finished(result));
}

/// A run's outcome as `join` reports it.
pub(crate) fn finish_result(
    r: std::thread::Result<std::result::Result<(), TaskFailure>>,
) -> std::result::Result<(), TaskFailure> {
    match r {
        Ok(Ok(())) | Ok(Err(TaskFailure::Stopped)) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(p) => Err(TaskFailure::Panicked(into_panic_message(p))),
    }
}

/// Task names, unique while their runners live (QMI's context).
#[derive(Default)]
pub struct Registry {
    names: Mutex<HashMap<String, Weak<dyn Any + Send + Sync>>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the name and, if it is free, spawns and claims it, in one
    /// step under the lock: of many threads spawning one name, one task is
    /// constructed; the others get `DuplicateName` and their task is never
    /// started. (Spawning only starts a thread: no user code runs under
    /// the lock.)
    fn spawn_unique<S, St>(
        &self,
        name: &str,
        spawn: impl FnOnce() -> TaskRunner<S, St>,
    ) -> Result<TaskRunner<S, St>>
    where
        S: Clone + Send + 'static,
        St: Clone + Send + 'static,
    {
        let mut names = lock(&self.names);
        names.retain(|_, w| w.strong_count() > 0);
        if names.contains_key(name) {
            return Err(Error::DuplicateName(name.to_owned()));
        }
        let runner = spawn();
        let any: Arc<dyn Any + Send + Sync> = runner.inner.clone();
        names.insert(name.to_owned(), Arc::downgrade(&any));
        Ok(runner)
    }

    /// [`spawn`] with a name that must be unique in this registry
    /// (`Err(Error::DuplicateName)` otherwise, and nothing is spawned).
    pub fn spawn<T: BackgroundTask>(
        &self,
        name: &str,
        task: T,
    ) -> Result<TaskRunner<T::Settings, T::Status>> {
        self.spawn_unique(name, || spawn(name, task))
    }

    /// [`spawn_with`] with a unique name.
    pub fn spawn_with<T, F>(
        &self,
        name: &str,
        make: F,
    ) -> Result<TaskRunner<T::Settings, T::Status>>
    where
        T: BackgroundTask,
        F: FnOnce() -> std::result::Result<T, TaskFailure> + Send + 'static,
    {
        self.spawn_unique(name, || spawn_with(name, make))
    }

    /// The names of the live runners.
    pub fn names(&self) -> Vec<String> {
        let mut names = lock(&self.names);
        names.retain(|_, w| w.strong_count() > 0);
        let mut v: Vec<_> = names.keys().cloned().collect();
        v.sort();
        v
    }
}
