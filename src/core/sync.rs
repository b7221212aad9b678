//! Synchronisation types that loom can check: std's normally, loom's under
//! `--cfg loom` (see `scripts/loom`). The inbox and `PeriodicTask`'s state
//! use these, so loom checks the real code.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
