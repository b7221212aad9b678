//! The loop clock: monotonic nanoseconds since a process-wide epoch.
//!
//! Loop time (`EventLoop::time()`) is this clock in seconds as `f64`, like
//! asyncio's `loop.time()` on `time.monotonic()`: 0.0 at the process epoch.
//! Internally times are `u64` nanoseconds counted from [`ORIGIN`], which
//! lies about 73 years before the epoch: totally ordered, cheap to compare,
//! exact, and deadlines in the past stay ordered (`call_later(-2.0, b)`
//! runs before `call_later(-1.0, a)`, as in asyncio, even at loop time 0.1).
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

/// The largest delay accepted, and the end of loop time: about 219 years
/// after the epoch. Larger delays and deadlines saturate here, so that
/// `deadline = now + delay` never overflows.
pub const MAX_DELAY: Nanos = u64::MAX / 2;

/// Where the process epoch (loop time 0.0) lies on the internal scale:
/// 2^61 ns, about 73 years. Deadlines down to 73 years before the epoch
/// keep their order; earlier ones saturate at the start of the scale.
pub const ORIGIN: Nanos = 1 << 61;

/// The clock resolution used by the iteration rule: timers due within
/// `now + CLOCK_RESOLUTION` run in this iteration (asyncio uses the clock's
/// resolution, 1 ns for `time.monotonic()` on Linux).
pub const CLOCK_RESOLUTION: Nanos = 1;

/// The process epoch, read on both clocks.
struct Epoch {
    instant: Instant,
    /// What turns a coarse reading into an upper bound of loop time:
    /// `ORIGIN + lag − coarse at the epoch` (the coarse clock was read just
    /// before `instant`, so it is not later). `None` without a usable
    /// coarse clock.
    coarse_offset: Option<Nanos>,
}

fn epoch_pair() -> &'static Epoch {
    static EPOCH: OnceLock<Epoch> = OnceLock::new();
    EPOCH.get_or_init(|| {
        let coarse = coarse_clock();
        Epoch {
            instant: Instant::now(),
            coarse_offset: coarse.map(|(at, lag)| ORIGIN.saturating_add(lag).saturating_sub(at)),
        }
    })
}

fn epoch() -> Instant {
    epoch_pair().instant
}

/// `CLOCK_MONOTONIC_COARSE`: the monotonic clock as of the last kernel
/// tick, read in about 2 ns instead of 16 (no TSC read). It is never ahead
/// of `Instant::now()` and normally lags it by less than one tick (its
/// resolution); the bound allows two, and the core does not rely on it
/// alone (a precise read that found a timer due, or the driver's timer
/// firing, makes the next iteration read the clock). Through rustix's
/// vDSO call (2.5 ns; glibc's `clock_gettime` takes 8, and rustix's
/// `use-libc-auxv` made W2 with timers 25 % slower).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn coarse_now() -> Nanos {
    use rustix::time::{clock_gettime, ClockId};
    timespec_nanos(clock_gettime(ClockId::MonotonicCoarse))
}

