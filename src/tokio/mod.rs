//! tokio-based crates (reqwest, sqlx, tonic, ...) from GUI tasks
//! (feature `tokio`).
//!
//! tokio's futures need tokio's context: its I/O and timer drivers, and
//! `tokio::spawn` for their helper tasks. qtloop keeps a shared
//! multi-thread tokio runtime (started at first use, worker threads named
//! `qtloop-tokio`), or uses the application's own ([`set_handle`]), and
//! offers two ways in:
//!
//! - [`spawn`] runs a `Send` future on the runtime and gives a [`Task`]
//!   awaited on the loop thread. Dropping or cancelling the `Task` aborts
//!   the tokio task; a panic there ends the `Task` with
//!   `TaskError::Panicked`.
//! - [`compat`] polls a future *on the loop thread* inside the runtime's
//!   context, so it may hold `!Send` GUI state and touch GUI objects
//!   between awaits: `compat(reqwest::get(url)).await` in a `spawn_local`
//!   task. [`TokioExt::compat`] is the same as a method.
//!
//! ```
//! use qtloop::tokio::{compat, spawn};
//! qtloop::run(async {
//!     // On tokio's threads, awaited here.
//!     let sum = spawn(async { 20 + 1 }).await.unwrap();
//!     // On this thread, with tokio's timer.
//!     compat(async { tokio::time::sleep(std::time::Duration::from_millis(5)).await }).await;
//!     assert_eq!(sum * 2, 42);
//! })
//! .unwrap();
//! ```
//!
//! # Why not a current-thread runtime driven by Qt
//! A current-thread tokio runtime runs only inside `block_on`, which parks
//! the thread in tokio's own `epoll_wait`. tokio has no public "run what is
//! ready, then return" step and does not hand out its driver's fd, so Qt
//! could never wake it, and it could never let Qt run: one of the two
//! would own the GUI thread. So tokio's drivers run on its own worker
//! threads, and qtloop's side stays Qt's loop.
//!
//! # What the bridge costs
//! One hop per wake-up: a tokio driver thread wakes the loop task, and the
//! wake-up reaches the GUI thread through the loop's inbox (one coalesced
//! Qt event per burst), exactly like a result from the thread pool. Nothing
//! polls; a task waiting on tokio costs nothing while it waits.

use std::future::Future;
use std::pin::Pin;
use std::sync::{OnceLock, RwLock};
use std::task::{Context, Poll};

use ::tokio::runtime::{Builder, EnterGuard, Handle, Runtime};
use ::tokio::task::JoinHandle;

use crate::runtime::event_loop::{current_task, get_event_loop};
use crate::Task;

/// The handle set by [`set_handle`], if any (kept for the process's life,
/// so that guards and wrappers can borrow it).
static USER: RwLock<Option<&'static Handle>> = RwLock::new(None);
/// The shared runtime, started at first use when no handle was set.
static SHARED: OnceLock<Runtime> = OnceLock::new();

/// Makes qtloop use the application's own tokio runtime for [`spawn`] and
/// [`compat`] from now on, instead of its shared one (which is not started
/// if this is called first). The runtime must outlive the work given to it;
/// a multi-thread runtime is needed (a current-thread one only runs inside
/// its own `block_on`). Meant to be called once at start-up: each call
/// keeps its `Handle` (a few words) for the life of the process.
pub fn set_handle(handle: Handle) {
    let handle: &'static Handle = Box::leak(Box::new(handle));
    *USER.write().unwrap_or_else(|e| e.into_inner()) = Some(handle);
}

/// The runtime qtloop uses: the one given to [`set_handle`], else the
/// shared one (started now if needed: a multi-thread runtime with tokio's
/// default worker count, I/O and time enabled).
///
/// # Panics
/// If the shared runtime cannot be started (the OS refuses threads).
pub fn handle() -> Handle {
    runtime_handle().clone()
}

fn runtime_handle() -> &'static Handle {
    if let Some(h) = *USER.read().unwrap_or_else(|e| e.into_inner()) {
        return h;
    }
    SHARED
        .get_or_init(|| {
            Builder::new_multi_thread()
                .enable_all()
                .thread_name("qtloop-tokio")
                .build()
                .expect("qtloop::tokio: cannot start the shared tokio runtime")
        })
        .handle()
}

