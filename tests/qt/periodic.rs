//! libqi's PeriodicTask (a port of libqi's test_periodictask, plus drift,
//! race and local-callback tests).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qtloop::qi::PeriodicTask;
use qtloop::{Error, EventLoop, ExceptionContext};

/// A task whose callback counts its calls.
fn counting_task() -> (Arc<PeriodicTask>, Arc<AtomicUsize>) {
    let task = Arc::new(PeriodicTask::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    task.set_callback(move || {
        c.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    (task, calls)
}

fn run_for(lp: &EventLoop, secs: f64) {
    lp.run_until_complete(qtloop::sleep(secs)).unwrap().unwrap();
}

cases!(periodic:
    periodic_basic_20_calls_with_gaps,
    periodic_errors,
    periodic_exception_stops_the_task,
    periodic_stop_waits_for_the_callback,
    periodic_stop_from_the_task,
    periodic_start_is_noop_when_running,
    periodic_500_start_stop_no_deadlock,
    periodic_trigger_from_4_threads,
    periodic_last_call_wins,
    periodic_period_change_inside_callback,
    periodic_compensated_does_not_drift,
    periodic_local_callback_touches_loop_state,
);

/// libqi test_periodictask "Basic": 20 calls, each gap >= the period
/// (without compensation the period counts from the end of a call).
fn periodic_basic_20_calls_with_gaps() {
    let lp = EventLoop::new().unwrap();
    let task = Arc::new(PeriodicTask::new());
    let calls = Arc::new(Mutex::new(Vec::<(Instant, Instant)>::new()));
    let c = calls.clone();
    let t = task.clone();
    task.set_callback(move || {
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        let mut c = c.lock().unwrap();
        c.push((start, Instant::now()));
        if c.len() == 20 {
            t.async_stop();
        }
    })
    .unwrap();
    task.set_us_period(10_000).unwrap();
    task.start(true).unwrap();
    assert!(task.is_running());
    let l = lp.clone();
    let t2 = task.clone();
    lp.run_until_complete(async move {
        while t2.is_running() {
            qtloop::sleep(0.01).await.unwrap();
        }
        drop(l);
    })
    .unwrap();
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 20);
    for w in calls.windows(2) {
        let gap = w[1].0 - w[0].1;
        assert!(gap >= Duration::from_millis(10), "gap {gap:?} < period");
    }
    assert!(task.is_stopping() && !task.is_running());
    lp.close().unwrap();
}

fn periodic_errors() {
    let lp = EventLoop::new().unwrap();
    let task = PeriodicTask::new();
    assert!(matches!(task.start(true), Err(Error::InvalidArgument(_))));
    task.set_callback(|| {}).unwrap();
    assert_eq!(task.set_callback(|| {}), Err(Error::CallbackAlreadySet));
    assert_eq!(task.start(true), Err(Error::InvalidPeriod));
    assert_eq!(task.set_us_period(0), Err(Error::InvalidPeriod));
    assert_eq!(task.set_us_period(-5), Err(Error::InvalidPeriod));
    assert_eq!(task.set_period(Duration::ZERO), Err(Error::InvalidPeriod));
    task.set_period(Duration::from_millis(1)).unwrap();
    assert_eq!(task.period(), Some(Duration::from_millis(1)));
    task.set_name("named");
    assert_eq!(task.name(), "named");
    lp.close().unwrap();
    // No loop to run on.
    let orphan = std::thread::spawn(|| {
        let t = PeriodicTask::new();
        t.set_callback(|| {}).unwrap();
        t.set_us_period(1000).unwrap();
        t.start(true)
    })
    .join()
    .unwrap();
    assert_eq!(orphan, Err(Error::NoRunningLoop));
}

/// libqi "Exception": a panicking callback stops the task and reaches the
/// loop's exception handler.
fn periodic_exception_stops_the_task() {
    let lp = EventLoop::new().unwrap();
    let got = Arc::new(Mutex::new(Vec::<ExceptionContext>::new()));
    let g = got.clone();
    lp.set_exception_handler(Some(move |_: &EventLoop, c: &ExceptionContext| {
        g.lock().unwrap().push(c.clone())
    }));
    let task = PeriodicTask::new();
    task.set_name("crashy");
    let n = Arc::new(AtomicU32::new(0));
    let c = n.clone();
    task.set_callback(move || {
        if c.fetch_add(1, Ordering::SeqCst) == 2 {
            panic!("periodic boom");
        }
    })
    .unwrap();
    task.set_us_period(1000).unwrap();
    task.start(true).unwrap();
    run_for(&lp, 0.05);
    assert_eq!(n.load(Ordering::SeqCst), 3, "stopped at the panic");
    assert!(!task.is_running());
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].panic.as_deref(), Some("periodic boom"));
    assert!(got[0].message.contains("crashy"));
    lp.close().unwrap();
}

