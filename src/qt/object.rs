//! A QObject that Rust does not own, held safely: found in a QML scene, or
//! taken from a cxx-qt object, and asked whether it is still alive.

use cxx::UniquePtr;
use cxx_qt::casting::Upcast;
use cxx_qt::QObject;

use crate::driver::signal::{self as ffi, ObjectHandle};

/// A guarded pointer (Qt's `QPointer`) to a QObject owned by Qt: once Qt
/// destroys the object, [`is_alive`](Self::is_alive) is false and
/// [`qt::signal`](crate::qt::signal) fails with `Error::ObjectDestroyed`;
/// it is never used after free. Found with
/// [`QmlView::find_object`](crate::qml::QmlView::find_object) or made from
/// any cxx-qt QObject with [`QtObject::new`].
pub struct QtObject {
    handle: UniquePtr<ObjectHandle>,
}

impl QtObject {
    /// A guarded pointer to `object` (a cxx-qt QObject, or a `QObject`).
    pub fn new(object: &impl Upcast<QObject>) -> Self {
        Self::from_handle(ffi::handle(object.upcast()))
    }

    pub(crate) fn from_handle(handle: UniquePtr<ObjectHandle>) -> Self {
        Self { handle }
    }

    /// Whether the object still exists.
    pub fn is_alive(&self) -> bool {
        self.object().is_some()
    }

    /// Its class name from the meta-object (`QQuickRectangle`, ...); empty
    /// once it is destroyed.
    pub fn class_name(&self) -> String {
        self.handle
            .as_ref()
            .map(|h| h.class_name())
            .unwrap_or_default()
    }

    /// Its `objectName`; empty once it is destroyed.
    pub fn object_name(&self) -> String {
        self.handle
            .as_ref()
            .map(|h| h.object_name())
            .unwrap_or_default()
    }

    fn object(&self) -> Option<&QObject> {
        self.handle.as_ref().and_then(|h| h.object())
    }
}

impl std::fmt::Debug for QtObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QtObject")
            .field("class", &self.class_name())
            .field("name", &self.object_name())
            .field("alive", &self.is_alive())
            .finish()
    }
}

/// Anything [`qt::signal`](crate::qt::signal) can connect to: every cxx-qt
/// QObject (and `QObject` itself), and a [`QtObject`].
pub trait AsQObject {
    #[doc(hidden)]
    /// The object, if it is alive; only used synchronously.
    fn as_qobject(&self) -> Option<&QObject>;
}

impl<T: Upcast<QObject>> AsQObject for T {
    fn as_qobject(&self) -> Option<&QObject> {
        Some(self.upcast())
    }
}

impl AsQObject for QtObject {
    fn as_qobject(&self) -> Option<&QObject> {
        self.object()
    }
}
