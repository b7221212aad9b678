//! A QMI-style instrument monitor: a loop task polls a simulated
//! temperature controller at 10 Hz in its own thread; the GUI thread (here,
//! headless, the event loop's thread) changes the setpoint and prints each
//! status as it arrives on the *status updated* signal.

use std::time::Duration;

use qtloop::background::{self, LoopRunner, LoopTask, MissedLoopPolicy, TaskContext, TaskFailure};
use qtloop::EventLoop;

/// What the operator sets.
#[derive(Clone, Debug)]
struct Settings {
    setpoint_k: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self { setpoint_k: 4.0 }
    }
}

/// What the monitor reports.
#[derive(Clone, Debug, Default)]
struct Status {
    sample: u32,
    temperature_k: f64,
    heater_percent: f64,
}

/// A simulated cryostat: the temperature relaxes towards the setpoint.
struct Instrument {
    temperature_k: f64,
    heater_percent: f64,
}

impl Instrument {
    fn poll(&mut self, setpoint: f64) -> (f64, f64) {
        let error = setpoint - self.temperature_k;
        self.heater_percent = (50.0 + 40.0 * error).clamp(0.0, 100.0);
        self.temperature_k += 0.35 * error;
        (self.temperature_k, self.heater_percent)
    }
}

struct Monitor {
    instrument: Instrument,
    sample: u32,
}

impl LoopTask for Monitor {
    type Settings = Settings;
    type Status = Status;

    fn loop_prepare(&mut self, ctx: &TaskContext<Settings, Status>) -> Result<(), TaskFailure> {
        println!(
            "[monitor] connected; setpoint {:.2} K",
            ctx.settings().setpoint_k
        );
        Ok(())
    }

    fn process_new_settings(
        &mut self,
        ctx: &TaskContext<Settings, Status>,
    ) -> Result<(), TaskFailure> {
        println!("[monitor] new setpoint {:.2} K", ctx.settings().setpoint_k);
        Ok(())
    }

    fn loop_iteration(&mut self, ctx: &TaskContext<Settings, Status>) -> Result<(), TaskFailure> {
        self.sample += 1;
        let (t, h) = self.instrument.poll(ctx.settings().setpoint_k);
        ctx.set_status(Status {
            sample: self.sample,
            temperature_k: t,
            heater_percent: h,
        });
        Ok(())
    }

    fn update_status(&mut self, _: &TaskContext<Settings, Status>) -> bool {
        true // publish every sample
    }

    fn loop_finalize(&mut self, _: &TaskContext<Settings, Status>) {
        println!("[monitor] heater off, disconnected");
    }
}

fn main() -> qtloop::Result<()> {
    let lp = EventLoop::new()?;
    let monitor = Monitor {
        instrument: Instrument {
            temperature_k: 4.0,
            heater_percent: 0.0,
        },
        sample: 0,
    };
    let runner = background::spawn(
        "cryostat-monitor",
        LoopRunner::new(monitor, Duration::from_millis(100), MissedLoopPolicy::Skip)?,
    );
    // Status arrives on this (the loop's) thread: a GUI would update here.
    runner.status_updated().connect(|s: &Status| {
        println!(
            "[gui] sample {:2}: {:6.3} K, heater {:5.1} %",
            s.sample, s.temperature_k, s.heater_percent
        );
    });
    runner.start()?;

    // The operator changes the setpoint from the GUI thread after 0.5 s.
    let r = runner.clone();
    lp.call_later(0.5, move || {
        println!("[gui] operator sets 1.5 K");
        r.set_settings(Settings { setpoint_k: 1.5 });
    })?;
    lp.run_until_complete(qtloop::sleep(1.55))??;

    runner.stop();
    let outcome = lp.run_until_complete(runner.finished())??;
    lp.run_until_complete(qtloop::sleep(0.01))??; // let the last signals arrive
    let stats = runner.loop_stats();
    println!(
        "[gui] monitor ended: {outcome:?}; {} iterations, {} missed, lateness mean {:.3} ms, max {:.3} ms",
        stats.iterations,
        stats.missed,
        stats.mean_lateness().as_secs_f64() * 1e3,
        stats.max_lateness.as_secs_f64() * 1e3
    );
    lp.close()
}
