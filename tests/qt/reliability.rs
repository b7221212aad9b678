//! Reliability: bad input with exact errors, panics, leaks on close, a
//! multi-threaded stress run, process exit with a stuck job.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qtloop::background::{self, BackgroundTask, TaskContext, TaskFailure};
use qtloop::qi::{PeriodicTask, Promise};
use qtloop::{Error, EventLoop, ExceptionContext};

cases!(reliability:
    bad_input_gives_exact_errors,
    thousand_panics_each_reported_once,
    close_drops_every_pending_item,
    stress_four_threads,
    stuck_job_does_not_block_exit,
    paused_clock_free_functions,
);

fn long() -> bool {
    std::env::var_os("QTLOOP_LONG").is_some()
}

fn bad_input_gives_exact_errors() {
    let lp = EventLoop::new().unwrap();
    let msg = |e: Error| e.to_string();
    // Delays: NaN and infinite are errors; huge saturate; negative is now.
    assert!(matches!(lp.call_later(f64::NAN, || {}), Err(Error::InvalidDelay(d)) if d.is_nan()));
    assert_eq!(
        lp.call_later(f64::INFINITY, || {}).unwrap_err(),
        Error::InvalidDelay(f64::INFINITY)
    );
    assert_eq!(
        msg(lp.call_at(f64::NEG_INFINITY, || {}).unwrap_err()),
        "invalid delay or deadline -inf: it must be a finite number of seconds"
    );
    assert!(lp.call_later(1e300, || {}).unwrap().when() > 1e9);
    let ran = Rc::new(Cell::new(0));
    let r = ran.clone();
    lp.call_later(-5.0, move || r.set(r.get() + 1)).unwrap();
    lp.run_until_complete(qtloop::sleep(0.0)).unwrap().unwrap();
    assert_eq!(ran.get(), 1, "a negative delay runs now");
    // Periods.
    let task = PeriodicTask::new();
    assert_eq!(task.set_us_period(0), Err(Error::InvalidPeriod));
    assert_eq!(task.set_us_period(-1), Err(Error::InvalidPeriod));
    assert_eq!(
        msg(task.set_period(Duration::ZERO).unwrap_err()),
        "invalid period: it must be greater than zero"
    );
    assert_eq!(qtloop::interval(0.0).unwrap_err(), Error::InvalidPeriod);
    // Callbacks and starts.
    assert!(
        matches!(task.start(true), Err(Error::InvalidArgument(m)) if m.contains("no callback"))
    );
    task.set_callback(|| {}).unwrap();
    assert_eq!(task.set_callback(|| {}), Err(Error::CallbackAlreadySet));
    struct Idle;
    impl BackgroundTask for Idle {
        type Settings = ();
        type Status = ();
        fn run(&mut self, _: &TaskContext<(), ()>) -> Result<(), TaskFailure> {
            Ok(())
        }
    }
    let runner = background::spawn("idle", Idle);
    runner.start().unwrap();
    assert_eq!(runner.start(), Err(Error::AlreadyStarted));
    assert_eq!(msg(Error::AlreadyStarted), "the task was already started");
    runner.join().unwrap();
    // A blocking value() on the loop thread.
    let p = Promise::<u8>::new();
    assert_eq!(p.future().value(1.0), Err(Error::WouldDeadlock));
    // run_until_complete inside a running loop.
    let l = lp.clone();
    let nested = lp.run_until_complete(async move { l.run_until_complete(async {}) });
    assert_eq!(nested, Ok(Err(Error::AlreadyRunning)));
    // One loop per thread.
    assert_eq!(EventLoop::new().unwrap_err(), Error::LoopExists);
    // Scheduling on a closed loop; a handle whose loop is gone.
    let handle = lp.handle();
    lp.close().unwrap();
    assert_eq!(lp.call_soon(|| {}).unwrap_err(), Error::Closed);
    assert_eq!(lp.call_later(1.0, || {}).unwrap_err(), Error::Closed);
    assert_eq!(msg(Error::Closed), "Event loop is closed");
    drop(lp);
    assert_eq!(
        handle.call_soon_threadsafe(|| {}).unwrap_err(),
        Error::Closed
    );
    assert!(handle.is_closed());
}

