//! `QmlApp`'s and `AsyncJob`'s edges: clear errors, a job outliving its
//! item, a non-blocking modal dialog awaited by a job, and the demo in a
//! real X window (Xvfb).

use std::cell::RefCell;
use std::process::Command;
use std::rc::Rc;

use cxx_qt_lib::{QImage, QVariant};
use qtloop::qml::{register_job, unregister_job, JobContext, QmlApp};
use qtloop::{Error, EventLoop};

use crate::qml::{close_to, rgb_at, wait_until};

cases!(qml_app:
    qml_app_errors_are_clear,
    a_job_context_knows_when_its_item_is_gone,
    a_job_awaits_a_modal_dialog_opened_with_open,
    eratosthenes_in_a_real_x_window,
    a_view_of_the_applications_own_engine,
);

fn qml_app_errors_are_clear() {
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    assert!(matches!(
        app.load_file("/nonexistent/main.qml"),
        Err(Error::InvalidArgument(m)) if m.contains("no QML file")
    ));
    assert!(matches!(
        app.load_source("import QtQuick\nWindow { nonsense: }", "broken.qml"),
        Err(Error::Qt(m)) if m.contains("gave no window")
    ));
    // A real file loads; its items can be read, written and evaluated.
    let path = std::env::temp_dir().join(format!("qtloop-{}.qml", std::process::id()));
    std::fs::write(
        &path,
        "import QtQuick\nimport QtQuick.Window\nWindow { objectName: \"w\"; width: 50; height: 40; \
         visible: true; property string word: \"hello\" }\n",
    )
    .unwrap();
    app.load_file(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(app.string_property("w", "word").unwrap(), "hello");
    assert_eq!(
        app.evaluate("w", "width * 2").unwrap().value::<i32>(),
        Some(100)
    );
    assert!(matches!(
        app.evaluate("w", "nosuchname + 1"),
        Err(Error::Qt(_))
    ));
    assert!(matches!(
        app.property("nobody", "x"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        app.set_property("nobody", "x", &QVariant::from(&1i32)),
        Err(Error::InvalidArgument(_))
    ));
    // An unregistered job fails to start, with its name in the error.
    register_job("t_gone", |_ctx| async {
        Ok::<_, Error>(QVariant::default())
    });
    assert!(unregister_job("t_gone"));
    assert!(!unregister_job("t_gone"));
    let mut job = qtloop::qml::new_async_job("t_gone");
    assert!(!job.pin_mut().start(&QVariant::default()));
    assert!(job.error().to_string().contains("no job named `t_gone`"));
    drop(job);
    drop(app);
    lp.close().unwrap();
}

fn a_job_context_knows_when_its_item_is_gone() {
    let lp = EventLoop::new().unwrap();
    let kept: Rc<RefCell<Option<JobContext>>> = Rc::default();
    let k = kept.clone();
    register_job("t_keep", move |ctx| {
        *k.borrow_mut() = Some(ctx);
        async {
            qtloop::sleep(60.0).await?;
            Ok::<_, Error>(QVariant::default())
        }
    });
    let mut job = qtloop::qml::new_async_job("t_keep");
    assert!(job.pin_mut().start(&QVariant::default()));
    let ctx = kept.borrow_mut().take().unwrap();
    assert!(ctx.is_alive());
    drop(job);
    assert!(!ctx.is_alive(), "the item was destroyed");
    // Updates to a destroyed item are dropped, not a crash.
    ctx.set_progress(0.5);
    ctx.send("late", QVariant::from(&1i32));
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
    lp.close().unwrap();
}

fn a_job_awaits_a_modal_dialog_opened_with_open() {
    // The awaitable form of a modal dialog: the job asks QML to open() it
    // (no nested loop) and awaits the answer in its inbox; other tasks run
    // meanwhile.
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    register_job("t_ask", |ctx| async move {
        use futures::StreamExt;
        let mut inbox = ctx.take_inbox().unwrap();
        ctx.send("open", QVariant::default());
        let (kind, value) = inbox.next().await.unwrap();
        assert_eq!(kind, "finished");
        Ok::<_, Error>(value)
    });
    let qml = r#"
import QtQuick
import QtQuick.Controls
import Qtloop
ApplicationWindow {
    objectName: "window"
    width: 300; height: 200; visible: true
    AsyncJob {
        id: ask
        objectName: "ask"
        job: "t_ask"
        onMessage: (kind, value) => { if (kind === "open") dialog.open() }
    }
    Dialog {
        id: dialog
        objectName: "dialog"
        modal: true
        title: "Proceed?"
        onAccepted: ask.post("finished", "accepted")
        onRejected: ask.post("finished", "rejected")
        footer: Button { objectName: "ok"; text: "OK"; onClicked: dialog.accept() }
    }
}
"#;
    app.load_source(qml, "ask.qml").unwrap();
    let ticks = Rc::new(std::cell::Cell::new(0));
    let t = ticks.clone();
    let ticker = lp.create_task(async move {
        loop {
            qtloop::sleep(0.002).await.unwrap();
            t.set(t.get() + 1);
        }
    });
    assert!(app
        .evaluate("ask", "start(null)")
        .unwrap()
        .value::<bool>()
        .unwrap());
    let opened = |app: &QmlApp| app.property("dialog", "opened").unwrap().value::<bool>();
    assert!(wait_until(&lp, 5.0, || opened(&app) == Some(true)));
    let before = ticks.get();
    wait_until(&lp, 0.05, || false);
    assert!(
        ticks.get() > before,
        "other tasks run while the dialog is open"
    );
    assert!(app
        .evaluate("ask", "running")
        .unwrap()
        .value::<bool>()
        .unwrap());
    app.click("ok").unwrap();
    assert!(wait_until(&lp, 5.0, || app
        .string_property("ask", "status")
        .unwrap()
        == "finished"));
    assert_eq!(app.string_property("ask", "result").unwrap(), "accepted");
    ticker.cancel();
    drop(app);
    lp.close().unwrap();
}

fn eratosthenes_in_a_real_x_window() {
    // The demo's window path: an X server (Xvfb), Qt's xcb platform.
    let exe = std::env::current_exe().unwrap();
    let examples = exe.parent().unwrap().parent().unwrap().join("examples");
    crate::embedding::example_with(
        "eratosthenes",
        &["--tick-ms", "1", "--screenshot", "/dev/null"],
    );
    let shot = std::env::temp_dir().join(format!("qtloop-xcb-{}.png", std::process::id()));
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 800x600x24"])
        .arg(examples.join("eratosthenes"))
        .args(["--exit-when-done", "--tick-ms", "1", "--screenshot"])
        .arg(&shot)
        .env_remove("QT_QPA_PLATFORM")
        .output()
        .expect("xvfb-run (Debian's xvfb, installed by scripts/setup)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let image = QImage::from_data(&std::fs::read(&shot).unwrap(), Some("PNG")).unwrap();
    let _ = std::fs::remove_file(&shot);
    // 2 is prime (green), 4 is not (grey), as offscreen.
    assert!(close_to(
        rgb_at(&image, 20 + 55 + 6, 62),
        (0x2e, 0x7d, 0x32)
    ));
    assert!(close_to(
        rgb_at(&image, 20 + 3 * 55 + 6, 62),
        (0xd9, 0xd9, 0xd9)
    ));
}

/// `QmlView` on an engine the application made itself (not a `QmlApp`):
/// click, read, write, evaluate and grab, as the examples' tests do.
fn a_view_of_the_applications_own_engine() {
    use cxx_qt_lib::{QByteArray, QQmlApplicationEngine, QString, QUrl};
    let lp = EventLoop::new().unwrap();
    let mut engine = QQmlApplicationEngine::new();
    let qml = r##"
import QtQuick
import QtQuick.Controls
import QtQuick.Window
Window {
    width: 200; height: 120; visible: true; color: "#2e7d32"
    Button { objectName: "button"; property int presses: 0; text: "press"; onClicked: presses++ }
    Text { objectName: "label"; y: 60; text: "hello" }
}
"##;
    engine.pin_mut().load_data(
        &QByteArray::from(qml),
        &QUrl::from(&QString::from("qrc:/own/main.qml")),
    );
    let view = qtloop::qml::QmlView::new(&engine);
    lp.run_until_complete(qtloop::sleep(0.05)).unwrap().unwrap();
    view.click("button").unwrap();
    view.click("button").unwrap();
    assert_eq!(
        view.property("button", "presses").unwrap().value::<i32>(),
        Some(2)
    );
    view.set_property("label", "text", &QVariant::from(&QString::from("bye")))
        .unwrap();
    assert_eq!(view.string_property("label", "text").unwrap(), "bye");
    assert_eq!(
        view.evaluate("button", "presses * 10")
            .unwrap()
            .value::<i32>(),
        Some(20)
    );
    assert!(view.click("nothing").is_err());
    let image = view.grab().unwrap();
    assert!(close_to(rgb_at(&image, 190, 110), (0x2e, 0x7d, 0x32)));
    drop(engine);
    lp.close().unwrap();
}
