//! Any signal of any QObject by signature (`qt::signal`): QML signals with
//! typed arguments, a Qt Quick Controls button clicked for real, a cxx-qt
//! QObject's signal, and the edges QCoro's users hit: the resume inside the
//! emitter, the sender destroyed mid-await, a wrong signature, timeouts.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use cxx_qt_lib::{QString, QVariant};
use futures::StreamExt;
use qtloop::qml::{register_job, unregister_job, QmlApp};
use qtloop::qt::{self, live_signal_connections};
use qtloop::{Error, EventLoop};

cases!(qt_signals:
    a_qml_signal_with_typed_arguments,
    a_real_click_on_a_controls_button,
    a_cxx_qt_objects_signal_by_signature,
    the_task_never_resumes_inside_the_emitter,
    the_senders_destruction_fails_a_pending_next_at_once,
    a_stream_ends_when_the_sender_dies,
    dropping_the_source_disconnects,
    a_wrong_signature_names_the_class_and_similar_signals,
    a_timeout_leaves_the_source_usable,
    an_emission_on_another_thread_is_queued_to_the_loop,
);

const SCENE: &str = r#"
import QtQuick
import QtQuick.Window
import QtQuick.Controls
import Qtloop
Window {
    objectName: "w"; width: 240; height: 120; visible: true
    signal ping(int n, string word)
    Button { objectName: "ok"; text: "OK"; x: 10; y: 10; width: 100; height: 40 }
    Item { objectName: "box"; width: 10; height: 10 }
    AsyncJob { objectName: "job"; job: "t_sig_double" }
    function makeTemp() {
        return Qt.createQmlObject('import QtQuick; Item { objectName: "tmp" }', contentItem);
    }
}
"#;

fn scene() -> (QmlApp, EventLoop) {
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    app.load_source(SCENE, "signals.qml").unwrap();
    (app, lp)
}

fn a_qml_signal_with_typed_arguments() {
    let (app, lp) = scene();
    let w = app.find_object("w").unwrap();
    assert!(
        w.class_name().contains("QQuickWindow"),
        "{}",
        w.class_name()
    );
    // Qt's normalization: spaces and `string` as QString.
    let mut ping = qt::signal(&w, "ping( int , QString )").unwrap();
    assert_eq!(ping.signature(), "ping( int , QString )");
    app.evaluate("w", "ping(7, 'seven')").unwrap();
    app.evaluate("w", "ping(8, 'eight')").unwrap();
    assert_eq!(ping.pending(), 2);
    let (first, second) = lp
        .run_until_complete(async move {
            let raw = ping.next().await?;
            let typed: (i32, QString) = ping.next_as().await?;
            Ok::<_, Error>((raw, typed))
        })
        .unwrap()
        .unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].value::<i32>(), Some(7));
    assert_eq!(first[1].value::<QString>().unwrap().to_string(), "seven");
    assert_eq!(second.0, 8);
    assert_eq!(second.1.to_string(), "eight");
    // A tuple of the wrong size is a clear error, not a panic.
    let mut again = qt::signal(&w, "ping").unwrap();
    app.evaluate("w", "ping(1, 'x')").unwrap();
    let r = lp
        .run_until_complete(async move { again.next_as::<(i32,)>().await })
        .unwrap();
    assert!(matches!(r, Err(Error::InvalidArgument(m)) if m.contains("2 argument")));
    lp.close().unwrap();
}

fn a_real_click_on_a_controls_button() {
    let (app, lp) = scene();
    let ok = app.find_object("ok").unwrap();
    // A bare name: Button has one `clicked`.
    let mut clicked = qt::signal(&ok, "clicked").unwrap();
    assert_eq!(clicked.signature(), "clicked()");
    let app = Rc::new(app);
    let a = app.clone();
    lp.call_later(0.02, move || a.click("ok").unwrap()).unwrap();
    let args = lp
        .run_until_complete(async move { qtloop::timeout(10.0, clicked.next()).await })
        .unwrap()
        .expect("the click came within 10 s")
        .unwrap();
    assert!(args.is_empty());
    lp.close().unwrap();
}

