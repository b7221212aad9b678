//! D-Bus service calls through a private `dbus-daemon`: qtloop's services
//! (single-threaded on a loop thread, multi-threaded on its pool) against
//! zbus's own `ObjectServer` serving the same method, with the same zbus
//! client, in one run. Prints one JSON line per server kind:
//! `us_per_call_seq` (one call at a time, round trip through the daemon)
//! and `us_per_call_pipelined` (1000 calls in flight).
//!
//! `cargo bench --bench service_bench` (needs `dbus-daemon`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::future::join_all;
use qtloop::service::{Bus, ProxyBuilder, ServiceBuilder};
use qtloop::EventLoop;
use serde_json::json;

const SEQ: u32 = 2000;
const PIPELINED: u32 = 1000;

/// The peer: the same method on zbus's own object server.
struct Echo;

#[zbus::interface(name = "org.qtloop.Bench")]
impl Echo {
    #[zbus(name = "echo")]
    fn echo(&self, n: u32) -> u32 {
        n
    }
}

/// Serves `echo` under `name` on a thread of its own, the way `kind` says.
fn serve(kind: &'static str, name: String, addr: String) {
    let (ready, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lp = EventLoop::new().unwrap();
        let _ = lp.run_until_complete(async move {
            let bus = Bus::Address(addr.clone());
            let _keep: Box<dyn std::any::Any> = match kind {
                "qtloop-single" => {
                    let mut b = ServiceBuilder::new(&name, ());
                    b.bus(bus).interface("org.qtloop.Bench");
                    b.method("echo", |_, (n,): (u32,)| Ok(n));
                    Box::new(b.register().await.unwrap())
                }
                "qtloop-multi" => {
                    let mut b = ServiceBuilder::multi_threaded(&name, ());
                    b.bus(bus).interface("org.qtloop.Bench");
                    b.method("echo", |_, (n,): (u32,)| Ok(n));
                    Box::new(b.register().await.unwrap())
                }
                _ => {
                    let conn = zbus::connection::Builder::address(addr.as_str())
                        .unwrap()
                        .name(name.as_str())
                        .unwrap()
                        .serve_at(format!("/{}", name.replace('.', "/")), Echo)
                        .unwrap()
                        .build()
                        .await
                        .unwrap();
                    Box::new(conn)
                }
            };
            ready.send(()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    wait.recv_timeout(Duration::from_secs(20)).unwrap();
}

fn main() {
    let mut daemon = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon");
    let mut addr = String::new();
    BufReader::new(daemon.stdout.take().unwrap())
        .read_line(&mut addr)
        .unwrap();
    let addr = addr.trim().to_owned();
    let lp = EventLoop::new().unwrap();
    for kind in ["zbus-objectserver", "qtloop-single", "qtloop-multi"] {
        let name = format!("org.qtloop.Bench.{}", kind.replace('-', "_"));
        serve(kind, name.clone(), addr.clone());
        let addr = addr.clone();
        let (seq, piped) = lp
            .run_until_complete(async move {
                let p = ProxyBuilder::new(&name)
                    .interface("org.qtloop.Bench")
                    .bus(Bus::Address(addr))
                    .connect()
                    .await
                    .unwrap();
                for i in 0..200u32 {
                    assert_eq!(p.call::<u32>("echo", &(i,)).await.unwrap(), i);
                }
                let t0 = Instant::now();
                for i in 0..SEQ {
                    assert_eq!(p.call::<u32>("echo", &(i,)).await.unwrap(), i);
                }
                let seq = t0.elapsed();
                let t0 = Instant::now();
                let calls = (0..PIPELINED).map(|i| {
                    let p = p.clone();
                    async move { p.call::<u32>("echo", &(i,)).await.unwrap() }
                });
                assert_eq!(join_all(calls).await.len(), PIPELINED as usize);
                (seq, t0.elapsed())
            })
            .unwrap();
        println!(
            "{}",
            json!({
                "server": kind,
                "us_per_call_seq": seq.as_secs_f64() * 1e6 / f64::from(SEQ),
                "us_per_call_pipelined": piped.as_secs_f64() * 1e6 / f64::from(PIPELINED),
            })
        );
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
}
