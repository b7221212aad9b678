//! QML: `AsyncJob` items starting, cancelling and watching Rust jobs, and
//! the GUI examples run headless, judged by their screenshots.

use crate::{guarded, register_parked_job};
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use cxx_qt_lib::{QImage, QString, QVariant};
use qtloop::qml::{register_job, QmlApp};
use qtloop::{Error, EventLoop};

cases!(qml:
    job_result_progress_and_messages_reach_qml,
    cancel_from_qml_drops_the_future_and_ignores_late_updates,
    destroying_the_item_cancels_its_job,
    errors_panics_and_unknown_jobs_fail_clearly,
    start_while_running_is_refused,
    click_reaches_qml_and_screenshot_shows_it,
    eratosthenes_example_highlights_the_primes,
    minimal_changes_the_text_after_a_second_and_stays_responsive,
    downloads_finish_on_the_pool_and_one_is_cancelled,
    qml_posts_reach_the_running_job,
    periodic_clock_compensation_keeps_the_schedule,
    instrument_monitor_plots_takes_settings_and_terminates,
    embedding_in_a_cxx_qt_app_with_its_own_exec,
);

/// Runs the loop until `cond` holds (checked every 5 ms), at most `secs`.
pub fn wait_until(lp: &EventLoop, secs: f64, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while !cond() {
        if Instant::now() > end {
            return false;
        }
        lp.run_until_complete(qtloop::sleep(0.005))
            .unwrap()
            .unwrap();
    }
    true
}

/// Calls the job item's `start(...)` as QML would; what it returned.
pub fn started(app: &QmlApp, call: &str) -> bool {
    app.evaluate("job", call).unwrap().value::<bool>().unwrap()
}

pub fn string(app: &QmlApp, name: &str, prop: &str) -> String {
    app.string_property(name, prop).unwrap()
}

fn number(app: &QmlApp, name: &str, prop: &str) -> f64 {
    app.property(name, prop).unwrap().value::<f64>().unwrap()
}

pub fn flag(app: &QmlApp, name: &str, prop: &str) -> bool {
    app.property(name, prop).unwrap().value::<bool>().unwrap()
}

/// A window with one AsyncJob (`job`) and a `log` of what QML saw.
pub fn job_window(job: &str, extra: &str) -> String {
    format!(
        r#"
import QtQuick
import QtQuick.Window
import Qtloop
Window {{
    objectName: "window"
    width: 200; height: 100; visible: true
    property string log: ""
    AsyncJob {{
        id: j
        objectName: "job"
        job: "{job}"
        onFinished: (result) => log += "finished:" + result + ";"
        onFailed: (error) => log += "failed:" + error + ";"
        onCancelled: log += "cancelled;"
        onMessage: (kind, value) => log += kind + "=" + value + ";"
    }}
    {extra}
}}
"#
    )
}

fn job_result_progress_and_messages_reach_qml() {
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    register_job("t_answer", |ctx| async move {
        let base = ctx.argument().value::<i32>().unwrap();
        ctx.send("step", QVariant::from(&1i32));
        ctx.set_progress(0.5);
        qtloop::sleep(0.01).await?;
        ctx.send("step", QVariant::from(&2i32));
        Ok::<_, Error>(QVariant::from(&(base * 2)))
    });
    app.load_source(&job_window("t_answer", ""), "answer.qml")
        .unwrap();
    assert_eq!(string(&app, "job", "status"), "idle");
    // QML's `start(21)`, through the meta-object system as QML calls it.
    let started = started(&app, "start(21)");
    assert!(started);
    assert!(flag(&app, "job", "running"));
    assert_eq!(string(&app, "job", "status"), "running");
    assert!(wait_until(&lp, 5.0, || !flag(&app, "job", "running")));
    assert_eq!(string(&app, "job", "status"), "finished");
    assert_eq!(
        string(&app, "window", "log"),
        "step=1;step=2;finished:42;",
        "messages in order, then the result"
    );
    assert_eq!(
        app.property("job", "result").unwrap().value::<i32>(),
        Some(42)
    );
    assert_eq!(number(&app, "job", "progress"), 1.0);
    drop(app);
    lp.close().unwrap();
}

