//! A terminal tour of qtloop: one Qt event loop running callbacks, timers, async tasks,
//! a worker thread and a Qt timer side by side.
//!
//! Run it with `cargo run --example tour` (headless: Qt's offscreen
//! platform). The main demo is `scripts/demo` (the Eratosthenes window).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use futures::StreamExt;
use qtloop::{EventLoop, MissedTickBehavior};

fn main() -> qtloop::Result<()> {
    let lp = EventLoop::new()?;
    let t0 = lp.time();
    let stamp = move |lp: &EventLoop| format!("[{:6.3} s]", lp.time() - t0);

    // 1. Scheduling order, as in asyncio: soon first, then by deadline.
    for (delay, name) in [(0.030, "call_later 30 ms"), (0.010, "call_later 10 ms")] {
        let l = lp.clone();
        lp.call_later(delay, move || println!("{} {name}", stamp(&l)))?;
    }
    let l = lp.clone();
    lp.call_soon(move || println!("{} call_soon", stamp(&l)))?;

    // 2. A Qt-side 1 ms timer, to show that Qt stays responsive.
    let probe = qtloop::qt::TimerProbe::start(Duration::from_millis(1));

    // 3. A worker thread reports progress through the thread-safe handle.
    let handle = lp.handle();
    let progress = Rc::new(Cell::new(0u32));
    let worker = std::thread::spawn(move || {
        for pct in (0..=100).step_by(25) {
            std::thread::sleep(Duration::from_millis(40));
            let _ = handle.call_soon_threadsafe(move || {
                println!("           worker thread: {pct:3}% done");
            });
        }
    });

    let l = lp.clone();
    let p = progress.clone();
    let summary = lp.run_until_complete(async move {
        // 4. Tasks run concurrently on the same thread.
        let ticker = {
            let l = l.clone();
            qtloop::spawn_local(async move {
                let mut iv = qtloop::interval(0.05).expect("a valid period");
                iv.set_missed_tick_behavior(MissedTickBehavior::Skip);
                for n in 1..=4 {
                    iv.next().await;
                    println!("{} ticker: tick {n}", stamp(&l));
                }
            })
        };
        let flood = qtloop::spawn_local(async move {
            // 100k callbacks in one burst: Qt still gets control every few ms.
            let lp = qtloop::get_running_loop().expect("inside the loop");
            for _ in 0..100_000 {
                let p = p.clone();
                lp.call_soon(move || p.set(p.get() + 1))
                    .expect("loop is open");
            }
        });
        let slow = qtloop::timeout(0.1, qtloop::sleep(10.0)).await;
        println!("{} timeout(0.1 s, sleep(10 s)) -> {:?}", stamp(&l), slow);
        ticker.await.expect("ticker finished");
        flood.await.expect("flood scheduled");
        qtloop::sleep(0.05).await.expect("valid delay");
        format!("{} tasks done", stamp(&l))
    })?;
    worker.join().expect("worker thread");
    println!("{summary}");
    println!(
        "           100000 callbacks ran: {}; Qt's 1 ms timer ticked {} times, longest gap {:.1} ms",
        progress.get() == 100_000,
        probe.ticks(),
        probe.max_gap().as_secs_f64() * 1e3
    );
    lp.close()
}
