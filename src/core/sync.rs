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

/// Locks a std `Mutex`, ignoring poisoning. qtloop never runs user code
/// while it holds one of its own locks, so the state behind a lock that a
/// panic poisoned is still consistent; refusing it would turn one caught
/// panic into a dead loop or pool.
pub(crate) fn lock<T: ?Sized>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
