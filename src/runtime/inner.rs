//! The loop's insides: `LoopInner` (the core, the driver, the task
//! registry, the handler), the adapters the core and the driver call, and
//! closing.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::context;
use super::event_loop::EventLoop;
use super::exception::ExceptionContext;
use super::scheduler::{Scheduler, SchedulerData};
use super::task::TaskState;
use crate::core::inbox::Inbox;
use crate::core::io::{Direction, Fd};
use crate::core::{Core, Driver, Flow, Hooks};
use crate::driver::{QtDriver, SinkTarget};
use crate::error::into_panic_message;
use crate::executor::ThreadPoolExecutor;

pub(crate) type HandlerFn = dyn Fn(&EventLoop, &ExceptionContext);

thread_local! {
    static CURRENT: RefCell<Weak<LoopInner>> = const { RefCell::new(Weak::new()) };
}

/// This thread's loop (open, or closing: what its drops report at close
/// still reaches its handler).
pub(crate) fn current() -> Option<Rc<LoopInner>> {
    CURRENT.try_with(|c| c.borrow().upgrade()).ok().flatten()
}

/// Registers `inner` as this thread's loop.
pub(crate) fn set_current(inner: &Rc<LoopInner>, id: u64) {
    CURRENT.with(|c| *c.borrow_mut() = Rc::downgrade(inner));
    context::set_current_id(id);
}

/// Frees the thread, if loop `id` is its loop.
pub(crate) fn clear_current(id: u64) {
    if context::current_id() == id {
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = Weak::new());
        context::set_current_id(0);
    }
}

/// The loop's started, unfinished tasks (for `all_tasks`, `current_task`
/// and `close`), in a slab: a task keeps its slot's key, so joining and
/// leaving cost no hashing, and the slots of tasks started together sit
/// together in memory.
pub(crate) type TaskRegistry = slab::Slab<Arc<TaskState>>;

/// What an [`EventLoop`] handle points to.
pub(crate) struct LoopInner {
    pub(crate) core: Core,
    pub(crate) driver: Rc<QtDriver>,
    pub(crate) remote: Arc<Remote>,
    pub(crate) handler: RefCell<Option<Rc<HandlerFn>>>,
    pub(crate) tasks: RefCell<TaskRegistry>,
    pub(crate) executor: RefCell<ExecutorSlot>,
    pub(crate) this: Weak<LoopInner>,
}

/// The default executor: created on first use, refused after shutdown.
pub(crate) enum ExecutorSlot {
    Unset,
    Set(ThreadPoolExecutor),
    ShutDown,
}

/// The thread-safe part of a loop, shared with `LoopHandle`s and tasks.
pub(crate) struct Remote {
    pub(crate) id: u64,
    pub(crate) inbox: Arc<Inbox>,
    pub(crate) closed: AtomicBool,
    /// The schedulers of its `!Send` and `Send` tasks.
    schedulers: [Arc<SchedulerData>; 2],
}

impl Remote {
    /// `owner`: the loop thread's [`context::thread_token`].
    pub(crate) fn new(id: u64, owner: u64, inbox: Arc<Inbox>) -> Self {
        let sched = |send| {
            Arc::new(SchedulerData {
                loop_id: id,
                owner,
                send,
                inbox: inbox.clone(),
            })
        };
        Self {
            id,
            schedulers: [sched(false), sched(true)],
            inbox,
            closed: AtomicBool::new(false),
        }
    }

    pub(crate) fn scheduler(&self, send: bool) -> Scheduler {
        Scheduler(self.schedulers[usize::from(send)].clone())
    }
}

/// The core's driver: the Qt driver, shared with the loop.
pub(crate) struct DriverRef(pub(crate) Rc<QtDriver>);

impl Driver for DriverRef {
    fn request_tick(&self) {
        self.0.request_tick();
    }
    fn defer_tick(&self) {
        self.0.defer_tick();
    }
    fn arm_timer(&self, wait: u64) {
        self.0.arm_timer(wait);
    }
    fn disarm_timer(&self) {
        self.0.disarm_timer();
    }
    fn watch_fd(&self, fd: Fd, dir: Direction, enable: bool) {
        self.0.watch_fd(fd, dir, enable);
    }
    fn unwatch_fd(&self, fd: Fd, dir: Direction) {
        self.0.unwatch_fd(fd, dir);
    }
}

/// Where the core reports panics, slow callbacks and closed fds.
pub(crate) struct LoopHooks(pub(crate) Weak<LoopInner>);

