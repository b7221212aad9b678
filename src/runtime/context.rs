//! Per-thread context: the thread's loop and the task being polled.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use super::event_loop::LoopInner;

thread_local! {
    static CURRENT: RefCell<Weak<LoopInner>> = const { RefCell::new(Weak::new()) };
    static CURRENT_ID: Cell<u64> = const { Cell::new(0) };
    static CURRENT_TASK: Cell<Option<u64>> = const { Cell::new(None) };
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

/// This thread's open loop.
pub(crate) fn current() -> Option<Rc<LoopInner>> {
    CURRENT.try_with(|c| c.borrow().upgrade()).ok().flatten()
}

pub(crate) fn set_current(inner: &Rc<LoopInner>, id: u64) {
    CURRENT.with(|c| *c.borrow_mut() = Rc::downgrade(inner));
    CURRENT_ID.with(|c| c.set(id));
}

pub(crate) fn clear_current(id: u64) {
    if current_id() == id {
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = Weak::new());
        let _ = CURRENT_ID.try_with(|c| c.set(0));
    }
}

/// Marks `task` as the one being polled; returns the previous one.
pub(crate) fn enter_task(task: Option<u64>) -> Option<u64> {
    CURRENT_TASK.try_with(|c| c.replace(task)).unwrap_or(None)
}

pub(crate) fn current_task_id() -> Option<u64> {
    CURRENT_TASK.try_with(Cell::get).unwrap_or(None)
}
