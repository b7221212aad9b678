//! qtloop: an asyncio-style event loop that runs on Qt's own event loop.
//!
//! GUI code, QML, async tasks, timers, sockets, child processes, periodic
//! jobs and worker threads share one loop: Qt's. qtloop adds no second loop
//! and no polling thread: a small QObject receives Qt's wake-ups (a posted
//! event, a deadline timer that sleeps in the kernel, one `QSocketNotifier`
//! per watched fd) and a Qt-free core runs asyncio's iteration rule.
//!
//! ```
//! use std::time::Duration;
//! use qtloop::EventLoop;
//!
//! let lp = EventLoop::new()?; // creates a QCoreApplication if there is none
//! lp.call_later(0.02, || println!("2: call_later(0.02)"))?;
//! lp.call_soon(|| println!("1: call_soon"))?;
//!
//! // Work from another thread comes back through the loop's handle.
//! let handle = lp.handle();
//! std::thread::spawn(move || handle.call_soon_threadsafe(|| println!("from a thread")));
//!
//! let answer = lp.run_until_complete(async {
//!     let task = qtloop::spawn_local(async {
//!         qtloop::sleep(Duration::from_millis(30)).await?;
//!         Ok::<_, qtloop::Error>(21)
//!     });
//!     let slow = qtloop::timeout(0.01, qtloop::sleep(5.0)).await;
//!     assert!(slow.is_err()); // Elapsed
//!     Ok::<_, qtloop::Error>(task.await.unwrap()? * 2)
//! })??;
//! assert_eq!(answer, 42);
//! lp.close()?;
//! # Ok::<(), qtloop::Error>(())
//! ```
//!
//! An application that runs Qt's own `exec()` needs no `run_*` call: once
//! an [`EventLoop`] exists on a thread, its callbacks and tasks run whenever
//! that thread's Qt loop runs, nested loops (modal dialogs) included.
//!
//! Floors (each only uses the ones beneath it):
//! - [`core`]: Qt-free queues, timers, the readiness registry and the
//!   iteration rule; tested, benchmarked and model-checked without Qt.
//! - the Qt driver: the only code that talks to Qt. The C++ bridge (cxx and
//!   cxx-qt, the crate's only `unsafe`: `#![deny(unsafe_code)]` everywhere
//!   else) is private to it; it creates the application, in one place.
//! - the runtime: [`EventLoop`], [`Task`] (see its docs for who polls and
//!   drops a future), [`run`], `add_reader`, and the timer primitive
//!   [`EventLoop::call_at_send`].
//! - the libraries, on the runtime's public API: [`time`], [`net`] (TCP,
//!   UDP, Unix sockets, [`net::Async`] for any fd), [`process`] (child
//!   processes), [`executor`], [`qi`], [`background`], [`qt`], [`qml`].
//!
//! Feature `testing` adds what tests and screenshots need
//! (`qt::TimerProbe`, `QmlApp::grab`, ...); `dbus` (default) the D-Bus
//! services; `qmetaobject` the qmetaobject integration.
#![warn(missing_docs)]
// `unsafe` lives in the bridge to C++ and nowhere else.
#![deny(unsafe_code)]

// cxx-qt-build's generated init code (QML module registration) calls into
// these crates; referencing them makes sure every final binary links them.
use cxx_qt as _;
use cxx_qt_lib as _;

pub mod background;
pub mod core;
mod driver;
pub mod error;
pub mod executor;
mod group;
pub mod net;
pub mod process;
pub mod qi;
#[cfg(feature = "qmetaobject")]
pub mod qmeta;
pub mod qml;
pub mod qt;
mod race;
mod runtime;
#[cfg(feature = "dbus")]
pub mod service;
pub mod time;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use crate::core::clock::{IntoDeadline, IntoDelay};
pub use crate::core::{Handle, SendTimerHandle, ThreadsafeHandle, TimerHandle};
pub use error::{Error, Panic, Result};
pub use executor::{ExecutorFuture, JobToken, ThreadPoolExecutor};
pub use group::TaskGroup;
pub use race::{join, join_all, race, race_all, try_join, try_join_all};
pub use runtime::event_loop::{
    current_task, get_event_loop, get_running_loop, spawn_local, EventLoop, LoopHandle,
};
pub use runtime::exception::ExceptionContext;
pub use runtime::readiness::AsWatchFd;
pub use runtime::run::{run, run_forever, run_with, RunOptions};
pub use runtime::task::{AbortHandle, Task, TaskError, TaskInfo, TaskStatus};
pub use time::{
    interval, sleep, sleep_until, timeout, wait_for, yield_now, Elapsed, Interval,
    MissedTickBehavior,
};
