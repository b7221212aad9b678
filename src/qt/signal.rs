//! Awaiting Qt signals: once (`next_signal`) or as a `Stream`.
//!
//! cxx-qt generates `on_<signal>(closure)` for every signal of a QObject;
//! these functions give that closure a [`SignalSender`] and keep the
//! connection guard, so that dropping the future or stream disconnects.
//! The closure holds a shared queue, never a pointer into the future:
//! moving the future is sound, and a signal emitted on another thread is
//! delivered safely.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use cxx_qt::QMetaObjectConnectionGuard;
use futures::Stream;

use crate::error::{Error, Result};

struct Queue<T> {
    items: VecDeque<T>,
    closed: bool,
    waker: Option<Waker>,
}

struct Shared<T> {
    queue: Mutex<Queue<T>>,
    senders: AtomicUsize,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        crate::core::sync::lock(&self.queue)
    }
}

/// Given to the connecting closure; `send` queues a signal's arguments.
/// When every sender is gone (Qt dropped the connection: disconnected, or
/// the object destroyed) the stream ends.
pub struct SignalSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> SignalSender<T> {
    /// Queues one emission and wakes the waiting task.
    pub fn send(&self, value: T) {
        let waker = {
            let mut q = self.shared.lock();
            q.items.push_back(value);
            q.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Clone for SignalSender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for SignalSender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            let waker = {
                let mut q = self.shared.lock();
                q.closed = true;
                q.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

/// The emissions of a Qt signal as a [`Stream`]; ends when the connection
/// is gone (the sender object destroyed). Dropping it disconnects.
///
/// ```ignore
/// // `clicked(i32)` of a cxx-qt QObject `button`:
/// let mut clicks = qtloop::qt::signal_stream(|tx| {
///     button.as_mut().on_clicked(move |_, n| tx.send(n))
/// });
/// while let Some(n) = clicks.next().await { /* ... */ }
/// ```
#[must_use = "a stream does nothing unless polled; dropping it disconnects"]
pub struct SignalStream<T> {
    shared: Arc<Shared<T>>,
    guard: Option<QMetaObjectConnectionGuard>,
}

/// Connects with `connect` (which receives the [`SignalSender`] to call
/// from the signal's closure, and returns cxx-qt's connection guard).
pub fn signal_stream<T>(
    connect: impl FnOnce(SignalSender<T>) -> QMetaObjectConnectionGuard,
) -> SignalStream<T> {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            items: VecDeque::new(),
            closed: false,
            waker: None,
        }),
        senders: AtomicUsize::new(1),
    });
    let guard = connect(SignalSender {
        shared: shared.clone(),
    });
    SignalStream {
        shared,
        guard: Some(guard),
    }
}

impl<T> SignalStream<T> {
    /// Disconnects now; emissions already queued can still be read.
    pub fn disconnect(&mut self) {
        self.guard.take();
    }

    /// Whether the connection may still deliver (not disconnected, object
    /// not destroyed).
    pub fn is_connected(&self) -> bool {
        self.guard.is_some() && !self.shared.lock().closed
    }
}

impl<T> Stream for SignalStream<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut q = self.shared.lock();
        if let Some(v) = q.items.pop_front() {
            return Poll::Ready(Some(v));
        }
        if q.closed {
            return Poll::Ready(None);
        }
        match &q.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => q.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// The next emission of a signal: resolves to its arguments, then
/// disconnects; `Err(Error::ObjectDestroyed)` if the object is destroyed
/// first. Dropping the future disconnects.
///
/// ```ignore
/// let result = qtloop::qt::next_signal(|tx| job.as_mut().on_finished(move |_, v| tx.send(v.clone()))).await?;
/// ```
pub fn next_signal<T>(
    connect: impl FnOnce(SignalSender<T>) -> QMetaObjectConnectionGuard,
) -> NextSignal<T> {
    NextSignal {
        stream: signal_stream(connect),
    }
}

/// The future of [`next_signal`].
#[must_use = "futures do nothing unless awaited; dropping it disconnects"]
pub struct NextSignal<T> {
    stream: SignalStream<T>,
}

impl<T> NextSignal<T> {
    /// Whether the connection may still deliver.
    pub fn is_connected(&self) -> bool {
        self.stream.is_connected()
    }
}

impl<T> Future for NextSignal<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        match Pin::new(&mut self.stream).poll_next(cx) {
            Poll::Ready(Some(v)) => {
                self.stream.disconnect();
                Poll::Ready(Ok(v))
            }
            Poll::Ready(None) => Poll::Ready(Err(Error::ObjectDestroyed)),
            Poll::Pending => Poll::Pending,
        }
    }
}
