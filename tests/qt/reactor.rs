//! The reactor on real Qt: deadlines that sleep in the kernel (CPU measured
//! with getrusage), asyncio's add_reader/add_writer on socketpairs, in
//! nested Qt loops and on QThread loops, and fds closed under a notifier.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use qtloop::qi::PeriodicTask;
use qtloop::{Error, EventLoop};

cases!(reactor:
    deadlines_use_a_timerfd,
    a_sleep_loop_costs_almost_no_cpu,
    a_1ms_periodic_task_sleeps_between_calls,
    hundred_sleepers_cost_little_cpu,
    sub_millisecond_timers_are_never_early,
    qtimer_fallback_rounds_up_and_sleeps,
    readers_run_in_fifo_order_and_are_level_triggered,
    a_second_reader_replaces_the_first,
    remove_reader_from_its_own_callback,
    no_callback_after_remove_reader,
    writers_run_until_removed,
    bad_fds_and_closed_loops_are_errors,
    reader_panics_reach_the_handler_and_it_keeps_reading,
    fd_closed_under_a_reader_is_reported_and_does_not_spin,
    reader_runs_inside_a_modal_qeventloop,
    readers_work_on_a_qthread_loop,
    close_drops_readers,
    close_deletes_the_notifiers,
    a_reader_that_removes_itself_and_panics_in_drop,
    panicking_drops_at_close_are_reported_one_by_one,
    dropping_the_loop_with_live_sockets_frees_the_thread,
    a_closed_fd_is_reported_without_any_other_wake_up,
    a_waiter_whose_fd_is_released_gets_an_error,
);

use crate::PanicOnDrop;

/// Installs a handler that records each report's panic message.
fn record_panics(lp: &EventLoop) -> Rc<RefCell<Vec<String>>> {
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let s = seen.clone();
    lp.set_exception_handler(Some(
        move |_: &EventLoop, ctx: &qtloop::ExceptionContext| {
            s.borrow_mut()
                .push(ctx.panic.clone().unwrap_or_else(|| ctx.message.clone()));
        },
    ));
    seen
}

/// CPU time of this thread: the scheduler's own nanoseconds on CPU
/// (`/proc/thread-self/schedstat`; rustix's vDSO clock does not run under
/// valgrind, which `scripts/leakcheck` uses).
pub fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    let ns = stat
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .expect("on-CPU ns");
    Duration::from_nanos(ns)
}

/// Whether CPU and latency bounds apply: not under valgrind
/// (`scripts/leakcheck` runs the close cases there, 20-50 times slower).
pub fn timing_bounds_apply() -> bool {
    std::env::var_os("QTLOOP_UNDER_VALGRIND").is_none()
}

/// Runs `lp` for `secs` and returns the loop thread's CPU share (0..1).
fn cpu_share_while_running(lp: &EventLoop, secs: f64) -> f64 {
    let (cpu0, t0) = (thread_cpu(), Instant::now());
    let l = lp.clone();
    lp.call_later(secs, move || l.stop()).unwrap();
    lp.run_forever().unwrap();
    (thread_cpu() - cpu0).as_secs_f64() / t0.elapsed().as_secs_f64()
}

fn deadlines_use_a_timerfd() {
    let lp = EventLoop::new().unwrap();
    assert_eq!(lp.deadline_timer(), "timerfd");
    lp.close().unwrap();
}

fn a_sleep_loop_costs_almost_no_cpu() {
    let lp = EventLoop::new().unwrap();
    let wakes = Rc::new(Cell::new(0u32));
    let w = wakes.clone();
    lp.create_task(async move {
        loop {
            qtloop::sleep(Duration::from_millis(10)).await.unwrap();
            w.set(w.get() + 1);
        }
    });
    let share = cpu_share_while_running(&lp, 1.0);
    // The old driver spun through the last sub-millisecond of every wait
    // (8-9 % of a core in release). Sleeping costs a wake-up per 10 ms.
    assert!(
        share < 0.04,
        "one 10 ms sleeper used {:.1} % of a core",
        share * 100.0
    );
    assert!(
        (80..=101).contains(&wakes.get()),
        "{} wakes in 1 s",
        wakes.get()
    );
    lp.close().unwrap();
}

