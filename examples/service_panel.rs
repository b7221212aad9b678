//! A QML window that is a D-Bus service: other processes change what it
//! shows. Its handlers run on the GUI thread, so they set QML properties
//! directly, with no locks and no queued hand-off.
//!
//! `org.qtloop.Panel` at `/org/qtloop/Panel`:
//! - `say(s)` shows `s`; `bang() -> u` counts a bang and emits `onBang(42)`;
//!   `shown() -> (s, u)` reads what the window shows;
//! - `pressButton()` presses the window's button as a user would;
//! - the signal `pressed(u)` goes out when the button is pressed;
//! - `finish()` quits (headless, after saving a screenshot).
//!
//! ```text
//! cargo run --features dbus --example service_panel &
//! dbus-send --session --print-reply --dest=org.qtloop.Panel /org/qtloop/Panel \
//!     org.qtloop.Panel.say string:"Hello from the shell"
//! ```
//! Headless (no display, or `--exit-when-done`) it serves until `finish()`.

#[path = "common/mod.rs"]
mod common;

use std::cell::Cell;
use std::rc::Rc;

use cxx_qt_lib::{QString, QVariant};
use futures::channel::oneshot;
use qtloop::qml::{register_job, QmlApp};
use qtloop::service::{MethodError, ServiceBuilder};
use qtloop::EventLoop;

fn text(s: &str) -> QVariant {
    QVariant::from(&QString::from(s))
}

fn main() -> qtloop::Result<()> {
    let opts = common::Options::parse("service_panel");
    let mut app = QmlApp::new()?;
    let lp = EventLoop::new()?;
    app.load_source(
        include_str!("../qml/service_panel.qml"),
        "service_panel.qml",
    )?;
    let app = Rc::new(app);

    let mut builder = ServiceBuilder::new("org.qtloop.Panel", app.clone());
    let on_bang = builder.signal::<i32>("onBang");
    let pressed = builder.signal::<u32>("pressed");
    // Each handler gets the window (on the GUI thread) and sets it directly.
    builder.method("say", |app: &mut Rc<QmlApp>, (s,): (String,)| {
        app.set_property("window", "message", &text(&s))?;
        Ok(())
    });
    builder.method("bang", move |app: &mut Rc<QmlApp>, (): ()| {
        let bangs = app.property("window", "bangs")?.value::<i32>().unwrap_or(0) + 1;
        app.set_property("window", "bangs", &QVariant::from(&bangs))?;
        on_bang.emit(42);
        Ok(bangs as u32)
    });
    builder.method("shown", |app: &mut Rc<QmlApp>, (): ()| {
        let bangs = app.property("window", "bangs")?.value::<i32>().unwrap_or(0);
        Ok((app.string_property("window", "message")?, bangs as u32))
    });
    builder.method("pressButton", |app: &mut Rc<QmlApp>, (): ()| {
        app.click("button").map_err(MethodError::from)
    });
    let (finish, finished) = oneshot::channel::<()>();
    let mut finish = Some(finish);
    builder.method("finish", move |_: &mut Rc<QmlApp>, (): ()| {
        finish.take().map(|f| f.send(()));
        Ok(())
    });
    // The button's job (looked up when pressed): QML → Rust → every
    // subscriber on the bus.
    let presses = Rc::new(Cell::new(0u32));
    register_job("press", move |_ctx| {
        presses.set(presses.get() + 1);
        pressed.emit(presses.get());
        let n = presses.get();
        async move { Ok::<_, qtloop::Error>(QVariant::from(&n)) }
    });

    let svc = lp.run_until_complete(builder.register())??;
    println!(
        "serving {} at {}; try: dbus-send --session --print-reply --dest={0} {1} {0}.say string:hello",
        svc.name(),
        svc.path()
    );
    // finish() closes the window; headless, it also takes the screenshot.
    let windowed = !opts.exit_when_done;
    let finished = lp.create_task(async move {
        let _ = finished.await;
        if windowed {
            qtloop::qt::quit();
        }
    });
    if let Some(done) = common::run_windowed(&opts, &lp) {
        return done;
    }
    lp.run_until_complete(async {
        let _ = finished.await;
        qtloop::sleep(0.2).await // let the last change render
    })??;
    app.save_screenshot(&opts.screenshot)?;
    println!("Screenshot: {}", opts.screenshot_display());
    drop(svc);
    lp.close()
}