/// Runs `fut` on the tokio runtime and returns a [`Task`] of this thread's
/// loop that gives its output. Dropping or cancelling the `Task` aborts
/// the tokio task at once, from any thread, even while the loop is busy
/// (tokio stops it at its next await); [`Task::detach`] lets it run on.
/// A panic in `fut` ends the `Task` with `TaskError::Panicked`; a tokio
/// task aborted from elsewhere, or dropped by a runtime that shut down,
/// ends it with `TaskError::Cancelled`.
///
/// As with [`compat`], create eager tokio futures inside the block:
/// `spawn(async move { tokio::time::sleep(d).await })`.
///
/// # Panics
/// If this thread has no open [`EventLoop`](crate::EventLoop) (as
/// [`crate::spawn_local`]).
#[must_use = "dropping the Task aborts the tokio task; .detach() lets it run on"]
pub fn spawn<F>(fut: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let lp = get_event_loop()
        .expect("qtloop::tokio::spawn needs an EventLoop on this thread (EventLoop::new())");
    let join = runtime_handle().spawn(fut);
    let abort = join.abort_handle();
    // Aborted at once on cancel, from whichever thread cancels: the loop
    // need not get to the task first.
    lp.create_task(AbortOnDrop(join))
        .on_cancel(move || abort.abort())
        .cancel_on_drop()
}

/// Aborts the tokio task when dropped; gives its output.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match Pin::new(&mut self.0).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(v)) => Poll::Ready(v),
            // The panic goes on in the loop task, which reports it.
            Poll::Ready(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Aborted elsewhere or dropped by its runtime: the loop task
            // cancels itself and ends at its next poll.
            Poll::Ready(Err(_)) => {
                if let Some(me) = current_task() {
                    me.cancel();
                }
                Poll::Pending
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// A future polled inside tokio's context; from [`compat`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Compat<F> {
        #[pin]
        fut: Option<F>,
        handle: &'static Handle,
    }

    impl<F> PinnedDrop for Compat<F> {
        fn drop(this: Pin<&mut Self>) {
            // tokio resources deregister from their driver when dropped.
            let mut this = this.project();
            let _ctx = this.handle.enter();
            this.fut.set(None);
        }
    }
}

/// Wraps `fut` so that each poll, on whatever thread polls it (the loop
/// thread, in a `spawn_local` task), runs inside the tokio runtime's
/// context: tokio's sockets, timers and `tokio::spawn` work there, and the
/// future may hold `!Send` GUI state.
///
/// Some tokio futures look for the runtime when they are *created*, not
/// polled (`tokio::time::sleep`, `tokio::net::TcpStream::from_std`): create
/// them inside the wrapped block, `compat(async { tokio::time::sleep(d).await })`,
/// or under [`enter`]. `async fn`s such as `reqwest::get` are lazy and need
/// neither.
///
/// ```
/// qtloop::run(async {
///     let (tx, rx) = tokio::sync::oneshot::channel();
///     std::thread::spawn(move || tx.send(7));
///     let got = qtloop::tokio::compat(rx).await.unwrap();
///     assert_eq!(got, 7);
/// })
/// .unwrap();
/// ```
pub fn compat<F: Future>(fut: F) -> Compat<F> {
    Compat {
        fut: Some(fut),
        handle: runtime_handle(),
    }
}

impl<F: Future> Future for Compat<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _ctx = this.handle.enter();
        match this.fut.as_pin_mut() {
            Some(fut) => fut.poll(cx),
            None => unreachable!("a Compat future is dropped only once"),
        }
    }
}

/// Enters the tokio runtime's context on this thread until the guard is
/// dropped, for code that creates tokio objects outside [`compat`]. Do not
/// hold the guard across an `await`.
///
/// ```
/// let lp = qtloop::EventLoop::new().unwrap();
/// let sleep = {
///     let _tokio = qtloop::tokio::enter();
///     tokio::time::sleep(std::time::Duration::from_millis(1))
/// };
/// lp.run_until_complete(qtloop::tokio::compat(sleep)).unwrap();
/// lp.close().unwrap();
/// ```
pub fn enter() -> EnterGuard<'static> {
    runtime_handle().enter()
}

/// [`compat`] as a method: `reqwest::get(url).compat().await`.
pub trait TokioExt: Future + Sized {
    /// See [`compat`].
    fn compat(self) -> Compat<Self> {
        compat(self)
    }
}

impl<F: Future> TokioExt for F {}