/// libqi "Stop": stop() from another thread blocks while a 500 ms callback
/// runs, and the callback is never called again.
fn periodic_stop_waits_for_the_callback() {
    let lp = EventLoop::new().unwrap();
    let task = Arc::new(PeriodicTask::new());
    let started = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU32::new(0));
    let (s, f, c) = (started.clone(), finished.clone(), calls.clone());
    task.set_callback(move || {
        c.fetch_add(1, Ordering::SeqCst);
        s.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(500));
        f.store(true, Ordering::SeqCst);
    })
    .unwrap();
    task.set_us_period(1000).unwrap();
    task.start(true).unwrap();
    let (t, s, f) = (task.clone(), started.clone(), finished.clone());
    let stopper = std::thread::spawn(move || {
        while !s.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let t0 = Instant::now();
        t.stop();
        (t0.elapsed(), f.load(Ordering::SeqCst))
    });
    lp.run_until_complete({
        async move {
            while !stopper.is_finished() {
                qtloop::sleep(0.01).await.unwrap();
            }
            let (waited, finished_when_stop_returned) = stopper.join().unwrap();
            assert!(
                waited >= Duration::from_millis(300),
                "stop waited {waited:?}"
            );
            assert!(finished_when_stop_returned);
        }
    })
    .unwrap();
    run_for(&lp, 0.05);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "never called again");
    lp.close().unwrap();
}

/// libqi "StopFromTask": stop() inside the callback returns at once.
fn periodic_stop_from_the_task() {
    let lp = EventLoop::new().unwrap();
    let task = Arc::new(PeriodicTask::new());
    let calls = Arc::new(AtomicU32::new(0));
    let (t, c) = (task.clone(), calls.clone());
    task.set_callback(move || {
        c.fetch_add(1, Ordering::SeqCst);
        t.stop(); // must not deadlock
        assert!(t.is_stopping());
    })
    .unwrap();
    task.set_us_period(1000).unwrap();
    task.start(true).unwrap();
    run_for(&lp, 0.05);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(!task.is_running());
    lp.close().unwrap();
}

/// libqi "StartIsNoop".
fn periodic_start_is_noop_when_running() {
    let lp = EventLoop::new().unwrap();
    let task = PeriodicTask::new();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    task.set_callback(move || {
        c.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    task.set_period(Duration::from_millis(50)).unwrap();
    task.start(true).unwrap();
    task.start(true).unwrap();
    task.start(true).unwrap();
    run_for(&lp, 0.03);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one schedule, not three");
    task.stop();
    lp.close().unwrap();
}

/// libqi "DeadLock": 500 start/stop cycles from another thread.
fn periodic_500_start_stop_no_deadlock() {
    let lp = EventLoop::new().unwrap();
    let task = Arc::new(PeriodicTask::new());
    task.set_callback(|| std::thread::sleep(Duration::from_micros(50)))
        .unwrap();
    task.set_us_period(100).unwrap();
    let t = task.clone();
    let worker = std::thread::spawn(move || {
        for _ in 0..500 {
            t.start(true).unwrap();
            std::thread::sleep(Duration::from_micros(20));
            t.stop();
        }
    });
    lp.run_until_complete(async move {
        while !worker.is_finished() {
            qtloop::sleep(0.001).await.unwrap();
        }
        worker.join().unwrap();
    })
    .unwrap();
    assert!(!task.is_running());
    lp.close().unwrap();
}

/// libqi "Trigger": 4 threads × 1000 triggers while the task runs.
fn periodic_trigger_from_4_threads() {
    let lp = EventLoop::new().unwrap();
    let (task, calls) = counting_task();
    task.set_period(Duration::from_secs(3600)).unwrap();
    task.start(false).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let t = task.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    t.trigger();
                }
            })
        })
        .collect();
    lp.run_until_complete(async move {
        for t in threads {
            while !t.is_finished() {
                qtloop::sleep(0.001).await.unwrap();
            }
        }
        qtloop::sleep(0.02).await.unwrap();
    })
    .unwrap();
    let n = calls.load(Ordering::SeqCst);
    assert!((1..=4000).contains(&n), "{n} calls");
    assert!(task.is_running());
    task.stop();
    lp.close().unwrap();
}

