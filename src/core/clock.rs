//! The loop clock: monotonic nanoseconds since a process-wide epoch.
//!
//! Loop time (`EventLoop::time()`) is this clock in seconds as `f64`, like
//! asyncio's `loop.time()` on `time.monotonic()`. Internally deadlines are
//! `u64` nanoseconds: totally ordered, cheap to compare, exact.
//!
//! The clock can be paused (a test clock, like tokio's `time::pause`): while
//! paused, `now()` only moves when [`Clock::advance`] or [`Clock::jump_to`]
//! moves it.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::error::Error;

/// Nanoseconds on the loop clock.
pub type Nanos = u64;

/// The largest delay accepted: about 146 years. Larger delays saturate here,
/// so that `deadline = now + delay` never overflows.
pub const MAX_DELAY: Nanos = u64::MAX / 2;

/// The clock resolution used by the iteration rule: timers due within
/// `now + CLOCK_RESOLUTION` run in this iteration (asyncio uses the clock's
/// resolution, 1 ns for `time.monotonic()` on Linux).
pub const CLOCK_RESOLUTION: Nanos = 1;

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Real monotonic time in nanoseconds since the process epoch.
pub fn real_now() -> Nanos {
    saturating_nanos(epoch().elapsed())
}

/// `Instant` → loop nanoseconds (instants before the epoch map to 0).
pub fn instant_to_nanos(at: Instant) -> Nanos {
    saturating_nanos(at.saturating_duration_since(epoch()))
}

/// Loop nanoseconds → `Instant`.
pub fn nanos_to_instant(at: Nanos) -> Instant {
    epoch() + Duration::from_nanos(at)
}

/// Nanoseconds → loop seconds.
pub fn nanos_to_secs(at: Nanos) -> f64 {
    at as f64 / 1e9
}

fn saturating_nanos(d: Duration) -> Nanos {
    u64::try_from(d.as_nanos())
        .unwrap_or(u64::MAX)
        .min(MAX_DELAY)
}

/// A per-loop clock: real monotonic time, or a paused test clock.
#[derive(Debug, Default)]
pub struct Clock {
    /// `Some(t)` while paused: the frozen time.
    frozen: Cell<Option<Nanos>>,
    /// Added to real time after a pause/resume cycle moved time forward.
    offset: Cell<i64>,
}

impl Clock {
    /// A clock that follows real monotonic time.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current loop time in nanoseconds.
    #[inline]
    pub fn now(&self) -> Nanos {
        match self.frozen.get() {
            Some(t) => t,
            None => real_now().saturating_add_signed(self.offset.get()),
        }
    }

    /// Whether the clock is paused.
    pub fn is_paused(&self) -> bool {
        self.frozen.get().is_some()
    }

    /// Freezes the clock at its current value.
    pub fn pause(&self) {
        if self.frozen.get().is_none() {
            self.frozen.set(Some(self.now().min(MAX_DELAY)));
        }
    }

    /// Lets the clock run again from where it was frozen.
    pub fn resume(&self) {
        if let Some(t) = self.frozen.take() {
            // Both are at most MAX_DELAY (= i64::MAX): no overflow.
            self.offset.set(t as i64 - real_now() as i64);
        }
    }

    /// Moves a paused clock forward by `by` (no effect on a running clock).
    /// Loop time stops at [`MAX_DELAY`] (about 146 years): so that
    /// resuming never wraps and loop time never goes backwards.
    pub fn advance(&self, by: Nanos) {
        if let Some(t) = self.frozen.get() {
            self.frozen.set(Some(t.saturating_add(by).min(MAX_DELAY)));
        }
    }

    /// Moves a paused clock forward to `at` if `at` is later (at most to
    /// [`MAX_DELAY`]).
    pub fn jump_to(&self, at: Nanos) {
        if let Some(t) = self.frozen.get() {
            self.frozen.set(Some(t.max(at).min(MAX_DELAY)));
        }
    }
}

/// A delay: `f64` seconds (asyncio style) or a `Duration`.
///
/// Negative `f64` delays mean "now"; NaN or infinite ones are
/// [`Error::InvalidDelay`]; huge ones saturate at about 146 years.
pub trait IntoDelay {
    /// The delay in nanoseconds.
    fn into_nanos(self) -> Result<Nanos, Error>;
}

impl IntoDelay for f64 {
    fn into_nanos(self) -> Result<Nanos, Error> {
        secs_to_nanos(self)
    }
}

impl IntoDelay for Duration {
    fn into_nanos(self) -> Result<Nanos, Error> {
        Ok(saturating_nanos(self))
    }
}

/// A deadline: `f64` in loop time (`lp.time() + 0.2`) or an `Instant`.
pub trait IntoDeadline {
    /// The deadline in loop nanoseconds.
    fn into_deadline(self) -> Result<Nanos, Error>;
}

impl IntoDeadline for f64 {
    fn into_deadline(self) -> Result<Nanos, Error> {
        secs_to_nanos(self)
    }
}

impl IntoDeadline for Instant {
    fn into_deadline(self) -> Result<Nanos, Error> {
        Ok(instant_to_nanos(self))
    }
}

fn secs_to_nanos(secs: f64) -> Result<Nanos, Error> {
    if !secs.is_finite() {
        return Err(Error::InvalidDelay(secs));
    }
    if secs <= 0.0 {
        return Ok(0);
    }
    let ns = secs * 1e9;
    Ok(if ns >= MAX_DELAY as f64 {
        MAX_DELAY
    } else {
        ns.round() as Nanos
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_from_seconds() {
        assert_eq!(0.25f64.into_nanos().unwrap(), 250_000_000);
        assert_eq!((-3.0f64).into_nanos().unwrap(), 0);
        assert_eq!(1e300f64.into_nanos().unwrap(), MAX_DELAY);
        assert!(matches!(f64::NAN.into_nanos(), Err(Error::InvalidDelay(_))));
        assert!(matches!(
            f64::INFINITY.into_nanos(),
            Err(Error::InvalidDelay(_))
        ));
        assert_eq!(Duration::from_millis(3).into_nanos().unwrap(), 3_000_000);
        assert_eq!(Duration::MAX.into_nanos().unwrap(), MAX_DELAY);
    }

    #[test]
    fn instants_round_trip() {
        real_now();
        let now = Instant::now();
        let ns = now.into_deadline().unwrap();
        let back = nanos_to_instant(ns);
        let diff = if back > now { back - now } else { now - back };
        assert!(diff < Duration::from_micros(1));
    }

    #[test]
    fn paused_clock_moves_only_when_told() {
        let c = Clock::new();
        c.pause();
        let t = c.now();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(c.now(), t);
        c.advance(5);
        assert_eq!(c.now(), t + 5);
        c.jump_to(t + 3);
        assert_eq!(c.now(), t + 5);
        c.resume();
        assert!(c.now() >= t + 5);
    }
}
