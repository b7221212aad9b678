//! Several blocking jobs on qtloop's thread pool, each with a progress bar
//! and a cancel button in QML; results are shown when they are done.
//!
//! Each row's `AsyncJob` runs a Rust job that hands a blocking "download"
//! (a loop of short sleeps) to the loop's executor and forwards its progress
//! to the GUI. Cancelling from QML drops the job's future, which raises the
//! worker's stop flag. Headless, it presses the third row's Cancel button
//! once that download is 10 % done, waits for all rows, and saves a screenshot.

#[path = "common/mod.rs"]
mod common;

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cxx_qt_lib::{QString, QVariant};
use futures::StreamExt;
use qtloop::qml::{register_job, QmlApp};
use qtloop::EventLoop;

/// Raises the worker's stop flag when the job's future is dropped.
struct StopOnDrop(Arc<AtomicBool>);
impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn main() -> qtloop::Result<()> {
    let opts = common::Options::parse("downloads");
    let tick = opts.tick.unwrap_or(Duration::from_millis(40));
    let mut app = QmlApp::new()?;
    let lp = EventLoop::new()?;

    register_job("download", move |ctx| async move {
        let row = ctx.argument().value::<i32>().unwrap_or(0).max(0) as u64;
        let chunks = 20 + 8 * row;
        let stop = Arc::new(AtomicBool::new(false));
        let _stop_on_drop = StopOnDrop(stop.clone());
        let (tx, mut progress) = futures::channel::mpsc::unbounded::<f64>();
        let lp = qtloop::get_running_loop()?;
        // The blocking part runs on a pool thread.
        let work = lp.run_in_executor(move || {
            let mut checksum: u32 = 0;
            for c in 0..chunks {
                if stop.load(Ordering::Relaxed) {
                    return None;
                }
                std::thread::sleep(tick);
                checksum = checksum.rotate_left(5) ^ (c as u32).wrapping_mul(2654435761);
                let _ = tx.unbounded_send((c + 1) as f64 / chunks as f64);
            }
            Some(checksum)
        });
        // Progress comes back to the GUI thread until the worker is done.
        while let Some(p) = progress.next().await {
            ctx.set_progress(p);
        }
        let checksum = work.await?.ok_or(qtloop::Error::Cancelled)?;
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