impl Hooks for LoopHooks {
    fn panicked(
        &self,
        what: &'static str,
        at: &'static Location<'static>,
        payload: Box<dyn Any + Send>,
    ) {
        if let Some(inner) = self.0.upgrade() {
            inner.call_exception_handler(ExceptionContext {
                message: format!("Exception in callback {what}"),
                panic: Some(into_panic_message(payload)),
                callback: Some(what),
                location: Some(at),
                ..ExceptionContext::default()
            });
        }
    }

    fn slow_callback(&self, what: &'static str, at: &'static Location<'static>, took: Duration) {
        log::warn!(
            "Executing {what} (scheduled at {at}) took {:.3} seconds",
            took.as_secs_f64()
        );
    }

    fn fd_invalid(&self, fd: Fd) {
        if let Some(inner) = self.0.upgrade() {
            inner.call_exception_handler(ExceptionContext {
                message: format!(
                    "fd {fd} was closed while the loop watched it; its reader and \
                     writer were removed (call remove_reader/remove_writer before closing an fd)"
                ),
                ..ExceptionContext::default()
            });
        }
    }
}

impl SinkTarget for LoopInner {
    fn tick(&self) {
        if self.core.dispatch() == Flow::Stop {
            self.driver.exit_loop();
        }
    }
    fn timer(&self) {
        if self.core.timer_fired() == Flow::Stop {
            self.driver.exit_loop();
        }
    }
    /// `QCoreApplication::aboutToQuit`: the application's `exec()` is
    /// returning. A running loop stops (its `run_*` returns); an idle one
    /// closes: tasks cancelled, the default executor shut down.
    fn fd_ready(&self, fd: Fd, dir: Direction) {
        if self.core.fd_ready(fd, dir) == Flow::Stop {
            self.driver.exit_loop();
        }
    }
    fn fd_invalid(&self, fd: Fd) {
        self.core.fd_invalid(fd);
    }
    fn deferred(&self) {
        self.core.flush_deferred_tick();
    }
    fn about_to_quit(&self) {
        let Some(inner) = self.this.upgrade() else {
            return;
        };
        let lp = EventLoop::from_inner(inner);
        if lp.is_running() {
            lp.stop();
        } else if !lp.is_closed() {
            log::debug!("qtloop: the application quits; closing its event loop");
            let _ = lp.close();
        }
    }
}

impl Drop for LoopInner {
    /// A loop dropped without `close()` closes: its tasks are cancelled
    /// (a parked task holds its own waker, so nothing else would ever drop
    /// it), queued work is dropped, and the thread is free for a new loop.
    fn drop(&mut self) {
        self.shut();
    }
}

impl LoopInner {
    /// `close()` once it is allowed: cancels the tasks (their futures are
    /// dropped here, on the loop thread), stops the default executor from
    /// taking work, drops what is queued and frees the thread.
    pub(crate) fn shut(&self) {
        let tasks: Vec<_> = self.tasks.borrow().iter().map(|(_, t)| t.clone()).collect();
        for t in &tasks {
            t.request_cancel();
        }
        self.remote.closed.store(true, Ordering::Release);
        // Like asyncio: the pool stops taking work, but close() never waits
        // for a job (one that never returns cannot hang the application).
        if let ExecutorSlot::Set(ex) = self.executor.replace(ExecutorSlot::ShutDown) {
            ex.shutdown(false, false);
        }
        self.core.close();
        clear_current(self.remote.id);
    }

    pub(crate) fn driver_notifiers(&self) -> usize {
        self.driver.notifier_count()
    }

    pub(crate) fn call_exception_handler(&self, ctx: ExceptionContext) {
        let handler = self.handler.borrow().clone();
        let Some(handler) = handler else {
            default_handler(&ctx);
            return;
        };
        let Some(this) = self.this.upgrade() else {
            default_handler(&ctx);
            return;
        };
        let lp = EventLoop::from_inner(this);
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| handler(&lp, &ctx))) {
            // asyncio's fallback: a broken custom handler hands over to the
            // default one, with both the original and the new failure.
            default_handler(&ExceptionContext {
                message: "Unhandled error in exception handler".into(),
                panic: Some(into_panic_message(p)),
                context: Some(Box::new(ctx)),
                ..ExceptionContext::default()
            });
        }
    }
}

/// asyncio's default handler: logs at ERROR, or, when no `log` logger is
/// installed (nothing would show), prints to stderr, so that a panic in a
/// callback is never silent.
pub(crate) fn default_handler(ctx: &ExceptionContext) {
    if log::max_level() < log::LevelFilter::Error {
        eprintln!("qtloop: {ctx}");
        return;
    }
    if catch_unwind(AssertUnwindSafe(|| log::error!("{ctx}"))).is_err() {
        eprintln!("qtloop: exception in the default exception handler: {ctx}");
    }
}
