//! TCP: `TcpListener` and `TcpStream` on the loop's reactor.

use std::io::{self, Read};
use std::net::{self, Shutdown, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::rc::Rc;

use rustix::net::{AddressFamily, SocketFlags, SocketType};

use super::addr::{bind_first, resolve, ToAddrs};
use super::async_fd::{impl_async_read, impl_async_write, Async};

/// A TCP server socket (asyncio `start_server`, tokio's `TcpListener`).
#[derive(Debug)]
pub struct TcpListener {
    io: Async<net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (the first of its addresses that works). Port 0
    /// picks a free port: see [`local_addr`](Self::local_addr).
    pub async fn bind(addr: impl ToAddrs) -> io::Result<TcpListener> {
        let listener = bind_first(resolve(&addr).await?, net::TcpListener::bind)?;
        Ok(TcpListener {
            io: Async::new(listener)?,
        })
    }

    /// Wraps a bound std listener.
    pub fn from_std(listener: net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: Async::new(listener)?,
        })
    }

    /// Waits for a connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.io.read_with(|l| l.accept()).await?;
        Ok((TcpStream::wrap(Async::new(stream)?), addr))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The underlying `Async` listener.
    pub fn as_async(&self) -> &Async<net::TcpListener> {
        &self.io
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

/// A TCP connection: `futures::io::AsyncRead + AsyncWrite`, also through
/// `&TcpStream` (one reader task and one writer task may share it), or
/// split into owned halves with [`into_split`](Self::into_split).
#[derive(Debug)]
pub struct TcpStream {
    io: Rc<Async<net::TcpStream>>,
}

impl TcpStream {
    fn wrap(io: Async<net::TcpStream>) -> Self {
        TcpStream { io: Rc::new(io) }
    }

    /// Connects to `addr`, trying its addresses in order. The error names
    /// the address that failed last.
    pub async fn connect(addr: impl ToAddrs) -> io::Result<TcpStream> {
        let mut last = None;
        for a in resolve(&addr).await? {
            match connect_one(a).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(io::Error::new(e.kind(), format!("connect to {a}: {e}"))),
            }
        }
        Err(last.expect("resolve gives at least one address"))
    }

    /// Wraps a connected std stream.
    pub fn from_std(stream: net::TcpStream) -> io::Result<TcpStream> {
        Ok(Self::wrap(Async::new(stream)?))
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Turns Nagle's algorithm off (`true`) or on.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(on)
    }

    /// Shuts the read, write or both directions down (`Write` sends EOF).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Reads what is available without waiting past the first byte.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_with(|s| (&*s).read(buf)).await
    }

    /// Reads into `buf` without consuming the data.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_with(|s| s.peek(buf)).await
    }

    /// Splits into a read half and a write half that can move into two
    /// tasks (of the same loop thread).
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        (OwnedReadHalf(self.io.clone()), OwnedWriteHalf(self.io))
    }

    /// Same as `into_split` on a clone of the shared stream (API.md's
    /// `split()`).
    pub fn split(&self) -> (OwnedReadHalf, OwnedWriteHalf) {
        (
            OwnedReadHalf(self.io.clone()),
            OwnedWriteHalf(self.io.clone()),
        )
    }

    /// The underlying `Async` stream.
    pub fn as_async(&self) -> &Async<net::TcpStream> {
        &self.io
    }
}

async fn connect_one(addr: SocketAddr) -> io::Result<TcpStream> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let fd = rustix::net::socket_with(
        family,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    let io = Async::new_nonblocking(net::TcpStream::from(fd))?;
    match rustix::net::connect(io.get_ref(), &addr) {
        Ok(()) => {}
        Err(rustix::io::Errno::INPROGRESS) | Err(rustix::io::Errno::INTR) => {
            io.writable().await?;
            if let Err(e) = rustix::net::sockopt::socket_error(io.get_ref())? {
                return Err(e.into());
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(TcpStream::wrap(io))
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl_async_read!(TcpStream, &TcpStream => |s| &s.io);
impl_async_write!(TcpStream, &TcpStream => |s| &s.io);

/// The read half of a [`TcpStream`] (`AsyncRead`).
#[derive(Debug)]
pub struct OwnedReadHalf(Rc<Async<net::TcpStream>>);

/// The write half of a [`TcpStream`] (`AsyncWrite`; closing it sends EOF).
#[derive(Debug)]
pub struct OwnedWriteHalf(Rc<Async<net::TcpStream>>);

impl OwnedReadHalf {
    /// Puts the halves back together.
    pub fn reunite(
        self,
        write: OwnedWriteHalf,
    ) -> Result<TcpStream, (OwnedReadHalf, OwnedWriteHalf)> {
        if Rc::ptr_eq(&self.0, &write.0) {
            drop(write);
            Ok(TcpStream { io: self.0 })
        } else {
            Err((self, write))
        }
    }
}

impl_async_read!(OwnedReadHalf => |s| &s.0);
impl_async_write!(OwnedWriteHalf => |s| &s.0);
