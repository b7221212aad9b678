//! libqi's PeriodicTask on the Qt loop: a 30 ms callback with a 100 ms
//! period, without and with compensation (seed 000's diagrams), then a
//! compensated 1 ms task for 2 s with its timing figures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qtloop::qi::PeriodicTask;
use qtloop::EventLoop;

fn ticks(lp: &EventLoop, compensate: bool) -> qtloop::Result<()> {
    let task = PeriodicTask::new();
    task.set_name(if compensate { "compensated" } else { "plain" });
    let t0 = Instant::now();
    let n = Arc::new(Mutex::new(0u32));
    let c = n.clone();
    task.set_callback(move || {
        *c.lock().unwrap() += 1;
        println!(
            "  tick at {:4} ms (callback takes 30 ms)",
            t0.elapsed().as_millis()
        );
        std::thread::sleep(Duration::from_millis(30));
    })?;
    task.set_period(Duration::from_millis(100))?;
    task.compensate_callback_time(compensate);
    task.start(true)?;
    lp.run_until_complete(qtloop::sleep(0.45))??;
    task.stop();
    Ok(())
}

fn main() -> qtloop::Result<()> {
    let lp = EventLoop::new()?;
    println!("period 100 ms, no compensation: a tick every 130 ms");
    ticks(&lp, false)?;
    println!("period 100 ms, compensated: a tick every 100 ms");
    ticks(&lp, true)?;

    // W6: a compensated 1 ms task for 2 s.
    let task = PeriodicTask::new();
    let starts = Arc::new(Mutex::new(Vec::with_capacity(2100)));
    let s = starts.clone();
    task.set_callback(move || s.lock().unwrap().push(Instant::now()))?;
    task.set_us_period(1000)?;
    task.compensate_callback_time(true);
    let t0 = Instant::now();
    task.start(true)?;
    lp.run_until_complete(qtloop::sleep(2.0))??;
    task.stop();
    let starts = starts.lock().unwrap();
    let mut dev: Vec<f64> = starts
        .iter()
        .enumerate()
        .map(|(k, at)| {
            let ideal = t0 + Duration::from_millis(k as u64);
            at.saturating_duration_since(ideal).as_secs_f64() * 1e3
        })
        .collect();
    let last_lag = *dev.last().unwrap_or(&0.0);
    dev.sort_by(f64::total_cmp);
    let pct = |p: f64| dev[((dev.len() - 1) as f64 * p) as usize];
    println!(
        "compensated 1 ms task for 2 s: {} calls; lag behind the ideal schedule p50 {:.3} ms, \
         p99 {:.3} ms, max {:.3} ms; last call {:.3} ms behind (no drift)",
        starts.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0),
        last_lag
    );
    lp.close()
}