fn cancel_from_qml_drops_the_future_and_ignores_late_updates() {
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    register_job("t_forever", move |ctx| {
        guarded(&d, async move {
            loop {
                ctx.send("tick", QVariant::from(&0i32));
                qtloop::sleep(0.002).await?;
            }
            #[allow(unreachable_code)]
            Ok::<_, Error>(QVariant::default())
        })
    });
    app.load_source(&job_window("t_forever", ""), "forever.qml")
        .unwrap();
    started(&app, "start(null)");
    assert!(wait_until(&lp, 5.0, || string(&app, "window", "log").contains("tick")));
    app.evaluate("job", "cancel()").unwrap();
    assert!(!flag(&app, "job", "running"));
    assert_eq!(string(&app, "job", "status"), "cancelled");
    // The future is dropped at the task's next poll.
    assert!(wait_until(&lp, 5.0, || dropped.get()));
    let log = string(&app, "window", "log");
    assert!(log.ends_with("cancelled;"), "{log}");
    // Ticks queued before the cancel never arrive after it.
    let settle = Instant::now();
    wait_until(&lp, 0.05, || settle.elapsed() > Duration::from_millis(40));
    assert_eq!(string(&app, "window", "log"), log);
    drop(app);
    lp.close().unwrap();
}

fn destroying_the_item_cancels_its_job() {
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    let dropped = Rc::new(Cell::new(false));
    register_parked_job("t_scoped", &dropped);
    let qml = r#"
import QtQuick
import QtQuick.Window
import Qtloop
Window {
    objectName: "window"
    width: 100; height: 100; visible: true
    Loader {
        objectName: "loader"
        sourceComponent: Component {
            AsyncJob { job: "t_scoped"; Component.onCompleted: start(null) }
        }
    }
}
"#;
    app.load_source(qml, "scoped.qml").unwrap();
    assert!(wait_until(&lp, 1.0, || lp
        .all_tasks()
        .iter()
        .any(|t| t.name.as_deref() == Some("AsyncJob `t_scoped`"))));
    assert!(!dropped.get());
    app.set_property("loader", "active", &QVariant::from(&false))
        .unwrap();
    assert!(
        wait_until(&lp, 5.0, || dropped.get()),
        "the job outlived its item"
    );
    // And so does dropping the whole engine.
    app.set_property("loader", "active", &QVariant::from(&true))
        .unwrap();
    dropped.set(false);
    assert!(wait_until(&lp, 1.0, || lp.all_tasks().len() == 1));
    drop(app);
    assert!(wait_until(&lp, 5.0, || dropped.get()));
    lp.close().unwrap();
}

fn errors_panics_and_unknown_jobs_fail_clearly() {
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    let handled = Rc::new(Cell::new(0));
    let h = handled.clone();
    lp.set_exception_handler(Some(move |_: &EventLoop, _: &qtloop::ExceptionContext| {
        h.set(h.get() + 1)
    }));
    register_job("t_err", |_ctx| async move {
        qtloop::sleep(0.001).await.map_err(|e| e.to_string())?;
        Err::<QVariant, _>("disk full".to_string())
    });
    register_job("t_panic", |_ctx| async move {
        qtloop::sleep(0.001).await?;
        if true {
            panic!("boom in a job");
        }
        Ok::<_, Error>(QVariant::default())
    });
    for (job, expected) in [
        ("t_err", "failed:disk full;"),
        ("t_panic", "failed:panicked: boom in a job;"),
    ] {
        app.load_source(&job_window(job, ""), "err.qml").unwrap();
        started(&app, "start(null)");
        assert!(wait_until(&lp, 5.0, || !flag(&app, "job", "running")));
        assert_eq!(string(&app, "job", "status"), "failed");
        assert_eq!(string(&app, "window", "log"), expected);
        app = QmlApp::new().unwrap();
    }
    assert_eq!(handled.get(), 1, "the panic went to the exception handler");
    // A name nobody registered.
    app.load_source(&job_window("t_nobody", ""), "nobody.qml")
        .unwrap();
    let started = started(&app, "start(null)");
    assert!(!started);
    assert_eq!(string(&app, "job", "status"), "failed");
    assert!(string(&app, "job", "error").contains("no job named `t_nobody` is registered"));
    drop(app);
    lp.close().unwrap();
}

