//! Several blocking jobs on qtloop's thread pool, each with a progress bar
//! and a cancel button in QML; results are shown when they are done.
//!
//! Each row's `AsyncJob` runs a Rust job that hands a blocking "download"
//! (a loop of short sleeps) to the loop's executor with
//! `JobContext::run_blocking`: the job's token sets the row's progress, and
//! Cancel in QML drops the job's future, which the worker sees at its next
//! `token.sleep`. Headless, it presses the third row's Cancel button
//! once that download is 10 % done, waits for all rows, and saves a screenshot.

#[path = "common/mod.rs"]
mod common;

use std::rc::Rc;
use std::time::Duration;

use cxx_qt_lib::{QString, QVariant};
use qtloop::qml::{register_job, QmlApp};
use qtloop::EventLoop;

fn main() -> qtloop::Result<()> {
    let opts = common::Options::parse("downloads");
    let tick = opts.tick.unwrap_or(Duration::from_millis(40));
    let mut app = QmlApp::new()?;
    let lp = EventLoop::new()?;

    register_job("download", move |ctx| async move {
        let row = ctx.argument().value::<i32>().unwrap_or(0).max(0) as u64;
        let chunks = 20 + 8 * row;
        // The blocking part runs on a pool thread. Its token carries the
        // progress to the item's bar and QML's Cancel back to the worker.
        let checksum = ctx
            .run_blocking(move |token| {
                let mut checksum: u32 = 0;
                for c in 0..chunks {
                    token.sleep(tick)?; // Err(Cancelled) at once on Cancel
                    checksum = checksum.rotate_left(5) ^ (c as u32).wrapping_mul(2654435761);
                    token.set_progress((c + 1) as f64 / chunks as f64);
                }
                Ok::<_, qtloop::Error>(checksum)
            })
            .await??;
        let text = format!("{} kB, #{checksum:08x}", chunks * 64);
        Ok::<_, qtloop::Error>(QVariant::from(&QString::from(text.as_str())))
    });

    app.load_source(include_str!("../qml/downloads.qml"), "downloads.qml")?;
    if let Some(done) = common::run_windowed(&opts, &lp) {
        return done;
    }
    let app = Rc::new(app);
    let a = app.clone();
    lp.run_until_complete(async move {
        // A user changes their mind about the third download once it has
        // started.
        while a.property("download2", "progress")?.value::<f64>() < Some(0.1) {
            qtloop::sleep(0.005).await?;
        }
        a.click("cancel2")?;
        while a.property("window", "settled")?.value::<i32>() != Some(4) {
            qtloop::sleep(0.01).await?;
        }
        qtloop::sleep(0.05).await
    })??;
    for i in 0..4 {
        let text = app.string_property(&format!("result{i}"), "text")?;
        println!("download {i}: {text}");
    }
    app.save_screenshot(&opts.screenshot)?;
    println!("Screenshot: {}", opts.screenshot_display());
    drop(app);
    lp.close()
}
