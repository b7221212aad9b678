//! The peers' W9–W11 (`../shared/peers`) on qtloop, one JSON line per run:
//! TCP on 127.0.0.1 (W9), the CPU cost of waiting (W10, beside a bare Qt
//! `PreciseTimer` with an empty slot: the floor), child processes (W11).
//! Each workload's doc comment says what is timed; the definitions are the
//! peers'.
//!
//!   io_bench w9a|w9b|w9c|w10a|w10b|w10c|w11a|w11b|floor10

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use qtloop::net::{TcpListener, TcpStream};
use qtloop::process::{Command, Stdio};
use qtloop::qi::PeriodicTask;
use qtloop::EventLoop;
use serde_json::{json, Value};

#[path = "common/mod.rs"]
mod common;
use common::{cpu, pcts, signed_ms};

const CHUNK: usize = 64 << 10;

fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// W9 server: echoes each connection (reads of at most 64 KiB, written
/// back whole) until end of stream.
fn spawn_echo(listener: TcpListener, conns: usize) -> qtloop::Task<()> {
    qtloop::spawn_local(async move {
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let (conn, _) = listener.accept().await.expect("accept");
            tasks.push(qtloop::spawn_local(async move {
                let mut buf = vec![0u8; CHUNK];
                loop {
                    let n = conn.read(&mut buf).await.expect("server read");
                    if n == 0 {
                        break;
                    }
                    (&conn).write_all(&buf[..n]).await.expect("server write");
                }
            }));
        }
        for t in tasks {
            t.await.expect("echo task");
        }
    })
}

/// W9a: one connection; 20,000 times write 64 bytes and read until the
/// 64-byte echo is back. µs per round trip.
async fn w9a() -> Value {
    const N: usize = 20_000;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = spawn_echo(listener, 1);
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.set_nodelay(true).unwrap();
    let (mut msg, mut echo) = ([0u8; 64], [0u8; 64]);
    let mut us = Vec::with_capacity(N);
    for i in 0..N {
        msg.fill(i as u8);
        let t0 = Instant::now();
        c.write_all(&msg).await.unwrap();
        c.read_exact(&mut echo).await.unwrap();
        us.push(t0.elapsed().as_nanos() as f64 / 1e3);
        assert_eq!(echo, msg);
    }
    drop(c);
    server.await.unwrap();
    let mean = us.iter().sum::<f64>() / N as f64;
    let (p50, p99, max) = pcts(&mut us);
    json!({ "p50_us": p50, "p99_us": p99, "mean_us": mean, "max_us": max })
}

/// W9b: 50 connections at once, each writes 2 MiB in 64 KiB `write_all`s
/// while reading the echo back. MiB/s = bytes echoed / wall time.
async fn w9b() -> Value {
    const CONNS: usize = 50;
    const BYTES: usize = 2 << 20;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = spawn_echo(listener, CONNS);
    let sent: Vec<Rc<Vec<u8>>> = (0..CONNS)
        .map(|c| Rc::new(bytes(c as u64 + 1, BYTES)))
        .collect();
    let t0 = Instant::now();
    let clients: Vec<_> = sent
        .iter()
        .cloned()
        .map(|data| {
            qtloop::spawn_local(async move {
                let c = TcpStream::connect(addr).await.unwrap();
                let writer = async {
                    for k in 0..BYTES / CHUNK {
                        (&c).write_all(&data[k * CHUNK..(k + 1) * CHUNK])
                            .await
                            .unwrap();
                    }
                };
                let reader = async {
                    let mut back = vec![0u8; BYTES];
                    let mut got = 0;
                    while got < BYTES {
                        let n = c
                            .read(&mut back[got..(got + CHUNK).min(BYTES)])
                            .await
                            .unwrap();
                        assert!(n > 0, "end of stream after {got} bytes");
                        got += n;
                    }
                    back
                };
                let ((), back) = futures::join!(writer, reader);
                back
            })
        })
        .collect();
    let mut echoed = Vec::new();
    for c in clients {
        echoed.push(c.await.unwrap());
    }
    let wall = t0.elapsed().as_secs_f64();
    server.await.unwrap();
    let total: usize = echoed.iter().map(Vec::len).sum();
    let ok = echoed.iter().zip(&sent).all(|(e, s)| e == &**s);
    json!({ "mib_per_s": total as f64 / (1 << 20) as f64 / wall, "wall_ms": wall * 1e3,
            "bytes_echoed": total, "checksum_ok": ok })
}

