//! A QMI-style instrument monitor: a loop task polls a simulated cryostat at
//! 10 Hz in its own thread; QML sets the setpoint with a slider, picks the
//! missed-loop policy, and plots each status as it arrives on the GUI
//! thread (the *status updated* signal).
//!
//! Every 12th poll the instrument stalls for 250 ms, so loops are missed:
//! `Skip` keeps the phase, `Terminate` stops the task (the GUI shows why,
//! read from the task's loop statistics).
//! Headless, it moves the slider to 1.5 K, then switches to `Terminate`
//! and waits for the task to stop, printing what happened.

#[path = "common/mod.rs"]
mod common;

use std::rc::Rc;
use std::time::Duration;

use cxx_qt_lib::{QString, QVariant};
use futures::StreamExt;
use qtloop::background::{self, LoopRunner, LoopTask, MissedLoopPolicy, TaskContext, TaskFailure};
use qtloop::qml::{register_job, JobContext, QmlApp};
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
    #[allow(dead_code)] // shown by the terminal version; QML counts itself
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
        if self.sample % 12 == 0 {
            std::thread::sleep(Duration::from_millis(250)); // the instrument stalls
        }
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

/// Stops the loop task when the job ends or is cancelled from QML.
struct StopOnDrop(background::TaskRunner<Settings, Status>);
impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

fn policy(name: &str) -> MissedLoopPolicy {
    match name {
        "Immediate" => MissedLoopPolicy::Immediate,
        "Terminate" => MissedLoopPolicy::Terminate,
        "Burst" => MissedLoopPolicy::Burst,
        _ => MissedLoopPolicy::Skip,
    }
}

/// The QML `AsyncJob { job: "monitor" }`: runs the loop task until it ends
/// (or the item cancels it), forwarding settings in and status out.
async fn monitor(ctx: JobContext) -> qtloop::Result<QVariant> {
    let name = ctx
        .argument()
        .value::<QString>()
        .unwrap_or_default()
        .to_string();
    let monitor = Monitor {
        instrument: Instrument {
            temperature_k: 4.0,
            heater_percent: 0.0,
        },
        sample: 0,
    };
    let period = Duration::from_millis(100);
    let runner = background::spawn(
        "cryostat-monitor",
        LoopRunner::new(monitor, period, policy(&name))?,
    );
    // Status arrives on this (the GUI) thread.
    let (tx, mut statuses) = futures::channel::mpsc::unbounded::<Status>();
    runner.status_updated().connect(move |s: &Status| {
        let _ = tx.unbounded_send(s.clone());
    });
    runner.start()?;
    let _stop = StopOnDrop(runner.clone());
    let scope = qtloop::qt::TaskScope::new();
    let (r, mut inbox) = (runner.clone(), ctx.take_inbox().expect("first take"));
    scope.spawn(async move {
        while let Some((kind, value)) = inbox.next().await {
            if let (true, Some(k)) = (kind == "setpoint", value.value::<f64>()) {
                r.set_settings(Settings { setpoint_k: k });
            }
        }
    });
    let (c, r) = (ctx.clone(), runner.clone());
    scope.spawn(async move {
        while let Some(s) = statuses.next().await {
            c.send("temperature", QVariant::from(&s.temperature_k));
            c.send("heater", QVariant::from(&s.heater_percent));
            c.send("missed", QVariant::from(&(r.loop_stats().missed as i32)));
        }
    });
    match (runner.finished().await?, runner.loop_stats().terminated) {
        // As in QMI, Terminate ends the task normally; this GUI shows it
        // as a stop, in red.
        (Ok(()), Some(late)) => Err(qtloop::Error::Failed(format!(
            "the loop task missed its loop time by {:.3} s (Terminate)",
            late.as_secs_f64()
        ))),
        (Ok(()), None) => Ok(QVariant::from(&QString::from("stopped"))),
        (Err(failure), _) => Err(qtloop::Error::Failed(failure.to_string())),
    }
}

fn main() -> qtloop::Result<()> {
    let opts = common::Options::parse("instrument_monitor");
    let mut app = QmlApp::new()?;
    let lp = EventLoop::new()?;
    register_job("monitor", monitor);
    app.load_source(
        include_str!("../qml/instrument_monitor.qml"),
        "instrument_monitor.qml",
    )?;
    if let Some(done) = common::run_windowed(&opts, &lp) {
        return done;
    }
    let app = Rc::new(app);
    let a = app.clone();
    lp.run_until_complete(async move {
        qtloop::sleep(0.5).await?;
        println!("[gui] operator sets 1.5 K");
        a.set_property("setpoint", "value", &QVariant::from(&1.5f64))?;
        qtloop::sleep(1.05).await?;
        println!("[gui] {}", a.string_property("readout", "text")?);
        println!("[gui] operator picks Terminate");
        a.set_property("policy", "currentIndex", &QVariant::from(&2i32))?;
        while a.string_property("monitor", "status")? != "failed" {
            qtloop::sleep(0.02).await?;
        }
        qtloop::sleep(0.05).await
    })??;
    println!("[gui] {}", app.string_property("state", "text")?);
    app.save_screenshot(&opts.screenshot)?;
    println!("Screenshot: {}", opts.screenshot_display());
    drop(app);
    lp.close()
}
