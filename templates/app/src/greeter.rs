//! A Rust QObject for QML: `greet(name)` spawns a qtloop task that does
//! async work, then sets the `greeting` property on the GUI thread.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};

use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::QString;

static AUTORUN: AtomicBool = AtomicBool::new(false);

/// Whether the window runs its self-test (headless runs).
pub fn set_autorun(on: bool) {
    AUTORUN.store(on, Ordering::Relaxed);
}

#[cxx_qt::bridge]
pub mod qobject {
    unsafe extern "C++" {
        include!("cxx-qt-lib/qstring.h");
        type QString = cxx_qt_lib::QString;
    }

    extern "RustQt" {
        #[qobject]
        #[qml_element]
        #[qproperty(QString, greeting)]
        #[qproperty(bool, autorun)]
        type Greeter = super::GreeterRust;

        /// Greets `name` a moment later (an async task on the loop).
        #[qinvokable]
        fn greet(self: Pin<&mut Greeter>, name: &QString);
    }

    impl cxx_qt::Threading for Greeter {}
}

/// The Rust side of `Greeter`.
pub struct GreeterRust {
    greeting: QString,
    autorun: bool,
    /// Cancels the object's tasks when QML destroys it.
    tasks: qtloop::qt::TaskScope,
}

impl Default for GreeterRust {
    fn default() -> Self {
        Self {
            greeting: QString::default(),
            autorun: AUTORUN.load(Ordering::Relaxed),
            tasks: qtloop::qt::TaskScope::new(),
        }
    }
}

impl qobject::Greeter {
    /// Runs on the GUI thread; the task it spawns too, after each await.
    pub fn greet(self: Pin<&mut Self>, name: &QString) {
        let obj = qtloop::qt::ObjectRef::new(self.qt_thread());
        let name = name.to_string();
        self.rust().tasks.spawn(async move {
            qtloop::sleep(0.1).await?; // stands for real async work
            let text = QString::from(format!("Hello, {name}!").as_str());
            obj.update(move |o| o.set_greeting(text)).await
        });
    }
}