/// W9c: 2,000 times, sequentially: connect and accept (awaited together),
/// then drop both ends.
async fn w9c() -> Value {
    const N: usize = 2_000;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut us = Vec::with_capacity(N);
    let t0 = Instant::now();
    for _ in 0..N {
        let t = Instant::now();
        let (s, c) = futures::join!(listener.accept(), TcpStream::connect(addr));
        drop((s.unwrap(), c.unwrap()));
        us.push(t.elapsed().as_nanos() as f64 / 1e3);
    }
    let per = t0.elapsed().as_secs_f64() * 1e6 / N as f64;
    let (p50, p99, max) = pcts(&mut us);
    json!({ "us_per_cycle": per, "p50_us": p50, "p99_us": p99, "max_us": max })
}

/// Context switches of the whole process (all threads).
fn switches() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("status")).ok())
        .flat_map(|s| {
            s.lines()
                .filter(|l| l.contains("ctxt_switches"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count)
}

/// The measured window of a W10 cell: process and loop-thread CPU.
struct CpuWindow {
    wall: Instant,
    process: Duration,
    thread: Duration,
    switches: u64,
}

impl CpuWindow {
    fn start() -> Self {
        Self {
            wall: Instant::now(),
            process: cpu(rustix::time::ClockId::ProcessCPUTime),
            thread: cpu(rustix::time::ClockId::ThreadCPUTime),
            switches: switches(),
        }
    }
    fn finish(self) -> Value {
        let wall = self.wall.elapsed().as_secs_f64();
        let p = cpu(rustix::time::ClockId::ProcessCPUTime) - self.process;
        let t = cpu(rustix::time::ClockId::ThreadCPUTime) - self.thread;
        json!({
            "cpu_ms_per_s": p.as_secs_f64() * 1e3 / wall,
            "loop_thread_cpu_ms_per_s": t.as_secs_f64() * 1e3 / wall,
            "switches_per_s": (switches() - self.switches) as f64 / wall,
            "threads": threads(),
            "wall_s": wall,
        })
    }
}

const TIMER_RUN: Duration = Duration::from_secs(3);

/// W10a (1 task) and W10c (100 tasks, phases uniform in [0, 10 ms)): each
/// task loops `sleep(10 ms)` until 3 s have passed.
async fn w10_sleepers(tasks: usize) -> Value {
    const SLEEP: Duration = Duration::from_millis(10);
    let late: Rc<RefCell<Vec<f64>>> = Rc::default();
    let mut x = 1u64;
    let window = CpuWindow::start();
    let start = window.wall;
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let phase = if tasks == 1 {
                Duration::ZERO
            } else {
                SLEEP.mul_f64((x >> 11) as f64 / (1u64 << 53) as f64)
            };
            let late = late.clone();
            qtloop::spawn_local(async move {
                qtloop::sleep(phase).await.unwrap();
                while start.elapsed() < TIMER_RUN {
                    let due = Instant::now() + SLEEP;
                    qtloop::sleep(SLEEP).await.unwrap();
                    late.borrow_mut().push(signed_ms(Instant::now(), due));
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let mut line = window.finish();
    let mut late = late.take();
    let (p50, p99, max) = pcts(&mut late);
    line["wakes"] = json!(late.len());
    line["late_p50_ms"] = json!(p50);
    line["late_p99_ms"] = json!(p99);
    line["late_max_ms"] = json!(max);
    line
}

/// W10b: a compensated 1 ms `PeriodicTask` for 3 s; lateness of tick k
/// against first + k ms.
async fn w10b() -> Value {
    const PERIOD: Duration = Duration::from_millis(1);
    let ticks: Rc<RefCell<Vec<Instant>>> = Rc::default();
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    let tx = Cell::new(Some(tx));
    let task = PeriodicTask::new();
    let window = CpuWindow::start();
    let start = window.wall;
    let t = ticks.clone();
    task.set_callback_local(move || {
        let now = Instant::now();
        t.borrow_mut().push(now);
        if now >= start + TIMER_RUN {
            if let Some(tx) = tx.take() {
                let _ = tx.send(());
            }
        }
    })
    .unwrap();
    task.set_period(PERIOD).unwrap();
    task.compensate_callback_time(true);
    task.start(false).unwrap();
    rx.await.unwrap();
    task.stop();
    let mut line = window.finish();
    let ticks = ticks.take();
    let first = ticks[0];
    let mut late: Vec<f64> = ticks
        .iter()
        .enumerate()
        .map(|(k, &at)| signed_ms(at, first + PERIOD * k as u32))
        .collect();
    let (p50, p99, max) = pcts(&mut late);
    line["calls"] = json!(late.len());
    line["late_p50_ms"] = json!(p50);
    line["late_p99_ms"] = json!(p99);
    line["late_max_ms"] = json!(max);
    line
}

/// The floor of W10: a bare Qt `PreciseTimer` (empty slot) at 10 ms and at
/// 1 ms, each for 3 s on the same Qt loop, nothing else scheduled.
async fn floor10() -> Value {
    let mut out = json!({});
    for (key, ms) in [("qt_10ms", 10u64), ("qt_1ms", 1)] {
        let window = CpuWindow::start();
        let probe = qtloop::qt::TimerProbe::start(Duration::from_millis(ms));
        qtloop::sleep(TIMER_RUN).await.unwrap();
        let ticks = probe.ticks();
        drop(probe);
        let mut line = window.finish();
        line["ticks"] = json!(ticks);
        out[key] = line;
    }
    out
}

/// W11a: 200 sequential spawns of `/bin/true`, each awaited.
async fn w11a() -> Value {
    const N: usize = 200;
    let mut ms = Vec::with_capacity(N);
    let t0 = Instant::now();
    for _ in 0..N {
        let t = Instant::now();
        let st = Command::new("/bin/true").status().await.unwrap();
        assert!(st.success());
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let per = t0.elapsed().as_secs_f64() * 1e3 / N as f64;
    let (p50, p99, max) = pcts(&mut ms);
    json!({ "ms_per_spawn": per, "p50_ms": p50, "p99_ms": p99, "max_ms": max, "threads": threads() })
}

/// W11b: 64 MiB through `/bin/cat` (64 KiB writes, concurrent reads of at
/// most 64 KiB), from the spawn to the exit.
async fn w11b() -> Value {
    const BYTES: usize = 64 << 20;
    let data = bytes(1, BYTES);
    let t0 = Instant::now();
    let mut child = Command::new("/bin/cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let writer = async {
        for k in 0..BYTES / CHUNK {
            stdin
                .write_all(&data[k * CHUNK..(k + 1) * CHUNK])
                .await
                .unwrap();
        }
        drop(stdin);
    };
    let reader = async {
        let mut back = Vec::with_capacity(BYTES);
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = stdout.read(&mut buf).await.unwrap();
            if n == 0 {
                break back;
            }
            back.extend_from_slice(&buf[..n]);
        }
    };
    let ((), back) = futures::join!(writer, reader);
    let code = child.wait().await.unwrap().code();
    let wall = t0.elapsed().as_secs_f64();
    json!({ "mib_per_s": back.len() as f64 / (1 << 20) as f64 / wall, "wall_ms": wall * 1e3,
            "bytes": back.len(), "checksum_ok": back == data, "exit_code": code })
}

fn main() {
    let w = std::env::args().nth(1).unwrap_or_else(|| "w9a".into());
    if std::env::var_os("QT_QPA_PLATFORM").is_none() {
        std::env::set_var("QT_QPA_PLATFORM", "offscreen");
    }
    let lp = EventLoop::new().unwrap();
    let line = lp
        .run_until_complete(async move {
            match w.as_str() {
                "w9a" => w9a().await,
                "w9b" => w9b().await,
                "w9c" => w9c().await,
                "w10a" => w10_sleepers(1).await,
                "w10b" => w10b().await,
                "w10c" => w10_sleepers(100).await,
                "w11a" => w11a().await,
                "w11b" => w11b().await,
                "floor10" => floor10().await,
                other => {
                    eprintln!("io_bench: unknown workload {other}");
                    std::process::exit(2)
                }
            }
        })
        .unwrap();
    let w = std::env::args().nth(1).unwrap_or_else(|| "w9a".into());
    let mut line = line;
    line["workload"] = json!(w);
    line["runtime"] = json!("qtloop");
    line["timer"] = json!(lp.deadline_timer());
    println!("{line}");
    lp.close().unwrap();
}
