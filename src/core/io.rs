//! The readiness registry: the file descriptors the loop watches, and who
//! hears when they are ready.
//!
//! Each fd has two directions (read, write). A direction has at most one
//! *callback* (asyncio's `add_reader`/`add_writer`: called again and again,
//! level-triggered, until removed) and any number of *waiters* (the wakers of
//! futures such as `net::Async::readable`, woken once). The driver keeps one
//! notifier per fd and direction. It is on while someone listens and no
//! callback run is queued yet, so a ready fd whose callback has not run
//! does not wake the loop again and again; after waking waiters it stays on
//! until it fires with nobody waiting (see `IoRegistry::ready`).
//!
//! Readiness never jumps the queue: a ready callback is queued on the ready
//! FIFO (`IoEvent`) and runs in iteration order like `call_soon`; waiters
//! are woken, which queues their tasks on the same FIFO (the core then
//! dispatches at once, from the notifier's signal).

use std::panic::Location;
use std::rc::Rc;
use std::task::Waker;

/// A file descriptor number (`RawFd` on Unix).
pub type Fd = i32;

/// Which readiness a watch is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Direction {
    /// Readable (or end of file, or an error pending).
    Read = 0,
    /// Writable (or an error pending).
    Write = 1,
}

/// A queued run of an fd's callback. `gen` tells a stale event (its
/// callback was replaced or removed after the event was queued) from a
/// live one.
///
/// Aligned to 8 bytes so that in the ready queue's `Ready` every variant's
/// payload starts at the same offset: with this event's fields packed right
/// after a 4-byte tag, moving a `Ready` copied it in 4- and 8-byte pieces
/// and the next 8-byte read of a callback pointer spanned two of them (a
/// failed store-to-load forward on every callback: 58% of W1's dispatch).
#[derive(Debug, Clone, Copy)]
#[repr(align(8))]
pub(crate) struct IoEvent {
    pub(crate) fd: Fd,
    pub(crate) dir: Direction,
    pub(crate) gen: u32,
}

/// Where a callback was registered.
pub(crate) type Site = &'static Location<'static>;

/// The callback of `add_reader`/`add_writer`.
pub(crate) struct IoCallback {
    pub(crate) f: Rc<dyn Fn()>,
    pub(crate) at: &'static Location<'static>,
    gen: u32,
}

#[derive(Default)]
struct Watch {
    callback: Option<IoCallback>,
    /// Wakers of futures waiting for this readiness, by waiter key.
    waiters: Vec<(u64, Waker)>,
    /// A run of the callback is in the ready queue.
    queued: bool,
    /// The driver's notifier for this direction is enabled.
    enabled: bool,
    /// The driver has a notifier for this direction.
    exists: bool,
}

impl Watch {
    fn wanted(&self) -> bool {
        (self.callback.is_some() && !self.queued) || !self.waiters.is_empty()
    }
}

/// What the registry asks of the driver after a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotifierChange {
    /// Nothing to do.
    None,
    /// Enable (creating it if needed) or disable the notifier.
    Enable(bool),
    /// Delete the notifier (before its fd closes).
    Remove,
}

/// The registry, indexed by fd (fds are small integers).
#[derive(Default)]
pub(crate) struct IoRegistry {
    fds: Vec<[Watch; 2]>,
    next_gen: u32,
    next_waiter: u64,
    /// Directions with a notifier (for `close`).
    live: usize,
    /// Waiters dropped by [`release`](Self::release) (their fd went away),
    /// until they ask ([`wait_state`](Self::wait_state)) or give up.
    released: Vec<u64>,
}

/// Where a waiter stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitState {
    /// Still waiting.
    Waiting,
    /// The fd was seen ready.
    Ready,
    /// The fd was released (closed) while it waited.
    Released,
}

impl IoRegistry {
    fn watch(&mut self, fd: Fd, dir: Direction) -> &mut Watch {
        let i = fd as usize;
        if i >= self.fds.len() {
            self.fds.resize_with(i + 1, Default::default);
        }
        &mut self.fds[i][dir as usize]
    }

    fn get(&mut self, fd: Fd, dir: Direction) -> Option<&mut Watch> {
        self.fds
            .get_mut(usize::try_from(fd).ok()?)
            .map(|w| &mut w[dir as usize])
    }

