//! What a background task sees of itself: stop requests, interruptible
//! waits, settings and status.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::qi::{Promise, Signal};

use super::{LoopStats, TaskFailure, TaskStopped};

/// Where a task is in its life (QMI's `_TaskThread.State`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Phase {
    /// The task is being constructed in its thread.
    Initial,
    /// Constructed; waiting for `start` (or `stop`).
    Ready,
    /// Construction failed.
    InitFailed(String),
    Running,
    /// Ended (by returning, an error, a panic, or a stop before start).
    Finished(Result<(), TaskFailure>),
}

pub(crate) struct RunState {
    pub(crate) phase: Phase,
    pub(crate) stop: bool,
    /// `start` was called (once).
    pub(crate) started: bool,
}

/// Shared by the task's context, its runner handles and its thread.
pub(crate) struct Shared<S: Clone + Send + 'static, St: Clone + Send + 'static> {
    pub(crate) name: String,
    pub(crate) class_name: &'static str,
    pub(crate) state: Mutex<RunState>,
    /// Notified on stop, new settings and phase changes.
    pub(crate) changed: Condvar,
    pub(crate) settings: Mutex<S>,
    pub(crate) pending: Mutex<Option<S>>,
    pub(crate) status: Mutex<St>,
    pub(crate) settings_updated: Signal<S>,
    pub(crate) status_updated: Signal<St>,
    pub(crate) stats: Mutex<LoopStats>,
    pub(crate) done: Promise<Result<(), TaskFailure>>,
    /// Wakes an on-loop task's sleep when a stop arrives.
    pub(crate) stop_waker: futures::task::AtomicWaker,
}

pub(crate) use crate::core::sync::lock;

impl<S: Clone + Send + 'static, St: Clone + Send + 'static> Shared<S, St> {
    pub(crate) fn set_phase(&self, phase: Phase) {
        if let Phase::Finished(r) = &phase {
            let _ = self.done.set_value(r.clone());
        }
        lock(&self.state).phase = phase;
        self.changed.notify_all();
    }

    pub(crate) fn request_stop(&self) {
        lock(&self.state).stop = true;
        self.changed.notify_all();
        self.stop_waker.wake();
    }
}

/// The task's view of itself, passed to `run` and to every `LoopTask` hook.
pub struct TaskContext<S: Clone + Send + 'static, St: Clone + Send + 'static> {
    pub(crate) shared: Arc<Shared<S, St>>,
}

impl<S: Clone + Send + 'static, St: Clone + Send + 'static> TaskContext<S, St> {
    /// The task's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Asks the task itself to stop (QMI's `self._task_runner.stop()`).
    pub fn request_stop(&self) {
        self.shared.request_stop();
    }

    /// Whether a stop was requested: a long-running task checks this
    /// regularly and returns from `run` when it is true.
    pub fn stop_requested(&self) -> bool {
        lock(&self.shared.state).stop
    }

    /// Sleeps for `d`, or until a stop is requested: then it returns
    /// `Err(TaskStopped)` at once (use `?` to end `run`).
    pub fn sleep(&self, d: Duration) -> Result<(), TaskStopped> {
        // Blocks until the deadline or a stop: nothing to poll, so the
        // thread is not woken until then (settings updates wake it, and it
        // waits again).
        let deadline = Instant::now().checked_add(d);
        let mut st = lock(&self.shared.state);
        loop {
            if st.stop {
                return Err(TaskStopped);
            }
            let changed = &self.shared.changed;
            st = match deadline {
                None => changed.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Ok(());
                    }
                    let waited = changed.wait_timeout(st, d - now);
                    waited.unwrap_or_else(|e| e.into_inner()).0
                }
            };
        }
    }

    /// Waits until `condition()` is true (`Ok(true)`), `timeout` passes
    /// (`Ok(false)`) or a stop is requested (`Err(TaskStopped)`). The
    /// condition is checked when settings arrive, on stop, and at least
    /// every 10 ms.
    pub fn wait_for(
        &self,
        mut condition: impl FnMut() -> bool,
        timeout: Duration,
    ) -> Result<bool, TaskStopped> {
        const CHECK_EVERY: Duration = Duration::from_millis(10);
        let deadline = Instant::now().checked_add(timeout);
        let mut st = lock(&self.shared.state);
        loop {
            if st.stop {
                return Err(TaskStopped);
            }
            drop(st);
            if condition() {
                return Ok(true);
            }
            st = lock(&self.shared.state);
            if st.stop {
                return Err(TaskStopped);
            }
            let now = Instant::now();
            let left = match deadline {
                Some(d) if now >= d => return Ok(false),
                Some(d) => d - now,
                None => CHECK_EVERY,
            };
            st = self
                .shared
                .changed
                .wait_timeout(st, left.min(CHECK_EVERY))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Makes the pending settings (the latest `set_settings`) active and
    /// publishes *settings updated*; returns whether there were new ones.
    pub fn update_settings(&self) -> bool {
        let Some(new) = lock(&self.shared.pending).take() else {
            return false;
        };
        *lock(&self.shared.settings) = new.clone();
        self.shared.settings_updated.emit(new);
        true
    }

    /// Whether `set_settings` sent settings not yet taken by `update_settings`.
    pub fn has_pending_settings(&self) -> bool {
        lock(&self.shared.pending).is_some()
    }

    /// The active settings.
    pub fn settings(&self) -> S {
        lock(&self.shared.settings).clone()
    }

    /// Sets the status snapshot that `get_status` returns.
    pub fn set_status(&self, status: St) {
        *lock(&self.shared.status) = status;
    }

    /// The status snapshot.
    pub fn status(&self) -> St {
        lock(&self.shared.status).clone()
    }

    /// Publishes the status on the *status updated* signal.
    pub fn publish_status(&self) {
        let s = self.status();
        self.shared.status_updated.emit(s);
    }

    /// Publishes the active settings on the *settings updated* signal.
    pub fn publish_settings(&self) {
        let s = self.settings();
        self.shared.settings_updated.emit(s);
    }
}
