//! What a task's handles and its future share: the id, the status and the
//! flags in one atomic word, and the rest (the waker that a cancellation
//! wakes, a name, a panic nobody has seen, a cancel hook) under one lock.
//!
//! 40 bytes, so that with its reference counts it fits glibc's 64-byte
//! chunk (the word, and a mutex around two pointers' worth). A poll touches
//! only the word, with one load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::Waker;

use super::context;
use super::task::{TaskInfo, TaskStatus};
use crate::core::sync::lock;

/// The status is the word's low three bits (a `TaskStatus` other than
/// `Running`, which is derived: the task being polled).
const STATUS: u64 = 0b111;
/// Cancellation was requested.
const CANCEL: u64 = 1 << 3;
/// The `Task` handle is gone (a panic is reported, not kept).
const DETACHED: u64 = 1 << 4;
/// Dropping the `Task` handle cancels the task.
const CANCEL_ON_DROP: u64 = 1 << 5;
/// A panic nobody has seen yet waits in the extras.
const UNRETRIEVED: u64 = 1 << 6;
/// The id sits above the flags.
const ID_SHIFT: u32 = 8;

pub(crate) struct TaskState {
    /// `id << ID_SHIFT | flags | status`.
    word: AtomicU64,
    shared: Mutex<Shared>,
}

#[derive(Default)]
struct Shared {
    /// The task's waker (async-task's never changes), for `cancel`.
    waker: Option<Waker>,
    /// What few tasks have, allocated on first use.
    extras: Option<Box<Extras>>,
}

#[derive(Default)]
struct Extras {
    name: Option<String>,
    /// A panic nobody has seen yet (reported if the handle is dropped).
    unretrieved: Option<String>,
    /// Called at the first cancellation request (`Task::on_cancel`).
    on_cancel: Option<Box<dyn FnOnce() + Send>>,
}

