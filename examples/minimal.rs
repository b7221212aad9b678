//! QtAsyncio's "minimal" example on qtloop, in QML: a label and a button;
//! pressing the button awaits `sleep(1)` in a Rust task and then changes
//! the text, while the window stays responsive.
//!
//! Headless (no display, or `--exit-when-done`) it presses the button
//! itself, waits for the new text and saves a screenshot.

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use cxx_qt_lib::{QString, QVariant};
use qtloop::qml::{register_job, QmlApp};
use qtloop::EventLoop;

const QUESTION: &str = "What do you get if you multiply six by nine?";

fn main() -> qtloop::Result<()> {
    let opts = common::Options::parse("minimal");
    let mut app = QmlApp::new()?;
    let lp = EventLoop::new()?;
    register_job("question", |_ctx| async move {
        qtloop::sleep(1.0).await?;
        Ok::<_, qtloop::Error>(QVariant::from(&QString::from(QUESTION)))
    });
    app.load_source(include_str!("../qml/minimal.qml"), "minimal.qml")?;
    if let Some(done) = common::run_windowed(&opts, &lp) {
        return done;
    }
    // No one to press the button: press it, as a user would.
    println!("Before: {}", app.string_property("text", "text")?);
    let beats = |app: &QmlApp| {
        app.property("window", "heartbeat")
            .map(|v| v.value::<i32>())
    };
    let beats0 = beats(&app)?.unwrap_or(0);
    let t0 = Instant::now();
    app.click("button")?;
    let app = std::rc::Rc::new(app);
    let a = app.clone();
    lp.run_until_complete(async move {
        while a.string_property("text", "text")? != QUESTION {
            qtloop::sleep(0.01).await?;
        }
        qtloop::sleep(0.05).await // let it render
    })??;
    let waited = t0.elapsed();
    let ticks = beats(&app)?.unwrap_or(0) - beats0;
    app.save_screenshot(&opts.screenshot)?;
    println!(
        "After {:.2} s: {}",
        waited.as_secs_f64(),
        app.string_property("text", "text")?
    );
    println!(
        "The 20 ms QML heartbeat ticked {ticks} times meanwhile: the window stayed responsive."
    );
    println!("Screenshot: {}", opts.screenshot_display());
    drop(app);
    lp.close()
}
