//! call_soon / call_later / call_at, the iteration rule, stop, close,
//! exception handling, threads.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use qtloop::{Error, EventLoop, ExceptionContext};

cases!(scheduling:
    without_a_logger_panics_are_printed_to_stderr,
    call_at_send_cancels_from_another_thread,
    now_is_exact_and_follows_the_paused_clock,
    fifo_under_100k_callbacks,
    equal_deadlines_keep_scheduling_order,
    scheduled_in_iteration_runs_in_next,
    cancelled_never_run,
    timers_fire_on_time_not_early,
    call_at_with_instant_and_loop_time,
    invalid_delays_are_errors,
    stop_before_run_forever_runs_one_iteration,
    run_until_complete_nested_is_an_error,
    stopped_before_complete_is_an_error,
    close_is_idempotent_and_refuses_work,
    one_loop_per_thread,
    panicking_callback_reaches_handler,
    broken_handler_falls_back_to_default,
    threadsafe_from_4_threads_loses_nothing,
    loop_handle_stop_and_closed,
    threadsafe_handle_cancels_from_any_thread,
    debug_mode_warns_about_slow_callbacks,
    flood_keeps_qt_responsive,
);

type Trace = Rc<RefCell<Vec<i64>>>;

fn rec(t: &Trace, v: i64) -> impl FnOnce() + 'static {
    let t = t.clone();
    move || t.borrow_mut().push(v)
}

/// Runs the loop until `stop()` is called after `secs` of loop time.
fn run_for(lp: &EventLoop, secs: f64) {
    let l = lp.clone();
    lp.call_later(secs, move || l.stop()).unwrap();
    lp.run_forever().unwrap();
}

fn fifo_under_100k_callbacks() {
    let lp = EventLoop::new().unwrap();
    let trace: Trace = Rc::default();
    for i in 0..100_000 {
        lp.call_soon(rec(&trace, i)).unwrap();
    }
    let l = lp.clone();
    lp.call_later(0.0, move || l.stop()).unwrap();
    lp.run_forever().unwrap();
    let t = trace.borrow();
    assert_eq!(t.len(), 100_000);
    assert!(t.windows(2).all(|w| w[0] + 1 == w[1]), "FIFO order");
    lp.close().unwrap();
}

fn equal_deadlines_keep_scheduling_order() {
    let lp = EventLoop::new().unwrap();
    let trace: Trace = Rc::default();
    let when = lp.time() + 0.02;
    for i in 0..50 {
        lp.call_at(when, rec(&trace, i)).unwrap();
    }
    lp.call_at(when - 0.01, rec(&trace, -1)).unwrap();
    run_for(&lp, 0.05);
    let mut expect = vec![-1];
    expect.extend(0..50);
    assert_eq!(*trace.borrow(), expect);
    lp.close().unwrap();
}

fn scheduled_in_iteration_runs_in_next() {
    let lp = EventLoop::new().unwrap();
    let trace: Trace = Rc::default();
    let (l, t) = (lp.clone(), trace.clone());
    lp.call_soon(move || {
        t.borrow_mut().push(1);
        l.call_soon(rec(&t, 3)).unwrap();
        l.stop(); // run_forever returns after this iteration
    })
    .unwrap();
    lp.call_soon(rec(&trace, 2)).unwrap();
    lp.run_forever().unwrap();
    assert_eq!(*trace.borrow(), [1, 2], "3 waits for the next iteration");
    lp.stop();
    lp.run_forever().unwrap();
    assert_eq!(*trace.borrow(), [1, 2, 3]);
    lp.close().unwrap();
}

fn cancelled_never_run() {
    let lp = EventLoop::new().unwrap();
    let trace: Trace = Rc::default();
    let h = lp.call_soon(rec(&trace, 1)).unwrap();
    let t = lp.call_later(0.01, rec(&trace, 2)).unwrap();
    let t2 = lp.call_later(0.02, rec(&trace, 3)).unwrap();
    h.cancel();
    t.cancel();
    let t2c = t2.clone();
    lp.call_later(0.015, move || t2c.cancel()).unwrap();
    lp.call_soon(rec(&trace, 4)).unwrap();
    run_for(&lp, 0.05);
    assert_eq!(*trace.borrow(), [4]);
    assert!(h.cancelled() && t.cancelled() && t2.cancelled());
    lp.close().unwrap();
}

