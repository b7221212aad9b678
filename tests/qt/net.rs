//! `qtloop::net` on real sockets: 127.0.0.1 TCP, UDP, Unix sockets in a
//! temporary folder. Every server is a task of the same loop and ends by
//! itself.

use std::cell::Cell;
use std::io::ErrorKind;
use std::net::Shutdown;
use std::rc::Rc;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use qtloop::net::{Async, TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use qtloop::EventLoop;

cases!(net:
    echo_100_clients_of_1_mib_each,
    two_thousand_connects_leak_no_fd,
    eof_mid_read,
    connection_reset,
    connection_refused_names_the_address,
    host_names_resolve_on_the_pool,
    reader_and_writer_tasks_share_a_socket,
    split_halves_in_two_tasks,
    dropping_a_read_future_stops_listening,
    dropping_a_socket_removes_its_notifiers,
    udp_round_trip,
    unix_sockets_in_a_temp_dir,
    readable_and_writable_on_any_fd,
    socket_read_completes_in_a_modal_loop,
    sockets_on_a_qthread_loop,
    io_on_a_closed_loop_is_an_error,
    unix_connect_to_a_full_backlog_is_an_error,
);

use crate::run_on_a_new_loop as run;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A byte pattern that differs per client and position.
fn pattern(client: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(client * 7) as u8)
        .collect()
}

fn echo_100_clients_of_1_mib_each() {
    const CLIENTS: u32 = 100;
    const SIZE: usize = 1 << 20;
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = qtloop::spawn_local(async move {
            let mut handlers = Vec::new();
            for _ in 0..CLIENTS {
                let (conn, _) = listener.accept().await.unwrap();
                handlers.push(qtloop::spawn_local(async move {
                    let (mut r, mut w) = conn.into_split();
                    let n = futures::io::copy(&mut r, &mut w).await.unwrap();
                    w.close().await.unwrap();
                    n
                }));
            }
            let mut total = 0;
            for h in handlers {
                total += h.await.unwrap();
            }
            total
        });
        let mut clients = Vec::new();
        for c in 0..CLIENTS {
            clients.push(qtloop::spawn_local(async move {
                let stream = TcpStream::connect(addr).await.unwrap();
                let (mut r, mut w) = stream.into_split();
                let data = pattern(c, SIZE);
                let sent = data.clone();
                let writer = qtloop::spawn_local(async move {
                    w.write_all(&sent).await.unwrap();
                    w.close().await.unwrap(); // EOF: the server's copy ends
                });
                let mut back = Vec::with_capacity(SIZE);
                r.read_to_end(&mut back).await.unwrap();
                writer.await.unwrap();
                assert!(back == data, "client {c}: the echo differs");
            }));
        }
        for c in clients {
            c.await.unwrap();
        }
        assert_eq!(server.await.unwrap(), u64::from(CLIENTS) * SIZE as u64);
    });
}

fn two_thousand_connects_leak_no_fd() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let lp = qtloop::get_running_loop().unwrap();
        let before = open_fds();
        for _ in 0..2000 {
            let (client, accepted) = futures::join!(TcpStream::connect(addr), listener.accept());
            let (client, (server, _)) = (client.unwrap(), accepted.unwrap());
            drop((client, server));
        }
        assert_eq!(open_fds(), before, "fds leaked");
        // At most the listener's own notifier is left (kept, off, between
        // accepts); each connection's went with it.
        assert!(
            lp.watched_fds() <= 1,
            "{} notifiers leaked",
            lp.watched_fds()
        );
        drop(listener);
        assert_eq!(lp.watched_fds(), 0);
    });
}

fn eof_mid_read() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = qtloop::spawn_local(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            conn.write_all(b"half").await.unwrap();
            // dropped: the client sees EOF after 4 of 8 bytes
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 8];
        let err = c.read_exact(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        server.await.unwrap();
        let mut rest = Vec::new();
        assert_eq!(c.read_to_end(&mut rest).await.unwrap(), 0, "EOF stays EOF");
    });
}