/// The coarse clock now and how far it may lag (twice its resolution, a
/// tick of 1–10 ms, for a tick that comes a little late), if it can be
/// used: only with the kernel's vDSO mapped. rustix finds the vDSO through
/// the kernel's aux vector, which under valgrind names one that valgrind
/// did not map: reading it crashes (rustix issue 1559). Valgrind's
/// `/proc/self/maps` has no `[vdso]`; then the core reads the precise clock
/// instead.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn coarse_clock() -> Option<(Nanos, Nanos)> {
    use rustix::time::{clock_getres, ClockId};
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    if !maps.contains("[vdso]") {
        return None;
    }
    let lag = timespec_nanos(clock_getres(ClockId::MonotonicCoarse)).saturating_mul(2);
    Some((coarse_now(), lag))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn timespec_nanos(t: rustix::time::Timespec) -> Nanos {
    u64::try_from(t.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(t.tv_nsec).unwrap_or(0))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn coarse_clock() -> Option<(Nanos, Nanos)> {
    None
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn coarse_now() -> Nanos {
    0
}

/// A time no earlier than [`real_now`], read without the precise clock
/// (about 2 ns): a deadline later than this is certainly not due. The core
/// uses it to skip the clock read of an iteration while timers are pending
/// but none is near. Without the coarse clock: the end of time (always "may
/// be due", read precisely).
#[inline]
pub(crate) fn real_upper_bound() -> Nanos {
    // now < coarse_now + lag, and the epoch was no earlier than its coarse
    // read: now − epoch < coarse_now − coarse_epoch + lag.
    match epoch_pair().coarse_offset {
        Some(offset) => coarse_now().saturating_add(offset).min(MAX_DELAY),
        None => MAX_DELAY,
    }
}

/// Real monotonic time on the internal scale (the process epoch is
/// [`ORIGIN`]).
pub fn real_now() -> Nanos {
    ORIGIN + saturating_nanos(epoch().elapsed()).min(MAX_DELAY - ORIGIN)
}

/// `Instant` → loop nanoseconds.
pub fn instant_to_nanos(at: Instant) -> Nanos {
    let e = epoch();
    if at >= e {
        ORIGIN
            .saturating_add(saturating_nanos(at - e))
            .min(MAX_DELAY)
    } else {
        ORIGIN.saturating_sub(saturating_nanos(e - at))
    }
}

/// Loop nanoseconds → `Instant`.
pub fn nanos_to_instant(at: Nanos) -> Instant {
    let e = epoch();
    if at >= ORIGIN {
        e + Duration::from_nanos(at - ORIGIN)
    } else {
        e.checked_sub(Duration::from_nanos(ORIGIN - at))
            .unwrap_or(e)
    }
}

/// Loop nanoseconds → loop seconds (0.0 at the process epoch).
pub fn nanos_to_secs(at: Nanos) -> f64 {
    // Subtract in integers: a `u64` near 2^61 as `f64` keeps only ~512 ns.
    (at.min(MAX_DELAY) as i64 - ORIGIN as i64) as f64 / 1e9
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
            None => self.at(real_now()),
        }
    }

    /// The loop time at real time `real` (from [`real_now`]): for a caller
    /// that read the real clock already.
    #[inline]
    pub fn at(&self, real: Nanos) -> Nanos {
        match self.frozen.get() {
            Some(t) => t,
            // Loop time stops at the end of time (after a resume there).
            None => real.saturating_add_signed(self.offset.get()).min(MAX_DELAY),
        }
    }

    /// A loop time no earlier than [`now`](Self::now), read cheaply (see
    /// [`real_upper_bound`]).
    #[inline]
    pub(crate) fn upper_bound(&self) -> Nanos {
        match self.frozen.get() {
            Some(t) => t,
            None => self.at(real_upper_bound()),
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

/// A point in loop time, exact to the nanosecond ([`EventLoop::now`]):
/// it follows the loop's clock, paused or not, and orders and adds like
/// `Instant`. [`EventLoop::time`] is the same clock in seconds.
///
/// [`EventLoop::now`]: crate::EventLoop::now
/// [`EventLoop::time`]: crate::EventLoop::time
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LoopTime(Nanos);

impl LoopTime {
    /// The time `nanos` on the loop clock's internal scale (see
    /// [`as_nanos`](Self::as_nanos)); saturates at the end of loop time.
    pub fn from_nanos(nanos: Nanos) -> Self {
        Self(nanos.min(MAX_DELAY))
    }

    /// Nanoseconds on the loop clock's internal scale: the process epoch
    /// (loop time 0.0) is [`ORIGIN`].
    pub fn as_nanos(self) -> Nanos {
        self.0
    }

    /// Loop time in seconds, as [`EventLoop::time`](crate::EventLoop::time)
    /// gives it.
    pub fn as_secs_f64(self) -> f64 {
        nanos_to_secs(self.0)
    }

    /// How long after `earlier` this is (zero if it is not after).
    pub fn saturating_duration_since(self, earlier: LoopTime) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl std::ops::Add<Duration> for LoopTime {
    type Output = LoopTime;

    /// Saturates at the end of loop time.
    fn add(self, d: Duration) -> LoopTime {
        LoopTime(self.0.saturating_add(saturating_nanos(d)).min(MAX_DELAY))
    }
}

impl IntoDeadline for LoopTime {
    fn into_deadline(self) -> Result<Nanos, Error> {
        Ok(self.0)
    }
}

/// A delay: `f64` seconds (asyncio style) or a `Duration`.
///
/// NaN or infinite delays are [`Error::InvalidDelay`]; huge ones saturate
/// at the end of loop time. A negative `f64` delay is "now" for a timeout
/// or a sleep, and for `call_later` a deadline in the past: as in asyncio,
/// `when = time() + delay`, so `call_later(-2.0, b)` runs before
/// `call_later(-1.0, a)`.
pub trait IntoDelay: Sized {
    /// The delay in nanoseconds (negative delays are 0).
    fn into_nanos(self) -> Result<Nanos, Error>;

    /// The delay in nanoseconds, negative ones kept.
    fn into_signed_nanos(self) -> Result<i64, Error> {
        self.into_nanos().map(|n| n.min(i64::MAX as u64) as i64)
    }
}

impl IntoDelay for f64 {
    fn into_nanos(self) -> Result<Nanos, Error> {
        Ok(self.into_signed_nanos()?.max(0) as Nanos)
    }

    fn into_signed_nanos(self) -> Result<i64, Error> {
        if !self.is_finite() {
            return Err(Error::InvalidDelay(self));
        }
        // `as` saturates at i64's ends; ±MAX_DELAY is the widest that matters.
        Ok(((self * 1e9).round() as i64).clamp(-(MAX_DELAY as i64), MAX_DELAY as i64))
    }
}

/// The deadline `delay` after `now`, within the loop's time scale.
pub fn deadline_after(now: Nanos, delay: i64) -> Nanos {
    now.saturating_add_signed(delay).min(MAX_DELAY)
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
        Ok(deadline_after(ORIGIN, self.into_signed_nanos()?))
    }
}

impl IntoDeadline for Instant {
    fn into_deadline(self) -> Result<Nanos, Error> {
        Ok(instant_to_nanos(self))
    }
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

    #[test]
    fn deadlines_before_the_epoch_keep_their_order() {
        let a = (-1.0f64).into_deadline().unwrap();
        let b = (-2.0f64).into_deadline().unwrap();
        assert!(b < a && a < ORIGIN);
        assert_eq!(nanos_to_secs(a), -1.0);
        assert_eq!(nanos_to_secs(ORIGIN + 1), 1e-9);
        assert_eq!((-1.0f64).into_signed_nanos().unwrap(), -1_000_000_000);
        assert_eq!(deadline_after(5, -10), 0);
        assert_eq!(deadline_after(MAX_DELAY, 10), MAX_DELAY);
        assert_eq!((-1e300f64).into_deadline().unwrap(), 0);
        let before = Instant::now().checked_sub(Duration::from_secs(1));
        if let Some(before) = before {
            let ns = instant_to_nanos(before);
            assert!(ns < real_now());
            let back = nanos_to_instant(ns);
            let diff = if back > before {
                back - before
            } else {
                before - back
            };
            assert!(diff < Duration::from_micros(1));
        }
    }
}
