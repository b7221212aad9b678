//! Measuring Qt itself, for tests and benchmarks (feature `testing`).

use std::time::Duration;

use crate::driver::qthread;

/// A Qt-side precise `QTimer` that records the longest gap between its
/// ticks: how responsive Qt stays while the loop is busy (the benchmark's
/// W8 and the flood tests use it). It ticks while the thread's Qt event
/// loop runs; dropping it stops it.
pub struct TimerProbe {
    inner: qthread::TimerProbe,
}

impl TimerProbe {
    /// Starts a timer with the given interval (whole milliseconds).
    pub fn start(interval: Duration) -> Self {
        let ms = interval.as_millis().clamp(0, i32::MAX as u128) as i32;
        Self {
            inner: qthread::TimerProbe::start(ms),
        }
    }

    /// How many times it ticked.
    pub fn ticks(&self) -> u64 {
        self.inner.ticks()
    }

    /// The longest gap between two ticks.
    pub fn max_gap(&self) -> Duration {
        Duration::from_nanos(self.inner.max_gap_ns())
    }
}

/// The cost of Qt's own wake-up, for benchmarks: runs `count` posted events
/// on this thread's event loop, each handler posting the next, and returns
/// the time per round trip.
pub fn posted_event_round_trip(count: u64) -> Duration {
    let total = qthread::posted_event_round_trips(count);
    Duration::from_nanos(total / count.max(1))
}