fn start_while_running_is_refused() {
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    let runs = Rc::new(Cell::new(0));
    let r = runs.clone();
    register_job("t_once", move |_ctx| {
        r.set(r.get() + 1);
        async move {
            qtloop::sleep(0.02).await?;
            Ok::<_, Error>(QVariant::from(&1i32))
        }
    });
    app.load_source(&job_window("t_once", ""), "once.qml")
        .unwrap();
    assert!(started(&app, "start(null)"));
    assert!(!started(&app, "start(null)"));
    assert!(wait_until(&lp, 5.0, || !flag(&app, "job", "running")));
    assert_eq!(runs.get(), 1);
    // Finished: it can start again.
    assert!(started(&app, "start(null)"));
    assert!(wait_until(&lp, 5.0, || !flag(&app, "job", "running")));
    assert_eq!(runs.get(), 2);
    assert_eq!(string(&app, "window", "log"), "finished:1;finished:1;");
    drop(app);
    lp.close().unwrap();
    let _ = take_warnings();
}

fn take_warnings() -> Vec<String> {
    crate::take_logs()
        .into_iter()
        .filter(|(l, _)| *l == log::Level::Warn)
        .map(|(_, m)| m)
        .collect()
}

/// Mean colour of a small square, as (r, g, b).
pub fn rgb_at(image: &QImage, x: i32, y: i32) -> (i32, i32, i32) {
    let (mut r, mut g, mut b) = (0, 0, 0);
    for dy in 0..3 {
        for dx in 0..3 {
            let c = image.pixel_color(x + dx, y + dy);
            r += c.red();
            g += c.green();
            b += c.blue();
        }
    }
    (r / 9, g / 9, b / 9)
}

pub fn close_to(a: (i32, i32, i32), b: (i32, i32, i32)) -> bool {
    (a.0 - b.0).abs() <= 12 && (a.1 - b.1).abs() <= 12 && (a.2 - b.2).abs() <= 12
}

fn click_reaches_qml_and_screenshot_shows_it() {
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    let qml = r##"
import QtQuick
import QtQuick.Window
Window {
    objectName: "window"
    width: 120; height: 80; visible: true
    color: "white"
    Rectangle {
        objectName: "button"
        x: 10; y: 10; width: 100; height: 60
        color: area.clicks > 0 ? "#ff0000" : "#0000ff"
        MouseArea { id: area; anchors.fill: parent; property int clicks: 0; onClicked: clicks++ }
    }
}
"##;
    app.load_source(qml, "click.qml").unwrap();
    let before = app.grab().unwrap();
    assert!(close_to(rgb_at(&before, 50, 40), (0, 0, 255)));
    app.click("button").unwrap();
    wait_until(&lp, 0.05, || false);
    let after = app.grab().unwrap();
    assert!(
        close_to(rgb_at(&after, 50, 40), (255, 0, 0)),
        "the click turned it red"
    );
    assert!(close_to(rgb_at(&after, 2, 2), (255, 255, 255)));
    assert!(matches!(
        app.click("nothing"),
        Err(Error::InvalidArgument(_))
    ));
    drop(app);
    lp.close().unwrap();
}

/// Runs a GUI example headless with a short tick; returns its output and
/// its screenshot.
pub fn run_gui_example(name: &str, tick_ms: &str) -> (String, QImage) {
    let dir = std::env::temp_dir().join(format!("qtloop-shots-{}", std::process::id()));
    let shot = dir.join(format!("{name}.png"));
    let args = ["--screenshot", shot.to_str().unwrap(), "--tick-ms", tick_ms];
    let out = crate::embedding::example_with(name, &args);
    let bytes = std::fs::read(&shot).unwrap_or_else(|e| panic!("{}: {e}", shot.display()));
    let image = QImage::from_data(&bytes, Some("PNG")).expect("a PNG");
    let _ = std::fs::remove_file(&shot);
    (out, image)
}

