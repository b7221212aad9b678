//! What the benchmarks share: percentiles, signed lateness, CPU clocks.

#![allow(dead_code)] // each bench uses a part

use std::time::{Duration, Instant};

/// (p50, p99, max) of `v` (sorted in place).
pub fn pcts(v: &mut [f64]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (at(0.5), at(0.99), v[v.len() - 1])
}

/// `at - due` in milliseconds, negative when `at` is early.
pub fn signed_ms(at: Instant, due: Instant) -> f64 {
    if at >= due {
        (at - due).as_secs_f64() * 1e3
    } else {
        -((due - at).as_secs_f64() * 1e3)
    }
}

/// CPU time (user + system) on `clock` (the process's or this thread's).
pub fn cpu(clock: rustix::time::ClockId) -> Duration {
    let t = rustix::time::clock_gettime(clock);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// CPU time of the whole process.
pub fn process_cpu() -> Duration {
    cpu(rustix::time::ClockId::ProcessCPUTime)
}
