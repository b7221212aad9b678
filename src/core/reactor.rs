//! The core's side of the reactor: fd callbacks and waiters on the
//! readiness registry ([`super::io`]), and the driver's notifier events.

use std::panic::Location;
use std::rc::Rc;

use super::io::{self, Direction, Fd, NotifierChange};
use super::ready::Ready;
use super::{Core, Flow};
use crate::error::Error;

impl Core {
    /// Sets the callback that runs (through the ready FIFO) each time `fd`
    /// is ready for `dir`, replacing an earlier one (asyncio `add_reader` /
    /// `add_writer`). The replaced callback is dropped after the borrow.
    pub fn set_fd_callback(
        &self,
        fd: Fd,
        dir: Direction,
        f: Rc<dyn Fn()>,
        at: &'static Location<'static>,
    ) -> Result<(), Error> {
        self.check_open()?;
        if fd < 0 {
            return Err(Error::InvalidFd(fd));
        }
        let (old, change) = self.io.borrow_mut().set_callback(fd, dir, f, at);
        self.apply(fd, dir, change);
        drop(old);
        Ok(())
    }

    /// Removes the callback of `fd` for `dir`; whether there was one.
    pub fn remove_fd_callback(&self, fd: Fd, dir: Direction) -> bool {
        let (old, change) = self.io.borrow_mut().remove_callback(fd, dir);
        self.apply(fd, dir, change);
        old.is_some()
    }

    /// Whether `fd` has a callback for `dir`.
    pub fn has_fd_callback(&self, fd: Fd, dir: Direction) -> bool {
        self.io.borrow_mut().has_callback(fd, dir)
    }

    /// Wakes `waker` once when `fd` is ready for `dir`. Pass the key
    /// returned earlier to refresh the same waiter. Returns the key.
    pub fn wait_fd(
        &self,
        fd: Fd,
        dir: Direction,
        key: Option<u64>,
        waker: &std::task::Waker,
    ) -> Result<u64, Error> {
        self.check_open()?;
        if fd < 0 {
            return Err(Error::InvalidFd(fd));
        }
        let (key, change) = self.io.borrow_mut().add_waiter(fd, dir, key, waker);
        self.apply(fd, dir, change);
        Ok(key)
    }

    /// Where the waiter `key` stands: waiting, woken by readiness, or
    /// woken because its fd was released (reported once).
    pub fn fd_wait_state(&self, fd: Fd, dir: Direction, key: u64) -> io::WaitState {
        self.io.borrow_mut().wait_state(fd, dir, key)
    }

    /// Forgets the waiter `key` (its future is gone).
    pub fn cancel_fd_wait(&self, fd: Fd, dir: Direction, key: u64) {
        let (old, change) = self.io.borrow_mut().remove_waiter(fd, dir, key);
        self.apply(fd, dir, change);
        drop(old);
    }

    /// Forgets `fd` entirely, deleting its notifiers: call it before the
    /// fd is closed. Its waiters are woken and find `WaitState::Released`;
    /// its callbacks are dropped.
    pub fn release_fd(&self, fd: Fd) {
        let (callbacks, wakers, removed) = self.io.borrow_mut().release(fd);
        for dir in removed {
            self.driver.unwatch_fd(fd, dir);
        }
        drop(callbacks);
        wakers.into_iter().for_each(std::task::Waker::wake);
    }

    /// The driver saw `fd` ready for `dir`: wakes the waiters and queues a
    /// run of the callback, then dispatches at once (as for the timer): a
    /// readiness event costs no posted-event round trip through Qt.
    pub fn fd_ready(&self, fd: Fd, dir: Direction) -> Flow {
        let (wakers, event, change) = self.io.borrow_mut().ready(fd, dir);
        self.apply(fd, dir, change);
        if event.is_none() && wakers.is_empty() {
            return Flow::Continue;
        }
        // What this schedules is dispatched below: no tick to post for it
        // (a tick already on its way will find the work done).
        self.tick_requested.set(true);
        if let Some(ev) = event {
            self.ready.borrow_mut().push(Ready::Io(ev));
        }
        for (_, w) in wakers {
            w.wake();
        }
        self.dispatch()
    }

    /// The driver found `fd` closed while watched: its listeners are
    /// dropped (waiters woken) and the runtime is told.
    pub fn fd_invalid(&self, fd: Fd) {
        let (callbacks, wakers, removed) = self.io.borrow_mut().release(fd);
        for &dir in &removed {
            self.driver.unwatch_fd(fd, dir);
        }
        let had_listeners = !callbacks.is_empty() || !wakers.is_empty();
        drop(callbacks);
        wakers.into_iter().for_each(std::task::Waker::wake);
        if had_listeners {
            self.hooks.fd_invalid(fd);
        }
    }

    /// Notifiers the driver holds (fd directions being watched or kept).
    pub fn watched_fds(&self) -> usize {
        self.io.borrow().live()
    }

    pub(super) fn apply(&self, fd: Fd, dir: Direction, change: NotifierChange) {
        match change {
            NotifierChange::None => {}
            NotifierChange::Enable(on) => self.driver.watch_fd(fd, dir, on),
            NotifierChange::Remove => self.driver.unwatch_fd(fd, dir),
        }
    }
}
