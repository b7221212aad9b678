//! QML: the `Qtloop` module's types, and a small application host.
//!
//! `build.rs` registers the QML module `Qtloop` (version 1.0), with
//! * `AsyncJob`: starts a Rust async job registered with [`register_job`],
//!   cancels it, and exposes `running`, `progress`, `result`, `error` and
//!   `status` for bindings, with `finished(result)`, `failed(error)`,
//!   `cancelled()` and `message(kind, value)` signals; `post(kind, value)`
//!   sends to the running job. Destroying the item cancels its job.
//! * `LoopStatus`: a status line (`qml/LoopStatus.qml`).
//!
//! ```qml
//! import Qtloop
//! AsyncJob {
//!     id: download
//!     job: "download"
//!     onFinished: (result) => label.text = result
//! }
//! Button { text: download.running ? "Cancel" : "Start"
//!          onClicked: download.running ? download.cancel() : download.start(url) }
//! ```
//!
//! [`QmlApp`] creates the `QGuiApplication` and a QML engine, loads a file,
//! and reads and writes its items' properties by `objectName`. With the
//! `testing` feature it also looks at the result the way a person would:
//! it grabs the window's pixels, saves screenshots, clicks items and
//! evaluates expressions in their scope (what the examples and tests use).

mod job;
mod view;

use std::path::Path;

use cxx::UniquePtr;
#[cfg(feature = "testing")]
use cxx_qt_lib::QImage;
use cxx_qt_lib::{QQmlApplicationEngine, QString, QUrl, QVariant};

use crate::driver::app::{self, GuiApplication};
use crate::driver::qml as ffi;
pub use crate::driver::qml::{AsyncJob, AsyncJobRust};
use crate::error::{Error, Result};
pub use job::{register_job, unregister_job, JobContext, JobInbox};
pub use view::QmlView;

/// A new `AsyncJob` owned by Rust (no QML needed): the same job runner,
/// its state and signals, for Rust code; dropping it cancels its job.
///
/// ```no_run
/// use cxx_qt_lib::{QString, QVariant};
/// let lp = qtloop::EventLoop::new()?;
/// let mut job = qtloop::qml::new_async_job("answer");
/// job.pin_mut().start(&QVariant::default());
/// # Ok::<(), qtloop::Error>(())
/// ```
pub fn new_async_job(job: &str) -> UniquePtr<AsyncJob> {
    let mut obj = ffi::new_async_job();
    obj.pin_mut().set_job(QString::from(job));
    obj
}

/// Makes sure this process has a `QGuiApplication` (needed for QML
/// windows); creates one if there is no application yet. Fails if a non-GUI
/// `QCoreApplication` exists already: create the GUI application (or a
/// `QmlApp`) before the first [`EventLoop`](crate::EventLoop).
pub fn ensure_gui_application() -> Result<()> {
    let offscreen = OFFSCREEN.load(std::sync::atomic::Ordering::Relaxed);
    match app::ensure_gui_application(offscreen) {
        GuiApplication::Created | GuiApplication::Existed => Ok(()),
        GuiApplication::CoreOnly => Err(Error::Qt(
            "a QCoreApplication (not a QGuiApplication) exists already: create the \
             QmlApp before the first EventLoop"
                .into(),
        )),
    }
}

/// A QML engine on the GUI thread with the `Qtloop` module available.
///
/// ```no_run
/// let mut app = qtloop::qml::QmlApp::new()?;
/// let lp = qtloop::EventLoop::new()?;
/// app.load_file("qml/eratosthenes.qml")?;
/// lp.run_forever()?;
/// # Ok::<(), qtloop::Error>(())
/// ```
pub struct QmlApp {
    engine: UniquePtr<QQmlApplicationEngine>,
}

impl QmlApp {
    /// Creates the `QGuiApplication` if needed, and an engine.
    pub fn new() -> Result<QmlApp> {
        ensure_gui_application()?;
        let engine = QQmlApplicationEngine::new();
        if engine.is_null() {
            return Err(Error::Qt(
                "QQmlApplicationEngine could not be created".into(),
            ));
        }
        Ok(QmlApp { engine })
    }

    fn engine(&self) -> &QQmlApplicationEngine {
        self.engine.as_ref().expect("checked in QmlApp::new")
    }

    fn roots_before(&self) -> i32 {
        ffi::root_window_count(self.engine())
    }

    /// Loads a QML file whose root is a `Window`; fails if it gives no
    /// window (the QML errors are printed by Qt as warnings).
    pub fn load_file(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if !path.is_file() {
            return Err(Error::InvalidArgument(format!(
                "no QML file at {}",
                path.display()
            )));
        }
        let abs = path
            .canonicalize()
            .map_err(|e| Error::InvalidArgument(format!("{}: {e}", path.display())))?;
        let url = ffi::local_file_url(&QString::from(abs.to_string_lossy().as_ref()));
        self.load_url(&url, &abs.display().to_string())
    }

