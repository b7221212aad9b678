//! The runtime, the floor above the driver: `EventLoop`, tasks, the exception
//! handler, and `run`.

mod abort;
pub(crate) mod context;
pub(crate) mod event_loop;
pub(crate) mod exception;
pub(crate) mod inner;
mod loop_executor;
pub(crate) mod loop_handle;
pub(crate) mod readiness;
pub(crate) mod report;
pub(crate) mod run;
mod scheduler;
pub(crate) mod task;
mod task_state;