fn connection_reset() {
    run(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut c = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().unwrap();
        c.write_all(b"unread").await.unwrap();
        qtloop::sleep(0.02).await.unwrap();
        drop(server); // closing with unread data sends RST
        let mut buf = [0u8; 16];
        let err = loop {
            match c.read(&mut buf).await {
                Ok(0) => panic!("EOF instead of a reset"),
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    });
}

fn connection_refused_names_the_address() {
    run(async {
        // A port that was free a moment ago and is closed now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = TcpStream::connect(("127.0.0.1", port)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
    });
}

fn host_names_resolve_on_the_pool() {
    run(async {
        let listener = TcpListener::bind("localhost:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (c, a) = futures::join!(
            TcpStream::connect(format!("localhost:{port}")),
            listener.accept()
        );
        assert_eq!(c.unwrap().peer_addr().unwrap().port(), port);
        assert!(a.is_ok());
        let err = TcpStream::connect("no-such-host.invalid:80")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no-such-host.invalid"), "{err}");
    });
}

fn reader_and_writer_tasks_share_a_socket() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let (a, b) = (Rc::new(a), Rc::new(b));
        let a2 = a.clone();
        // One task reads while another writes on the same stream.
        let reader = qtloop::spawn_local(async move {
            let mut got = vec![0u8; 300_000];
            (&*a2).read_exact(&mut got).await.unwrap();
            got
        });
        let writer = {
            let a = a.clone();
            qtloop::spawn_local(async move {
                (&*a).write_all(&pattern(1, 200_000)).await.unwrap();
            })
        };
        let data = pattern(2, 300_000);
        let echo = qtloop::spawn_local(async move {
            let mut seen = vec![0u8; 200_000];
            (&*b).read_exact(&mut seen).await.unwrap();
            (&*b).write_all(&data).await.unwrap();
            seen
        });
        assert!(echo.await.unwrap() == pattern(1, 200_000));
        writer.await.unwrap();
        assert!(reader.await.unwrap() == pattern(2, 300_000));
        drop(a);
    });
}

fn split_halves_in_two_tasks() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (c, s) = futures::join!(TcpStream::connect(addr), listener.accept());
        let (c, (s, peer)) = (c.unwrap(), s.unwrap());
        assert_eq!(peer, c.local_addr().unwrap());
        c.set_nodelay(true).unwrap();
        let (r, mut w) = s.into_split();
        let t = qtloop::spawn_local(async move {
            for i in 0..100u8 {
                w.write_all(&[i; 100]).await.unwrap();
            }
            w
        });
        let mut got = vec![0u8; 10_000];
        (&c).read_exact(&mut got).await.unwrap();
        assert!(got
            .chunks(100)
            .enumerate()
            .all(|(i, ch)| ch.iter().all(|&b| b == i as u8)));
        let w = t.await.unwrap();
        assert!(r.reunite(w).is_ok());
        c.shutdown(Shutdown::Both).unwrap();
    });
}

fn dropping_a_read_future_stops_listening() {
    run(async {
        let lp = qtloop::get_running_loop().unwrap();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = Async::new(a).unwrap();
        let r = qtloop::timeout(0.02, a.readable()).await;
        assert!(r.is_err(), "nothing to read: it times out");
        // The timed-out future was dropped: its waker is gone and the
        // notifier is off (kept for the next wait).
        assert_eq!(lp.watched_fds(), 1);
        let mut buf = [0u8; 4];
        let r = qtloop::timeout(0.02, (&a).read(&mut buf)).await;
        assert!(r.is_err());
        drop(a);
        assert_eq!(lp.watched_fds(), 0);
    });
}

fn dropping_a_socket_removes_its_notifiers() {
    run(async {
        let lp = qtloop::get_running_loop().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (c, s) = futures::join!(TcpStream::connect(addr), listener.accept());
        let (c, (s, _)) = (c.unwrap(), s.unwrap());
        let pending = qtloop::spawn_local(async move {
            let mut buf = [0u8; 1];
            s.read(&mut buf).await
        });
        qtloop::sleep(0.01).await.unwrap();
        assert!(lp.watched_fds() >= 2);
        pending.cancel(); // drops the read future and the socket
        qtloop::sleep(0.01).await.unwrap();
        drop(c);
        drop(listener);
        assert_eq!(lp.watched_fds(), 0);
    });
}

fn udp_round_trip() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let echo = qtloop::spawn_local(async move {
            let mut buf = [0u8; 64];
            for _ in 0..10 {
                let (n, from) = b.recv_from(&mut buf).await.unwrap();
                b.send_to(&buf[..n], from).await.unwrap();
            }
        });
        a.connect(ba).await.unwrap();
        for i in 0..10u8 {
            a.send(&[i; 10]).await.unwrap();
            let mut buf = [0u8; 64];
            let n = a.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &[i; 10]);
        }
        echo.await.unwrap();
        assert_ne!(aa, ba);
    });
}