fn a_cxx_qt_objects_signal_by_signature() {
    register_job("t_sig_double", |ctx| async move {
        let n = ctx.argument().value::<i32>().unwrap_or(0);
        qtloop::sleep(0.005).await?;
        Ok::<_, Error>(QVariant::from(&(n * 2)))
    });
    let (app, lp) = scene();
    let job = app.find_object("job").unwrap();
    assert!(
        job.class_name().contains("AsyncJob"),
        "{}",
        job.class_name()
    );
    let mut finished = qt::signal(&job, "finished(QVariant)").unwrap();
    app.evaluate("job", "start(21)").unwrap();
    let (value,): (i32,) = lp
        .run_until_complete(async move { qtloop::timeout(10.0, finished.next_as()).await })
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(value, 42);
    unregister_job("t_sig_double");
    lp.close().unwrap();
}

fn the_task_never_resumes_inside_the_emitter() {
    let (app, lp) = scene();
    let w = app.find_object("w").unwrap();
    let mut ping = qt::signal(&w, "ping(int,QString)").unwrap();
    let resumed = Rc::new(Cell::new(false));
    let r = resumed.clone();
    let task = lp.create_task(async move {
        let args = ping.next().await.unwrap();
        r.set(true);
        args[0].value::<i32>()
    });
    let app = Rc::new(app);
    let a = app.clone();
    let seen = Rc::new(RefCell::new(None));
    let s = seen.clone();
    let r = resumed.clone();
    // Once the task waits, emit from a callback: right after the emission
    // returns, the task must not have run yet.
    lp.call_later(0.01, move || {
        a.evaluate("w", "ping(5, 'five')").unwrap();
        *s.borrow_mut() = Some(r.get());
    })
    .unwrap();
    assert_eq!(lp.run_until_complete(task).unwrap().unwrap(), Some(5));
    assert_eq!(*seen.borrow(), Some(false), "the task resumed inside emit");
    assert!(resumed.get());
    lp.close().unwrap();
}

fn the_senders_destruction_fails_a_pending_next_at_once() {
    let (app, lp) = scene();
    app.evaluate("w", "makeTemp()").unwrap();
    let tmp = app.find_object("tmp").unwrap();
    let mut widths = qt::signal(&tmp, "widthChanged()").unwrap();
    // One emission before the destruction is still delivered first.
    app.evaluate("tmp", "width = 3").unwrap();
    let app = Rc::new(app);
    let a = app.clone();
    let t0 = std::time::Instant::now();
    lp.call_later(0.02, move || {
        a.evaluate("tmp", "destroy()").unwrap();
    })
    .unwrap();
    let (first, second) = lp
        .run_until_complete(async move {
            let first = widths.next().await;
            let second = widths.next().await;
            assert!(!widths.is_connected());
            (first, second)
        })
        .unwrap();
    assert!(first.unwrap().is_empty());
    assert_eq!(second, Err(Error::ObjectDestroyed));
    assert!(t0.elapsed().as_secs_f64() < 5.0);
    assert!(!tmp.is_alive());
    assert_eq!(tmp.class_name(), "");
    assert!(matches!(
        qt::signal(&tmp, "widthChanged()"),
        Err(Error::ObjectDestroyed)
    ));
    lp.close().unwrap();
}

fn a_stream_ends_when_the_sender_dies() {
    let (app, lp) = scene();
    app.evaluate("w", "makeTemp()").unwrap();
    let tmp = app.find_object("tmp").unwrap();
    let stream = qt::signal(&tmp, "widthChanged()").unwrap().stream();
    for w in 1..=5 {
        app.evaluate("tmp", &format!("width = {w}")).unwrap();
    }
    app.evaluate("tmp", "destroy()").unwrap();
    let n = lp
        .run_until_complete(qtloop::timeout(10.0, stream.count()))
        .unwrap()
        .expect("the stream ended");
    assert_eq!(n, 5);
    lp.close().unwrap();
}

