//! Qt integration: awaiting signals (of your cxx-qt objects through their
//! `on_*` closures, of any QObject by signature), HTTP on Qt's network
//! stack, tasks scoped to a QObject, nested (modal) loops, the
//! application's own `exec()`.

mod app;
mod modal;
mod nested;
pub mod net;
mod object;
#[cfg(any(test, feature = "testing"))]
mod probe;
mod scope;
mod signal;
mod source;
mod thread;

pub use app::{ensure_core_application, exec, exit, on_application_thread, process_events, quit};
pub use modal::run_modal;
pub use nested::NestedEventLoop;
pub use object::{AsQObject, QtObject};
#[cfg(any(test, feature = "testing"))]
pub use probe::{posted_event_round_trip, TimerProbe};
pub use scope::{ObjectRef, TaskScope};
pub use signal::{next_signal, signal_stream, NextSignal, SignalSender, SignalStream};
#[cfg(any(test, feature = "testing"))]
pub use source::live_signal_connections;
pub use source::{signal, FromSignalArgs, NextEmission, SignalSource};
pub use thread::{current_qthread_name, spawn_qthread, QThreadHandle};