/// Concurrent start/stop is defined: the last call wins.
fn periodic_last_call_wins() {
    let lp = EventLoop::new().unwrap();
    let (task, calls) = counting_task();
    task.set_us_period(1000).unwrap();
    // Racing threads; then a final start from one thread.
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let t = task.clone();
            std::thread::spawn(move || {
                for k in 0..200 {
                    if (i + k) % 2 == 0 {
                        t.start(k % 3 == 0).unwrap();
                    } else {
                        t.async_stop();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let t = task.clone();
    std::thread::spawn(move || t.start(true).unwrap())
        .join()
        .unwrap();
    run_for(&lp, 0.03);
    assert!(task.is_running(), "the last call (start) won");
    let before = calls.load(Ordering::SeqCst);
    assert!(before > 0);
    let t = task.clone();
    std::thread::spawn(move || t.stop()).join().unwrap();
    let at_stop = calls.load(Ordering::SeqCst);
    run_for(&lp, 0.03);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        at_stop,
        "the last call (stop) won"
    );
    assert!(!task.is_running());
    lp.close().unwrap();
}

fn periodic_period_change_inside_callback() {
    let lp = EventLoop::new().unwrap();
    let task = Arc::new(PeriodicTask::new());
    let stamps = Arc::new(Mutex::new(Vec::new()));
    let (t, s) = (task.clone(), stamps.clone());
    task.set_callback(move || {
        let mut s = s.lock().unwrap();
        s.push(Instant::now());
        if s.len() == 1 {
            // Applies to the very next scheduling.
            t.set_period(Duration::from_millis(40)).unwrap();
        }
    })
    .unwrap();
    task.set_period(Duration::from_millis(5)).unwrap();
    task.start(true).unwrap();
    run_for(&lp, 0.06);
    task.stop();
    let s = stamps.lock().unwrap();
    assert!(s.len() >= 2);
    assert!(
        s[1] - s[0] >= Duration::from_millis(40),
        "{:?}",
        s[1] - s[0]
    );
    lp.close().unwrap();
}

/// A compensated 10 ms task whose calls take 3 ms keeps a 10 ms cadence
/// over 200 calls: the period counts from the planned start, so the 3 ms
/// do not add up (without compensation the calls come every 13 ms). A stall
/// of the machine longer than a period re-bases the schedule once, as in
/// libqi (no burst of catch-up calls), so the bound is on the mean gap.
fn periodic_compensated_does_not_drift() {
    let lp = EventLoop::new().unwrap();
    let task = PeriodicTask::new();
    let starts = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let s = starts.clone();
    task.set_callback(move || {
        s.lock().unwrap().push(Instant::now());
        std::thread::sleep(Duration::from_millis(3)); // 30% of the period
    })
    .unwrap();
    task.compensate_callback_time(true);
    task.set_period(Duration::from_millis(10)).unwrap();
    task.start(true).unwrap();
    let s = starts.clone();
    lp.run_until_complete(async move {
        while s.lock().unwrap().len() < 200 {
            qtloop::sleep(0.01).await.unwrap();
        }
    })
    .unwrap();
    task.stop();
    let starts = starts.lock().unwrap();
    let mean = (starts[199] - starts[0]) / 199;
    assert!(
        mean <= Duration::from_micros(10_300),
        "the mean gap was {mean:?}: the call time adds up"
    );
    lp.close().unwrap();
}

/// A `!Send` callback (GUI-style `Rc` state) on the loop thread; the task
/// is still controlled from another thread.
fn periodic_local_callback_touches_loop_state() {
    use std::cell::Cell;
    use std::rc::Rc;
    let lp = EventLoop::new().unwrap();
    let label = Rc::new(Cell::new(0u32)); // stands for a GUI object
    let task = Arc::new(PeriodicTask::new());
    let l = label.clone();
    task.set_callback_local(move || l.set(l.get() + 1)).unwrap();
    assert_eq!(task.set_callback(|| {}), Err(Error::CallbackAlreadySet));
    task.set_us_period(2000).unwrap();
    let t = task.clone();
    std::thread::spawn(move || t.start(true).unwrap())
        .join()
        .unwrap();
    run_for(&lp, 0.03);
    let t = task.clone();
    std::thread::spawn(move || t.stop()).join().unwrap();
    let n = label.get();
    assert!(n >= 3, "{n} calls");
    run_for(&lp, 0.01);
    assert_eq!(label.get(), n);
    // Off the loop thread it is refused.
    let other = Arc::new(PeriodicTask::with_loop(lp.handle()));
    let o = other.clone();
    let r = std::thread::spawn(move || o.set_callback_local(|| {}))
        .join()
        .unwrap();
    assert!(matches!(r, Err(Error::WrongThread(_))));
    drop(task);
    drop(other);
    lp.close().unwrap();
}
