//! libqi's `Signal<T>`: subscribers called with each emitted value, on the
//! loop thread the signal belongs to.

use std::future::Future as StdFuture;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::thread::ThreadId;

use futures::task::AtomicWaker;

use crate::core::sync::lock;
use crate::runtime::report::report_panic_payload;
use crate::{get_event_loop, LoopHandle};

/// The id of a connection, for [`Signal::disconnect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalLink(pub u64);

type OnSubscribers = Arc<dyn Fn(bool) + Send + Sync>;

thread_local! {
    /// The signals (by address) whose subscribers this thread is calling.
    static DELIVERING: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A connected callback, with what `disconnect` needs to keep its promise:
/// once it returns, the callback is not called again, and (off the threads
/// that are calling it) no call of it is still running.
struct Subscriber<T> {
    f: Box<dyn Fn(&T) + Send + Sync>,
    /// The threads inside a call of `f` now; `connected` is false once
    /// disconnected. One lock: an emission checks and enters in one step.
    calls: Mutex<Calls>,
    finished: Condvar,
    /// For a `connect_local` subscriber: its closure's key in its loop
    /// thread's table (removed there when this is dropped).
    _local: Option<LocalKey>,
}

thread_local! {
    /// The `!Send` subscribers (`connect_local`) of this loop thread, by
    /// key; each an `Rc<dyn Fn(&T)>` of its signal's `T`.
    static LOCAL_SUBSCRIBERS: std::cell::RefCell<std::collections::HashMap<u64, std::rc::Rc<dyn std::any::Any>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Removes a local subscriber's closure from its thread's table, on that
/// thread (posted there if dropped elsewhere).
struct LocalKey {
    key: u64,
    home: LoopHandle,
    thread: ThreadId,
}

impl Drop for LocalKey {
    fn drop(&mut self) {
        let key = self.key;
        let remove = move || {
            // Dropped outside the borrow: its Drop may use the table.
            let f = LOCAL_SUBSCRIBERS.with(|m| m.borrow_mut().remove(&key));
            drop(f);
        };
        if std::thread::current().id() == self.thread {
            remove();
        } else if self.home.call_soon_threadsafe(remove).is_err() {
            // Its loop is closed: the closure stays in that thread's table
            // until the thread ends (it cannot be dropped from here).
            log::debug!("qi::Signal: a local subscriber of a closed loop outlives its disconnect");
        }
    }
}

#[derive(Default)]
struct Calls {
    connected: bool,
    running: Vec<ThreadId>,
}

impl<T> Subscriber<T> {
    /// Calls `f` unless it was disconnected.
    fn call(&self, value: &T) {
        let me = std::thread::current().id();
        {
            let mut calls = lock(&self.calls);
            if !calls.connected {
                return;
            }
            calls.running.push(me);
        }
        let r = catch_unwind(AssertUnwindSafe(|| (self.f)(value)));
        {
            let mut calls = lock(&self.calls);
            if let Some(i) = calls.running.iter().position(|t| *t == me) {
                calls.running.swap_remove(i);
            }
        }
        self.finished.notify_all();
        if let Err(p) = r {
            report_panic_payload("Exception in qi::Signal subscriber", p);
        }
    }

    /// Marks it disconnected, then waits for its calls on other threads
    /// unless `wait` is false (a call on this thread is the caller's own
    /// stack: waiting for it could never end).
    fn disconnect(&self, wait: bool) {
        let me = std::thread::current().id();
        let mut calls = lock(&self.calls);
        calls.connected = false;
        while wait && calls.running.iter().any(|t| *t != me) {
            calls = self.finished.wait(calls).unwrap_or_else(|e| e.into_inner());
        }
    }
}

struct Inner<T> {
    subscribers: Mutex<Vec<(SignalLink, Arc<Subscriber<T>>)>>,
    on_subscribers: Mutex<Option<OnSubscribers>>,
    next_link: AtomicU64,
    home: Option<LoopHandle>,
}

/// A signal: [`connect`](Self::connect) subscribers, [`emit`](Self::emit)
/// values. Subscribers run on the loop thread of the thread that created the
/// signal: an emission there calls them at once (like a direct Qt
/// connection), one from another thread is posted to that loop. A signal
/// made on a thread without a loop calls subscribers in the emitting thread.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// let lp = qtloop::EventLoop::new().unwrap();
/// let sig = qtloop::qi::Signal::<i32>::new();
/// let seen = Arc::new(Mutex::new(vec![]));
/// let s = seen.clone();
/// let link = sig.connect(move |v| s.lock().unwrap().push(*v));
/// sig.emit(42);
/// assert!(sig.disconnect(link));
/// sig.emit(7);
/// assert_eq!(*seen.lock().unwrap(), [42]);
/// lp.close().unwrap();
/// ```
pub struct Signal<T: Clone + Send + 'static> {
    inner: Arc<Inner<T>>,
}

impl<T: Clone + Send + 'static> Clone for Signal<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Clone + Send + 'static> Default for Signal<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Send + 'static> Signal<T> {
    /// A signal that belongs to this thread's loop (if it has one).
    pub fn new() -> Self {
        Self::with_home(get_event_loop().ok().map(|lp| lp.handle()))
    }

    /// A signal whose subscribers run on `home`'s loop thread.
    pub fn with_home(home: Option<LoopHandle>) -> Self {
        Self {
            inner: Arc::new(Inner {
                subscribers: Mutex::new(Vec::new()),
                on_subscribers: Mutex::new(None),
                next_link: AtomicU64::new(1),
                home,
            }),
        }
    }

    /// Whether `disconnect` may wait for running calls: not from inside a
    /// call of one of this signal's subscribers (as libqi: two subscribers
    /// disconnecting each other from two threads would wait for each other
    /// forever).
    fn may_wait(&self) -> bool {
        let id = Arc::as_ptr(&self.inner) as usize;
        !DELIVERING.with(|d| d.borrow().contains(&id))
    }

    fn subs(&self) -> MutexGuard<'_, Vec<(SignalLink, Arc<Subscriber<T>>)>> {
        lock(&self.inner.subscribers)
    }

    fn notify_subscribers(&self, any: bool) {
        let hook = lock(&self.inner.on_subscribers).clone();
        if let Some(h) = hook {
            h(any);
        }
    }

    /// Sets a hook called with `true` on the first connection and `false`
    /// when the last one goes (libqi's `onSubscribers`).
    pub fn on_subscribers(&self, hook: impl Fn(bool) + Send + Sync + 'static) {
        *lock(&self.inner.on_subscribers) = Some(Arc::new(hook));
    }

    /// Connects `f`; returns its link.
    pub fn connect(&self, f: impl Fn(&T) + Send + Sync + 'static) -> SignalLink {
        self.add(Box::new(f), None)
    }

    /// Connects a `!Send` subscriber, which may capture GUI state (`Rc`s,
    /// cxx-qt pins): it runs on the loop thread the signal belongs to, as
    /// every subscriber does, and must be connected there
    /// (`Err(Error::WrongThread)` elsewhere, or for a signal without a
    /// loop). It can be disconnected from any thread; its closure is then
    /// dropped on the loop thread.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// let lp = qtloop::EventLoop::new().unwrap();
    /// let sig = qtloop::qi::Signal::<i32>::new();
    /// let total = Rc::new(Cell::new(0)); // GUI-thread state, not Send
    /// let t = total.clone();
    /// sig.connect_local(move |v| t.set(t.get() + v)).unwrap();
    /// sig.emit(2);
    /// sig.emit(3);
    /// assert_eq!(total.get(), 5);
    /// lp.close().unwrap();
    /// ```
    pub fn connect_local(&self, f: impl Fn(&T) + 'static) -> crate::Result<SignalLink> {
        static NEXT_KEY: AtomicU64 = AtomicU64::new(1);
        let home = match &self.inner.home {
            Some(h) if h.is_current() => h.clone(),
            _ => {
                return Err(crate::Error::WrongThread(
                    "connect_local must be called on the loop thread the signal belongs to",
                ))
            }
        };
        let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        let f: std::rc::Rc<dyn Fn(&T)> = std::rc::Rc::new(f);
        LOCAL_SUBSCRIBERS.with(|m| m.borrow_mut().insert(key, std::rc::Rc::new(f)));
        // Deliveries happen on the home thread: the closure is found there.
        let call = move |v: &T| {
            let found = LOCAL_SUBSCRIBERS.with(|m| m.borrow().get(&key).cloned());
            if let Some(f) = found
                .as_ref()
                .and_then(|f| f.downcast_ref::<std::rc::Rc<dyn Fn(&T)>>())
            {
                f(v);
            }
        };
        let thread = std::thread::current().id();
        Ok(self.add(Box::new(call), Some(LocalKey { key, home, thread })))
    }

    fn add(&self, f: Box<dyn Fn(&T) + Send + Sync>, local: Option<LocalKey>) -> SignalLink {
        let link = SignalLink(self.inner.next_link.fetch_add(1, Ordering::Relaxed));
        let first = {
            let mut subs = self.subs();
            subs.push((
                link,
                Arc::new(Subscriber {
                    f,
                    calls: Mutex::new(Calls {
                        connected: true,
                        running: Vec::new(),
                    }),
                    finished: Condvar::new(),
                    _local: local,
                }),
            ));
            subs.len() == 1
        };
        if first {
            self.notify_subscribers(true);
        }
        link
    }

    /// Disconnects a link; returns whether it was connected. Once it
    /// returns the subscriber is not called again, not even by an emission
    /// in progress; called off the thread of a running call of it, it waits
    /// for that call to end (as libqi does). From inside a subscriber of
    /// this signal it does not wait: that call could never end.
    pub fn disconnect(&self, link: SignalLink) -> bool {
        // The subscriber is dropped after the lock is released: its Drop
        // may use this signal.
        let (removed, now_empty) = {
            let mut subs = self.subs();
            let removed = subs
                .iter()
                .position(|(l, _)| *l == link)
                .map(|i| subs.remove(i));
            (removed, subs.is_empty())
        };
        let found = removed.is_some();
        if let Some((_, sub)) = &removed {
            sub.disconnect(self.may_wait());
        }
        drop(removed);
        if found && now_empty {
            self.notify_subscribers(false);
        }
        found
    }

    /// Disconnects every subscriber (as [`disconnect`](Self::disconnect)).
    pub fn disconnect_all(&self) {
        let taken = std::mem::take(&mut *self.subs()); // the lock ends here
        let had = !taken.is_empty();
        let wait = self.may_wait();
        for (_, sub) in &taken {
            sub.disconnect(wait);
        }
        drop(taken); // outside the lock: a subscriber's Drop may use the signal
        if had {
            self.notify_subscribers(false);
        }
    }

    /// How many subscribers are connected.
    pub fn subscriber_count(&self) -> usize {
        self.subs().len()
    }

    /// Emits `value` to the subscribers connected now (an emission from
    /// another thread is delivered later, on the loop thread, but only to
    /// those; one disconnected meanwhile is skipped).
    pub fn emit(&self, value: T) {
        let subs = self.snapshot();
        match &self.inner.home {
            Some(home) if !home.is_current() => {
                let sig = self.clone();
                if home
                    .call_soon_threadsafe(move || sig.deliver(&subs, &value))
                    .is_err()
                {
                    warn_closed();
                }
            }
            _ => self.deliver(&subs, &value),
        }
    }

    fn snapshot(&self) -> Vec<Arc<Subscriber<T>>> {
        self.subs().iter().map(|(_, s)| s.clone()).collect()
    }

    fn deliver(&self, subs: &[Arc<Subscriber<T>>], value: &T) {
        let id = Arc::as_ptr(&self.inner) as usize;
        DELIVERING.with(|d| d.borrow_mut().push(id));
        for sub in subs {
            sub.call(value);
        }
        DELIVERING.with(|d| {
            let mut d = d.borrow_mut();
            if let Some(i) = d.iter().rposition(|x| *x == id) {
                d.remove(i);
            }
        });
    }

    /// The next emitted value (a future; dropping it disconnects).
    pub fn next(&self) -> Next<T> {
        Next {
            signal: self.clone(),
            slot: Arc::new(NextSlot {
                value: Mutex::new(None),
                waker: AtomicWaker::new(),
            }),
            link: None,
        }
    }
}

