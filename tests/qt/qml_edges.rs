//! `AsyncJob` and the application object at their edges (issue 14, items
//! 27 and 29): a QML handler that restarts a job from a notify signal, and
//! loops created on racing threads before any application exists.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Arc, Barrier};

use cxx_qt_lib::QVariant;
use qtloop::qml::{register_job, QmlApp};
use qtloop::{Error, EventLoop};

use crate::qml::{flag, job_window, started, string, wait_until};

cases!(qml_edges:
    a_restart_from_on_running_changed_after_finishing_keeps_the_new_run,
    a_restart_from_on_running_changed_after_cancel_keeps_the_new_run,
    racing_first_loops_make_one_application,
    headless_with_threads_running_leaves_the_environment_alone,
    a_qml_module_file_loads_from_its_qrc_path,
    the_readmes_embedding_snippet_is_the_tested_example,
);

/// Restarts the job once, from `onRunningChanged`, when it stops; and
/// logs whether the job runs when its outcome arrives.
const RESTART_ONCE: &str = r#"
    property int restarts: 0
    Connections {
        target: j
        function onRunningChanged() {
            if (!j.running && restarts < 1) { restarts += 1; j.start(null) }
        }
        function onFinished(r) { log += "running=" + j.running + ";" }
    }
"#;

fn a_restart_from_on_running_changed_after_finishing_keeps_the_new_run() {
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    let runs = Rc::new(Cell::new(0));
    let r = runs.clone();
    register_job("t_restart", move |_ctx| {
        r.set(r.get() + 1);
        let n = r.get();
        async move {
            qtloop::sleep(0.01).await?;
            Ok::<_, Error>(QVariant::from(&n))
        }
    });
    app.load_source(&job_window("t_restart", RESTART_ONCE), "restart.qml")
        .unwrap();
    assert!(started(&app, "start(null)"));
    // The first run finishes; its running=false restarts the job. The new
    // run must stay running (the old code then wrote "finished" over it).
    assert!(wait_until(&lp, 5.0, || runs.get() == 2));
    assert!(flag(&app, "job", "running"));
    assert_eq!(string(&app, "job", "status"), "running");
    assert!(wait_until(&lp, 5.0, || !flag(&app, "job", "running")));
    assert_eq!(string(&app, "job", "status"), "finished");
    assert_eq!(
        app.property("job", "result").unwrap().value::<i32>(),
        Some(2)
    );
    assert_eq!(runs.get(), 2, "one task per start");
    // Each outcome arrives before the restart its notify signal causes: the
    // first run's `finished` used to come after the second run started.
    assert_eq!(
        string(&app, "window", "log"),
        "finished:1;running=false;finished:2;running=false;"
    );
    drop(app);
    lp.close().unwrap();
}

fn a_restart_from_on_running_changed_after_cancel_keeps_the_new_run() {
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    let runs = Rc::new(Cell::new(0));
    let r = runs.clone();
    register_job("t_restart_parked", move |_ctx| {
        r.set(r.get() + 1);
        async move {
            qtloop::sleep(60.0).await?;
            Ok::<_, Error>(QVariant::default())
        }
    });
    app.load_source(
        &job_window("t_restart_parked", RESTART_ONCE),
        "restart2.qml",
    )
    .unwrap();
    assert!(started(&app, "start(null)"));
    app.evaluate("job", "cancel()").unwrap();
    // cancel() wrote running=false, the handler started a new run: that
    // one is running, not "cancelled".
    assert_eq!(runs.get(), 2);
    assert!(flag(&app, "job", "running"));
    assert_eq!(string(&app, "job", "status"), "running");
    // And the new run can be cancelled in turn.
    app.evaluate("job", "cancel()").unwrap();
    assert!(!flag(&app, "job", "running"));
    assert_eq!(string(&app, "job", "status"), "cancelled");
    assert_eq!(runs.get(), 2);
    drop(app);
    lp.close().unwrap();
}

fn racing_first_loops_make_one_application() {
    let stderr = crate::child_stderr("app_race", &[]);
    assert!(stderr.contains("8 loops ran"), "{stderr}");
}