fn a_1ms_periodic_task_sleeps_between_calls() {
    let lp = EventLoop::new().unwrap();
    let calls = Rc::new(Cell::new(0u32));
    let task = PeriodicTask::new();
    let c = calls.clone();
    task.set_callback_local(move || c.set(c.get() + 1)).unwrap();
    task.set_period(Duration::from_millis(1)).unwrap();
    task.compensate_callback_time(true);
    task.start(true).unwrap();
    let share = cpu_share_while_running(&lp, 1.0);
    task.stop();
    // It used 92-100 % of a core before; a wake-up per ms is far less.
    assert!(
        share < 0.5,
        "a 1 ms periodic task used {:.1} % of a core",
        share * 100.0
    );
    assert!(calls.get() >= 900, "{} calls in 1 s", calls.get());
    lp.close().unwrap();
}

fn hundred_sleepers_cost_little_cpu() {
    let lp = EventLoop::new().unwrap();
    let wakes = Rc::new(Cell::new(0u32));
    for i in 0..100u64 {
        let w = wakes.clone();
        lp.create_task(async move {
            qtloop::sleep(Duration::from_micros(i * 100)).await.unwrap(); // phases over 10 ms
            loop {
                qtloop::sleep(Duration::from_millis(10)).await.unwrap();
                w.set(w.get() + 1);
            }
        });
    }
    let share = cpu_share_while_running(&lp, 1.0);
    // 79-96 % of a core before.
    assert!(
        share < 0.35,
        "100 sleepers used {:.1} % of a core",
        share * 100.0
    );
    assert!(wakes.get() >= 8000, "{} wakes", wakes.get());
    lp.close().unwrap();
}

fn sub_millisecond_timers_are_never_early() {
    let lp = EventLoop::new().unwrap();
    let late: Rc<RefCell<Vec<f64>>> = Rc::default();
    for i in 0..200u32 {
        let delay = 0.0001 + f64::from(i) * 0.000_037; // 0.1 .. 7.5 ms, off the ms grid
        let (l, s) = (lp.clone(), late.clone());
        let when = lp.time() + delay;
        lp.call_at(when, move || s.borrow_mut().push(l.time() - when))
            .unwrap();
    }
    let l = lp.clone();
    lp.call_later(0.03, move || l.stop()).unwrap();
    lp.run_forever().unwrap();
    let late = late.borrow();
    assert_eq!(late.len(), 200);
    assert!(
        late.iter().all(|&d| d >= 0.0),
        "a timer ran early: {:?}",
        late.iter().cloned().fold(f64::MAX, f64::min)
    );
    lp.close().unwrap();
}

/// The fallback (a QTimer rounded up to whole ms) in a child process
/// started with `QTLOOP_TIMER=qtimer`.
fn qtimer_fallback_rounds_up_and_sleeps() {
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .env("QTLOOP_TEST_CHILD", "qtimer_fallback")
        .env("QTLOOP_TIMER", "qtimer")
        .spawn()
        .unwrap();
    let status = crate::wait_within(&mut child, Duration::from_secs(30), "the fallback child");
    assert!(status.success(), "the fallback child failed: {status}");
}

