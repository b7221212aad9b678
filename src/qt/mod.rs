//! Qt integration: awaiting signals, tasks scoped to a QObject, nested
//! (modal) loops, the application's own `exec()`.

mod app;
mod modal;
mod nested;
#[cfg(any(test, feature = "testing"))]
mod probe;
mod scope;
mod signal;
mod thread;

pub use app::{ensure_core_application, exec, exit, on_application_thread, process_events, quit};
pub use modal::run_modal;
pub use nested::NestedEventLoop;
#[cfg(any(test, feature = "testing"))]
pub use probe::{posted_event_round_trip, TimerProbe};
pub use scope::{ObjectRef, TaskScope};
pub use signal::{next_signal, signal_stream, NextSignal, SignalSender, SignalStream};
pub use thread::{current_qthread_name, spawn_qthread, QThreadHandle};