/// In a fresh process (no application yet): 8 threads create their first
/// loop at once. One `QCoreApplication` is made, the creation is logged
/// once with the fix for GUI apps, every loop works, and a GUI application
/// asked for afterwards is a clear error.
pub fn app_race_child() {
    struct Count;
    static CREATED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    impl log::Log for Count {
        fn enabled(&self, _: &log::Metadata) -> bool {
            true
        }
        fn log(&self, r: &log::Record) {
            let msg = r.args().to_string();
            if msg.contains("created a QCoreApplication") {
                assert_eq!(r.level(), log::Level::Warn);
                assert!(msg.contains("QGuiApplication"), "{msg}");
                CREATED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        fn flush(&self) {}
    }
    log::set_logger(&Count).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let b = barrier.clone();
            std::thread::spawn(move || {
                b.wait();
                let lp = EventLoop::new().unwrap();
                let v = lp.run_until_complete(async {
                    qtloop::sleep(0.01).await.unwrap();
                    7
                });
                lp.close().unwrap();
                v.unwrap()
            })
        })
        .collect();
    let ran = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|v| *v == 7)
        .count();
    assert_eq!(
        CREATED.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "applications made"
    );
    let gui = qtloop::qml::ensure_gui_application();
    assert!(
        matches!(&gui, Err(Error::Qt(m)) if m.contains("before the first EventLoop")),
        "{gui:?}"
    );
    eprintln!("{ran} loops ran");
}

fn headless_with_threads_running_leaves_the_environment_alone() {
    let unset = ["QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"];
    let stderr = crate::child_stderr("offscreen", &unset);
    assert!(stderr.contains("offscreen window grabbed"), "{stderr}");
}

/// No display, no `QT_QPA_PLATFORM`, and a second thread running: the
/// environment is not written (a data race with that thread), yet the
/// `QGuiApplication` qtloop makes is offscreen (without a platform Qt
/// would abort: no display to connect to).
pub fn offscreen_child() {
    let (stop, parked) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        let _ = parked.recv();
    });
    assert!(qtloop::qml::use_offscreen_if_no_display());
    assert!(
        std::env::var_os("QT_QPA_PLATFORM").is_none(),
        "the environment was written"
    );
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    let window = "import QtQuick\nimport QtQuick.Window\nWindow { width: 40; height: 30; visible: true; color: \"red\" }";
    app.load_source(window, "offscreen.qml").unwrap();
    lp.run_until_complete(qtloop::sleep(0.05)).unwrap().unwrap();
    let image = app.grab().unwrap();
    assert_eq!(crate::qml::rgb_at(&image, 10, 10), (255, 0, 0));
    drop(app);
    lp.close().unwrap();
    let _ = stop.send(());
    other.join().unwrap();
    eprintln!("offscreen window grabbed");
}

/// The README says where `cxx-qt-build` puts a QML module's files: the
/// `Qtloop` module's `qml/LoopStatus.qml` is at this path.
fn a_qml_module_file_loads_from_its_qrc_path() {
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    let window = r#"
import QtQuick
import QtQuick.Window
Window {
    objectName: "window"; width: 100; height: 40; visible: true
    Loader { objectName: "loader"; source: "qrc:/qt/qml/Qtloop/qml/LoopStatus.qml" }
}"#;
    app.load_source(window, "qrc_path.qml").unwrap();
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
    // Loader.Ready is 1 (Error is 3).
    let status = app.property("loader", "status").unwrap().value::<i32>();
    assert_eq!(status, Some(1));
    drop(app);
    lp.close().unwrap();
}

/// The README's embedding snippet is `examples/embed.rs` (which a test
/// runs), so the snippet cannot drift into one that does not work.
fn the_readmes_embedding_snippet_is_the_tested_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example = std::fs::read_to_string(format!("{root}/examples/embed.rs")).unwrap();
    let code = &example[example.find("use cxx_qt_lib").unwrap()..];
    assert!(
        readme.contains(code),
        "the README's snippet differs from examples/embed.rs"
    );
}