fn eratosthenes_example_highlights_the_primes() {
    let (out, image) = run_gui_example("eratosthenes", "1");
    assert!(out.contains("found 30 primes up to 120"), "{out}");
    // The demo says where its screenshot is and what it shows.
    assert!(out.contains("Screenshot: /"), "{out}");
    assert!(out.contains("the primes in green"), "{out}");
    let is_prime = |n: i32| n > 1 && (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0);
    let (green, grey, white) = ((0x2e, 0x7d, 0x32), (0xd9, 0xd9, 0xd9), (255, 255, 255));
    let mut wrong = Vec::new();
    for n in 1..=120 {
        let (col, row) = ((n - 1) % 12, (n - 1) / 12);
        // Inside the cell, clear of its border and its number.
        let (x, y) = (20 + col * 55 + 6, 56 + row * 43 + 6);
        let want = match n {
            1 => white,
            n if is_prime(n) => green,
            _ => grey,
        };
        let got = rgb_at(&image, x, y);
        if !close_to(got, want) {
            wrong.push(format!("{n}: {got:?} (want {want:?})"));
        }
    }
    assert!(wrong.is_empty(), "cells with the wrong colour: {wrong:?}");
}

/// Dark pixels (text) in a horizontal band of the image.
fn dark_pixels(image: &QImage, y0: i32, y1: i32) -> usize {
    let mut n = 0;
    for y in y0..y1 {
        for x in 0..image.width() {
            if image.pixel_color(x, y).red() < 100 {
                n += 1;
            }
        }
    }
    n
}

fn minimal_changes_the_text_after_a_second_and_stays_responsive() {
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    register_job("question", |_ctx| async move {
        qtloop::sleep(1.0).await?;
        let q = QString::from("What do you get if you multiply six by nine?");
        Ok::<_, Error>(QVariant::from(&q))
    });
    app.load_source(include_str!("../../qml/minimal.qml"), "minimal.qml")
        .unwrap();
    let before = app.grab().unwrap();
    let beats = |app: &QmlApp| number(app, "window", "heartbeat");
    app.click("button").unwrap();
    let t0 = Instant::now();
    let b0 = beats(&app);
    assert!(
        flag(&app, "question", "running"),
        "the click started the job"
    );
    assert_eq!(string(&app, "text", "text"), "The answer is 42.");
    assert!(wait_until(&lp, 5.0, || string(&app, "text", "text")
        .starts_with("What do you get")));
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_millis(990), "{waited:?}");
    // The 20 ms QML timer kept ticking while the job awaited its sleep.
    let ticks = beats(&app) - b0;
    assert!(ticks >= 10.0, "only {ticks} heartbeats in {waited:?}");
    wait_until(&lp, 0.03, || false);
    let after = app.grab().unwrap();
    // The label's line holds more text now: the change is visible.
    let (d0, d1) = (dark_pixels(&before, 30, 70), dark_pixels(&after, 30, 70));
    assert!(d1 > d0 * 3 / 2, "text pixels before {d0}, after {d1}");
    drop(app);
    lp.close().unwrap();

    let out = crate::embedding::example_with("minimal", &["--screenshot", "/dev/null"]);
    assert!(
        out.contains("s: What do you get if you multiply six by nine?"),
        "{out}"
    );
}

fn downloads_finish_on_the_pool_and_one_is_cancelled() {
    let (out, image) = run_gui_example("downloads", "5");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("download ")).collect();
    assert_eq!(lines.len(), 4, "{out}");
    for (i, l) in lines.iter().enumerate() {
        if i == 2 {
            assert_eq!(*l, "download 2: cancelled");
        } else {
            assert!(l.contains(" kB, #"), "{l}");
        }
    }
    let (green, red, track) = ((0x2e, 0x7d, 0x32), (0xc6, 0x28, 0x28), (0xe6, 0xe6, 0xe6));
    for (i, y) in [(0, 68), (1, 106), (2, 144), (3, 182)] {
        let (start, end) = (rgb_at(&image, 126, y), rgb_at(&image, 312, y));
        if i == 2 {
            assert!(close_to(start, red), "row 2 starts red: {start:?}");
            assert!(close_to(end, track), "row 2 stopped early: {end:?}");
        } else {
            assert!(
                close_to(start, green) && close_to(end, green),
                "row {i}: {start:?} {end:?}"
            );
        }
    }
}

