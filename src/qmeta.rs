//! qmetaobject integration (feature `qmetaobject`): the same qtloop loop
//! driving a QML app built on the qmetaobject crate.
//!
//! qmetaobject's `QmlEngine::new()` creates the process's `QApplication`, so
//! create it *before* the [`EventLoop`](crate::EventLoop) (which then uses
//! that application), and run the app with the engine's `exec()`: qtloop's
//! callbacks, timers and tasks run inside it, and its `aboutToQuit` closes
//! the loop. qmetaobject's own timers (`single_shot`) and future executor
//! are not needed: use qtloop's `sleep`, tasks and executor.
//!
//! A qmetaobject QObject starts tasks from its `qt_method!`s; a
//! [`TaskScope`](crate::qt::TaskScope) field cancels them when the object is
//! destroyed, and [`with`] reaches the object after an await through a
//! `QPointer`, failing cleanly once it is gone:
//!
//! ```ignore
//! #[derive(QObject, Default)]
//! struct Counter {
//!     base: qt_base_class!(trait QObject),
//!     value: qt_property!(i32; NOTIFY value_changed),
//!     value_changed: qt_signal!(),
//!     count_to: qt_method!(fn(&self, n: i32)),
//!     tasks: qtloop::qt::TaskScope,
//! }
//! impl Counter {
//!     fn count_to(&self, n: i32) {
//!         let me = QPointer::from(self);
//!         self.tasks.spawn(async move {
//!             for i in 1..=n {
//!                 qtloop::sleep(0.05).await?;
//!                 qtloop::qmeta::with(&me, |c| { c.borrow_mut().value = i; c.borrow().value_changed() })?;
//!             }
//!             Ok::<_, qtloop::Error>(())
//!         });
//!     }
//! }
//! ```

use qmetaobject::{QObject, QObjectPinned, QPointer};

use crate::error::{Error, Result};

/// Runs `f` with the object behind `ptr` if it still exists (on the
/// object's thread, which is the loop's); `Err(Error::ObjectDestroyed)` if
/// it was deleted. Borrow it inside `f` only (no `RefMut` across awaits).
pub fn with<T: QObject, R>(
    ptr: &QPointer<T>,
    f: impl FnOnce(QObjectPinned<'_, T>) -> R,
) -> Result<R> {
    ptr.as_pinned().map(f).ok_or(Error::ObjectDestroyed)
}
