//! The child's pipes as async streams, and the SIGCHLD pipe that stands
//! in for a pidfd on old kernels.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::process as sys;
use std::task::{Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};

use super::nonblocking_file;
use crate::net::Async;

macro_rules! reader {
    ($name:ident, $std:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $name(Async<File>);

        impl $name {
            pub(super) fn new(p: $std) -> io::Result<Self> {
                Ok(Self(nonblocking_file(p)?))
            }
        }

        impl AsyncRead for $name {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                crate::net::poll_read(&self.0, cx, buf)
            }
        }

        impl std::os::fd::AsFd for $name {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.0.as_fd()
            }
        }
    };
}

reader!(
    ChildStdout,
    sys::ChildStdout,
    "The child's stdout: `futures::io::AsyncRead`."
);
reader!(
    ChildStderr,
    sys::ChildStderr,
    "The child's stderr: `futures::io::AsyncRead`."
);

/// The child's stdin: `futures::io::AsyncWrite`. Drop it or `close()` it
/// to send end of file; writes after `close()` fail with `BrokenPipe`.
#[derive(Debug)]
pub struct ChildStdin(Option<Async<File>>);

impl ChildStdin {
    pub(super) fn new(p: sys::ChildStdin) -> io::Result<Self> {
        Ok(Self(Some(nonblocking_file(p)?)))
    }

    fn io(&self) -> io::Result<&Async<File>> {
        self.0
            .as_ref()
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "stdin was closed"))
    }
}

impl std::os::fd::AsFd for ChildStdin {
    /// # Panics
    /// After `close()`: the pipe is gone.
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_ref().expect("ChildStdin was closed").as_fd()
    }
}

impl AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        crate::net::poll_write(self.io()?, cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    /// Closes the pipe: the child reads end of file.
    fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        drop(self.0.take());
        Poll::Ready(Ok(()))
    }
}

/// A pipe that gets a byte on every SIGCHLD (signal-hook's self-pipe).
#[derive(Debug)]
pub(super) struct SigchldPipe {
    read: Async<UnixStream>,
    id: signal_hook::SigId,
}

impl SigchldPipe {
    pub(super) fn new() -> io::Result<Self> {
        let (read, write) = UnixStream::pair()?;
        write.set_nonblocking(true)?;
        let id = signal_hook::low_level::pipe::register(signal_hook::consts::SIGCHLD, write)?;
        Ok(Self {
            read: Async::new(read)?,
            id,
        })
    }

    /// Waits for the next SIGCHLD (any child's) and drains the pipe.
    pub(super) async fn next(&self) -> io::Result<()> {
        let mut buf = [0u8; 64];
        let n = self.read.read_with(|mut r| r.read(&mut buf)).await?;
        debug_assert!(n > 0);
        Ok(())
    }
}

impl Drop for SigchldPipe {
    fn drop(&mut self) {
        signal_hook::low_level::unregister(self.id);
    }
}
