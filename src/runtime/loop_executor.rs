//! `EventLoop`'s default executor: `run_in_executor` and its shutdown.

use std::future::Future;
use std::time::Duration;

use super::event_loop::{EventLoop, ExecutorSlot};
use crate::error::{Error, Result};
use crate::executor::{ExecutorFuture, JobToken, ThreadPoolExecutor};

impl EventLoop {
    /// Runs `f` on the default executor (a [`ThreadPoolExecutor`] created
    /// on first use) and gives its result back on the loop thread.
    ///
    /// ```
    /// let lp = qtloop::EventLoop::new().unwrap();
    /// let loop_thread = std::thread::current().id();
    /// let worker = lp
    ///     .run_until_complete(lp.run_in_executor(|| std::thread::current().id()))
    ///     .unwrap()
    ///     .unwrap();
    /// assert_ne!(worker, loop_thread);
    /// lp.close().unwrap();
    /// ```
    pub fn run_in_executor<T, F>(&self, f: F) -> ExecutorFuture<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.default_executor().submit(f)
    }

    /// [`run_in_executor`](Self::run_in_executor) for a job that takes a
    /// [`JobToken`]: `token.is_cancelled()` turns true when the future is
    /// dropped or cancelled, so the job can stop instead of burning a
    /// core, and `token.set_progress(p)` reaches the loop thread through
    /// the future's [`progress`](ExecutorFuture::progress) stream.
    pub fn run_in_executor_with<T, F>(&self, f: F) -> ExecutorFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(JobToken) -> T + Send + 'static,
    {
        self.default_executor().submit_with(f)
    }

    /// The default executor, created on first use; after
    /// `shutdown_default_executor`, one that refuses work.
    fn default_executor(&self) -> ThreadPoolExecutor {
        let mut slot = self.inner.executor.borrow_mut();
        match &*slot {
            ExecutorSlot::Set(ex) => ex.clone(),
            ExecutorSlot::ShutDown => {
                let dead = ThreadPoolExecutor::new(1).expect("1 is a valid size");
                dead.shutdown(false, false);
                dead
            }
            ExecutorSlot::Unset => {
                let ex = ThreadPoolExecutor::default();
                *slot = ExecutorSlot::Set(ex.clone());
                ex
            }
        }
    }

    /// Makes `executor` the default for [`run_in_executor`](Self::run_in_executor).
    /// The previous default is shut down without waiting.
    pub fn set_default_executor(&self, executor: ThreadPoolExecutor) {
        let old = self.inner.executor.replace(ExecutorSlot::Set(executor));
        if let ExecutorSlot::Set(old) = old {
            old.shutdown(false, false);
        }
    }

    /// Shuts the default executor down and waits (without blocking the loop)
    /// for its running jobs, at most 300 s, as `asyncio.run` does. Later
    /// `run_in_executor` calls give `Err(Error::ExecutorShutdown)`.
    pub fn shutdown_default_executor(&self) -> impl Future<Output = Result<()>> + 'static {
        self.shutdown_default_executor_timeout(Duration::from_secs(300))
    }

    /// [`shutdown_default_executor`](Self::shutdown_default_executor) with a
    /// time limit: `Err(Error::Timeout)` (and a warning) if jobs are still
    /// running then; they are left to finish on their own.
    pub fn shutdown_default_executor_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<()>> + 'static {
        let old = self.inner.executor.replace(ExecutorSlot::ShutDown);
        async move {
            let ExecutorSlot::Set(ex) = old else {
                return Ok(());
            };
            ex.shutdown(false, false);
            let (tx, rx) = futures::channel::oneshot::channel();
            let joiner = std::thread::Builder::new()
                .name("qtloop-executor-join".into())
                .spawn(move || {
                    ex.join();
                    let _ = tx.send(());
                });
            if joiner.is_err() {
                return Err(Error::Qt("cannot start the executor join thread".into()));
            }
            match crate::time::timeout(timeout, rx).await {
                Ok(_) => Ok(()),
                Err(_) => {
                    log::warn!(
                        "The executor did not finish joining its threads within {} seconds.",
                        timeout.as_secs_f64()
                    );
                    Err(Error::Timeout)
                }
            }
        }
    }
}