/// Child side of `qtimer_fallback_rounds_up_and_sleeps`.
pub fn qtimer_fallback_child() {
    let lp = EventLoop::new().unwrap();
    assert_eq!(lp.deadline_timer(), "qtimer");
    let late: Rc<RefCell<Vec<f64>>> = Rc::default();
    let l = lp.clone();
    let s = late.clone();
    lp.create_task(async move {
        for _ in 0..100 {
            let when = l.time() + 0.0004; // under a millisecond
            qtloop::sleep_until(when).await.unwrap();
            s.borrow_mut().push(l.time() - when);
        }
    });
    let share = cpu_share_while_running(&lp, 0.4);
    let late = late.borrow();
    assert!(late.len() >= 50, "{} sleeps done", late.len());
    assert!(late.iter().all(|&d| d >= 0.0), "a sleep ended early");
    assert!(
        share < 0.3,
        "the fallback used {:.1} % of a core",
        share * 100.0
    );
    lp.close().unwrap();
    println!(
        "qtimer fallback: {} sleeps, cpu {:.1} %",
        late.len(),
        share * 100.0
    );
}

/// Runs the loop until `done` is set or `limit` passes.
fn run_until(lp: &EventLoop, limit: f64, done: impl Fn() -> bool + 'static) {
    let l = lp.clone();
    let t0 = lp.time();
    fn check(l: EventLoop, t0: f64, limit: f64, done: Rc<dyn Fn() -> bool>) {
        if done() || l.time() - t0 > limit {
            l.stop();
        } else {
            let l2 = l.clone();
            l.call_later(0.001, move || check(l2, t0, limit, done))
                .unwrap();
        }
    }
    let done: Rc<dyn Fn() -> bool> = Rc::new(done);
    lp.call_soon(move || check(l, t0, limit, done)).unwrap();
    lp.run_forever().unwrap();
}

fn readers_run_in_fifo_order_and_are_level_triggered() {
    let lp = EventLoop::new().unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    a.write_all(b"xyz").unwrap();
    let trace: Rc<RefCell<Vec<String>>> = Rc::default();
    let t = trace.clone();
    let r = b.try_clone().unwrap();
    lp.add_reader(&b, move || {
        // Reads one byte per call: level-triggered, it is called again.
        let mut byte = [0u8; 1];
        if let Ok(1) = (&r).read(&mut byte) {
            t.borrow_mut().push((byte[0] as char).to_string());
        }
    })
    .unwrap();
    let t = trace.clone();
    lp.call_soon(move || t.borrow_mut().push("soon".into()))
        .unwrap();
    let t = trace.clone();
    run_until(&lp, 5.0, move || t.borrow().len() >= 4);
    assert_eq!(*trace.borrow(), ["soon", "x", "y", "z"]);
    assert!(lp.remove_reader(&b).unwrap());
    assert_eq!(lp.watched_fds(), 0, "the notifier is gone");
    lp.close().unwrap();
}

fn a_second_reader_replaces_the_first() {
    let lp = EventLoop::new().unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    let first = Rc::new(Cell::new(0));
    let second = Rc::new(Cell::new(0));
    let f = first.clone();
    lp.add_reader(&b, move || f.set(f.get() + 1)).unwrap();
    let (s, r) = (second.clone(), b.try_clone().unwrap());
    lp.add_reader(&b, move || {
        s.set(s.get() + 1);
        let _ = (&r).read(&mut [0u8; 16]);
    })
    .unwrap();
    a.write_all(b"1").unwrap();
    let s = second.clone();
    run_until(&lp, 5.0, move || s.get() > 0);
    assert_eq!((first.get(), second.get()), (0, 1));
    assert_eq!(lp.watched_fds(), 1, "one notifier for the fd");
    lp.close().unwrap();
}

fn remove_reader_from_its_own_callback() {
    let lp = EventLoop::new().unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    let calls = Rc::new(Cell::new(0));
    let (c, l, fd) = (calls.clone(), lp.clone(), b.as_raw_fd());
    lp.add_reader(&b, move || {
        c.set(c.get() + 1);
        assert!(l.remove_reader(fd).unwrap());
    })
    .unwrap();
    a.write_all(b"data that nobody reads").unwrap();
    let c = calls.clone();
    run_until(&lp, 0.2, move || c.get() > 5); // runs out the 0.2 s
    assert_eq!(calls.get(), 1, "removed from inside: never called again");
    lp.close().unwrap();
}

