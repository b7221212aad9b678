//! qtloop's event-loop workloads (W1–W8 of `../shared/peers`), on a real Qt
//! event loop (offscreen), printing one JSON line per workload with the
//! peers' keys, plus the floors measured in the same process:
//!
//! - `floor-vecdeque`: `VecDeque<Box<dyn FnOnce()>>` push/pop/call, the cost
//!   of a callback with no loop at all;
//! - `floor-qt-posted-event`: one Qt posted event round trip;
//! - `core`: W1 and W2 on the Qt-free core with a plain driver.
//!
//! `cargo bench --bench loop_bench [-- w1 w3 ...]` (all by default);
//! `scripts/bench` runs it with the peers and makes the table.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use qtloop::core::io::{Direction, Fd};
use qtloop::core::{Core, Driver, Hooks, RemoteWake};
use qtloop::qi::PeriodicTask;
use qtloop::EventLoop;
use serde_json::{json, Value};

#[path = "common/mod.rs"]
mod common;
use common::{pcts, process_cpu, signed_ms};

const MILLION: u64 = 1_000_000;

fn per(d: Duration, n: u64) -> f64 {
    d.as_nanos() as f64 / n as f64
}

/// A number field of /proc/self/status (`VmRSS:` in kB, `Threads:`).
fn proc_status(key: &str) -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn rss_kb() -> i64 {
    proc_status("VmRSS:")
}

/// Pairs out of order, counting only those whose values differ by more
/// than `slack` (the peers' `inversions`).
fn inversions(order: &[u64], slack: u64) -> u64 {
    // O(n log n): a Fenwick tree over the ranks of the values seen so far.
    let mut sorted: Vec<u64> = order.to_vec();
    sorted.sort_unstable();
    let mut tree = vec![0u64; sorted.len() + 1];
    let mut count = 0u64;
    for (seen, &v) in order.iter().enumerate() {
        let seen = seen as u64;
        // elements seen so far with value > v + slack
        let limit = sorted.partition_point(|&x| x <= v.saturating_add(slack));
        let mut le = 0u64;
        let mut i = limit;
        while i > 0 {
            le += tree[i];
            i &= i - 1;
        }
        count += seen - le;
        let mut i = sorted.partition_point(|&x| x < v) + 1;
        while i < tree.len() {
            tree[i] += 1;
            i += i & i.wrapping_neg();
        }
    }
    count
}

struct Rng(u64);
impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A count reached on the loop thread, and when; awaiting it parks until
/// then (as the peers' `Counter` does).
struct Counter {
    left: Cell<u64>,
    done_at: Cell<Option<Instant>>,
    waker: RefCell<Option<std::task::Waker>>,
}

