//! QtAsyncio's "Eratosthenes" example on qtloop, in QML.
//!
//! A grid of the numbers 1..=120; an async sieve (a Rust task started from
//! QML) crosses out the multiples of each prime with a short `sleep` between
//! steps, while a second task makes the prime being sieved pulse. When the
//! sieve is done the primes are highlighted in green.
//!
//! `cargo run --example eratosthenes` opens a window when there is a
//! display; without one (or with `--exit-when-done`) it runs offscreen until
//! the sieve finishes and saves a screenshot.

#[path = "common/mod.rs"]
mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use cxx_qt_lib::QVariant;
use futures::channel::oneshot;
use qtloop::qml::{register_job, JobContext, QmlApp};
use qtloop::EventLoop;

/// The sieve: announces each prime as "current", crosses out its multiples
/// one `sleep(tick)` at a time, then marks it "prime". Returns the number
/// of primes.
async fn sieve(ctx: JobContext, n: usize, tick: Duration) -> qtloop::Result<usize> {
    let mut crossed = vec![false; n + 1];
    let mut primes = 0;
    for p in 2..=n {
        if crossed[p] {
            continue;
        }
        ctx.send("current", QVariant::from(&(p as i32)));
        qtloop::sleep(tick).await?;
        for m in (p * p..=n).step_by(p) {
            if !crossed[m] {
                crossed[m] = true;
                ctx.send("composite", QVariant::from(&(m as i32)));
                qtloop::sleep(tick).await?;
            }
        }
        ctx.send("prime", QVariant::from(&(p as i32)));
        primes += 1;
        ctx.set_progress(p as f64 / n as f64);
    }
    Ok(primes)
}

fn main() -> qtloop::Result<()> {
    let opts = common::Options::parse("eratosthenes");
    let tick = opts.tick.unwrap_or(Duration::from_millis(25));
    let mut app = QmlApp::new()?;
    let lp = EventLoop::new()?;

    // Resolved when the sieve job returns (the Rust side of `finished`).
    let (done_tx, done_rx) = oneshot::channel::<usize>();
    let done_tx = Rc::new(RefCell::new(Some(done_tx)));
    register_job("sieve", move |ctx| {
        let done = done_tx.clone();
        async move {
            let n = ctx
                .argument()
                .value::<i32>()
                .unwrap_or(120)
                .clamp(2, 10_000) as usize;
            let primes = sieve(ctx, n, tick).await?;
            if let Some(tx) = done.borrow_mut().take() {
                let _ = tx.send(primes);
            }
            Ok::<_, qtloop::Error>(QVariant::from(&(primes as i32)))
        }
    });
    // The second task: a pulse (0..1) for the prime being sieved, until
    // QML cancels it.
    register_job("glow", |ctx| async move {
        let mut phase = 0.0f64;
        loop {
            phase += 0.35;
            ctx.send("pulse", QVariant::from(&(0.5 + 0.5 * phase.sin())));
            qtloop::sleep(0.04).await?;
        }
        #[allow(unreachable_code)]
        Ok::<_, qtloop::Error>(QVariant::default())
    });

    app.load_source(include_str!("../qml/eratosthenes.qml"), "eratosthenes.qml")?;

    let shot = opts.screenshot.clone();
    let where_ = opts.screenshot_display();
    let exit_when_done = opts.exit_when_done;
    let app = Rc::new(app);
    let a = app.clone();
    let finish = async move {
        let primes = done_rx.await.map_err(|_| qtloop::Error::Cancelled)?;
        // Let QML apply the last updates and render them.
        qtloop::sleep(0.1).await?;
        a.save_screenshot(&shot)?;
        println!(
            "The sieve found {primes} primes up to 120 ({} ms per step).",
            tick.as_millis()
        );
        println!("Screenshot: {where_}");
        println!(
            "  a 12 x 10 grid of 1..=120: the primes in green, the multiples crossed out in grey."
        );
        Ok::<_, qtloop::Error>(())
    };
    if exit_when_done {
        lp.run_until_complete(finish)??;
    } else {
        // The screenshot is taken when the sieve is done; the window stays
        // open until the user closes it.
        let task = lp.create_task(finish);
        qtloop::qt::exec()?;
        task.cancel();
    }
    drop(app);
    lp.close()
}
