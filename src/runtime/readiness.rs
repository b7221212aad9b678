//! asyncio's readiness API on the loop: `add_reader`, `add_writer` and
//! their `remove_*`, on the core's registry and the driver's notifiers.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::panic::Location;
use std::rc::Rc;

use super::event_loop::EventLoop;
use crate::core::io::Direction;
use crate::driver;
use crate::error::{Error, Result};

/// A file descriptor argument: a `RawFd`, a `BorrowedFd`, or a reference
/// to anything that owns one (`&TcpStream`, `&OwnedFd`, …).
pub trait AsWatchFd {
    /// The descriptor's number.
    fn watch_fd(&self) -> RawFd;
}

impl AsWatchFd for RawFd {
    fn watch_fd(&self) -> RawFd {
        *self
    }
}

impl AsWatchFd for BorrowedFd<'_> {
    fn watch_fd(&self) -> RawFd {
        self.as_raw_fd()
    }
}

impl<T: AsFd> AsWatchFd for &T {
    fn watch_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl EventLoop {
    /// Calls `callback` each time `fd` is readable, until
    /// [`remove_reader`](Self::remove_reader) (asyncio `add_reader`).
    ///
    /// A second reader for the same fd replaces the first. The callback
    /// runs through the ready queue, in order with `call_soon` callbacks,
    /// and is level-triggered: if it leaves data unread, it is called again
    /// in a later iteration. Qt's dispatcher does the waiting (a
    /// `QSocketNotifier`), so readers keep running in nested Qt loops and
    /// modal dialogs. Remove the reader before closing the fd.
    ///
    /// Fails with [`Error::InvalidFd`] for an fd that is not open and
    /// [`Error::Closed`] on a closed loop.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::os::unix::net::UnixStream;
    /// let lp = qtloop::EventLoop::new()?;
    /// let (mut a, b) = UnixStream::pair().unwrap();
    /// let (tx, rx) = futures::channel::oneshot::channel();
    /// let tx = std::cell::Cell::new(Some(tx));
    /// let reader = b.try_clone().unwrap();
    /// lp.add_reader(&b, move || {
    ///     let mut buf = [0u8; 5];
    ///     let n = (&reader).read(&mut buf).unwrap();
    ///     if let Some(tx) = tx.take() {
    ///         tx.send(buf[..n].to_vec()).unwrap();
    ///     }
    /// })?;
    /// a.write_all(b"hello").unwrap();
    /// assert_eq!(lp.run_until_complete(rx)?.unwrap(), b"hello");
    /// assert!(lp.remove_reader(&b)?);
    /// lp.close()?;
    /// # Ok::<(), qtloop::Error>(())
    /// ```
    #[track_caller]
    pub fn add_reader<F: Fn() + 'static>(&self, fd: impl AsWatchFd, callback: F) -> Result<()> {
        self.add_watch(fd.watch_fd(), Direction::Read, Rc::new(callback))
    }

    /// Stops watching `fd` for reading; whether a reader was removed
    /// (asyncio `remove_reader`; `Ok(false)` on a closed loop). Safe to
    /// call from the reader itself.
    pub fn remove_reader(&self, fd: impl AsWatchFd) -> Result<bool> {
        Ok(self
            .core()
            .remove_fd_callback(fd.watch_fd(), Direction::Read))
    }

    /// Calls `callback` each time `fd` is writable, until
    /// [`remove_writer`](Self::remove_writer) (asyncio `add_writer`); as
    /// [`add_reader`](Self::add_reader) otherwise.
    #[track_caller]
    pub fn add_writer<F: Fn() + 'static>(&self, fd: impl AsWatchFd, callback: F) -> Result<()> {
        self.add_watch(fd.watch_fd(), Direction::Write, Rc::new(callback))
    }

    /// Stops watching `fd` for writing; whether a writer was removed.
    pub fn remove_writer(&self, fd: impl AsWatchFd) -> Result<bool> {
        Ok(self
            .core()
            .remove_fd_callback(fd.watch_fd(), Direction::Write))
    }

    /// How many `QSocketNotifier`s (one per watched fd and direction) the
    /// loop holds: a count to check for leaks.
    pub fn watched_fds(&self) -> usize {
        self.inner.driver_notifiers()
    }

    #[track_caller]
    fn add_watch(&self, fd: RawFd, dir: Direction, f: Rc<dyn Fn()>) -> Result<()> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        if !driver::fd_is_open(fd) {
            return Err(Error::InvalidFd(fd));
        }
        self.core().set_fd_callback(fd, dir, f, Location::caller())
    }
}
