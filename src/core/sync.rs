//! The atomics the inbox uses: std's, or loom's under `--cfg loom` (see
//! `scripts/loom`), so loom can check the real inbox.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, Ordering};