fn no_callback_after_remove_reader() {
    let lp = EventLoop::new().unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    lp.add_reader(&b, move || c.set(c.get() + 1)).unwrap();
    assert!(lp.remove_reader(&b).unwrap());
    assert!(!lp.remove_reader(&b).unwrap(), "nothing left to remove");
    a.write_all(b"late").unwrap();
    let c = calls.clone();
    run_until(&lp, 0.1, move || c.get() > 0);
    assert_eq!(calls.get(), 0);
    lp.close().unwrap();
}

fn writers_run_until_removed() {
    let lp = EventLoop::new().unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    let calls = Rc::new(Cell::new(0));
    let (c, l, fd) = (calls.clone(), lp.clone(), a.as_raw_fd());
    lp.add_writer(&a, move || {
        c.set(c.get() + 1);
        if c.get() == 3 {
            assert!(l.remove_writer(fd).unwrap());
        }
    })
    .unwrap();
    let c = calls.clone();
    run_until(&lp, 0.2, move || c.get() > 3);
    assert_eq!(
        calls.get(),
        3,
        "a writable fd calls its writer each iteration until removed"
    );
    lp.close().unwrap();
}

fn bad_fds_and_closed_loops_are_errors() {
    let lp = EventLoop::new().unwrap();
    assert_eq!(lp.add_reader(-1, || {}), Err(Error::InvalidFd(-1)));
    assert_eq!(
        lp.add_writer(987_654, || {}),
        Err(Error::InvalidFd(987_654))
    );
    assert_eq!(lp.remove_reader(987_654), Ok(false));
    let (a, _b) = UnixStream::pair().unwrap();
    lp.close().unwrap();
    assert_eq!(lp.add_reader(&a, || {}), Err(Error::Closed));
    assert_eq!(lp.remove_writer(&a), Ok(false));
}

fn reader_panics_reach_the_handler_and_it_keeps_reading() {
    let lp = EventLoop::new().unwrap();
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let s = seen.clone();
    lp.set_exception_handler(Some(
        move |_: &EventLoop, ctx: &qtloop::ExceptionContext| {
            s.borrow_mut().push(ctx.panic.clone().unwrap_or_default());
        },
    ));
    let (mut a, b) = UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    let r = b.try_clone().unwrap();
    lp.add_reader(&b, move || {
        let mut byte = [0u8; 1];
        (&r).read_exact(&mut byte).unwrap();
        panic!("reader saw {}", byte[0] as char);
    })
    .unwrap();
    a.write_all(b"ab").unwrap();
    let s = seen.clone();
    run_until(&lp, 5.0, move || s.borrow().len() >= 2);
    assert_eq!(*seen.borrow(), ["reader saw a", "reader saw b"]);
    lp.close().unwrap();
}

fn fd_closed_under_a_reader_is_reported_and_does_not_spin() {
    let lp = EventLoop::new().unwrap();
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let s = seen.clone();
    lp.set_exception_handler(Some(
        move |_: &EventLoop, ctx: &qtloop::ExceptionContext| {
            s.borrow_mut().push(ctx.message.clone());
        },
    ));
    let (a, b) = UnixStream::pair().unwrap();
    let fd = b.as_raw_fd();
    lp.add_reader(fd, || {}).unwrap();
    // Let Qt poll the fd once, then close it behind the loop's back.
    let l = lp.clone();
    lp.call_later(0.02, move || drop(b)).unwrap();
    let share = cpu_share_while_running(&l, 0.5);
    assert_eq!(seen.borrow().len(), 1, "reported once: {:?}", seen.borrow());
    assert!(
        seen.borrow()[0].contains(&format!("fd {fd} was closed")),
        "{:?}",
        seen.borrow()
    );
    assert_eq!(lp.watched_fds(), 0);
    assert!(
        share < 0.2 || !timing_bounds_apply(),
        "a closed fd made the loop spin: {:.0} % of a core",
        share * 100.0
    );
    drop(a);
    lp.close().unwrap();
}

