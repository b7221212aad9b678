//! Connecting to a signal of any QObject by its signature, for
//! `qtloop::qt::signal`, and guarded pointers to objects Rust does not own.

use cxx::UniquePtr;
use cxx_qt::QObject;

use super::bridge::signal as ffi;
pub(crate) use ffi::{ObjectHandle, SignalEvents, SignalForwarder};

/// Forwards to `events`, keeping a panic from unwinding into C++.
struct Guarded(Box<dyn SignalEvents>);

impl SignalEvents for Guarded {
    fn emitted(&self, args: Vec<cxx_qt_lib::QVariant>) {
        super::sink::guard(|| self.0.emitted(args));
    }
    fn destroyed(&self) {
        super::sink::guard(|| self.0.destroyed());
    }
}

/// The signals of `object`'s class and its bases (normalized signatures).
pub(crate) fn signatures(object: &QObject) -> Vec<String> {
    ffi::signal_signatures(object)
}

/// The class name from `object`'s meta-object (`QQuickRectangle`, ...).
pub(crate) fn class_name(object: &QObject) -> String {
    ffi::object_class_name(object)
}

/// Connects to `signature` of `sender`; `None` if it has no such signal.
/// `events` is called on this thread: at once for an emission on this
/// thread, queued by Qt for one on another.
pub(crate) fn connect(
    sender: &QObject,
    signature: &str,
    events: Box<dyn SignalEvents>,
) -> Option<UniquePtr<SignalForwarder>> {
    let sink = Box::new(ffi::SignalSink(Box::new(Guarded(events))));
    let forwarder = ffi::connect_signal(sender, signature, sink);
    (!forwarder.is_null()).then_some(forwarder)
}

/// A guarded pointer to `object`.
pub(crate) fn handle(object: &QObject) -> UniquePtr<ObjectHandle> {
    ffi::object_handle(object)
}

/// How many signal forwarders exist (each one a live connection).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn live_forwarders() -> usize {
    ffi::live_signal_forwarders()
}
