//! The cxx-qt bridge of the `AsyncJob` QML type (`import Qtloop`).
//!
//! The logic is in `crate::qml`; this file only declares the QObject and
//! its data.

use cxx_qt_lib::{QString, QVariant};

/// The Rust state behind a QML `AsyncJob`: its properties, and what
/// `qtloop::qml` keeps for the running job (opaque here).
pub struct AsyncJobRust {
    pub(crate) job: QString,
    pub(crate) running: bool,
    pub(crate) progress: f64,
    pub(crate) result: QVariant,
    pub(crate) error: QString,
    pub(crate) status: QString,
    /// Bumped by every start and cancel: updates of an older run are
    /// dropped.
    pub(crate) generation: u64,
    /// The running job's task scope and inbox (`qml::job`'s `JobRun`):
    /// dropped with the item, which cancels the job.
    pub(crate) run: Option<Box<dyn std::any::Any>>,
}

impl Default for AsyncJobRust {
    fn default() -> Self {
        Self {
            job: QString::default(),
            running: false,
            progress: 0.0,
            result: QVariant::default(),
            error: QString::default(),
            status: QString::from("idle"),
            generation: 0,
            run: None,
        }
    }
}

#[cxx_qt::bridge(namespace = "qtloop")]
pub mod qobject {
    #[namespace = ""]
    unsafe extern "C++" {
        include!("cxx-qt-lib/qstring.h");
        /// Qt's string.
        type QString = cxx_qt_lib::QString;
        include!("cxx-qt-lib/qvariant.h");
        /// Qt's variant (QML's `var`).
        type QVariant = cxx_qt_lib::QVariant;
    }

    extern "RustQt" {
        /// A QML item that starts a Rust async job registered with
        /// [`register_job`](crate::qml::register_job), cancels it, and
        /// exposes its state for bindings.
        #[qobject]
        #[qml_element]
        #[qproperty(QString, job)]
        #[qproperty(bool, running, READ, NOTIFY)]
        #[qproperty(f64, progress, READ, NOTIFY)]
        #[qproperty(QVariant, result, READ, NOTIFY)]
        #[qproperty(QString, error, READ, NOTIFY)]
        #[qproperty(QString, status, READ, NOTIFY)]
        type AsyncJob = super::AsyncJobRust;

        /// The job returned a value.
        #[qsignal]
        fn finished(self: Pin<&mut AsyncJob>, result: &QVariant);
        /// The job returned an error or panicked.
        #[qsignal]
        fn failed(self: Pin<&mut AsyncJob>, error: &QString);
        /// The job was cancelled (from QML or Rust).
        #[qsignal]
        fn cancelled(self: Pin<&mut AsyncJob>);
        /// A message the job sent with `JobContext::send`.
        #[qsignal]
        fn message(self: Pin<&mut AsyncJob>, kind: &QString, value: &QVariant);

        /// Starts the job with an argument; false if it is running already
        /// or no job of that name is registered.
        #[qinvokable]
        fn start(self: Pin<&mut AsyncJob>, argument: &QVariant) -> bool;
        /// Cancels the running job (its future is dropped at once).
        #[qinvokable]
        fn cancel(self: Pin<&mut AsyncJob>);
        /// Sends a message to the running job (`JobContext::take_inbox`);
        /// false if it is not running.
        #[qinvokable]
        fn post(self: Pin<&mut AsyncJob>, kind: &QString, value: &QVariant) -> bool;
    }

    impl cxx_qt::Threading for AsyncJob {}
    impl UniquePtr<AsyncJob> {}
}
