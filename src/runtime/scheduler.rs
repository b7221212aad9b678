//! Where a task's runnable goes when it is woken (the rules of `Task`'s
//! "Who polls and drops the future").

use std::sync::Arc;

use super::{context, inner};
use crate::core::inbox::{Inbox, Posted};

/// Where a task's runnable goes when it is woken, and who may drop it: the
/// rules of [`Task`]'s "Who polls and drops the future" (this type is where
/// they are carried out).
/// One per loop and kind, shared by its tasks: a task carries one pointer.
#[derive(Clone)]
pub(crate) struct Scheduler(pub(crate) Arc<SchedulerData>);

pub(crate) struct SchedulerData {
    pub(crate) loop_id: u64,
    pub(crate) owner: u64,
    pub(crate) send: bool,
    pub(crate) inbox: Arc<Inbox>,
}

impl Scheduler {
    pub(crate) fn schedule(&self, r: async_task::Runnable) {
        let this = &*self.0;
        if context::thread_token() == this.owner {
            match inner::current() {
                Some(inner) if context::current_id() == this.loop_id && !inner.core.is_closed() => {
                    inner.core.schedule_runnable(r);
                }
                // The loop is closed (or gone): dropping the runnable
                // cancels the task, on its own thread.
                _ => drop(r),
            }
            return;
        }
        if let Err(Posted::Task(r)) = this.inbox.post(Posted::Task(r)) {
            if this.send {
                drop(r); // closed; a Send future may be dropped anywhere
            } else {
                log::warn!(
                    "qtloop: a task of a closed loop was woken on another thread; \
                     its !Send future cannot be dropped there and is leaked"
                );
                std::mem::forget(r);
            }
        }
    }
}