    /// Loads QML source text (e.g. from `include_str!`); `name` names it in
    /// Qt's error messages.
    pub fn load_source(&mut self, source: &str, name: &str) -> Result<()> {
        let before = self.roots_before();
        let data = cxx_qt_lib::QByteArray::from(source);
        let url = QUrl::from(&QString::from(
            format!("qrc:/qtloop-source/{name}").as_str(),
        ));
        self.engine.pin_mut().load_data(&data, &url);
        self.check_loaded(before, name)
    }

    fn load_url(&mut self, url: &QUrl, name: &str) -> Result<()> {
        let before = self.roots_before();
        self.engine.pin_mut().load(url);
        self.check_loaded(before, name)
    }

    fn check_loaded(&self, before: i32, name: &str) -> Result<()> {
        if self.roots_before() > before {
            Ok(())
        } else {
            Err(Error::Qt(format!(
                "QML `{name}` gave no window (see Qt's warnings above)"
            )))
        }
    }

    /// The same helpers as a [`QmlView`] of this app's engine.
    pub fn view(&self) -> QmlView<'_> {
        QmlView::new(self.engine())
    }

    /// Shows every root window (for QML that starts `visible: false`).
    pub fn show(&self) {
        self.view().show()
    }

    /// Renders the first window into an image, as it looks now.
    #[cfg(feature = "testing")]
    pub fn grab(&self) -> Result<QImage> {
        self.view().grab()
    }

    /// [`grab`](Self::grab) and save as PNG (creating the directory).
    #[cfg(feature = "testing")]
    pub fn save_screenshot(&self, path: impl AsRef<Path>) -> Result<()> {
        self.view().save_screenshot(path)
    }

    /// Clicks (left press and release) the centre of the visible item whose
    /// `objectName` is `name`, through the window's event delivery.
    #[cfg(feature = "testing")]
    pub fn click(&self, name: &str) -> Result<()> {
        self.view().click(name)
    }

    /// The scene's object named `name` ([`QmlView::find_object`]).
    pub fn find_object(&self, name: &str) -> Result<crate::qt::QtObject> {
        self.view().find_object(name)
    }

    /// Reads `property` of the object whose `objectName` is `name`.
    pub fn property(&self, name: &str, property: &str) -> Result<QVariant> {
        self.view().property(name, property)
    }

    /// [`property`](Self::property) as text (empty if it is not a string).
    pub fn string_property(&self, name: &str, property: &str) -> Result<String> {
        self.view().string_property(name, property)
    }

    /// Evaluates a JavaScript expression in the scope of the object whose
    /// `objectName` is `name`, as QML code there would: `"start(21)"` calls
    /// its `start` method, `"width * 2"` reads a property.
    #[cfg(feature = "testing")]
    pub fn evaluate(&self, name: &str, expression: &str) -> Result<QVariant> {
        self.view().evaluate(name, expression)
    }

    /// Writes `property` of the object whose `objectName` is `name`.
    pub fn set_property(&self, name: &str, property: &str, value: &QVariant) -> Result<()> {
        self.view().set_property(name, property, value)
    }
}

/// Set by [`use_offscreen_if_no_display`]: the `QGuiApplication` that
/// qtloop creates gets `-platform offscreen`.
static OFFSCREEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Selects Qt's `offscreen` platform when there is no display (neither
/// `DISPLAY` nor `WAYLAND_DISPLAY` is set) and the user did not choose a
/// platform with `QT_QPA_PLATFORM`. Call it before the application is
/// created; returns whether the run is headless.
///
/// The `QGuiApplication` that qtloop creates ([`QmlApp::new`],
/// [`ensure_gui_application`]) is then given `-platform offscreen`. For an
/// application created elsewhere (qmetaobject's engine, your own), it also
/// sets `QT_QPA_PLATFORM`, but only while the process has a single thread:
/// changing the environment while another thread may read it is a data
/// race (the C library's `getenv` is not synchronised with it).
pub fn use_offscreen_if_no_display() -> bool {
    let chosen = std::env::var_os("QT_QPA_PLATFORM");
    if chosen.is_none()
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        OFFSCREEN.store(true, std::sync::atomic::Ordering::Relaxed);
        if single_threaded() {
            std::env::set_var("QT_QPA_PLATFORM", "offscreen");
        } else {
            log::debug!("qtloop: several threads run: QT_QPA_PLATFORM is left unset");
        }
        return true;
    }
    std::env::var("QT_QPA_PLATFORM").is_ok_and(|p| p == "offscreen" || p == "minimal")
}

/// Whether this process has one thread (Linux: `/proc/self/status`;
/// elsewhere unknown, so false).
fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .is_some_and(|n| n.trim() == "1")
    })
}
