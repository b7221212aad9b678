//! What the tokio bridge costs (feature `tokio`): one round trip from a
//! loop task to tokio and back, against the same round trip inside tokio.
//!
//! - `spawn`: `qtloop::tokio::spawn(async { 1 }).await` from a loop task;
//! - `compat-wake`: a loop task awaits a tokio oneshot that a tokio task
//!   fills (the wake-up hop: tokio's thread → the loop's inbox → Qt);
//! - `tokio-spawn`: `tokio::spawn(async { 1 }).await` inside tokio, the
//!   floor.
//!
//! `cargo bench --features tokio --bench tokio_bench`: one JSON line each
//! (p50 and p99 in µs over 2,000 round trips, after 200 warm-up ones).

use std::time::{Duration, Instant};

use qtloop::EventLoop;
use serde_json::json;

const N: usize = 2_000;
const WARM: usize = 200;

fn pct(mut v: Vec<Duration>, p: f64) -> f64 {
    v.sort();
    v[((v.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6
}

fn emit(name: &str, samples: Vec<Duration>) {
    let line = json!({
        "workload": "tokio-hop",
        "runtime": name,
        "p50_us": pct(samples.clone(), 0.5),
        "p99_us": pct(samples, 0.99),
    });
    println!("{line}");
}

fn main() {
    if std::env::var_os("QT_QPA_PLATFORM").is_none() {
        std::env::set_var("QT_QPA_PLATFORM", "offscreen");
    }
    let lp = EventLoop::new().expect("an event loop");
    let spawn = lp
        .run_until_complete(async {
            let mut v = Vec::with_capacity(N);
            for i in 0..N + WARM {
                let t0 = Instant::now();
                let one = qtloop::tokio::spawn(async { 1 }).await.unwrap();
                assert_eq!(one, 1);
                if i >= WARM {
                    v.push(t0.elapsed());
                }
            }
            v
        })
        .unwrap();
    emit("qtloop-tokio-spawn", spawn);
    let wake = lp
        .run_until_complete(async {
            let mut v = Vec::with_capacity(N);
            for i in 0..N + WARM {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let t0 = Instant::now();
                qtloop::tokio::handle().spawn(async move { tx.send(1) });
                let one = qtloop::tokio::compat(rx).await.unwrap();
                assert_eq!(one, 1);
                if i >= WARM {
                    v.push(t0.elapsed());
                }
            }
            v
        })
        .unwrap();
    emit("qtloop-compat-wake", wake);
    let floor = qtloop::tokio::handle().block_on(async {
        let mut v = Vec::with_capacity(N);
        for i in 0..N + WARM {
            let t0 = Instant::now();
            let one = tokio::spawn(async { 1 }).await.unwrap();
            assert_eq!(one, 1);
            if i >= WARM {
                v.push(t0.elapsed());
            }
        }
        v
    });
    emit("tokio-spawn", floor);
    lp.close().unwrap();
}
