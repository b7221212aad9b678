//! The QML engine helpers and the `AsyncJob` QObject, for `qtloop::qml`.

use cxx::UniquePtr;
#[cfg(feature = "testing")]
use cxx_qt_lib::QImage;
use cxx_qt_lib::{QQmlApplicationEngine, QString, QUrl, QVariant};

pub use super::bridge::job::qobject::AsyncJob;
pub use super::bridge::job::AsyncJobRust;
use super::bridge::qml as ffi;

/// A new `AsyncJob` owned by Rust.
pub(crate) fn new_async_job() -> UniquePtr<AsyncJob> {
    ffi::new_async_job()
}

/// `QUrl::fromLocalFile`.
pub(crate) fn local_file_url(path: &QString) -> QUrl {
    ffi::local_file_url(path)
}

#[cfg(feature = "testing")]
/// Saves `image` as a PNG file; false if it could not be written.
pub(crate) fn save_png(image: &QImage, path: &QString) -> bool {
    ffi::save_png(image, path)
}

/// A guarded pointer to the object of `engine`'s scene named `name`.
pub(crate) fn find_object(
    engine: &QQmlApplicationEngine,
    name: &QString,
) -> Option<UniquePtr<super::signal::ObjectHandle>> {
    let handle = ffi::find_object(engine, name);
    (!handle.is_null()).then_some(handle)
}

/// How many root windows `engine` has.
pub(crate) fn root_window_count(engine: &QQmlApplicationEngine) -> i32 {
    ffi::root_window_count(engine)
}

/// Shows every root window of `engine`.
pub(crate) fn show_root_windows(engine: &QQmlApplicationEngine) {
    ffi::show_root_windows(engine)
}

#[cfg(feature = "testing")]
/// Renders the first root window (a null image if there is none).
pub(crate) fn grab_root_window(engine: &QQmlApplicationEngine) -> QImage {
    ffi::grab_root_window(engine)
}

#[cfg(feature = "testing")]
/// Clicks the centre of the visible item named `name`; false if none.
pub(crate) fn click_object(engine: &QQmlApplicationEngine, name: &QString) -> bool {
    ffi::click_object(engine, name)
}

/// Reads `property` of the object named `name` (`None` if there is none).
pub(crate) fn read_object_property(
    engine: &QQmlApplicationEngine,
    name: &QString,
    property: &QString,
) -> Option<QVariant> {
    let mut found = false;
    let v = ffi::read_object_property(engine, name, property, &mut found);
    found.then_some(v)
}

#[cfg(feature = "testing")]
/// Evaluates `expression` in the scope of the object named `name`.
pub(crate) fn evaluate_on_object(
    engine: &QQmlApplicationEngine,
    name: &QString,
    expression: &QString,
) -> Result<QVariant, QString> {
    let mut error = QString::default();
    let v = ffi::evaluate_on_object(engine, name, expression, &mut error);
    if error.is_empty() {
        Ok(v)
    } else {
        Err(error)
    }
}

/// Writes `property` of the object named `name`; false if it could not.
pub(crate) fn write_object_property(
    engine: &QQmlApplicationEngine,
    name: &QString,
    property: &QString,
    value: &QVariant,
) -> bool {
    ffi::write_object_property(engine, name, property, value)
}