struct NextSlot<T> {
    value: Mutex<Option<T>>,
    waker: AtomicWaker,
}

/// The future of [`Signal::next`].
pub struct Next<T: Clone + Send + 'static> {
    signal: Signal<T>,
    slot: Arc<NextSlot<T>>,
    link: Option<SignalLink>,
}

impl<T: Clone + Send + 'static> StdFuture for Next<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.slot.waker.register(cx.waker());
        let got = lock(&self.slot.value).take();
        if let Some(v) = got {
            if let Some(link) = self.link.take() {
                self.signal.disconnect(link);
            }
            return Poll::Ready(v);
        }
        if self.link.is_none() {
            let slot = self.slot.clone();
            let link = self.signal.connect(move |v: &T| {
                let mut s = lock(&slot.value);
                if s.is_none() {
                    *s = Some(v.clone());
                    drop(s);
                    slot.waker.wake();
                }
            });
            self.link = Some(link);
        }
        Poll::Pending
    }
}

impl<T: Clone + Send + 'static> Drop for Next<T> {
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            self.signal.disconnect(link);
        }
    }
}

/// "Emitted after its loop closed", at most once a second process-wide (an
/// application that quits may emit thousands of times), with a count.
fn warn_closed() {
    use std::sync::atomic::AtomicU64;
    static LAST: AtomicU64 = AtomicU64::new(u64::MAX);
    static DROPPED: AtomicU64 = AtomicU64::new(0);
    let now = crate::core::clock::real_now();
    let last = LAST.load(Ordering::Relaxed);
    let due = last == u64::MAX || now.saturating_sub(last) >= 1_000_000_000;
    if due
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let n = DROPPED.swap(0, Ordering::Relaxed);
        let more = if n > 0 {
            format!(" ({n} more since the last warning)")
        } else {
            String::new()
        };
        log::warn!("qi::Signal: emitted after its loop closed; dropped{more}");
    } else {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}
