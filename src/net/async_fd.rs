//! `Async<T>`: any file descriptor, awaited on the loop's reactor.

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{ready, Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};

use crate::core::io::{Direction, WaitState};
use crate::error::Error;
use crate::runtime::event_loop::{get_event_loop, LoopInner};

/// An I/O object (a socket, a pipe, any `AsFd`) put in non-blocking mode
/// and registered with this thread's loop, so that its readiness can be
/// awaited: [`readable`](Self::readable), [`writable`](Self::writable),
/// [`read_with`](Self::read_with), and `futures::io::AsyncRead` /
/// `AsyncWrite` when `&T` is `Read` / `Write`.
///
/// An `Async` belongs to the loop thread that created it (`!Send`): use it
/// in tasks of [`spawn_local`](crate::spawn_local). It does not keep its
/// loop alive; once the loop is closed or gone, waiting fails with
/// `Closed`. Dropping it removes its notifiers before `T` (and so the fd)
/// is dropped.
///
/// One task may wait for reading and one for writing at a time (as in
/// tokio): of two tasks reading the same `Async` at once, only the last to
/// poll is woken. Wrap each fd in one `Async`: dropping it forgets the fd
/// in the loop (the readers of `add_reader` on that fd too).
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// qtloop::run(async {
///     let (a, b) = UnixStream::pair()?;
///     let (mut a, mut b) = (qtloop::net::Async::new(a)?, qtloop::net::Async::new(b)?);
///     a.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     b.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     Ok::<_, std::io::Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Async<T: AsFd> {
    io: Option<T>,
    fd: RawFd,
    lp: Weak<LoopInner>,
    /// The waiter keys of the `AsyncRead`/`AsyncWrite` polls, per direction.
    keys: [Cell<Option<u64>>; 2],
}

pub(crate) fn loop_error(e: Error) -> io::Error {
    io::Error::other(e)
}

/// What a finished wait means for the waiter.
fn outcome(state: WaitState) -> io::Result<()> {
    match state {
        WaitState::Released => Err(io::Error::other(
            "the fd was closed while the loop waited on it",
        )),
        _ => Ok(()),
    }
}

impl<T: AsFd> Async<T> {
    /// Registers `io` with this thread's loop and makes it non-blocking.
    ///
    /// Fails if the thread has no open loop.
    pub fn new(io: T) -> io::Result<Self> {
        rustix::io::ioctl_fionbio(io.as_fd(), true)?;
        Self::new_nonblocking(io)
    }

    /// As [`new`](Self::new), for an `io` already in non-blocking mode.
    pub(crate) fn new_nonblocking(io: T) -> io::Result<Self> {
        let lp = get_event_loop().map_err(loop_error)?;
        let fd = io.as_fd().as_raw_fd();
        Ok(Self {
            io: Some(io),
            fd,
            lp: Rc::downgrade(&lp.inner),
            keys: Default::default(),
        })
    }

    /// The loop, while it exists.
    fn inner(&self) -> io::Result<Rc<LoopInner>> {
        self.lp.upgrade().ok_or_else(|| loop_error(Error::Closed))
    }

    /// The inner I/O object.
    pub fn get_ref(&self) -> &T {
        self.io.as_ref().expect("present until drop")
    }

    /// The inner I/O object, mutably. Do not replace its fd.
    pub fn get_mut(&mut self) -> &mut T {
        self.io.as_mut().expect("present until drop")
    }

    /// Deregisters the fd and gives the I/O object back (still
    /// non-blocking).
    pub fn into_inner(mut self) -> T {
        if let Some(inner) = self.lp.upgrade() {
            inner.core.release_fd(self.fd);
        }
        self.io.take().expect("present until drop")
    }

    /// Polls for readiness in `dir`: `Ready` once the loop saw the fd ready
    /// since this poller started waiting.
    fn poll_ready(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let inner = self.inner()?;
        let core = &inner.core;
        let slot = &self.keys[dir as usize];
        match slot
            .get()
            .map(|key| (key, core.fd_wait_state(self.fd, dir, key)))
        {
            Some((key, WaitState::Waiting)) => {
                core.wait_fd(self.fd, dir, Some(key), cx.waker())
                    .map_err(loop_error)?;
                Poll::Pending
            }
            Some((_, state)) => {
                slot.set(None);
                Poll::Ready(outcome(state))
            }
            None => {
                let key = core
                    .wait_fd(self.fd, dir, None, cx.waker())
                    .map_err(loop_error)?;
                slot.set(Some(key));
                Poll::Pending
            }
        }
    }

    /// Polls for readability (see [`readable`](Self::readable)).
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(Direction::Read, cx)
    }

    /// Polls for writability (see [`writable`](Self::writable)).
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(Direction::Write, cx)
    }

    /// Waits until the fd is readable (or at end of file, or an error is
    /// pending). Dropping the future stops the wait.
    pub fn readable(&self) -> Readiness<'_, T> {
        Readiness::new(self, Direction::Read)
    }

    /// Waits until the fd is writable (or an error is pending).
    pub fn writable(&self) -> Readiness<'_, T> {
        Readiness::new(self, Direction::Write)
    }

    /// Runs the non-blocking `op` until it does not fail with
    /// `WouldBlock`, waiting for readability in between.
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_io(Direction::Read, cx, || op(self.get_ref()))).await
    }

    /// Runs the non-blocking `op` until it does not fail with
    /// `WouldBlock`, waiting for writability in between.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_io(Direction::Write, cx, || op(self.get_ref()))).await
    }

    /// Tries `op`; on `WouldBlock` waits for `dir` and tries again.
    pub(crate) fn poll_io<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return Poll::Ready(r),
            }
            ready!(self.poll_ready(dir, cx))?;
        }
    }
}