fn unix_sockets_in_a_temp_dir() {
    let dir = std::env::temp_dir().join(format!("qtloop-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    let p = path.clone();
    run(async move {
        let listener = UnixListener::bind(&p).unwrap();
        let server = qtloop::spawn_local(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            conn.read_to_end(&mut buf).await.unwrap();
            conn.write_all(&buf).await.unwrap();
        });
        let mut c = UnixStream::connect(&p).await.unwrap();
        c.write_all(b"over a unix socket").await.unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut back = String::new();
        c.read_to_string(&mut back).await.unwrap();
        assert_eq!(back, "over a unix socket");
        server.await.unwrap();
        let err = UnixStream::connect(p.with_extension("missing"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

fn readable_and_writable_on_any_fd() {
    run(async {
        let (r, w) = rustix::pipe::pipe().unwrap();
        let (r, w) = (Async::new(r).unwrap(), Async::new(w).unwrap());
        w.writable().await.unwrap();
        let fired = Rc::new(Cell::new(false));
        let f = fired.clone();
        let lp = qtloop::get_running_loop().unwrap();
        lp.call_later(0.01, move || {
            rustix::io::write(&w, b"!").unwrap();
            f.set(true);
        })
        .unwrap();
        r.readable().await.unwrap();
        assert!(fired.get(), "readable only after the write");
        let mut b = [0u8; 1];
        let n = r
            .read_with(|fd| rustix::io::read(fd, &mut b).map_err(Into::into))
            .await
            .unwrap();
        assert_eq!((n, b[0]), (1, b'!'));
    });
}

fn socket_read_completes_in_a_modal_loop() {
    let lp = EventLoop::new().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    lp.create_task(async move {
        let mut buf = [0u8; 5];
        (&b).read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"modal");
        d.set(true);
    });
    let nested = Rc::new(qtloop::qt::NestedEventLoop::new());
    let (n, l) = (nested.clone(), lp.clone());
    lp.call_later(0.01, move || {
        let n2 = n.clone();
        let l2 = l.clone();
        l.create_task(async move {
            (&a).write_all(b"modal").await.unwrap();
            qtloop::sleep(0.02).await.unwrap();
            n2.exit();
            drop(l2);
        });
        n.exec().unwrap(); // the read completes in here
        l.stop();
    })
    .unwrap();
    lp.run_forever().unwrap();
    assert!(done.get());
    lp.close().unwrap();
}

fn sockets_on_a_qthread_loop() {
    let h = qtloop::qt::spawn_qthread("net-qthread", || {
        run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (c, s) = futures::join!(TcpStream::connect(addr), listener.accept());
            let (mut c, (mut s, _)) = (c.unwrap(), s.unwrap());
            c.write_all(b"qthread").await.unwrap();
            let mut buf = [0u8; 7];
            s.read_exact(&mut buf).await.unwrap();
            buf
        })
    });
    assert_eq!(&h.join().unwrap(), b"qthread");
}

fn io_on_a_closed_loop_is_an_error() {
    let lp = EventLoop::new().unwrap();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let a = Async::new(a).unwrap();
    lp.close().unwrap();
    let mut fut = Box::pin(a.readable());
    let waker = futures::task::noop_waker();
    let r = std::future::Future::poll(fut.as_mut(), &mut std::task::Context::from_waker(&waker));
    match r {
        std::task::Poll::Ready(Err(e)) => assert!(e.to_string().contains("closed"), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
}

fn unix_connect_to_a_full_backlog_is_an_error() {
    let dir = std::env::temp_dir().join(format!("qtloop-backlog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("full.sock");
    let _ = std::fs::remove_file(&path);
    let p = path.clone();
    run(async move {
        let listener = UnixListener::bind(&p).unwrap();
        rustix::net::listen(&listener, 0).unwrap(); // a backlog of (almost) nothing
        let mut connected = Vec::new();
        let err = loop {
            match UnixStream::connect(&p).await {
                Ok(s) => {
                    // What connect returns is connected, always.
                    assert!(s.peer_addr().is_ok(), "an unconnected socket was returned");
                    connected.push(s);
                    assert!(connected.len() < 100, "the backlog never filled");
                }
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        assert!(err.to_string().contains("backlog"), "{err}");
    });
    std::fs::remove_dir_all(&dir).unwrap();
}
