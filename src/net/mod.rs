//! Sockets on the loop's reactor: TCP, UDP and Unix sockets that implement
//! `futures::io::AsyncRead` / `AsyncWrite`, and [`Async`] for any fd.
//!
//! The loop waits on them with Qt's own dispatcher (one `QSocketNotifier`
//! per fd and direction, created while a task waits), so there is no I/O
//! thread and sockets keep working in modal dialogs and nested Qt loops.
//! Like asyncio's streams, these types belong to the loop thread that made
//! them (`!Send`): use them in [`spawn_local`](crate::spawn_local) tasks.
//! Host names are resolved on the loop's thread pool (asyncio runs
//! `getaddrinfo` in its executor too); numeric addresses are not.
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use qtloop::net::{TcpListener, TcpStream};
//! qtloop::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let server = qtloop::spawn_local(async move {
//!         let (mut conn, _) = listener.accept().await?;
//!         let mut buf = [0; 5];
//!         conn.read_exact(&mut buf).await?;
//!         conn.write_all(&buf).await?; // echo
//!         Ok::<_, std::io::Error>(())
//!     });
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"hello").await?;
//!     let mut back = [0; 5];
//!     client.read_exact(&mut back).await?;
//!     assert_eq!(&back, b"hello");
//!     server.await.unwrap()
//! })??;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod addr;
mod async_fd;
mod tcp;
mod udp;
mod unix;

pub use addr::ToAddrs;
pub use async_fd::{Async, Readiness};
pub use std::net::Shutdown;
pub use tcp::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};

pub(crate) use async_fd::{loop_error, poll_read, poll_write};