fn thousand_panics_each_reported_once() {
    let lp = EventLoop::new().unwrap();
    let reports = Rc::new(Cell::new((0u32, 0u32)));
    let r = reports.clone();
    lp.set_exception_handler(Some(move |_: &EventLoop, c: &ExceptionContext| {
        let (cb, task) = r.get();
        if c.message.starts_with("Exception in callback") {
            r.set((cb + 1, task));
        } else if c.message == "Task exception was never retrieved" {
            r.set((cb, task + 1));
        }
    }));
    let order = Rc::new(std::cell::RefCell::new(Vec::new()));
    for i in 0..1000u32 {
        lp.call_soon(move || panic!("callback {i}")).unwrap();
        let o = order.clone();
        lp.call_soon(move || o.borrow_mut().push(i)).unwrap();
        lp.create_task(async move {
            qtloop::sleep(0.001).await.unwrap();
            panic!("task {i}");
        })
        .detach();
    }
    lp.run_until_complete(qtloop::sleep(0.05)).unwrap().unwrap();
    assert_eq!(
        reports.get(),
        (1000, 1000),
        "each panic reached the handler once"
    );
    assert_eq!(
        *order.borrow(),
        (0..1000).collect::<Vec<_>>(),
        "nothing else skipped"
    );
    assert!(
        lp.run_until_complete(async { 1 }).is_ok(),
        "the loop keeps running"
    );
    lp.close().unwrap();
}

struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Closing a loop with pending callbacks, timers and tasks drops all of
/// them (100k each; 1M with QTLOOP_LONG=1).
fn close_drops_every_pending_item() {
    let n = if long() { 1_000_000 } else { 100_000 };
    let lp = EventLoop::new().unwrap();
    let dropped = Arc::new(AtomicUsize::new(0));
    // Tasks first, run until each is parked on its timer...
    for _ in 0..n {
        let c = Counted(dropped.clone());
        lp.create_task(async move {
            let _c = c;
            qtloop::sleep(3600.0).await.unwrap();
        })
        .detach();
    }
    lp.run_until_complete(async {}).unwrap();
    assert_eq!(lp.all_tasks().len(), n, "every task is parked");
    // ...then callbacks and timers that never get to run.
    for _ in 0..n {
        let c = Counted(dropped.clone());
        lp.call_soon(move || drop(c)).unwrap();
        let c = Counted(dropped.clone());
        lp.call_later(3600.0, move || drop(c)).unwrap();
    }
    assert_eq!(dropped.load(Ordering::Relaxed), 0);
    let t0 = Instant::now();
    lp.close().unwrap();
    assert_eq!(
        dropped.load(Ordering::Relaxed),
        3 * n,
        "everything was dropped"
    );
    eprintln!(
        "  closed with {} pending items in {:?}",
        3 * n,
        t0.elapsed()
    );
}

