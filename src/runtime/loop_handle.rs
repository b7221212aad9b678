//! `LoopHandle`: the thread-safe side of a loop.

use std::future::Future;
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::context;
use super::event_loop::Remote;
use super::inner;
use super::task::{self, Task};
use crate::core::{Core, ThreadsafeHandle};
use crate::error::Result;

/// A handle to a loop for any thread (`Send + Sync + Clone`).
#[derive(Clone)]
pub struct LoopHandle {
    pub(crate) remote: Arc<Remote>,
}

impl LoopHandle {
    /// Schedules `f` on the loop from any thread (asyncio
    /// `call_soon_threadsafe`). A burst of calls wakes the loop once.
    #[track_caller]
    pub fn call_soon_threadsafe<F: FnOnce() + Send + 'static>(
        &self,
        f: F,
    ) -> Result<ThreadsafeHandle> {
        Core::post_shared(&self.remote.inbox, f, Location::caller())
    }

    /// Spawns a `Send` future on the loop from any thread.
    pub fn spawn<F>(&self, fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (runnable, task) = task::spawn_send(self.remote.scheduler(true), fut);
        runnable.schedule();
        task
    }

    /// Asks the loop's `run_forever` to return after its current iteration.
    pub fn stop(&self) {
        let id = self.remote.id;
        let _ = self.call_soon_threadsafe(move || {
            if let Some(inner) = inner::current().filter(|_| context::current_id() == id) {
                inner.core.stop();
            }
        });
    }

    /// Whether the loop was closed.
    pub fn is_closed(&self) -> bool {
        self.remote.closed.load(Ordering::Acquire)
    }

    /// The loop's id (unique in the process).
    pub fn id(&self) -> u64 {
        self.remote.id
    }

    /// Whether this is the calling thread's open loop (code here may touch
    /// the loop's `!Send` state; elsewhere it must post).
    pub fn is_current(&self) -> bool {
        super::context::current_id() == self.remote.id
    }
}

impl std::fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopHandle")
            .field("id", &self.remote.id)
            .field("closed", &self.is_closed())
            .finish()
    }
}
