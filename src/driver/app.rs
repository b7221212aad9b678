//! The application object: created in one place, under one lock, and the
//! calls on it (`exec`, `quit`, `processEvents`).

use super::bridge::driver as ffi;
use super::bridge::qml as qml_ffi;

/// Serialises the creation of the application object: threads that create
/// their first loop at once (or a loop and a `QmlApp`) make one
/// application, never two (Qt's undefined behaviour).
fn with_application_lock<R>(f: impl FnOnce() -> R) -> R {
    static APPLICATION: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = crate::core::sync::lock(&APPLICATION);
    f()
}

/// Creates a `QCoreApplication` if the process has no application object,
/// logging a warning that says how a GUI application avoids it (unless
/// `quiet`). Returns whether it created one.
pub(crate) fn ensure_core_application(quiet: bool) -> bool {
    let created = with_application_lock(ffi::ensure_core_application);
    if created && !quiet {
        log::warn!(
            "qtloop: EventLoop::new() found no Qt application and created a \
             QCoreApplication. A GUI application needs its QGuiApplication made \
             first (qtloop::qml::QmlApp::new() or qtloop::qml::ensure_gui_application(), \
             or its own), before the first EventLoop, or its windows will not work. \
             A console application can call qtloop::qt::ensure_core_application() \
             first to say that it means it."
        );
    }
    created
}

/// What [`ensure_gui_application`] found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GuiApplication {
    /// It created the `QGuiApplication`.
    Created,
    /// A `QGuiApplication` (or `QApplication`) existed.
    Existed,
    /// A non-GUI `QCoreApplication` exists: no GUI is possible.
    CoreOnly,
}

/// Creates a `QGuiApplication` (with `-platform offscreen` if `offscreen`)
/// unless the process has an application object.
pub(crate) fn ensure_gui_application(offscreen: bool) -> GuiApplication {
    match with_application_lock(|| qml_ffi::ensure_gui_application(offscreen)) {
        0 => GuiApplication::Created,
        1 => GuiApplication::Existed,
        _ => GuiApplication::CoreOnly,
    }
}

/// Whether the process has an application object.
pub(crate) fn has_application() -> bool {
    ffi::has_application()
}

/// Whether this thread is the application object's thread.
pub(crate) fn on_application_thread() -> bool {
    ffi::on_application_thread()
}

/// `QCoreApplication::exec()`; the caller checked [`has_application`].
pub(crate) fn exec_application() -> i32 {
    ffi::exec_application()
}

/// `QCoreApplication::quit()`, if there is an application.
pub(crate) fn quit_application() {
    if ffi::has_application() {
        ffi::quit_application();
    }
}

/// `QCoreApplication::exit(code)`, if there is an application.
pub(crate) fn exit_application(code: i32) {
    if ffi::has_application() {
        ffi::exit_application(code);
    }
}

/// `QCoreApplication::processEvents` for at most `max_msec`.
pub(crate) fn process_events(max_msec: i32) {
    ffi::process_events(max_msec);
}