/// 4 threads × 10,000 mixed operations: threadsafe calls (some cancelled),
/// task spawns (some cancelled), stop(), PeriodicTask start/stop. Nothing is
/// lost or run twice; the run ends (the harness watchdog bounds it).
fn stress_four_threads() {
    const OPS: usize = 10_000;
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    let ran = Arc::new(AtomicUsize::new(0));
    let twice = Arc::new(AtomicUsize::new(0));
    let posted = Arc::new(AtomicUsize::new(0));
    let cancelled_unrun = Arc::new(Mutex::new(Vec::new()));
    let task_results = Arc::new(AtomicUsize::new(0));
    let periodic = Arc::new(PeriodicTask::new());
    let ticks = Arc::new(AtomicUsize::new(0));
    let t = ticks.clone();
    periodic
        .set_callback(move || {
            t.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    periodic.set_us_period(200).unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|tid| {
            let (h, ran, twice, posted) =
                (handle.clone(), ran.clone(), twice.clone(), posted.clone());
            let (cu, tr, per, done) = (
                cancelled_unrun.clone(),
                task_results.clone(),
                periodic.clone(),
                done.clone(),
            );
            std::thread::spawn(move || {
                let mut tasks = Vec::new();
                for i in 0..OPS {
                    match (i + tid) % 10 {
                        0..=5 => {
                            let flag = Arc::new(AtomicBool::new(false));
                            let (f, r, tw) = (flag.clone(), ran.clone(), twice.clone());
                            let hd = h
                                .call_soon_threadsafe(move || {
                                    if f.swap(true, Ordering::SeqCst) {
                                        tw.fetch_add(1, Ordering::SeqCst);
                                    }
                                    r.fetch_add(1, Ordering::SeqCst);
                                })
                                .unwrap();
                            posted.fetch_add(1, Ordering::SeqCst);
                            if i % 7 == 0 {
                                hd.cancel();
                                cu.lock().unwrap().push((hd, flag));
                            }
                        }
                        6 | 7 => {
                            let task = h.spawn(async move {
                                qtloop::sleep(0.0005).await.unwrap();
                                1u8
                            });
                            if i % 3 == 0 {
                                task.cancel();
                            }
                            tasks.push(task);
                        }
                        8 => h.stop(),
                        _ => {
                            if i % 2 == 0 {
                                let _ = per.start(i % 4 == 0);
                            } else {
                                per.async_stop();
                            }
                        }
                    }
                }
                for t in tasks {
                    // Cancelled or finished: either way it ends.
                    let _ = futures::executor::block_on(t);
                    tr.fetch_add(1, Ordering::SeqCst);
                }
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    // The loop runs until the threads are done; stop() calls end
    // run_forever early, so run it again until everything is in.
    let start = Instant::now();
    while done.load(Ordering::SeqCst) < 4 {
        let d = done.clone();
        let l = lp.clone();
        let _ = lp.run_until_complete(async move {
            while d.load(Ordering::SeqCst) < 4 {
                qtloop::sleep(0.001).await.unwrap();
            }
            drop(l);
        });
        assert!(start.elapsed() < Duration::from_secs(50), "stress run hung");
    }
    for t in threads {
        t.join().unwrap();
    }
    // stop() requests posted by the threads may still arrive: settle first.
    while lp.run_until_complete(qtloop::sleep(0.002)) == Err(Error::StoppedBeforeComplete) {}
    // Whatever state the races left it in, it still starts and stops.
    let before = ticks.load(Ordering::SeqCst);
    periodic.start(true).unwrap();
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
    assert!(
        ticks.load(Ordering::SeqCst) > before,
        "the periodic task ticks after the races"
    );
    periodic.stop();
    let ticks_at_stop = ticks.load(Ordering::SeqCst);
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
    let unrun = cancelled_unrun
        .lock()
        .unwrap()
        .iter()
        .filter(|(h, f)| h.cancelled() && !f.load(Ordering::SeqCst))
        .count();
    let (ran, posted) = (ran.load(Ordering::SeqCst), posted.load(Ordering::SeqCst));
    assert_eq!(twice.load(Ordering::SeqCst), 0, "no callback ran twice");
    assert_eq!(
        ran + unrun,
        posted,
        "every post ran or was cancelled before running"
    );
    assert_eq!(
        task_results.load(Ordering::SeqCst),
        4 * OPS / 10 * 2,
        "every task ended"
    );
    assert_eq!(
        ticks.load(Ordering::SeqCst),
        ticks_at_stop,
        "no tick after the final stop"
    );
    eprintln!(
        "  stress: {posted} posts ({ran} ran, {unrun} cancelled), {} tasks, {} ticks, {:?}",
        4 * OPS / 10 * 2,
        ticks_at_stop,
        start.elapsed()
    );
    lp.close().unwrap();
}

/// A child process starts a job that never returns, closes its loop and
/// returns from main: it must exit at once.
pub fn stuck_job_child() {
    let lp = EventLoop::new().unwrap();
    drop(lp.run_in_executor(|| loop {
        std::thread::park();
    }));
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(20) {
        lp.run_until_complete(qtloop::sleep(0.005))
            .unwrap()
            .unwrap();
    }
    lp.close().unwrap();
}

fn stuck_job_does_not_block_exit() {
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .env("QTLOOP_TEST_CHILD", "stuck_job")
        .spawn()
        .unwrap();
    let status = crate::wait_within(
        &mut child,
        Duration::from_secs(20),
        "the process with a stuck job",
    );
    assert!(status.success());
}

fn paused_clock_free_functions() {
    let lp = EventLoop::new().unwrap();
    qtloop::time::pause().unwrap();
    let t0 = lp.time();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    lp.call_later(5.0, move || f.set(true)).unwrap();
    qtloop::time::advance(Duration::from_secs(4)).unwrap();
    lp.run_until_complete(async {}).unwrap();
    assert!(!fired.get());
    assert!((lp.time() - t0 - 4.0).abs() < 1e-6, "{}", lp.time() - t0);
    qtloop::time::advance(Duration::from_secs(1)).unwrap();
    lp.run_until_complete(async {}).unwrap();
    assert!(fired.get());
    qtloop::time::resume().unwrap();
    lp.close().unwrap();
    assert_eq!(qtloop::time::pause(), Err(Error::NoRunningLoop));
}
