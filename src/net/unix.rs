//! Unix domain sockets on the loop's reactor.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;

use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

use super::async_fd::{impl_async_read, impl_async_write, Async};

/// A Unix domain server socket (asyncio `start_unix_server`).
#[derive(Debug)]
pub struct UnixListener {
    io: Async<net::UnixListener>,
}

impl UnixListener {
    /// Binds to the socket file `path` (which must not exist yet).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let path = path.as_ref();
        let l = net::UnixListener::bind(path)
            .map_err(|e| io::Error::new(e.kind(), format!("bind {}: {e}", path.display())))?;
        Ok(UnixListener { io: Async::new(l)? })
    }

    /// Waits for a connection.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, addr) = self.io.read_with(|l| l.accept()).await?;
        Ok((UnixStream { io: Async::new(s)? }, addr))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

/// A Unix domain connection (`AsyncRead + AsyncWrite`, also through
/// `&UnixStream`).
#[derive(Debug)]
pub struct UnixStream {
    io: Async<net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket file `path` without blocking the loop.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let path = path.as_ref();
        let named =
            |e: io::Error| io::Error::new(e.kind(), format!("connect to {}: {e}", path.display()));
        let fd = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )?;
        let io = Async::new_nonblocking(net::UnixStream::from(fd))?;
        let addr = SocketAddrUnix::new(path).map_err(|e| named(e.into()))?;
        match rustix::net::connect(io.get_ref(), &addr) {
            Ok(()) => {}
            // AF_UNIX: EAGAIN means the listener's backlog is full and no
            // connection was started (not "in progress").
            Err(rustix::io::Errno::AGAIN) => {
                return Err(named(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "the listener's backlog is full; try again",
                )))
            }
            Err(rustix::io::Errno::INPROGRESS) => {
                io.writable().await?;
                if let Err(e) = rustix::net::sockopt::socket_error(io.get_ref())? {
                    return Err(named(e.into()));
                }
            }
            Err(e) => return Err(named(e.into())),
        }
        Ok(UnixStream { io })
    }

    /// A connected pair (`socketpair`).
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = net::UnixStream::pair()?;
        Ok((
            UnixStream { io: Async::new(a)? },
            UnixStream { io: Async::new(b)? },
        ))
    }

    /// Wraps a connected std stream.
    pub fn from_std(stream: net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Async::new(stream)?,
        })
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Shuts a direction down (`Write` sends EOF).
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl_async_read!(UnixStream, &UnixStream => |s| &s.io);
impl_async_write!(UnixStream, &UnixStream => |s| &s.io);