fn dropping_the_source_disconnects() {
    let (app, lp) = scene();
    let before = live_signal_connections();
    let box_ = app.find_object("box").unwrap();
    let source = qt::signal(&box_, "widthChanged()").unwrap();
    let other = qt::signal(&box_, "widthChanged()").unwrap();
    assert_eq!(live_signal_connections(), before + 2);
    drop(source);
    assert_eq!(live_signal_connections(), before + 1);
    // The survivor still hears the emissions; nothing reaches the dropped one.
    app.evaluate("box", "width = 20").unwrap();
    assert_eq!(other.pending(), 1);
    // A future dropped mid-await disconnects with its source.
    let task = lp.create_task(async move {
        let mut s = other;
        let _ = s.next().await;
        let _ = s.next().await; // never comes
    });
    lp.run_until_complete(qtloop::sleep(0.02)).unwrap().unwrap();
    task.cancel();
    let _ = lp.run_until_complete(task);
    assert_eq!(live_signal_connections(), before);
    app.evaluate("box", "width = 30").unwrap();
    lp.close().unwrap();
}

fn a_wrong_signature_names_the_class_and_similar_signals() {
    let (app, lp) = scene();
    let box_ = app.find_object("box").unwrap();
    let e = qt::signal(&box_, "widthChangd()").unwrap_err();
    match &e {
        Error::NoSuchSignal {
            class,
            signature,
            similar,
        } => {
            assert!(class.contains("QQuickItem"), "{class}");
            assert_eq!(signature, "widthChangd()");
            assert_eq!(similar.first().map(String::as_str), Some("widthChanged()"));
        }
        other => panic!("{other:?}"),
    }
    let text = e.to_string();
    assert!(
        text.contains("QQuickItem") && text.contains("widthChanged()"),
        "{text}"
    );
    // An overloaded bare name is ambiguous: the error lists the overloads.
    match qt::signal(&box_, "destroyed").unwrap_err() {
        Error::NoSuchSignal { similar, .. } => {
            assert!(similar.contains(&"destroyed()".to_string()), "{similar:?}");
            assert!(
                similar.contains(&"destroyed(QObject*)".to_string()),
                "{similar:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A wrong argument list is wrong too.
    assert!(matches!(
        qt::signal(&box_, "widthChanged(int)"),
        Err(Error::NoSuchSignal { .. })
    ));
    lp.close().unwrap();
}

fn a_timeout_leaves_the_source_usable() {
    let (app, lp) = scene();
    let w = app.find_object("w").unwrap();
    let mut ping = qt::signal(&w, "ping(int,QString)").unwrap();
    let app = Rc::new(app);
    let a = app.clone();
    let (n, _): (i32, QString) = lp
        .run_until_complete(async move {
            let r = qtloop::timeout(0.02, ping.next()).await;
            assert!(r.is_err(), "nothing was emitted: the wait times out");
            a.evaluate("w", "ping(9, 'nine')").unwrap();
            ping.next_as().await
        })
        .unwrap()
        .unwrap();
    assert_eq!(n, 9);
    lp.close().unwrap();
}

fn an_emission_on_another_thread_is_queued_to_the_loop() {
    let lp = EventLoop::new().unwrap();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    // QThread emits finished() on the thread it manages, just before it ends.
    let worker = qt::spawn_qthread("emitter", move || {
        wait.recv().unwrap();
        std::thread::current().id()
    });
    let object = worker.object().expect("a QThread");
    assert!(
        object.class_name().contains("QThread"),
        "{}",
        object.class_name()
    );
    let mut finished = qt::signal(&object, "finished()").unwrap();
    go.send(()).unwrap();
    let loop_thread = std::thread::current().id();
    let (args, on) = lp
        .run_until_complete(async move {
            let args = qtloop::timeout(10.0, finished.next()).await;
            (args, std::thread::current().id())
        })
        .unwrap();
    assert!(args.expect("finished() within 10 s").unwrap().is_empty());
    assert_eq!(on, loop_thread);
    assert_ne!(worker.join().unwrap(), loop_thread);
    lp.close().unwrap();
}
