//! qtloop: an asyncio-style event loop that runs on Qt's own event loop.
#![warn(missing_docs)]

// cxx-qt-build's generated init code (QML module registration) calls into
// these crates; referencing them makes sure every final binary links them.
use cxx_qt as _;
use cxx_qt_lib as _;

pub mod core;
mod driver;
pub mod error;
pub mod qt;
mod runtime;
pub mod time;

pub use crate::core::clock::{IntoDeadline, IntoDelay};
pub use crate::core::{Handle, TimerHandle};
pub use error::{Error, Result};
pub use runtime::event_loop::{
    current_task, get_event_loop, get_running_loop, spawn_local, EventLoop, LoopHandle,
};
pub use runtime::exception::ExceptionContext;
pub use runtime::run::{run, run_forever, run_with, RunOptions};
pub use runtime::task::{Task, TaskError, TaskInfo, TaskStatus};
pub use time::{
    interval, sleep, sleep_until, timeout, wait_for, Elapsed, Interval, MissedTickBehavior,
};
