//! qtloop in an existing cxx-qt application: the app keeps its own
//! `QGuiApplication`, engine and `exec()`; qtloop adds one loop on the GUI
//! thread and Rust jobs that QML starts (`qml/embed.qml` fetches once and
//! quits).
use cxx_qt_lib::{QGuiApplication, QQmlApplicationEngine, QString, QUrl, QVariant};

fn main() -> qtloop::Result<()> {
    let mut app = QGuiApplication::new(); // the app's own, created first
    let mut engine = QQmlApplicationEngine::new();
    let _lp = qtloop::EventLoop::new()?; // 1. one loop on the GUI thread
    qtloop::qml::register_job("fetch", |_ctx| async move {
        qtloop::sleep(0.2).await?; // 2. async Rust work that QML starts
        Ok::<_, qtloop::Error>(QVariant::from(&42i32))
    });
    let qml = concat!("file://", env!("CARGO_MANIFEST_DIR"), "/qml/embed.qml");
    if let Some(engine) = engine.as_mut() {
        engine.load(&QUrl::from(&QString::from(qml)));
    }
    if let Some(app) = app.as_mut() {
        app.exec(); // 3. Qt's own exec() runs qtloop; aboutToQuit closes it
    }
    Ok(())
}