fn timers_fire_on_time_not_early() {
    let lp = EventLoop::new().unwrap();
    let seen: Rc<RefCell<Vec<(f64, f64)>>> = Rc::default();
    for ms in [1u32, 3, 5, 12, 30] {
        let (l, s) = (lp.clone(), seen.clone());
        let h = lp.call_later(ms as f64 / 1000.0, move || {}).unwrap();
        let when = h.when();
        lp.call_at(when, move || s.borrow_mut().push((when, l.time())))
            .unwrap();
    }
    run_for(&lp, 0.06);
    let seen = seen.borrow();
    assert_eq!(seen.len(), 5);
    for &(when, at) in seen.iter() {
        assert!(at >= when, "ran {:.6} s early", when - at);
        assert!(at - when < 0.05, "ran {:.3} s late", at - when);
    }
    lp.close().unwrap();
}

fn call_at_with_instant_and_loop_time() {
    let lp = EventLoop::new().unwrap();
    let trace: Trace = Rc::default();
    lp.call_at(Instant::now() + Duration::from_millis(20), rec(&trace, 1))
        .unwrap();
    lp.call_at(lp.time() + 0.01, rec(&trace, 2)).unwrap();
    lp.call_later(Duration::from_millis(5), rec(&trace, 3))
        .unwrap();
    run_for(&lp, 0.04);
    assert_eq!(*trace.borrow(), [3, 2, 1]);
    lp.close().unwrap();
}

fn invalid_delays_are_errors() {
    let lp = EventLoop::new().unwrap();
    assert!(matches!(lp.call_later(f64::NAN, || {}), Err(Error::InvalidDelay(d)) if d.is_nan()));
    assert!(matches!(
        lp.call_later(f64::INFINITY, || {}),
        Err(Error::InvalidDelay(_))
    ));
    assert!(matches!(
        lp.call_at(f64::NEG_INFINITY, || {}),
        Err(Error::InvalidDelay(_))
    ));
    let msg = lp.call_later(f64::NAN, || {}).unwrap_err().to_string();
    assert!(msg.contains("finite number of seconds"), "{msg}");
    // Huge delays are accepted (they saturate), as asyncio accepts them.
    let h = lp.call_later(1e300, || {}).unwrap();
    assert!(h.when() > 1e9);
    lp.close().unwrap();
}

fn stop_before_run_forever_runs_one_iteration() {
    let lp = EventLoop::new().unwrap();
    let trace: Trace = Rc::default();
    let (l, t) = (lp.clone(), trace.clone());
    lp.call_soon(move || {
        t.borrow_mut().push(1);
        l.call_soon(rec(&t, 2)).unwrap();
    })
    .unwrap();
    lp.stop();
    lp.run_forever().unwrap();
    assert_eq!(*trace.borrow(), [1], "exactly one iteration ran");
    assert!(!lp.is_running());
    lp.close().unwrap();
}

fn run_until_complete_nested_is_an_error() {
    let lp = EventLoop::new().unwrap();
    let l = lp.clone();
    let inner = lp
        .run_until_complete(async move {
            assert!(l.is_running());
            let err = l.run_until_complete(async {}).unwrap_err();
            let err2 = l.run_forever().unwrap_err();
            (err, err2)
        })
        .unwrap();
    assert_eq!(inner, (Error::AlreadyRunning, Error::AlreadyRunning));
    assert_eq!(inner.0.to_string(), "This event loop is already running");
    assert!(!lp.is_running());
    lp.close().unwrap();
}

