//! `AbortHandle`: a task's handle that cancels, names and reads it
//! without owning its output.

use std::fmt;
use std::sync::Arc;

use super::task::{TaskInfo, TaskState, TaskStatus};

/// Cancels a task without owning its [`Task`](crate::Task) handle (tokio's
/// `AbortHandle`); from [`Task::abort_handle`](crate::Task::abort_handle).
#[derive(Clone)]
pub struct AbortHandle {
    state: Arc<TaskState>,
}

impl AbortHandle {
    pub(crate) fn from_state(state: Arc<TaskState>) -> Self {
        Self { state }
    }

    /// Requests cancellation, as [`Task::cancel`](crate::Task::cancel). No effect once it is done.
    pub fn cancel(&self) {
        if !self.is_done() {
            self.state.request_cancel();
        }
    }

    /// Whether the task has finished (value, cancellation or panic).
    pub fn is_done(&self) -> bool {
        !matches!(self.status(), TaskStatus::Pending | TaskStatus::Running)
    }

    /// The task's state now.
    pub fn status(&self) -> TaskStatus {
        self.state.status()
    }

    /// The task's unique id.
    pub fn id(&self) -> u64 {
        self.state.id()
    }

    /// Names the task (shown by `all_tasks` and in error reports).
    pub fn set_name(&self, name: impl Into<String>) {
        self.state.set_name(name.into());
    }

    /// The task's name, if set.
    pub fn name(&self) -> Option<String> {
        self.state.name()
    }

    /// A snapshot: id, name and state.
    pub fn info(&self) -> TaskInfo {
        self.state.info()
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.state.id())
            .field("status", &self.status())
            .finish()
    }
}
