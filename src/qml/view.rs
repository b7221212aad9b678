//! Looking at a QML engine's windows like a person: properties by
//! `objectName`, and with the `testing` feature pixels, clicks and
//! expressions. [`QmlApp`](super::QmlApp) has the same methods; a
//! [`QmlView`] gives them for an application's own engine.

#[cfg(feature = "testing")]
use std::path::Path;

#[cfg(feature = "testing")]
use cxx_qt_lib::QImage;
use cxx_qt_lib::{QQmlApplicationEngine, QString, QVariant};

use crate::driver::qml as ffi;
use crate::error::{Error, Result};
use crate::qt::QtObject;

/// The windows of a `QQmlApplicationEngine` you created yourself, seen as
/// [`QmlApp`](super::QmlApp) sees its own: to test your application's
/// window the way qtloop's examples are tested.
///
/// ```rust,ignore
/// let mut engine = QQmlApplicationEngine::new();
/// engine.pin_mut().load(&QUrl::from(&QString::from("qrc:/qt/qml/com/example/app/qml/main.qml")));
/// let view = qtloop::qml::QmlView::new(&engine);
/// view.click("fetch")?;                         // feature `testing`
/// assert_eq!(view.string_property("status", "text")?, "done");
/// view.save_screenshot("target/main.png")?;     // feature `testing`
/// ```
#[derive(Clone, Copy)]
pub struct QmlView<'a> {
    engine: &'a QQmlApplicationEngine,
}

impl<'a> QmlView<'a> {
    /// A view of `engine`'s root windows (the first one for pixels).
    pub fn new(engine: &'a QQmlApplicationEngine) -> Self {
        Self { engine }
    }

    /// Shows every root window (for QML that starts `visible: false`).
    pub fn show(&self) {
        ffi::show_root_windows(self.engine);
    }

    /// Renders the first window into an image, as it looks now.
    #[cfg(feature = "testing")]
    pub fn grab(&self) -> Result<QImage> {
        let image = ffi::grab_root_window(self.engine);
        if image.is_null() {
            Err(Error::Qt("there is no window to grab".into()))
        } else {
            Ok(image)
        }
    }

    /// [`grab`](Self::grab) and save as PNG (creating the directory).
    #[cfg(feature = "testing")]
    pub fn save_screenshot(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::InvalidArgument(format!("{}: {e}", dir.display())))?;
        }
        let image = self.grab()?;
        if ffi::save_png(&image, &QString::from(path.to_string_lossy().as_ref())) {
            Ok(())
        } else {
            Err(Error::Qt(format!("could not write {}", path.display())))
        }
    }

    /// Clicks (left press and release) the centre of the visible item whose
    /// `objectName` is `name`, through the window's event delivery.
    #[cfg(feature = "testing")]
    pub fn click(&self, name: &str) -> Result<()> {
        if ffi::click_object(self.engine, &QString::from(name)) {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "no visible item with objectName `{name}`"
            )))
        }
    }

    /// The object of the scene whose `objectName` is `name`, held by a
    /// guarded pointer: await its signals with
    /// [`qt::signal`](crate::qt::signal).
    pub fn find_object(&self, name: &str) -> Result<QtObject> {
        ffi::find_object(self.engine, &QString::from(name))
            .map(QtObject::from_handle)
            .ok_or_else(|| Error::InvalidArgument(format!("no object with objectName `{name}`")))
    }

    /// Reads `property` of the object whose `objectName` is `name`.
    pub fn property(&self, name: &str, property: &str) -> Result<QVariant> {
        ffi::read_object_property(self.engine, &QString::from(name), &QString::from(property))
            .ok_or_else(|| Error::InvalidArgument(format!("no object with objectName `{name}`")))
    }

    /// [`property`](Self::property) as text (empty if it is not a string).
    pub fn string_property(&self, name: &str, property: &str) -> Result<String> {
        Ok(self
            .property(name, property)?
            .value::<QString>()
            .map(|s| s.to_string())
            .unwrap_or_default())
    }

    /// Evaluates a JavaScript expression in the scope of the object whose
    /// `objectName` is `name`, as QML code there would: `"start(21)"` calls
    /// its `start` method, `"width * 2"` reads a property.
    #[cfg(feature = "testing")]
    pub fn evaluate(&self, name: &str, expression: &str) -> Result<QVariant> {
        ffi::evaluate_on_object(
            self.engine,
            &QString::from(name),
            &QString::from(expression),
        )
        .map_err(|e| Error::Qt(e.to_string()))
    }

    /// Writes `property` of the object whose `objectName` is `name`.
    pub fn set_property(&self, name: &str, property: &str, value: &QVariant) -> Result<()> {
        if ffi::write_object_property(
            self.engine,
            &QString::from(name),
            &QString::from(property),
            value,
        ) {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "could not set `{property}` of `{name}`"
            )))
        }
    }
}

impl std::fmt::Debug for QmlView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QmlView")
            .field("windows", &ffi::root_window_count(self.engine))
            .finish()
    }
}
