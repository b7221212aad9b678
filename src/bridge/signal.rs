//! The cxx bridge to the signal forwarder in `cpp/signal.{h,cpp}`.

// SAFETY (whole bridge): the declarations match `cpp/signal.h` one for one
// and cxx checks them at build time. `connect_signal` only reads the sender
// for the duration of the call (the forwarder then holds a QPointer, never
// a raw pointer); an `ObjectHandle` is a QPointer, so `get` returns null
// rather than a dangling pointer once Qt destroys the object. Both types
// live and die on the thread that made them (the Rust wrappers are `!Send`).
#[cxx::bridge(namespace = "qtloop")]
pub(crate) mod bridge {
    extern "Rust" {
        type SignalSink;
        fn on_emit(self: &SignalSink, args: Box<SignalArgs>);
        fn on_destroyed(self: &SignalSink);

        type SignalArgs;
        fn new_signal_args() -> Box<SignalArgs>;
        fn push_signal_arg(args: &mut SignalArgs, value: &QVariant);
    }

    unsafe extern "C++" {
        include!("qtloop/signal.h");
        include!("cxx-qt-lib/qvariant.h");

        #[namespace = ""]
        type QVariant = cxx_qt_lib::QVariant;
        #[namespace = ""]
        type QObject = cxx_qt::QObject;

        type ObjectHandle;
        type SignalForwarder;

        fn object_handle(object: &QObject) -> UniquePtr<ObjectHandle>;
        fn get(self: &ObjectHandle) -> *const QObject;
        fn class_name(self: &ObjectHandle) -> String;
        fn object_name(self: &ObjectHandle) -> String;

        fn signal_signatures(object: &QObject) -> Vec<String>;
        fn object_class_name(object: &QObject) -> String;
        fn live_signal_forwarders() -> usize;
        fn connect_signal(
            sender: &QObject,
            signature: &str,
            sink: Box<SignalSink>,
        ) -> UniquePtr<SignalForwarder>;
        fn is_connected(self: &SignalForwarder) -> bool;
    }
}

pub(crate) use bridge::*;

impl ObjectHandle {
    /// The object, if Qt has not destroyed it. Only for synchronous use:
    /// the reference must not be kept across anything that runs Qt's loop.
    pub(crate) fn object(&self) -> Option<&QObject> {
        let ptr = self.get();
        // SAFETY: `get` reads a QPointer: null once the object is destroyed,
        // else a live QObject; the caller uses it before returning to Qt's
        // loop (the only place it could be destroyed, on this thread).
        unsafe { ptr.as_ref() }
    }
}

/// What the forwarder reports (given behaviour by the driver floor, which
/// keeps panics from unwinding into C++).
pub(crate) trait SignalEvents {
    fn emitted(&self, args: Vec<cxx_qt_lib::QVariant>);
    fn destroyed(&self);
}

/// The Rust object a forwarder owns and calls, on the loop's thread.
pub(crate) struct SignalSink(pub(crate) Box<dyn SignalEvents>);

impl SignalSink {
    #[allow(clippy::boxed_local)] // cxx passes Rust-owned values as a Box
    fn on_emit(&self, args: Box<SignalArgs>) {
        self.0.emitted(args.0);
    }
    fn on_destroyed(&self) {
        self.0.destroyed();
    }
}

/// One emission's arguments, filled by C++.
pub(crate) struct SignalArgs(Vec<cxx_qt_lib::QVariant>);

fn new_signal_args() -> Box<SignalArgs> {
    Box::new(SignalArgs(Vec::new()))
}

fn push_signal_arg(args: &mut SignalArgs, value: &cxx_qt_lib::QVariant) {
    args.0.push(value.clone());
}
