//! A minimal qtloop application: a QML window, one `AsyncJob` whose Rust
//! job runs blocking work on the pool with progress and Cancel, and one
//! Rust QObject (`Greeter`) whose invokable spawns a task.
//!
//! `cargo run` opens the window. Without a display, or with `--self-test`,
//! it presses its own buttons, prints what it got, and quits.

mod greeter;

use std::time::Duration;

use cxx_qt_lib::{QGuiApplication, QQmlApplicationEngine, QString, QUrl, QVariant};

fn main() -> qtloop::Result<()> {
    // Headless (CI, ssh): Qt's offscreen platform, and the self-test.
    let headless = qtloop::qml::use_offscreen_if_no_display();
    greeter::set_autorun(headless || std::env::args().any(|a| a == "--self-test"));

    // 1. The application first, 2. the loop on its thread, 3. the jobs,
    // 4. the QML, 5. Qt's own exec() (it runs qtloop; quitting closes it).
    let mut app = QGuiApplication::new();
    let _lp = qtloop::EventLoop::new()?;
    qtloop::qml::register_job("answer", |ctx| async move {
        let question = ctx.argument().value::<i32>().unwrap_or(21);
        // Blocking work on a pool thread: progress to the item's bar, and
        // Cancel in QML makes `token.sleep` return `Err(Cancelled)`.
        let answer = ctx
            .run_blocking(move |token| {
                for step in 1..=10 {
                    token.sleep(Duration::from_millis(30))?;
                    token.set_progress(step as f64 / 10.0);
                }
                Ok::<_, qtloop::Error>(question * 2)
            })
            .await??;
        Ok::<_, qtloop::Error>(QVariant::from(&answer))
    });
    let mut engine = QQmlApplicationEngine::new();
    if let Some(engine) = engine.as_mut() {
        let url = "qrc:/qt/qml/com/example/app/qml/main.qml";
        engine.load(&QUrl::from(&QString::from(url)));
    }
    if let Some(app) = app.as_mut() {
        app.exec();
    }
    Ok(())
}
