//! UDP on the loop's reactor.

use std::io;
use std::net::{self, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};

use super::addr::{bind_first, resolve, ToAddrs};
use super::async_fd::Async;

/// A UDP socket (asyncio `create_datagram_endpoint`).
#[derive(Debug)]
pub struct UdpSocket {
    io: Async<net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (port 0 picks a free port).
    pub async fn bind(addr: impl ToAddrs) -> io::Result<UdpSocket> {
        let socket = bind_first(resolve(&addr).await?, net::UdpSocket::bind)?;
        Ok(UdpSocket {
            io: Async::new(socket)?,
        })
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets the default peer of [`send`](Self::send) and [`recv`](Self::recv).
    pub async fn connect(&self, addr: impl ToAddrs) -> io::Result<()> {
        let addrs = resolve(&addr).await?;
        self.io.get_ref().connect(&addrs[..])
    }

    /// Sends one datagram to `addr`.
    pub async fn send_to(&self, buf: &[u8], addr: impl ToAddrs) -> io::Result<usize> {
        let to = resolve(&addr).await?[0];
        self.io.write_with(|s| s.send_to(buf, to)).await
    }

    /// Receives one datagram and its sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_with(|s| s.recv_from(buf)).await
    }

    /// Sends one datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.write_with(|s| s.send(buf)).await
    }

    /// Receives one datagram from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_with(|s| s.recv(buf)).await
    }

    /// Lets the socket send to broadcast addresses.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}