fn reader_runs_inside_a_modal_qeventloop() {
    let lp = EventLoop::new().unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    let got = Rc::new(Cell::new(false));
    let nested = Rc::new(qtloop::qt::NestedEventLoop::new());
    let (g, n, r) = (got.clone(), nested.clone(), b.try_clone().unwrap());
    lp.add_reader(&b, move || {
        let _ = (&r).read(&mut [0u8; 8]);
        g.set(true);
        n.exit();
    })
    .unwrap();
    let (l, n) = (lp.clone(), nested.clone());
    lp.call_soon(move || {
        // A callback opens a modal loop; the data arrives while it runs.
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            a.write_all(b"hi").unwrap();
        });
        n.exec().unwrap();
        l.stop();
    })
    .unwrap();
    let l = lp.clone();
    let guard = lp.call_later(5.0, move || l.stop()).unwrap();
    lp.run_forever().unwrap();
    guard.cancel();
    assert!(got.get(), "the reader ran inside the nested loop");
    lp.close().unwrap();
}

fn readers_work_on_a_qthread_loop() {
    let handle = qtloop::qt::spawn_qthread("reactor-qthread", || {
        let lp = EventLoop::new().unwrap();
        let (mut a, b) = UnixStream::pair().unwrap();
        let (tx, rx) = futures::channel::oneshot::channel::<Vec<u8>>();
        let tx = RefCell::new(Some(tx));
        let r = b.try_clone().unwrap();
        lp.add_reader(&b, move || {
            let mut buf = [0u8; 16];
            let n = (&r).read(&mut buf).unwrap();
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(buf[..n].to_vec());
            }
        })
        .unwrap();
        std::thread::spawn(move || a.write_all(b"from afar").unwrap());
        let got = lp.run_until_complete(rx).unwrap().unwrap();
        lp.close().unwrap();
        got
    });
    assert_eq!(handle.join().unwrap(), b"from afar");
}

fn close_drops_readers() {
    let lp = EventLoop::new().unwrap();
    let (_a, b) = UnixStream::pair().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let guard = crate::DropFlag(dropped.clone());
    lp.add_reader(&b, move || {
        let _ = &guard;
    })
    .unwrap();
    assert_eq!(lp.watched_fds(), 1);
    lp.close().unwrap();
    assert!(dropped.get());
    assert_eq!(lp.watched_fds(), 0);
}

fn close_deletes_the_notifiers() {
    let lp = EventLoop::new().unwrap();
    let (_a, b) = UnixStream::pair().unwrap();
    let (_c, d) = UnixStream::pair().unwrap();
    lp.add_reader(&b, || {}).unwrap();
    lp.add_writer(&d, || {}).unwrap();
    assert_eq!(lp.watched_fds(), 2);
    lp.close().unwrap();
    assert_eq!(
        lp.watched_fds(),
        0,
        "no notifier outlives close() (its fd may close next)"
    );
}

fn a_reader_that_removes_itself_and_panics_in_drop() {
    let lp = EventLoop::new().unwrap();
    let seen = record_panics(&lp);
    let (mut a, b) = UnixStream::pair().unwrap();
    let (g, l, fd) = (PanicOnDrop("reader"), lp.clone(), b.as_raw_fd());
    lp.add_reader(fd, move || {
        let _keep = &g;
        l.remove_reader(fd).unwrap(); // the last reference goes after the call
    })
    .unwrap();
    a.write_all(b"x").unwrap();
    lp.run_until_complete(qtloop::sleep(0.05)).unwrap().unwrap();
    assert_eq!(*seen.borrow(), ["reader dropped"]);
    assert_eq!(
        qtloop::get_running_loop().err(),
        Some(Error::NoRunningLoop),
        "dispatch unwound cleanly"
    );
    lp.close().unwrap();
}