    /// A watch that nobody listened to starts listening: tell the driver
    /// even if the registry thinks its notifier is on (Qt may have turned
    /// it off behind our back, for an fd that was closed and reused).
    fn wake_up(&mut self, fd: Fd, dir: Direction, was_idle: bool) -> NotifierChange {
        let change = self.settle(fd, dir);
        match (was_idle, change) {
            (true, NotifierChange::None) if self.get(fd, dir).is_some_and(|w| w.enabled) => {
                NotifierChange::Enable(true)
            }
            _ => change,
        }
    }

    fn is_idle(&mut self, fd: Fd, dir: Direction) -> bool {
        self.get(fd, dir)
            .is_none_or(|w| w.callback.is_none() && w.waiters.is_empty())
    }

    /// Brings the notifier in line with who listens. A notifier nobody
    /// listens to stays (disabled) until [`release`](Self::release): a
    /// socket that waits again and again does not re-create it each time.
    fn settle(&mut self, fd: Fd, dir: Direction) -> NotifierChange {
        let Some(w) = self.get(fd, dir) else {
            return NotifierChange::None;
        };
        let wanted = w.wanted();
        if wanted == w.enabled && (w.exists || !wanted) {
            return NotifierChange::None;
        }
        let created = !std::mem::replace(&mut w.exists, true);
        w.enabled = wanted;
        if created {
            self.live += 1;
        }
        NotifierChange::Enable(wanted)
    }

    /// Sets the callback of `fd`/`dir`, replacing an earlier one (returned,
    /// to be dropped outside the registry's borrow).
    pub(crate) fn set_callback(
        &mut self,
        fd: Fd,
        dir: Direction,
        f: Rc<dyn Fn()>,
        at: &'static Location<'static>,
    ) -> (Option<IoCallback>, NotifierChange) {
        self.next_gen = self.next_gen.wrapping_add(1);
        let gen = self.next_gen;
        let w = self.watch(fd, dir);
        let old = w.callback.replace(IoCallback { f, at, gen });
        // A run queued for the old callback is stale now; the new one
        // listens at once. The driver is always told (rare, and the fd may
        // be a new one under an old number whose notifier Qt turned off).
        w.queued = false;
        (old, self.wake_up(fd, dir, true))
    }

    /// Removes the callback of `fd`/`dir`.
    pub(crate) fn remove_callback(
        &mut self,
        fd: Fd,
        dir: Direction,
    ) -> (Option<IoCallback>, NotifierChange) {
        let Some(w) = self.get(fd, dir) else {
            return (None, NotifierChange::None);
        };
        let old = w.callback.take();
        w.queued = false;
        let change = if w.waiters.is_empty() {
            self.release_one(fd, dir)
        } else {
            self.settle(fd, dir)
        };
        (old, change)
    }

    fn release_one(&mut self, fd: Fd, dir: Direction) -> NotifierChange {
        let Some(w) = self.get(fd, dir) else {
            return NotifierChange::None;
        };
        w.queued = false;
        w.enabled = false;
        if std::mem::take(&mut w.exists) {
            self.live -= 1;
            NotifierChange::Remove
        } else {
            NotifierChange::None
        }
    }

    /// Whether `fd`/`dir` has a callback.
    pub(crate) fn has_callback(&mut self, fd: Fd, dir: Direction) -> bool {
        self.get(fd, dir).is_some_and(|w| w.callback.is_some())
    }

    /// Registers (or refreshes, with the same `key`) a waiter. Returns its key.
    pub(crate) fn add_waiter(
        &mut self,
        fd: Fd,
        dir: Direction,
        key: Option<u64>,
        waker: &Waker,
    ) -> (u64, NotifierChange) {
        let key = key.unwrap_or_else(|| {
            self.next_waiter += 1;
            self.next_waiter
        });
        let was_idle = self.is_idle(fd, dir);
        let w = self.watch(fd, dir);
        match w.waiters.iter_mut().find(|(k, _)| *k == key) {
            Some((_, old)) => old.clone_from(waker),
            None => w.waiters.push((key, waker.clone())),
        }
        (key, self.wake_up(fd, dir, was_idle))
    }

    /// Forgets a waiter (its future was dropped or completed).
    pub(crate) fn remove_waiter(
        &mut self,
        fd: Fd,
        dir: Direction,
        key: u64,
    ) -> (Option<Waker>, NotifierChange) {
        if let Some(i) = self.released.iter().position(|&k| k == key) {
            self.released.swap_remove(i);
        }
        let Some(w) = self.get(fd, dir) else {
            return (None, NotifierChange::None);
        };
        let old = w
            .waiters
            .iter()
            .position(|(k, _)| *k == key)
            .map(|i| w.waiters.swap_remove(i).1);
        (old, self.settle(fd, dir))
    }