impl<T: AsFd> AsFd for Async<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsFd> Drop for Async<T> {
    fn drop(&mut self) {
        if self.io.is_some() {
            // The notifiers go before the fd closes (with `io`, right after).
            if let Some(inner) = self.lp.upgrade() {
                inner.core.release_fd(self.fd);
            }
        }
    }
}

impl<T: AsFd + std::fmt::Debug> std::fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Async").field(self.get_ref()).finish()
    }
}

/// The future of [`Async::readable`] and [`Async::writable`].
pub struct Readiness<'a, T: AsFd> {
    io: &'a Async<T>,
    dir: Direction,
    key: Option<u64>,
}

impl<'a, T: AsFd> Readiness<'a, T> {
    fn new(io: &'a Async<T>, dir: Direction) -> Self {
        Self { io, dir, key: None }
    }
}

impl<T: AsFd> Future for Readiness<'_, T> {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let inner = self.io.inner()?;
        let core = &inner.core;
        let (fd, dir) = (self.io.fd, self.dir);
        if let Some(key) = self.key {
            let state = core.fd_wait_state(fd, dir, key);
            if state != WaitState::Waiting {
                self.key = None;
                return Poll::Ready(outcome(state));
            }
        }
        let key = core
            .wait_fd(fd, dir, self.key, cx.waker())
            .map_err(loop_error)?;
        self.key = Some(key);
        Poll::Pending
    }
}

impl<T: AsFd> Drop for Readiness<'_, T> {
    fn drop(&mut self) {
        if let (Some(key), Some(inner)) = (self.key, self.io.lp.upgrade()) {
            inner.core.cancel_fd_wait(self.io.fd, self.dir, key);
        }
    }
}

/// `AsyncRead::poll_read` on an `Async` whose `&T` is `Read`.
pub(crate) fn poll_read<T: AsFd>(
    io: &Async<T>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>>
where
    for<'a> &'a T: Read,
{
    io.poll_io(Direction::Read, cx, || io.get_ref().read(buf))
}

/// `AsyncWrite::poll_write` on an `Async` whose `&T` is `Write`.
pub(crate) fn poll_write<T: AsFd>(
    io: &Async<T>,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>>
where
    for<'a> &'a T: Write,
{
    io.poll_io(Direction::Write, cx, || io.get_ref().write(buf))
}

/// Stream sockets whose `AsyncWrite::poll_close` sends end of file.
pub(crate) trait ShutdownWrite {
    fn shutdown_write(&self) -> io::Result<()>;
}

impl ShutdownWrite for std::net::TcpStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

impl ShutdownWrite for std::os::unix::net::UnixStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

/// `AsyncWrite::poll_close` of a stream socket: shuts writing down (a peer
/// that is gone already is fine).
pub(crate) fn poll_shutdown<T: AsFd + ShutdownWrite>(io: &Async<T>) -> Poll<io::Result<()>> {
    Poll::Ready(match io.get_ref().shutdown_write() {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        r => r,
    })
}

/// `AsyncRead` for stream types, given how to reach their `Async`.
macro_rules! impl_async_read {
    ($($t:ty),+ => |$s:ident| $io:expr) => {$(
        impl futures::io::AsyncRead for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $s = &*self;
                $crate::net::async_fd::poll_read($io, cx, buf)
            }
        }
    )+};
}

/// `AsyncWrite` for stream sockets (closing sends end of file).
macro_rules! impl_async_write {
    ($($t:ty),+ => |$s:ident| $io:expr) => {$(
        impl futures::io::AsyncWrite for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $s = &*self;
                $crate::net::async_fd::poll_write($io, cx, buf)
            }
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }
            /// Sends end of file (shuts the write direction down).
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $s = &*self;
                $crate::net::async_fd::poll_shutdown($io)
            }
        }
    )+};
}

pub(crate) use {impl_async_read, impl_async_write};

/// `AsyncRead`/`AsyncWrite` for `Async<T>` and `&Async<T>`. Writes go
/// straight to the fd; `close` only flushes (use `into_inner` or drop it to
/// close the fd).
macro_rules! impl_async_io_for_async {
    ($($t:ty),+) => {$(
        impl<T: AsFd> AsyncRead for $t
        where
            for<'a> &'a T: Read,
        {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                poll_read(&self, cx, buf)
            }
        }

        impl<T: AsFd> AsyncWrite for $t
        where
            for<'a> &'a T: Write,
        {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                poll_write(&self, cx, buf)
            }
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.poll_io(Direction::Write, cx, || self.get_ref().flush())
            }
            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.poll_flush(cx)
            }
        }
    )+};
}

impl_async_io_for_async!(Async<T>, &Async<T>);
