//! The time budget of one dispatch: how long the core runs before control
//! goes back to Qt, and how rarely it reads the clock to know.

use std::time::Duration;

use super::clock::{real_now, Nanos};

/// The default time budget of one dispatch before control goes back to Qt.
pub const DEFAULT_BUDGET: Duration = Duration::from_micros(1500);

/// The largest dispatch budget (larger ones saturate here): a day.
pub const MAX_BUDGET: Duration = Duration::from_secs(86_400);

/// The most items a dispatch runs between two looks at the clock: after a
/// stretch of quick items, this many slow ones can run before the budget
/// notices (4 callbacks of 2 ms: 8 ms), for a clock read every 4 items.
pub(crate) const BUDGET_MAX_STRIDE: u32 = 4;

/// A dispatch's time budget, read from the clock as rarely as it can be
/// while still noticing a slow item at once.
///
/// The stride (items between two clock reads) starts at 1 and doubles while
/// items are quick, up to [`BUDGET_MAX_STRIDE`]; a slow stretch resets it
/// to 1. So quick callbacks cost a clock read every few items, and a
/// dispatch whose first callbacks take 2 ms each stops after the first,
/// not after 32 of them.
pub(crate) struct Budget {
    /// Real monotonic nanoseconds ([`real_now`]).
    end: Nanos,
    /// Below this time between two reads the stride may grow.
    quick: Nanos,
    last: Nanos,
    stride: u32,
    left: u32,
    pub(crate) spent: bool,
}

impl Budget {
    pub(crate) fn new(budget: Duration) -> Self {
        let now = real_now();
        let budget = u64::try_from(budget.as_nanos()).unwrap_or(u64::MAX);
        Self {
            end: now.saturating_add(budget),
            quick: budget / 8,
            last: now,
            stride: 1,
            left: 1,
            spent: false,
        }
    }

    /// An item ran; true if the budget is spent.
    #[inline]
    pub(crate) fn item_done(&mut self) -> bool {
        self.left -= 1;
        self.left == 0 && self.check()
    }

    /// Reads the clock: true if the budget is spent.
    pub(crate) fn check(&mut self) -> bool {
        self.observe(real_now())
    }

    /// Takes a clock read made for something else (`now` from
    /// [`real_now`]) as this budget's check: true if the budget is spent.
    #[inline]
    pub(crate) fn observe(&mut self, now: Nanos) -> bool {
        self.stride = if now.saturating_sub(self.last) < self.quick {
            (self.stride * 2).min(BUDGET_MAX_STRIDE)
        } else {
            1
        };
        self.left = self.stride;
        self.last = now;
        self.spent = now >= self.end;
        self.spent
    }
}