fn stopped_before_complete_is_an_error() {
    let lp = EventLoop::new().unwrap();
    let l = lp.clone();
    lp.call_later(0.01, move || l.stop()).unwrap();
    let r = lp.run_until_complete(async {
        qtloop::sleep(5.0).await.unwrap();
    });
    assert_eq!(r, Err(Error::StoppedBeforeComplete));
    assert_eq!(
        Error::StoppedBeforeComplete.to_string(),
        "Event loop stopped before Future completed."
    );
    lp.close().unwrap();
}

fn close_is_idempotent_and_refuses_work() {
    let lp = EventLoop::new().unwrap();
    let dropped = Rc::new(Cell::new(0));
    struct Probe(Rc<Cell<i32>>);
    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let p1 = Probe(dropped.clone());
    let p2 = Probe(dropped.clone());
    lp.call_soon(move || drop(p1)).unwrap();
    lp.call_later(100.0, move || drop(p2)).unwrap();
    lp.close().unwrap();
    assert_eq!(dropped.get(), 2, "queued callbacks are dropped at close");
    lp.close().unwrap();
    assert!(lp.is_closed());
    assert_eq!(lp.call_soon(|| {}).unwrap_err(), Error::Closed);
    assert_eq!(lp.call_later(0.1, || {}).unwrap_err(), Error::Closed);
    assert_eq!(lp.run_forever().unwrap_err(), Error::Closed);
    assert_eq!(lp.run_until_complete(async {}).unwrap_err(), Error::Closed);
    assert_eq!(
        lp.handle().call_soon_threadsafe(|| {}).unwrap_err(),
        Error::Closed
    );
    assert_eq!(Error::Closed.to_string(), "Event loop is closed");
}

fn one_loop_per_thread() {
    let lp = EventLoop::new().unwrap();
    assert_eq!(EventLoop::new().unwrap_err(), Error::LoopExists);
    assert!(qtloop::get_running_loop().is_err(), "not running yet");
    let got = lp
        .run_until_complete(async { qtloop::get_running_loop().is_ok() })
        .unwrap();
    assert!(got);
    lp.close().unwrap();
    let again = EventLoop::new().unwrap();
    again.close().unwrap();
}

fn panicking_callback_reaches_handler() {
    let lp = EventLoop::new().unwrap();
    let got: Rc<RefCell<Vec<ExceptionContext>>> = Rc::default();
    let g = got.clone();
    lp.set_exception_handler(Some(move |_: &EventLoop, ctx: &ExceptionContext| {
        g.borrow_mut().push(ctx.clone())
    }));
    let trace: Trace = Rc::default();
    lp.call_soon(|| panic!("kaboom")).unwrap();
    lp.call_soon(rec(&trace, 1)).unwrap();
    lp.call_later(0.005, || panic!("late kaboom")).unwrap();
    lp.call_later(0.01, rec(&trace, 2)).unwrap();
    run_for(&lp, 0.03);
    assert_eq!(*trace.borrow(), [1, 2], "the loop kept running");
    let got = got.borrow();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].panic.as_deref(), Some("kaboom"));
    assert!(got[0].message.starts_with("Exception in callback"));
    assert!(got[0].location.unwrap().file().ends_with("scheduling.rs"));
    assert_eq!(got[1].panic.as_deref(), Some("late kaboom"));
    lp.close().unwrap();
}

fn broken_handler_falls_back_to_default() {
    let lp = EventLoop::new().unwrap();
    lp.set_exception_handler(Some(|_: &EventLoop, _: &ExceptionContext| {
        panic!("handler is broken")
    }));
    lp.call_soon(|| panic!("original")).unwrap();
    let trace: Trace = Rc::default();
    lp.call_soon(rec(&trace, 1)).unwrap();
    run_for(&lp, 0.01);
    assert_eq!(*trace.borrow(), [1]);
    let logs = crate::take_logs();
    let errors: Vec<_> = logs
        .iter()
        .filter(|(l, _)| *l == log::Level::Error)
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("Unhandled error in exception handler"));
    assert!(errors[0].contains("handler is broken"));
    assert!(
        errors[0].contains("original"),
        "the original context is kept"
    );
    // None restores the default handler.
    lp.set_exception_handler(None::<fn(&EventLoop, &ExceptionContext)>);
    lp.call_soon(|| panic!("third")).unwrap();
    run_for(&lp, 0.01);
    let logs = crate::take_logs();
    assert!(logs
        .iter()
        .any(|(l, m)| *l == log::Level::Error && m.contains("third")));
    lp.close().unwrap();
}