impl TaskState {
    pub(crate) fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        Self {
            word: AtomicU64::new(id << ID_SHIFT | TaskStatus::Pending as u64),
            shared: Mutex::default(),
        }
    }

    fn flags(&self) -> u64 {
        self.word.load(Ordering::Acquire)
    }

    /// Unique in the process.
    pub(crate) fn id(&self) -> u64 {
        self.word.load(Ordering::Relaxed) >> ID_SHIFT
    }

    /// The status now; `Running` while this thread polls the task.
    pub(crate) fn status(&self) -> TaskStatus {
        let status = TaskStatus::from_u8((self.flags() & STATUS) as u8);
        if status == TaskStatus::Pending
            && context::current_task().is_some_and(|(id, _)| id == self.id())
        {
            return TaskStatus::Running;
        }
        status
    }

    /// Records how the task ended, once: a later call does nothing.
    pub(crate) fn finish(&self, status: TaskStatus) {
        let _ = self
            .word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                (w & STATUS == TaskStatus::Pending as u64).then_some(w | status as u64)
            });
    }

    pub(crate) fn cancel_requested(&self) -> bool {
        self.flags() & CANCEL != 0
    }

    pub(crate) fn is_detached(&self) -> bool {
        self.flags() & DETACHED != 0
    }

    /// Marks the handle gone; returns whether dropping it was to cancel
    /// the task (one read-modify-write for both).
    pub(crate) fn set_detached(&self) -> bool {
        self.word.fetch_or(DETACHED, Ordering::AcqRel) & CANCEL_ON_DROP != 0
    }

    #[cfg(test)]
    fn cancels_on_drop(&self) -> bool {
        self.flags() & CANCEL_ON_DROP != 0
    }

    pub(crate) fn set_cancel_on_drop(&self, yes: bool) {
        if yes {
            self.word.fetch_or(CANCEL_ON_DROP, Ordering::AcqRel);
        } else if self.flags() & CANCEL_ON_DROP != 0 {
            self.word.fetch_and(!CANCEL_ON_DROP, Ordering::AcqRel);
        }
    }

    /// Keeps the task's waker, for a cancellation from anywhere.
    pub(crate) fn set_waker(&self, waker: &Waker) {
        lock(&self.shared).waker = Some(waker.clone());
    }

    /// Runs `f` on the extras, allocating them if needed.
    fn extras<R>(&self, f: impl FnOnce(&mut Extras) -> R) -> R {
        f(lock(&self.shared).extras.get_or_insert_with(Box::default))
    }

    /// Runs `f` on the extras if there are any.
    fn peek<R>(&self, f: impl FnOnce(&mut Extras) -> Option<R>) -> Option<R> {
        lock(&self.shared).extras.as_deref_mut().and_then(f)
    }

    pub(crate) fn name(&self) -> Option<String> {
        self.peek(|e| e.name.clone())
    }

    pub(crate) fn set_name(&self, name: String) {
        self.extras(|e| e.name = Some(name));
    }

    /// Keeps a panic until the handle sees it or is dropped.
    pub(crate) fn set_unretrieved(&self, msg: String) {
        self.extras(|e| e.unretrieved = Some(msg));
        self.word.fetch_or(UNRETRIEVED, Ordering::AcqRel);
    }

    /// The panic nobody has seen, taken (no lock when there is none).
    pub(crate) fn take_unretrieved(&self) -> Option<String> {
        if self.flags() & UNRETRIEVED == 0 {
            return None;
        }
        self.word.fetch_and(!UNRETRIEVED, Ordering::AcqRel);
        self.peek(|e| e.unretrieved.take())
    }

    /// Sets the hook the first cancellation request calls; calls it now if
    /// that request came already.
    pub(crate) fn set_on_cancel(&self, hook: Box<dyn FnOnce() + Send>) {
        self.extras(|e| e.on_cancel = Some(hook));
        // Cancelled meanwhile: the request did not see the hook.
        if self.cancel_requested() {
            if let Some(hook) = self.peek(|e| e.on_cancel.take()) {
                hook();
            }
        }
    }

    pub(crate) fn info(&self) -> TaskInfo {
        TaskInfo {
            id: self.id(),
            name: self.name(),
            status: self.status(),
        }
    }

    /// Marks the task cancelled, calls the cancel hook (outside the lock)
    /// and wakes the task, whose next poll drops its future.
    pub(crate) fn request_cancel(&self) {
        self.word.fetch_or(CANCEL, Ordering::AcqRel);
        let (hook, waker) = {
            let mut shared = lock(&self.shared);
            let hook = shared
                .extras
                .as_deref_mut()
                .and_then(|e| e.on_cancel.take());
            (hook, shared.waker.take())
        };
        if let Some(hook) = hook {
            hook();
        }
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(crate) fn label(&self) -> String {
        match self.name() {
            Some(n) => format!("Task {} ({n})", self.id()),
            None => format!("Task {}", self.id()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_state_fits_a_64_byte_chunk_with_its_counts() {
        assert_eq!(std::mem::size_of::<TaskState>(), 40);
    }

    #[test]
    fn the_word_keeps_the_id_apart_from_the_flags() {
        let s = TaskState::new();
        let id = s.id();
        s.set_cancel_on_drop(true);
        assert!(s.set_detached(), "dropping the handle cancels");
        s.request_cancel();
        s.set_unretrieved("boom".into());
        s.finish(TaskStatus::Panicked);
        s.finish(TaskStatus::Done); // the first ending stays
        assert_eq!(s.id(), id);
        assert!(s.cancels_on_drop() && s.is_detached() && s.cancel_requested());
        assert_eq!(s.status(), TaskStatus::Panicked);
        assert_eq!(s.take_unretrieved().as_deref(), Some("boom"));
        assert_eq!(s.take_unretrieved(), None);
        s.set_cancel_on_drop(false);
        assert!(!s.cancels_on_drop() && s.is_detached());
        assert!(TaskState::new().id() > id);
    }
}