impl Counter {
    fn new(n: u64) -> Rc<Self> {
        Rc::new(Self {
            left: Cell::new(n),
            done_at: Cell::new(None),
            waker: RefCell::new(None),
        })
    }
    fn hit(&self) {
        let l = self.left.get() - 1;
        self.left.set(l);
        if l == 0 {
            self.done_at.set(Some(Instant::now()));
            if let Some(w) = self.waker.take() {
                w.wake();
            }
        }
    }
    async fn done(&self) -> Instant {
        std::future::poll_fn(|cx| match self.done_at.get() {
            Some(t) => Poll::Ready(t),
            None => {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// Yields once to the loop (a wake-up, no timer).
fn yield_now() -> impl Future<Output = ()> {
    struct Yield(bool);
    impl Future for Yield {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    Yield(false)
}

fn lp() -> EventLoop {
    qtloop::get_running_loop().expect("inside the loop")
}

/// Timers that stay pending while a workload runs (W1t, W2t): 100 of
/// them, an hour away; cancelled at the end.
fn pending_timers(n: usize) -> Vec<qtloop::TimerHandle> {
    let lp = lp();
    (0..n)
        .map(|_| lp.call_later(3600.0, || ()).unwrap())
        .collect()
}

async fn w1() -> Value {
    fan_out(MILLION, 0).await
}

/// W1t: W1 with 100 timers pending.
async fn w1t() -> Value {
    fan_out(MILLION, 100).await
}

async fn fan_out(n: u64, timers: usize) -> Value {
    fan_out_measured(n, timers, true).await
}

/// W1's fan-out; `rss` reads the RSS after queueing (W8 leaves it out: the
/// read would lengthen the stretch the timer waits through).
async fn fan_out_measured(n: u64, timers: usize, rss: bool) -> Value {
    let pending = pending_timers(timers);
    let lp = lp();
    let count = Counter::new(n);
    let rss0 = if rss { rss_kb() } else { 0 };
    let t0 = Instant::now();
    for _ in 0..n {
        let c = count.clone();
        lp.call_soon(move || c.hit()).unwrap();
    }
    let queued = t0.elapsed();
    let rss1 = if rss { rss_kb() } else { 0 };
    let end = count.done().await;
    pending.iter().for_each(|t| t.cancel());
    json!({
        "queue_ns": per(queued, n),
        "ns_per_cb": per(end - t0, n),
        "rss_per_queued_cb_b": (rss1 - rss0) as f64 * 1024.0 / n as f64,
    })
}

async fn w2() -> Value {
    chain(MILLION, 0).await
}

/// W2t: W2 with 100 timers pending.
async fn w2t() -> Value {
    chain(MILLION, 100).await
}

async fn chain(n: u64, timers: usize) -> Value {
    fn hop(lp: EventLoop, left: u64, done: Rc<Counter>) {
        if left == 0 {
            done.hit();
        } else {
            let l = lp.clone();
            lp.call_soon(move || hop(l, left - 1, done)).unwrap();
        }
    }
    let pending = pending_timers(timers);
    let done = Counter::new(1);
    let t0 = Instant::now();
    hop(lp(), n, done.clone());
    let end = done.done().await;
    pending.iter().for_each(|t| t.cancel());
    json!({ "ns_per_hop": per(end - t0, n) })
}

async fn w3() -> Value {
    const N: usize = 100_000;
    let lp = lp();
    let fired = Rc::new(RefCell::new(Vec::<(usize, Instant)>::with_capacity(N)));
    let done = Counter::new(N as u64);
    let mut rng = Rng(1);
    let mut deadlines = Vec::with_capacity(N);
    let cpu0 = process_cpu();
    let t0 = Instant::now();
    for i in 0..N {
        let deadline = Instant::now() + Duration::from_secs_f64(rng.next_f64());
        deadlines.push(deadline);
        let (f, d) = (fired.clone(), done.clone());
        lp.call_at(deadline, move || {
            f.borrow_mut().push((i, Instant::now()));
            d.hit();
        })
        .unwrap();
    }
    let queued = t0.elapsed();
    let armed = Counter::new(1);
    let a = armed.clone();
    lp.call_soon(move || a.hit()).unwrap();
    let armed_at = armed.done().await;
    let end = done.done().await;
    let cpu = process_cpu() - cpu0;
    let fired: Vec<(u64, f64)> = fired
        .take()
        .into_iter()
        .map(|(i, at)| {
            (
                (deadlines[i] - t0).as_nanos() as u64,
                signed_ms(at, deadlines[i]),
            )
        })
        .collect();
    let steady_from = (armed_at - t0).as_nanos() as u64;
    let steady: Vec<(u64, f64)> = fired
        .iter()
        .copied()
        .filter(|&(d, _)| d > steady_from)
        .collect();
    let order = |v: &[(u64, f64)]| v.iter().map(|&(d, _)| d).collect::<Vec<_>>();
    let mut late: Vec<f64> = fired.iter().map(|&(_, l)| l).collect();
    let mut steady_late: Vec<f64> = steady.iter().map(|&(_, l)| l).collect();
    let fired_early = late.iter().filter(|&&l| l < 0.0).count();
    let (p50, p99, max) = pcts(&mut late);
    let (s50, s99, smax) = pcts(&mut steady_late);
    json!({
        "queue_ns": per(queued, N as u64),
        "armed_ns": per(armed_at - t0, N as u64),
        "wall_s": (end - t0).as_secs_f64(),
        "cpu_ms_per_s": cpu.as_secs_f64() * 1e3 / (end - t0).as_secs_f64(),
        "fired_early": fired_early,
        "inversions": inversions(&order(&fired), 0),
        "late_p50_ms": p50, "late_p99_ms": p99, "late_max_ms": max,
        "steady_timers": steady.len(),
        "steady_inversions": inversions(&order(&steady), 0),
        "steady_inversions_gt_1ms": inversions(&order(&steady), 1_000_000),
        "steady_late_p50_ms": s50, "steady_late_p99_ms": s99, "steady_late_max_ms": smax,
    })
}

/// A count reached on the loop thread, shared with other threads as a
/// `&'static` (the peers' `Counter`: the posts capture no reference count).
struct SharedCounter {
    hits: AtomicU64,
    target: u64,
    at: std::sync::OnceLock<Instant>,
    waker: futures::task::AtomicWaker,
}

impl SharedCounter {
    fn leak(target: u64) -> &'static Self {
        Box::leak(Box::new(Self {
            hits: AtomicU64::new(0),
            target,
            at: std::sync::OnceLock::new(),
            waker: futures::task::AtomicWaker::new(),
        }))
    }
    /// On the loop thread only.
    fn hit(&self) {
        let n = self.hits.load(Ordering::Relaxed) + 1;
        self.hits.store(n, Ordering::Relaxed);
        if n == self.target {
            let _ = self.at.set(Instant::now());
            self.waker.wake();
        }
    }
    async fn done(&self) -> Instant {
        std::future::poll_fn(|cx| {
            if let Some(&at) = self.at.get() {
                return Poll::Ready(at);
            }
            self.waker.register(cx.waker());
            self.at.get().map_or(Poll::Pending, |&at| Poll::Ready(at))
        })
        .await
    }
}

async fn w4a() -> Value {
    const THREADS: u64 = 4;
    const PER: u64 = 250_000;
    let count = SharedCounter::leak(THREADS * PER);
    let handle = lp().handle();
    let t0 = Instant::now();
    let posters: Vec<_> = (0..THREADS)
        .map(|_| {
            let h = handle.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                for _ in 0..PER {
                    h.call_soon_threadsafe(|| count.hit()).unwrap();
                }
                start.elapsed()
            })
        })
        .collect();
    let end = count.done().await;
    let slowest = posters
        .into_iter()
        .map(|p| p.join().unwrap())
        .max()
        .unwrap();
    json!({
        "total_ms": (end - t0).as_secs_f64() * 1e3,
        "ns_per_post": per(end - t0, THREADS * PER),
        "poster_ns_per_post": per(slowest, PER),
    })
}

async fn w4b() -> Value {
    const N: usize = 10_000;
    let latency: Arc<Vec<AtomicU64>> = Arc::new((0..N).map(|_| AtomicU64::new(0)).collect());
    let count = Arc::new(AtomicUsize::new(0));
    let handle = lp().handle();
    let (l, c) = (latency.clone(), count.clone());
    let poster = std::thread::spawn(move || {
        let mut rng = Rng(1);
        for i in 0..N {
            std::thread::sleep(Duration::from_secs_f64(rng.next_f64() * 1e-3));
            let t0 = Instant::now();
            let (l, c) = (l.clone(), c.clone());
            handle
                .call_soon_threadsafe(move || {
                    l[i].store(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    c.fetch_add(1, Ordering::Relaxed);
                })
                .unwrap();
        }
    });
    while count.load(Ordering::Relaxed) < N {
        qtloop::sleep(0.001).await.unwrap();
    }
    poster.join().unwrap();
    let mut us: Vec<f64> = latency
        .iter()
        .map(|l| l.load(Ordering::Relaxed) as f64 / 1e3)
        .collect();
    let (p50, p99, max) = pcts(&mut us);
    json!({ "p50_us": p50, "p99_us": p99, "max_us": max })
}

async fn w5a() -> Value {
    const N: u64 = 100_000;
    let lp = lp();
    let t0 = Instant::now();
    let jobs: Vec<_> = (0..N).map(|_| lp.run_in_executor(|| ())).collect();
    let submitted = t0.elapsed();
    for j in jobs {
        j.await.unwrap();
    }
    json!({
        "submit_us": per(submitted, N) / 1e3,
        "us_per_job": per(t0.elapsed(), N) / 1e3,
        "threads": proc_status("Threads:"),
    })
}

async fn w5b() -> Value {
    const N: usize = 10_000;
    let floor = thread_ping_pong(N);
    let lp = lp();
    let mut us = Vec::with_capacity(N);
    for _ in 0..N {
        let t0 = Instant::now();
        lp.run_in_executor(|| ()).await.unwrap();
        us.push(t0.elapsed().as_nanos() as f64 / 1e3);
    }
    let (p50, p99, max) = pcts(&mut us);
    json!({ "p50_us": p50, "p99_us": p99, "max_us": max, "floor_p50_us": floor })
}

/// W5b's floor, in the same process just before it: `n` round trips
/// between this thread and a plain thread, each side sleeping on a
/// `Condvar` (two wake-ups per round trip, as a job to a pool and back).
/// What a round trip costs on this machine before any runtime: on a VM
/// that exits on `HLT`, waking a thread on an idle CPU dominates.
fn thread_ping_pong(n: usize) -> f64 {
    use std::sync::{Condvar, Mutex};
    #[derive(Default)]
    struct Slot(Mutex<(u64, u64)>, Condvar);
    let slot = Arc::new(Slot::default());
    let peer = slot.clone();
    let echo = std::thread::spawn(move || {
        let mut seen = 0;
        loop {
            let mut g = peer.0.lock().unwrap();
            while g.0 == seen {
                g = peer.1.wait(g).unwrap();
            }
            seen = g.0;
            if seen == u64::MAX {
                return;
            }
            g.1 = seen;
            peer.1.notify_all();
        }
    });
    let mut us = Vec::with_capacity(n);
    for i in 1..=n as u64 {
        let t0 = Instant::now();
        let mut g = slot.0.lock().unwrap();
        g.0 = i;
        slot.1.notify_all();
        while g.1 != i {
            g = slot.1.wait(g).unwrap();
        }
        drop(g);
        us.push(t0.elapsed().as_nanos() as f64 / 1e3);
    }
    slot.0.lock().unwrap().0 = u64::MAX;
    slot.1.notify_all();
    echo.join().unwrap();
    pcts(&mut us).0
}

async fn w6(compensated: bool) -> Value {
    const PERIOD: Duration = Duration::from_millis(1);
    const RUN: Duration = Duration::from_secs(2);
    let ticks = Rc::new(RefCell::new(Vec::<Instant>::with_capacity(4_000)));
    let task = PeriodicTask::new();
    let t = ticks.clone();
    task.set_callback_local(move || t.borrow_mut().push(Instant::now()))
        .unwrap();
    task.set_period(PERIOD).unwrap();
    task.compensate_callback_time(compensated);
    let start = Instant::now();
    let first = start + PERIOD;
    let cpu0 = process_cpu();
    task.start(false).unwrap();
    qtloop::sleep(RUN).await.unwrap();
    task.stop();
    let cpu = process_cpu() - cpu0;
    let ticks = ticks.take();
    let calls = ticks.len();
    let mut dev: Vec<f64> = ticks
        .iter()
        .enumerate()
        .map(|(k, &at)| {
            let ideal = first + PERIOD * k as u32;
            if at >= ideal {
                (at - ideal).as_secs_f64() * 1e3
            } else {
                (ideal - at).as_secs_f64() * 1e3
            }
        })
        .collect();
    let mut jitter: Vec<f64> = ticks
        .windows(2)
        .map(|w| ((w[1] - w[0]).as_secs_f64() * 1e3 - 1.0).abs())
        .collect();
    let (_, dev_p99, dev_max) = pcts(&mut dev);
    let (_, jitter_p99, _) = pcts(&mut jitter);
    json!({
        "calls": calls,
        "mean_period_ms": (ticks[calls - 1] - ticks[0]).as_secs_f64() * 1e3 / (calls - 1) as f64,
        "dev_p99_ms": dev_p99,
        "dev_max_ms": dev_max,
        "period_jitter_p99_ms": jitter_p99,
        "cpu_ms_per_s": cpu.as_secs_f64() * 1e3 / start.elapsed().as_secs_f64(),
    })
}

async fn w7a() -> Value {
    let count = Counter::new(MILLION);
    let lp = lp();
    let t0 = Instant::now();
    for _ in 0..MILLION {
        let c = count.clone();
        lp.create_task(async move {
            yield_now().await;
            c.hit();
        })
        .detach();
    }
    let spawned = t0.elapsed();
    let end = count.done().await;
    json!({ "spawn_ns": per(spawned, MILLION), "ns_per_task": per(end - t0, MILLION) })
}

/// A one-shot event for W7b (the peers use `event_listener::Event`): tasks
/// park on it, `notify` wakes them all.
#[derive(Default)]
struct Event {
    fired: Cell<bool>,
    wakers: RefCell<Vec<std::task::Waker>>,
}

impl Event {
    fn listen(self: &Rc<Self>) -> impl Future<Output = ()> {
        let me = self.clone();
        std::future::poll_fn(move |cx| {
            if me.fired.get() {
                Poll::Ready(())
            } else {
                me.wakers.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
    }

    fn notify(&self) {
        self.fired.set(true);
        for w in self.wakers.take() {
            w.wake();
        }
    }
}

async fn w7b() -> Value {
    let event = Rc::new(Event::default());
    let (parked, finished) = (Counter::new(MILLION), Counter::new(MILLION));
    let lp = lp();
    let rss0 = rss_kb();
    let t0 = Instant::now();
    for _ in 0..MILLION {
        let (e, p, f) = (event.clone(), parked.clone(), finished.clone());
        lp.create_task(async move {
            let listener = e.listen();
            p.hit();
            listener.await;
            f.hit();
        })
        .detach();
    }
    let all_parked = parked.done().await;
    let rss1 = rss_kb();
    let t1 = Instant::now();
    event.notify();
    let end = finished.done().await;
    yield_now().await;
    let rss2 = rss_kb();
    json!({
        "rss_per_task_b": (rss1 - rss0) as f64 * 1024.0 / MILLION as f64,
        "spawn_park_ns": per(all_parked - t0, MILLION),
        "release_ns": per(end - t1, MILLION),
        "rss_parked_mb": (rss1 - rss0) as f64 / 1024.0,
        "rss_after_release_mb": (rss2 - rss0) as f64 / 1024.0,
    })
}

/// W8: a 1 ms precise QTimer's longest gap while 200k chained callbacks,
/// then a 200k fan-out, run (the Python peers' size).
async fn w8() -> Value {
    const N: u64 = 200_000;
    let probe = qtloop::qt::TimerProbe::start(Duration::from_millis(1));
    qtloop::sleep(0.02).await.unwrap();
    let t0 = Instant::now();
    chain(N, 0).await;
    let chain_s = t0.elapsed().as_secs_f64();
    let chain = (probe.ticks(), probe.max_gap());
    drop(probe);
    let probe = qtloop::qt::TimerProbe::start(Duration::from_millis(1));
    qtloop::sleep(0.02).await.unwrap();
    let t0 = Instant::now();
    let fan = fan_out_measured(N, 0, false).await;
    let fan_s = t0.elapsed().as_secs_f64();
    json!({
        "chain_s": chain_s,
        "chain_ticks": chain.0,
        "chain_max_gap_ms": chain.1.as_secs_f64() * 1e3,
        "fanout_s": fan_s,
        "fanout_ticks": probe.ticks(),
        "fanout_max_gap_ms": probe.max_gap().as_secs_f64() * 1e3,
        // The fan-out's own loop (queueing N callbacks) holds the thread:
        // the least gap any loop could show.
        "fanout_queue_ms": fan["queue_ns"].as_f64().unwrap_or(0.0) * N as f64 / 1e6,
    })
}

fn floor_vecdeque() -> Value {
    let c = Rc::new(Cell::new(0u64));
    let t0 = Instant::now();
    let mut q: VecDeque<Box<dyn FnOnce()>> = VecDeque::new();
    for _ in 0..MILLION {
        let c = c.clone();
        q.push_back(Box::new(move || c.set(c.get() + 1)));
    }
    let queued = t0.elapsed();
    while let Some(f) = q.pop_front() {
        f();
    }
    assert_eq!(c.get(), MILLION);
    json!({ "ns_per_cb": per(t0.elapsed(), MILLION), "queue_ns": per(queued, MILLION) })
}

fn floor_qt_posted_event() -> Value {
    json!({ "ns_per_round_trip": qtloop::qt::posted_event_round_trip(200_000).as_nanos() as u64 })
}

struct Nop;
impl Driver for Nop {
    fn request_tick(&self) {}
    fn defer_tick(&self) {}
    fn arm_timer(&self, _: u64) {}
    fn disarm_timer(&self) {}
    fn watch_fd(&self, _: Fd, _: Direction, _: bool) {}
    fn unwatch_fd(&self, _: Fd, _: Direction) {}
}
impl RemoteWake for Nop {
    fn wake(&self) {}
}
impl Hooks for Nop {
    fn panicked(
        &self,
        _: &'static str,
        _: &'static Location<'static>,
        p: Box<dyn std::any::Any + Send>,
    ) {
        std::panic::resume_unwind(p)
    }
    fn slow_callback(&self, _: &'static str, _: &'static Location<'static>, _: Duration) {}
    fn fd_invalid(&self, _: Fd) {}
}

/// W1 and W2 on the Qt-free core (a plain driver, dispatched in a loop).
fn core_alone() -> Value {
    let core = Rc::new(Core::new(Box::new(Nop), Box::new(Nop), Box::new(Nop)));
    let c = Rc::new(Cell::new(0u64));
    let t0 = Instant::now();
    for _ in 0..MILLION {
        let c = c.clone();
        core.call_soon(move || c.set(c.get() + 1), Location::caller())
            .unwrap();
    }
    let queued = t0.elapsed();
    while c.get() < MILLION {
        core.dispatch();
    }
    let w1 = per(t0.elapsed(), MILLION);
    fn hop(core: Rc<Core>, left: u64) {
        if left > 0 {
            let c = core.clone();
            core.call_soon(move || hop(c, left - 1), Location::caller())
                .unwrap();
        }
    }
    let t0 = Instant::now();
    hop(core.clone(), MILLION);
    while core.ready_len() > 0 {
        core.dispatch();
    }
    let w2 = per(t0.elapsed(), MILLION);
    json!({ "ns_per_cb": w1, "queue_ns": per(queued, MILLION), "ns_per_hop": w2 })
}

type Workload = fn() -> Pin<Box<dyn Future<Output = Value>>>;

fn main() {
    if std::env::var_os("QT_QPA_PLATFORM").is_none() {
        std::env::set_var("QT_QPA_PLATFORM", "offscreen");
    }
    let loop_workloads: Vec<(&str, Workload)> = vec![
        ("w1", || Box::pin(w1())),
        ("w1t", || Box::pin(w1t())),
        ("w2", || Box::pin(w2())),
        ("w2t", || Box::pin(w2t())),
        ("w3", || Box::pin(w3())),
        ("w4a", || Box::pin(w4a())),
        ("w4b", || Box::pin(w4b())),
        ("w5a", || Box::pin(w5a())),
        ("w5b", || Box::pin(w5b())),
        ("w6", || Box::pin(w6(true))),
        ("w6d", || Box::pin(w6(false))),
        ("w7a", || Box::pin(w7a())),
        ("w7b", || Box::pin(w7b())),
        ("w8", || Box::pin(w8())),
    ];
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |w: &str| wanted.is_empty() || wanted.iter().any(|x| x == w);
    let lp = EventLoop::new().expect("an event loop");
    let emit = |w: &str, runtime: &str, mut v: Value| {
        v["workload"] = json!(w);
        v["runtime"] = json!(runtime);
        println!("{v}");
    };
    if want("floor") {
        emit("floor", "vecdeque", floor_vecdeque());
        emit("floor", "qt-posted-event", floor_qt_posted_event());
        emit("floor", "core", core_alone());
    }
    for (name, w) in loop_workloads {
        if want(name) {
            let v = lp.run_until_complete(w()).expect("the workload ran");
            emit(name, "qtloop", v);
        }
    }
    lp.close().expect("closed");
}
