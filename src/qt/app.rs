//! The application object: its `exec()`, `quit()` and `processEvents`.

use std::time::Duration;

use crate::driver::app;
use crate::error::{Error, Result};

/// Processes pending Qt events for at most `max` (`processEvents`).
pub fn process_events(max: Duration) {
    app::process_events(max.as_millis().min(i32::MAX as u128) as i32);
}

/// Runs the application's own event loop (`QCoreApplication::exec()`);
/// qtloop's callbacks and tasks run inside it. Fails if there is no
/// application object.
///
/// When it returns (Qt's `aboutToQuit`), the application thread's
/// [`EventLoop`](crate::EventLoop) is closed cleanly: its tasks are
/// cancelled and its default executor is shut down.
pub fn exec() -> Result<i32> {
    if !app::has_application() {
        return Err(Error::Qt(
            "there is no Q*Application: create one (or an EventLoop) first".into(),
        ));
    }
    Ok(app::exec_application())
}

/// Makes the application's `exec()` return 0 (`QCoreApplication::quit()`).
pub fn quit() {
    app::quit_application();
}

/// Makes the application's `exec()` return `code`.
pub fn exit(code: i32) {
    app::exit_application(code);
}

/// Whether this thread is the application object's thread.
pub fn on_application_thread() -> bool {
    app::on_application_thread()
}

/// Creates the process's `QCoreApplication` now, if it has no application
/// object yet (a console application; a GUI one creates its
/// `QGuiApplication` instead). [`EventLoop::new`](crate::EventLoop::new)
/// does it too, but logs a warning, since a GUI application that forgot
/// its `QGuiApplication` would otherwise fail silently later. Returns
/// whether it created one. Safe to call from racing threads.
pub fn ensure_core_application() -> bool {
    app::ensure_core_application(true)
}
