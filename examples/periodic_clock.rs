//! A libqi `PeriodicTask` driving a clock face in QML, with a compensation
//! toggle and a live lateness readout.
//!
//! The task ticks every 50 ms and each tick spends 10 ms working. With
//! compensation (libqi's `compensateCallbackTime`) each period is counted
//! from the planned start of the previous call, so the ticks stay on the
//! ideal schedule; without it, from the end of the call, so they fall
//! behind by 10 ms per tick. Headless, it runs a second each way and
//! prints the lateness.

#[path = "common/mod.rs"]
mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use cxx_qt_lib::QVariant;
use futures::StreamExt;
use qtloop::qi::PeriodicTask;
use qtloop::qml::{register_job, QmlApp};
use qtloop::EventLoop;

const PERIOD: Duration = Duration::from_millis(50);
const WORK: Duration = Duration::from_millis(10);

/// Where the ticks should be: the first tick after a (re)start, and the
/// count since then.
struct Schedule {
    start: Cell<Instant>,
    ticks: Cell<u32>,
    anchor: Cell<bool>,
    window: Cell<(Instant, u32)>,
}

impl Schedule {
    /// The next tick is the new reference.
    fn restart(&self) {
        self.anchor.set(true);
    }
}

fn main() -> qtloop::Result<()> {
    let opts = common::Options::parse("periodic_clock");
    let mut app = QmlApp::new()?;
    let lp = EventLoop::new()?;

    register_job("clock", |ctx| async move {
        let task = PeriodicTask::new();
        task.set_name("clock");
        task.set_period(PERIOD)?;
        task.compensate_callback_time(ctx.argument().value::<bool>().unwrap_or(true));
        let s = Rc::new(Schedule {
            start: Cell::new(Instant::now()),
            ticks: Cell::new(0),
            anchor: Cell::new(true),
            window: Cell::new((Instant::now(), 0)),
        });
        let (c, sched) = (ctx.clone(), s.clone());
        task.set_callback_local(move || {
            let now = Instant::now();
            if sched.anchor.replace(false) {
                sched.start.set(now);
                sched.ticks.set(0);
                sched.window.set((now, 0));
            }
            let k = sched.ticks.get();
            sched.ticks.set(k + 1);
            let ideal = sched.start.get() + PERIOD * k;
            let late_ms = if now >= ideal {
                (now - ideal).as_secs_f64() * 1e3
            } else {
                -(ideal - now).as_secs_f64() * 1e3
            };
            let day = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64()
                % 86_400.0;
            c.send("time", QVariant::from(&day));
            c.send("lateness", QVariant::from(&late_ms));
            let (t, n) = sched.window.get();
            if t.elapsed() >= Duration::from_millis(500) {
                let rate = (k - n) as f64 / t.elapsed().as_secs_f64();
                c.send("rate", QVariant::from(&rate));
                sched.window.set((Instant::now(), k));
            }
            // The tick's own work.
            let busy = Instant::now();
            while busy.elapsed() < WORK {
                std::hint::spin_loop();
            }
        })?;
        s.restart();
        task.start(false)?;
        // Toggles from QML: measure the new mode from now on.
        let mut inbox = ctx.take_inbox().expect("first take");
        while let Some((kind, value)) = inbox.next().await {
            if kind == "compensate" {
                task.compensate_callback_time(value.value::<bool>().unwrap_or(true));
                s.restart();
            }
        }
        task.stop();
        Ok::<_, qtloop::Error>(QVariant::default())
    });

    app.load_source(
        include_str!("../qml/periodic_clock.qml"),
        "periodic_clock.qml",
    )?;
    if let Some(done) = common::run_windowed(&opts, &lp) {
        return done;
    }
    let app = Rc::new(app);
    let a = app.clone();
    let late = move || -> qtloop::Result<f64> {
        Ok(a.property("window", "lateness")?
            .value::<f64>()
            .unwrap_or(f64::NAN))
    };
    let a = app.clone();
    let (with, without) = lp.run_until_complete(async move {
        qtloop::sleep(1.0).await?;
        let with = late()?;
        a.click("compensation")?; // off
        qtloop::sleep(1.0).await?;
        let without = late()?;
        a.click("compensation")?; // on again, for the screenshot
        qtloop::sleep(1.0).await?;
        Ok::<_, qtloop::Error>((with, without))
    })??;
    println!("compensated: lateness {with:.2} ms after 1 s");
    println!("not compensated: lateness {without:.1} ms after 1 s");
    app.save_screenshot(&opts.screenshot)?;
    println!("Screenshot: {}", opts.screenshot_display());
    drop(app);
    lp.close()
}
