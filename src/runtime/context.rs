//! Per-thread context: the id of the thread's loop, a token for the
//! thread, and the task being polled. (The loop itself is registered in
//! `inner.rs`; this file depends on nothing.)

use std::cell::Cell;

thread_local! {
    static CURRENT_ID: Cell<u64> = const { Cell::new(0) };
    static CURRENT_TASK: Cell<Option<(u64, usize)>> = const { Cell::new(None) };
}

/// A number for this thread, unique in the process (cheap, unlike
/// `thread::current().id()`): who owns a loop's `!Send` futures.
#[inline]
pub(crate) fn thread_token() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static TOKEN: Cell<u64> = const { Cell::new(0) };
    }
    TOKEN
        .try_with(|t| {
            if t.get() == 0 {
                t.set(NEXT.fetch_add(1, Ordering::Relaxed));
            }
            t.get()
        })
        .unwrap_or(0)
}

/// The id of this thread's open loop (0 if none). Cheap.
#[inline]
pub(crate) fn current_id() -> u64 {
    CURRENT_ID.try_with(Cell::get).unwrap_or(0)
}

pub(crate) fn set_current_id(id: u64) {
    let _ = CURRENT_ID.try_with(|c| c.set(id));
}

/// Marks `task` (its id and registry slot) as the one being polled;
/// returns the previous one.
#[inline]
pub(crate) fn enter_task(task: Option<(u64, usize)>) -> Option<(u64, usize)> {
    CURRENT_TASK.try_with(|c| c.replace(task)).unwrap_or(None)
}

/// The task being polled: its id and registry slot.
#[inline]
pub(crate) fn current_task() -> Option<(u64, usize)> {
    CURRENT_TASK.try_with(Cell::get).unwrap_or(None)
}