fn qml_posts_reach_the_running_job() {
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    register_job("t_echo", |ctx| async move {
        let mut inbox = ctx.take_inbox().unwrap();
        assert!(ctx.take_inbox().is_none(), "taken once");
        use futures::StreamExt;
        while let Some((kind, value)) = inbox.next().await {
            if kind == "stop" {
                return Ok::<_, Error>(value);
            }
            ctx.send(&format!("echo-{kind}"), value);
        }
        Ok(QVariant::default())
    });
    app.load_source(&job_window("t_echo", ""), "echo.qml")
        .unwrap();
    assert!(!app
        .evaluate("job", "post('early', 0)")
        .unwrap()
        .value::<bool>()
        .unwrap());
    assert!(started(&app, "start(null)"));
    for call in ["post('a', 1)", "post('b', 2)", "post('stop', 3)"] {
        assert!(app.evaluate("job", call).unwrap().value::<bool>().unwrap());
    }
    assert!(wait_until(&lp, 5.0, || !flag(&app, "job", "running")));
    assert_eq!(
        string(&app, "window", "log"),
        "echo-a=1;echo-b=2;finished:3;"
    );
    drop(app);
    lp.close().unwrap();
}

/// The number after `prefix` in `out`.
fn number_after(out: &str, prefix: &str) -> f64 {
    let rest = &out[out
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix}: {out}"))
        + prefix.len()..];
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

fn any_pixel_close_to(image: &QImage, rgb: (i32, i32, i32), y0: i32, y1: i32) -> bool {
    (y0..y1).any(|y| {
        (0..image.width()).any(|x| {
            let c = image.pixel_color(x, y);
            close_to((c.red(), c.green(), c.blue()), rgb)
        })
    })
}

fn periodic_clock_compensation_keeps_the_schedule() {
    let (out, image) = run_gui_example("periodic_clock", "1");
    let with = number_after(&out, "compensated: lateness ");
    let without = number_after(&out, "not compensated: lateness ");
    // 20 ticks of 10 ms work: uncompensated falls ~10 ms behind per tick.
    assert!(with.abs() < 20.0, "compensated lateness {with} ms");
    assert!(without > 60.0, "uncompensated lateness only {without} ms");
    // Back on schedule at the end: the readout is green, the second hand red.
    assert!(
        any_pixel_close_to(&image, (0x2e, 0x7d, 0x32), 372, 398),
        "green readout"
    );
    assert!(
        any_pixel_close_to(&image, (0xd3, 0x2f, 0x2f), 20, 320),
        "second hand"
    );
}

fn instrument_monitor_plots_takes_settings_and_terminates() {
    let (out, image) = run_gui_example("instrument_monitor", "1");
    for line in [
        "[monitor] connected; setpoint 4.00 K",
        "[monitor] new setpoint 1.50 K",
        "[monitor] heater off, disconnected",
        "[gui] stopped: the loop task missed its loop time",
    ] {
        assert!(out.contains(line), "{line:?} missing in:\n{out}");
    }
    // The slider's setpoint reached the task: it cooled towards 1.5 K.
    let readout = out.lines().find(|l| l.contains(" K, heater ")).unwrap();
    let kelvin: f64 = readout[6..].split(' ').next().unwrap().parse().unwrap();
    assert!((1.3..2.5).contains(&kelvin), "{readout}");
    // The status was plotted (blue line) and the stop shown in red.
    assert!(
        any_pixel_close_to(&image, (0x15, 0x65, 0xc0), 50, 268),
        "no plot"
    );
    assert!(
        any_pixel_close_to(&image, (0xc6, 0x28, 0x28), 366, 400),
        "no red state"
    );
}

fn embedding_in_a_cxx_qt_app_with_its_own_exec() {
    // The README's embedding example: the app's own QGuiApplication and
    // exec(); QML starts a Rust job, logs its result and quits.
    let (_, err) = crate::embedding::example_output("embed", &[]);
    assert!(err.contains("answer: 42"), "{err}");
}