fn threadsafe_from_4_threads_loses_nothing() {
    let lp = EventLoop::new().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let order_ok = Arc::new(AtomicUsize::new(0));
    let handle = lp.handle();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let h = handle.clone();
            let c = count.clone();
            let ok = order_ok.clone();
            std::thread::spawn(move || {
                let last = Arc::new(AtomicUsize::new(0));
                for i in 1..=10_000usize {
                    let c = c.clone();
                    let ok = ok.clone();
                    let last = last.clone();
                    h.call_soon_threadsafe(move || {
                        // Per-thread FIFO: each thread's posts run in order.
                        if last.swap(i, Ordering::Relaxed) == i - 1 {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        c.fetch_add(1, Ordering::Relaxed);
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    let l = lp.clone();
    let c = count.clone();
    lp.run_until_complete(async move {
        for t in threads {
            while !t.is_finished() {
                qtloop::sleep(0.001).await.unwrap();
            }
        }
        while c.load(Ordering::Relaxed) < 40_000 {
            qtloop::sleep(0.001).await.unwrap();
        }
        drop(l);
    })
    .unwrap();
    assert_eq!(count.load(Ordering::Relaxed), 40_000);
    assert_eq!(order_ok.load(Ordering::Relaxed), 40_000);
    lp.close().unwrap();
}

fn loop_handle_stop_and_closed() {
    let lp = EventLoop::new().unwrap();
    let h = lp.handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        h.stop();
        h
    });
    let start = Instant::now();
    lp.run_forever().unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    let h = t.join().unwrap();
    assert!(!h.is_closed());
    lp.close().unwrap();
    assert!(h.is_closed());
    assert_eq!(h.call_soon_threadsafe(|| {}).unwrap_err(), Error::Closed);
}

fn debug_mode_warns_about_slow_callbacks() {
    let lp = EventLoop::new().unwrap();
    assert!(!lp.get_debug());
    assert_eq!(lp.slow_callback_duration(), Duration::from_millis(100));
    lp.set_debug(true);
    lp.set_slow_callback_duration(Duration::from_millis(20));
    lp.call_soon(|| std::thread::sleep(Duration::from_millis(40)))
        .unwrap();
    lp.call_soon(|| {}).unwrap();
    run_for(&lp, 0.01);
    let warns: Vec<_> = crate::take_logs()
        .into_iter()
        .filter(|(l, _)| *l == log::Level::Warn)
        .collect();
    assert_eq!(warns.len(), 1, "{warns:?}");
    assert!(warns[0].1.starts_with("Executing "));
    assert!(warns[0].1.contains(" took 0.0"), "{}", warns[0].1);
    assert!(warns[0].1.ends_with(" seconds"));
    lp.close().unwrap();
}

/// A flood of callbacks must not freeze Qt: a Qt-side 1 ms precise QTimer
/// keeps ticking while 200k chained callbacks and a 200k fan-out run.
fn flood_keeps_qt_responsive() {
    let lp = EventLoop::new().unwrap();
    let n = Rc::new(Cell::new(0u32));
    fn hop(lp: EventLoop, n: Rc<Cell<u32>>) {
        n.set(n.get() + 1);
        if n.get() < 200_000 {
            let l = lp.clone();
            lp.call_soon(move || hop(l, n)).unwrap();
        } else {
            lp.stop();
        }
    }
    let probe = qtloop::qt::TimerProbe::start(Duration::from_millis(1));
    let fanout = Rc::new(Cell::new(0u32));
    for _ in 0..200_000 {
        let f = fanout.clone();
        lp.call_soon(move || f.set(f.get() + 1)).unwrap();
    }
    let l = lp.clone();
    lp.call_soon(move || hop(l, n)).unwrap();
    let start = Instant::now();
    lp.run_forever().unwrap();
    let took = start.elapsed();
    let (ticks, max_gap) = (probe.ticks(), probe.max_gap());
    drop(probe);
    assert_eq!(fanout.get(), 200_000);
    assert!(ticks > 3, "the Qt timer ticked {ticks} times in {took:?}");
    // DESIGN: control goes back to Qt every few ms; allow for a noisy machine.
    assert!(
        max_gap < Duration::from_millis(50),
        "the Qt timer's longest gap was {max_gap:?} ({ticks} ticks in {took:?})"
    );
    lp.close().unwrap();
}

fn threadsafe_handle_cancels_from_any_thread() {
    let lp = EventLoop::new().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let (h, r) = (lp.handle(), ran.clone());
    let handle = std::thread::spawn(move || {
        h.call_soon_threadsafe(move || {
            r.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap()
    })
    .join()
    .unwrap();
    // Cancelled from yet another thread before the loop ran it.
    let h2 = handle.clone();
    std::thread::spawn(move || h2.cancel()).join().unwrap();
    run_for(&lp, 0.01);
    assert!(handle.cancelled());
    assert_eq!(ran.load(Ordering::Relaxed), 0);
    lp.close().unwrap();
}

/// The public timer primitive that `sleep` and `PeriodicTask` use.
fn call_at_send_cancels_from_another_thread() {
    let lp = EventLoop::new().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let (r1, r2) = (ran.clone(), ran.clone());
    let kept = lp
        .call_at_send(lp.now() + Duration::from_millis(10), move || {
            r1.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let dropped = lp
        .call_at_send(lp.time() + 0.01, move || {
            r2.fetch_add(10, Ordering::SeqCst);
        })
        .unwrap();
    let h = lp.handle();
    assert!(h.is_current());
    std::thread::spawn(move || {
        assert!(!h.is_current());
        dropped.cancel();
        assert!(dropped.cancelled());
    })
    .join()
    .unwrap();
    lp.run_until_complete(qtloop::sleep(0.03)).unwrap().unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert!(!kept.cancelled());
    assert!(kept.when() <= lp.time());
    lp.close().unwrap();
    assert!(matches!(
        lp.call_at_send(0.0, || {}),
        Err(qtloop::Error::Closed)
    ));
}

fn now_is_exact_and_follows_the_paused_clock() {
    let lp = EventLoop::new().unwrap();
    lp.pause_clock();
    let t0 = lp.now();
    std::thread::sleep(Duration::from_millis(2));
    assert_eq!(lp.now(), t0, "paused");
    lp.advance(Duration::from_nanos(1));
    assert_eq!(
        lp.now().saturating_duration_since(t0),
        Duration::from_nanos(1)
    );
    assert!((lp.now().as_secs_f64() - lp.time()).abs() < 1e-9);
    assert_eq!(
        t0 + Duration::MAX,
        qtloop::time::LoopTime::from_nanos(u64::MAX)
    );
    lp.resume_clock();
    lp.close().unwrap();
}

/// Without a `log` logger, the default exception handler had nothing to
/// write to: a panicking callback was silent. Now it prints to stderr.
fn without_a_logger_panics_are_printed_to_stderr() {
    let stderr = crate::child_stderr("panic_without_logger", &[]);
    assert!(stderr.contains("qtloop: Exception in callback"), "{stderr}");
    assert!(stderr.contains("panic: nobody logs me"), "{stderr}");
    assert!(stderr.contains("and the loop went on"), "{stderr}");
}

/// A child process with no logger: a callback panics, the loop goes on.
pub fn panic_without_logger_child() {
    std::panic::set_hook(Box::new(|_| {})); // only the handler's report
    let lp = EventLoop::new().unwrap();
    lp.call_soon(|| panic!("nobody logs me")).unwrap();
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
    eprintln!("and the loop went on");
    lp.close().unwrap();
}