    /// Where the waiter `key` stands; `Released` is reported once.
    pub(crate) fn wait_state(&mut self, fd: Fd, dir: Direction, key: u64) -> WaitState {
        if let Some(i) = self.released.iter().position(|&k| k == key) {
            self.released.swap_remove(i);
            return WaitState::Released;
        }
        match self.get(fd, dir) {
            Some(w) if w.waiters.iter().any(|(k, _)| *k == key) => WaitState::Waiting,
            _ => WaitState::Ready,
        }
    }

    /// The driver saw `fd`/`dir` ready. Returns the wakers to wake, the
    /// callback run to queue, and what the notifier needs now.
    ///
    /// A notifier that woke waiters stays on: the woken task almost always
    /// reads until `WouldBlock` and waits again, and turning a notifier off
    /// and on costs Qt's dispatcher a poll-set change each time. If it fires
    /// again before anyone waits, it goes off then (one spurious wake-up at
    /// most, never a spin). A callback's notifier goes off until its queued
    /// run happened.
    pub(crate) fn ready(
        &mut self,
        fd: Fd,
        dir: Direction,
    ) -> (Vec<(u64, Waker)>, Option<IoEvent>, NotifierChange) {
        let Some(w) = self.get(fd, dir) else {
            return (Vec::new(), None, NotifierChange::None);
        };
        let wakers = std::mem::take(&mut w.waiters);
        if !wakers.is_empty() && w.callback.is_none() {
            return (wakers, None, NotifierChange::None);
        }
        let event = match &w.callback {
            Some(cb) if !w.queued => {
                w.queued = true;
                Some(IoEvent {
                    fd,
                    dir,
                    gen: cb.gen,
                })
            }
            _ => None,
        };
        (wakers, event, self.settle(fd, dir))
    }

    /// A queued callback run is due: the callback to call, if the event is
    /// not stale. The notifier stays off until [`ran`](Self::ran).
    pub(crate) fn take_run(&mut self, ev: IoEvent) -> Option<(Rc<dyn Fn()>, Site)> {
        let w = self.get(ev.fd, ev.dir)?;
        match &w.callback {
            Some(cb) if cb.gen == ev.gen && w.queued => Some((cb.f.clone(), cb.at)),
            _ => None,
        }
    }

    /// The callback of `ev` ran: listen again (level-triggered: if the fd
    /// is still ready, the notifier fires again).
    pub(crate) fn ran(&mut self, ev: IoEvent) -> NotifierChange {
        if let Some(w) = self.get(ev.fd, ev.dir) {
            if w.callback.as_ref().is_some_and(|cb| cb.gen == ev.gen) {
                w.queued = false;
            }
        }
        self.settle(ev.fd, ev.dir)
    }

    /// Forgets `fd` in both directions: its owner is about to close it, or
    /// the driver found it closed while watched. Returns the listeners (to
    /// drop or wake outside the borrow) and the directions whose notifier
    /// must go.
    pub(crate) fn release(&mut self, fd: Fd) -> (Vec<IoCallback>, Vec<Waker>, Vec<Direction>) {
        let mut callbacks = Vec::new();
        let mut wakers = Vec::new();
        let mut removed = Vec::new();
        for dir in [Direction::Read, Direction::Write] {
            let Some(w) = self.get(fd, dir) else { continue };
            callbacks.extend(w.callback.take());
            let waiters = std::mem::take(&mut w.waiters);
            for (key, wk) in waiters {
                self.released.push(key);
                wakers.push(wk);
            }
            if self.release_one(fd, dir) == NotifierChange::Remove {
                removed.push(dir);
            }
        }
        (callbacks, wakers, removed)
    }

    /// The number of fd directions with a notifier.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Empties the registry (the loop closes). Returns what it held and
    /// the notifiers to delete.
    pub(crate) fn take_all(&mut self) -> (Vec<IoCallback>, Vec<Waker>, Vec<(Fd, Direction)>) {
        let mut callbacks = Vec::new();
        let mut wakers = Vec::new();
        let mut notifiers = Vec::new();
        for (fd, pair) in self.fds.drain(..).enumerate() {
            for (w, dir) in pair.into_iter().zip([Direction::Read, Direction::Write]) {
                if w.exists {
                    notifiers.push((fd as Fd, dir));
                }
                callbacks.extend(w.callback);
                wakers.extend(w.waiters.into_iter().map(|(_, wk)| wk));
            }
        }
        self.live = 0;
        (callbacks, wakers, notifiers)
    }
}
