//! A small HTTP/1.1 server on 127.0.0.1 for the tokio examples and tests:
//! real sockets, one thread per connection, keep-alive, and a log of what
//! happened to each request (so a test can see a client hang up).
//!
//! - `GET /json`: a JSON catalog (`?chunks=N&delay_ms=D`: sent in N pieces
//!   with D ms between them, so a progress bar has something to show);
//! - `/echo` (any method): the request body back, with `X-Echo-Method`;
//! - `HEAD /json`: its headers (a Content-Length, no body);
//! - `GET /redirect?n=N`: N redirects (`X-Hop: N`), then 200 `done`
//!   with `X-Final: yes`;
//! - `GET /status?code=N`: that status, body `status`;
//! - `GET /slow?kib=N&delay_ms=D`: N KiB, 1 KiB every D ms; logs
//!   `closed after N bytes` if the client hangs up first, else
//!   `completed /slow`.

#![allow(dead_code)] // each user takes a part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A running server; it lives as long as the process.
#[derive(Clone)]
pub struct Server {
    pub addr: SocketAddr,
    log: Arc<(Mutex<Vec<String>>, Condvar)>,
}

impl Server {
    /// Starts a server on a free port of 127.0.0.1.
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let server = Server {
            addr: listener.local_addr().expect("local_addr"),
            log: Arc::default(),
        };
        let s = server.clone();
        std::thread::Builder::new()
            .name("http-server".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    let s = s.clone();
                    std::thread::spawn(move || s.serve(conn));
                }
            })
            .expect("spawn the server thread");
        server
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// What happened so far, in order.
    pub fn events(&self) -> Vec<String> {
        self.log.0.lock().unwrap().clone()
    }

    /// Waits until an event starts with `prefix`; gives it, or `None`
    /// after `timeout`.
    pub fn wait_for(&self, prefix: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut log = self.log.0.lock().unwrap();
        loop {
            if let Some(e) = log.iter().find(|e| e.starts_with(prefix)) {
                return Some(e.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            log = self.log.1.wait_timeout(log, left).unwrap().0;
        }
    }

    fn record(&self, event: String) {
        self.log.0.lock().unwrap().push(event);
        self.log.1.notify_all();
    }

    /// Serves one connection's requests until the client closes it.
    fn serve(&self, conn: TcpStream) {
        let mut reader = BufReader::new(conn.try_clone().expect("clone the stream"));
        let mut out = conn;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_string();
            let target = parts.next().unwrap_or("/").to_string();
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 {
                    return;
                }
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            self.record(format!("{method} {path}"));
            let arg = |name: &str, default: u64| {
                query
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .find(|(k, _)| *k == name)
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(default)
            };
            let ok = match (method.as_str(), path) {
                ("GET", "/json") => {
                    let body = catalog();
                    let chunks = arg("chunks", 1).clamp(1, 64) as usize;
                    let delay = Duration::from_millis(arg("delay_ms", 0));
                    self.send_slowly(&mut out, "application/json", body.as_bytes(), chunks, delay)
                }
                (method, "/echo") => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Echo-Method: {method}\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    out.write_all(head.as_bytes())
                        .and_then(|()| out.write_all(&body))
                        .is_ok()
                }
                ("GET", "/slow") => {
                    let kib = arg("kib", 64) as usize;
                    let delay = Duration::from_millis(arg("delay_ms", 20));
                    let data = vec![b'x'; kib * 1024];
                    let ok =
                        self.send_slowly(&mut out, "application/octet-stream", &data, kib, delay);
                    if ok {
                        self.record("completed /slow".into());
                    }
                    ok
                }
                ("HEAD", "/json") => {
                    // The length of the body a GET would get, and no body.
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        catalog().len()
                    );
                    out.write_all(head.as_bytes()).is_ok()
                }
                ("GET", "/redirect") => {
                    let n = arg("n", 0);
                    let head = if n > 0 {
                        format!(
                            "HTTP/1.1 302 Found\r\nLocation: /redirect?n={}\r\nX-Hop: {n}\r\nContent-Length: 0\r\n\r\n",
                            n - 1
                        )
                    } else {
                        "HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 4\r\n\r\ndone".into()
                    };
                    out.write_all(head.as_bytes()).is_ok()
                }
                ("GET", "/status") => {
                    let code = arg("code", 200);
                    let head =
                        format!("HTTP/1.1 {code} Whatever\r\nContent-Length: 6\r\n\r\nstatus");
                    out.write_all(head.as_bytes()).is_ok()
                }
                _ => out
                    .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    .is_ok(),
            };
            if !ok {
                return;
            }
        }
    }

    /// Sends `data` in `pieces` with `delay` before each piece after the
    /// first; stops (and logs it) when the client hangs up.
    fn send_slowly(
        &self,
        out: &mut TcpStream,
        kind: &str,
        data: &[u8],
        pieces: usize,
        delay: Duration,
    ) -> bool {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n",
            data.len()
        );
        if out.write_all(head.as_bytes()).is_err() {
            return false;
        }
        let size = data.len().div_ceil(pieces.max(1)).max(1);
        for (i, piece) in data.chunks(size).enumerate() {
            if i > 0 {
                std::thread::sleep(delay);
            }
            if hung_up(out) || out.write_all(piece).is_err() {
                self.record(format!("closed after {} bytes", i * size));
                return false;
            }
        }
        true
    }
}

/// Whether the peer has closed the connection (EOF or reset), without
/// blocking.
fn hung_up(conn: &TcpStream) -> bool {
    if conn.set_nonblocking(true).is_err() {
        return true;
    }
    let r = conn.peek(&mut [0u8; 1]);
    let _ = conn.set_nonblocking(false);
    match r {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// The JSON the examples fetch: a small catalog of instruments.
pub fn catalog() -> String {
    let names = [
        "cryostat",
        "magnet",
        "laser",
        "lock-in",
        "spectrometer",
        "pump",
        "stage",
        "camera",
    ];
    let items: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                "{{\"id\":{},\"name\":\"{n}\",\"online\":{}}}",
                i + 1,
                i % 3 != 2
            )
        })
        .collect();
    format!("{{\"instruments\":[{}]}}", items.join(","))
}