fn panicking_drops_at_close_are_reported_one_by_one() {
    let lp = EventLoop::new().unwrap();
    let seen = record_panics(&lp);
    let (_a, b) = UnixStream::pair().unwrap();
    let (_c, d) = UnixStream::pair().unwrap();
    for (fd, name) in [(b.as_raw_fd(), "reader 1"), (d.as_raw_fd(), "reader 2")] {
        let g = PanicOnDrop(name);
        lp.add_reader(fd, move || {
            let _keep = &g;
        })
        .unwrap();
    }
    for name in ["callback 1", "callback 2"] {
        let g = PanicOnDrop(name);
        lp.call_soon(move || drop(g)).unwrap();
    }
    let g = PanicOnDrop("timer");
    lp.call_later(10.0, move || drop(g)).unwrap();
    assert_eq!(lp.close(), Ok(()), "close() survives panicking drops");
    let mut seen = seen.borrow().clone();
    seen.sort();
    assert_eq!(
        seen,
        [
            "callback 1 dropped",
            "callback 2 dropped",
            "reader 1 dropped",
            "reader 2 dropped",
            "timer dropped"
        ]
    );
}

fn dropping_the_loop_with_live_sockets_frees_the_thread() {
    let fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    let before = fds();
    {
        let lp = EventLoop::new().unwrap();
        lp.run_until_complete(async {
            let (a, b) = UnixStream::pair().unwrap();
            let b = qtloop::net::Async::new(b).unwrap();
            qtloop::spawn_local(async move {
                let mut buf = [0u8; 1];
                futures::io::AsyncReadExt::read(&mut &b, &mut buf).await
            });
            qtloop::sleep(0.02).await.unwrap();
            drop(a);
        })
        .unwrap();
        // dropped without close()
    }
    let lp = EventLoop::new().expect("the dropped loop freed the thread");
    lp.close().unwrap();
    assert!(fds() <= before + 1, "fds leaked: {} -> {}", before, fds());
}

fn a_closed_fd_is_reported_without_any_other_wake_up() {
    let lp = EventLoop::new().unwrap();
    let (tx, rx) = futures::channel::oneshot::channel::<String>();
    let tx = RefCell::new(Some(tx));
    lp.set_exception_handler(Some(
        move |_: &EventLoop, ctx: &qtloop::ExceptionContext| {
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(ctx.message.clone());
            }
        },
    ));
    let (_a, b) = UnixStream::pair().unwrap();
    lp.add_reader(b.as_raw_fd(), || {}).unwrap();
    lp.call_soon(move || drop(b)).unwrap(); // closed behind the loop's back
                                            // Nothing else is scheduled: only the driver's own recheck can notice.
    let h = lp.handle();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        h.stop();
    });
    let t0 = Instant::now();
    let msg = lp
        .run_until_complete(rx)
        .expect("reported before the 3 s stop")
        .unwrap();
    assert!(
        msg.contains("was closed while the loop watched it"),
        "{msg}"
    );
    let took = t0.elapsed();
    assert!(
        took < Duration::from_millis(500) || !timing_bounds_apply(),
        "reported after {took:?}"
    );
    lp.close().unwrap();
}

fn a_waiter_whose_fd_is_released_gets_an_error() {
    let lp = EventLoop::new().unwrap();
    let (_a, b) = UnixStream::pair().unwrap();
    let r = lp
        .run_until_complete(async move {
            let waiting = qtloop::net::Async::new(&b).unwrap();
            let other = qtloop::net::Async::new(&b).unwrap();
            let (res, ()) = futures::join!(waiting.readable(), async move {
                qtloop::sleep(0.01).await.unwrap();
                drop(other); // forgets the fd in the loop: the waiter is told
            });
            res
        })
        .unwrap();
    let err = r.expect_err("a released fd is not 'ready'");
    assert!(
        err.to_string().contains("closed while the loop waited"),
        "{err}"
    );
    lp.close().unwrap();
}
