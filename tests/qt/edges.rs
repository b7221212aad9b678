//! Huge and odd values (issue 14, items 9–11): each saturates or is a clear
//! error, never a panic, a wrap or loop time going backwards.

use std::time::Duration;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use qtloop::qi::PeriodicTask;
use qtloop::{EventLoop, TaskError};

cases!(edges:
    a_huge_dispatch_budget_saturates,
    the_paused_clock_never_wraps_or_goes_back,
    sleeps_at_the_end_of_time_end_there_without_spinning,
    huge_periods_saturate,
    a_nan_timeout_elapses_at_once,
    a_future_left_by_stopped_run_until_complete_does_not_stop_a_later_run,
    a_task_awaited_after_its_loop_closed_is_cancelled,
    tasks_spawned_on_a_closed_loop_are_cancelled_at_once,
    a_task_that_closes_its_own_loop_is_dropped,
    dropping_a_loop_without_close_drops_its_parked_tasks,
    a_subscriber_whose_drop_uses_the_signal_does_not_deadlock,
    a_panic_payload_whose_drop_panics_takes_nothing_down,
    a_dropped_pool_leaves_no_threads,
    emissions_after_close_warn_once_a_second,
    a_task_joining_itself_would_deadlock,
);

fn a_huge_dispatch_budget_saturates() {
    let lp = EventLoop::new().unwrap();
    lp.set_dispatch_budget(Duration::MAX); // `now + budget` used to panic in dispatch
    let answer = lp.run_until_complete(async {
        qtloop::sleep(0.01).await.unwrap();
        42
    });
    assert_eq!(answer, Ok(42));
    lp.call_soon(|| {}).unwrap();
    lp.run_until_complete(async {}).unwrap();
    lp.close().unwrap();
}

fn the_paused_clock_never_wraps_or_goes_back() {
    let lp = EventLoop::new().unwrap();
    lp.pause_clock();
    lp.advance(Duration::MAX);
    lp.advance(Duration::MAX); // saturates at ~146 years of loop time
    let frozen = lp.time();
    assert!(frozen > 4.0e9, "loop time {frozen}");
    lp.resume_clock();
    std::thread::sleep(Duration::from_millis(2));
    let after = lp.time();
    assert!(after >= frozen, "loop time went back: {frozen} -> {after}");
    // The loop still works at the end of time.
    let ran = lp.run_until_complete(async { 7 }).unwrap();
    assert_eq!(ran, 7);
    lp.close().unwrap();
}

fn sleeps_at_the_end_of_time_end_there_without_spinning() {
    let lp = EventLoop::new().unwrap();
    lp.pause_clock();
    lp.advance(Duration::MAX);
    // Deadlines past the end of loop time saturate there, as call_later's
    // do: at the end of time they are due at once (sleep's deadline used
    // to lie beyond it, so it never ended).
    let ended = lp.run_until_complete(async {
        qtloop::sleep(1e300).await.unwrap();
        qtloop::sleep(0.2).await.unwrap();
        qtloop::timeout(1.0, std::future::pending::<()>()).await
    });
    assert_eq!(ended, Ok(Err(qtloop::Elapsed)));
    lp.resume_clock();
    let resumed = lp.run_until_complete(qtloop::sleep(0.2));
    assert_eq!(resumed, Ok(Ok(())));
    // And an idle loop there does not tick.
    let h = lp.handle();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        h.stop();
    });
    let cpu0 = crate::reactor::thread_cpu();
    let t0 = std::time::Instant::now();
    lp.run_forever().unwrap();
    let share = (crate::reactor::thread_cpu() - cpu0).as_secs_f64() / t0.elapsed().as_secs_f64();
    assert!(
        share < 0.2,
        "the idle loop used {:.0} % of a core",
        share * 100.0
    );
    lp.close().unwrap();
}

fn huge_periods_saturate() {
    let lp = EventLoop::new().unwrap();
    let task = PeriodicTask::new();
    task.set_callback_local(|| panic!("a 146-year period came round"))
        .unwrap();
    task.set_us_period(i64::MAX).unwrap(); // used to panic (debug) or wrap to 384 ns
    let p = task.period().unwrap();
    assert!(p > Duration::from_secs(100 * 365 * 86_400), "period {p:?}");
    task.set_period(Duration::MAX).unwrap();
    assert_eq!(task.period(), Some(p));
    task.start(false).unwrap();
    lp.run_until_complete(qtloop::sleep(0.05)).unwrap().unwrap();
    task.stop();
    assert_eq!(task.set_us_period(0), Err(qtloop::Error::InvalidPeriod));
    lp.close().unwrap();
}

fn a_nan_timeout_elapses_at_once() {
    let lp = EventLoop::new().unwrap();
    let r = lp
        .run_until_complete(qtloop::timeout(f64::NAN, async { 1 }))
        .unwrap();
    assert_eq!(
        r,
        Err(qtloop::Elapsed),
        "as documented, even for a ready future"
    );
    let r = lp
        .run_until_complete(qtloop::timeout(f64::INFINITY, async { 1 }))
        .unwrap();
    assert_eq!(r, Err(qtloop::Elapsed));
    lp.close().unwrap();
}

fn a_future_left_by_stopped_run_until_complete_does_not_stop_a_later_run() {
    let lp = EventLoop::new().unwrap();
    let l = lp.clone();
    lp.call_soon(move || l.stop()).unwrap();
    // Stopped before its 50 ms sleep ends; the task stays on the loop.
    let r = lp.run_until_complete(qtloop::sleep(0.05));
    assert_eq!(r.err(), Some(qtloop::Error::StoppedBeforeComplete));
    // The first future finishes during this run: it must not stop it.
    let t0 = std::time::Instant::now();
    lp.run_until_complete(qtloop::sleep(0.2)).unwrap().unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(190),
        "the later run was stopped early"
    );
    lp.close().unwrap();
}

fn a_task_awaited_after_its_loop_closed_is_cancelled() {
    let lp = EventLoop::new().unwrap();
    let mut task = lp.create_task(qtloop::sleep(10.0));
    let abort = task.abort_handle();
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap(); // it parks
    lp.close().unwrap();
    assert!(task.is_done() && task.is_cancelled() && abort.is_done());
    // It used to panic "Task polled after completion".
    assert_eq!(task.take_output(), Some(Err(TaskError::Cancelled)));
    let task2 = {
        let lp = EventLoop::new().unwrap();
        let t = lp.create_task(qtloop::sleep(10.0));
        lp.close().unwrap();
        t
    };
    assert_eq!(
        futures::executor::block_on(task2),
        Err(TaskError::Cancelled)
    );
}

fn tasks_spawned_on_a_closed_loop_are_cancelled_at_once() {
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    lp.close().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let task = lp.create_task(crate::guarded(&dropped, std::future::pending::<()>()));
    assert!(
        dropped.get(),
        "the future was dropped at once, on its thread"
    );
    assert!(task.is_cancelled());
    assert_eq!(futures::executor::block_on(task), Err(TaskError::Cancelled));
    // From another thread, a Send future.
    let sent_dropped = Arc::new(AtomicBool::new(false));
    let flag = sent_dropped.clone();
    let task = std::thread::spawn(move || {
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let f = Flag(flag);
        handle.spawn(async move {
            let _f = f;
            std::future::pending::<()>().await
        })
    })
    .join()
    .unwrap();
    assert!(sent_dropped.load(Ordering::SeqCst), "not leaked");
    assert_eq!(futures::executor::block_on(task), Err(TaskError::Cancelled));
}

fn a_task_that_closes_its_own_loop_is_dropped() {
    let lp = EventLoop::new().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let nested = Rc::new(qtloop::qt::NestedEventLoop::new());
    let (l, n) = (lp.clone(), nested.clone());
    // Driven by a plain Qt loop (not run_forever), so close() is allowed.
    lp.create_task(crate::guarded(&dropped, async move {
        l.close().unwrap();
        n.exit();
        std::future::pending::<()>().await
    }));
    nested.exec().unwrap();
    assert!(lp.is_closed());
    assert!(dropped.get(), "the task's future was leaked");
}

fn dropping_a_loop_without_close_drops_its_parked_tasks() {
    let dropped = Rc::new(Cell::new(false));
    {
        let lp = EventLoop::new().unwrap();
        // Parked on nothing but its own waker: only the loop can drop it.
        lp.create_task(crate::guarded(&dropped, std::future::pending::<()>()));
        lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
    } // no close()
    assert!(dropped.get(), "the parked task leaked");
    EventLoop::new()
        .expect("the thread is free")
        .close()
        .unwrap();
}

fn a_subscriber_whose_drop_uses_the_signal_does_not_deadlock() {
    struct CountsOnDrop(qtloop::qi::Signal<i32>, Arc<AtomicBool>);
    impl Drop for CountsOnDrop {
        fn drop(&mut self) {
            let _ = self.0.subscriber_count(); // takes the signal's lock
            self.1.store(true, Ordering::SeqCst);
        }
    }
    // On a thread of its own, so that a deadlock fails the case, not the run.
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let sig = qtloop::qi::Signal::<i32>::new();
        let (d1, d2) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let g = CountsOnDrop(sig.clone(), d1.clone());
        let link = sig.connect(move |_| {
            let _ = &g;
        });
        assert!(sig.disconnect(link));
        let g = CountsOnDrop(sig.clone(), d2.clone());
        sig.connect(move |_| {
            let _ = &g;
        });
        sig.disconnect_all();
        let _ = done.send(d1.load(Ordering::SeqCst) && d2.load(Ordering::SeqCst));
    });
    let dropped = wait
        .recv_timeout(Duration::from_secs(5))
        .expect("disconnect deadlocked on a subscriber's Drop");
    assert!(dropped, "the subscribers were dropped");
}

/// A panic payload whose own `Drop` panics.
struct NastyPayload;
impl Drop for NastyPayload {
    fn drop(&mut self) {
        panic!("the payload's Drop panicked");
    }
}

fn a_panic_payload_whose_drop_panics_takes_nothing_down() {
    let lp = EventLoop::new().unwrap();
    let reports = Rc::new(Cell::new(0));
    let r = reports.clone();
    lp.set_exception_handler(Some(move |_: &EventLoop, _: &qtloop::ExceptionContext| {
        r.set(r.get() + 1)
    }));
    // A callback.
    lp.call_soon(|| std::panic::panic_any(NastyPayload))
        .unwrap();
    // A task.
    let task = lp.create_task(async { std::panic::panic_any::<NastyPayload>(NastyPayload) });
    // A pool job (the worker must survive for the next one).
    let pool = qtloop::ThreadPoolExecutor::new(1).unwrap();
    let (first, second) = lp
        .run_until_complete(async move {
            let first = pool
                .submit(|| std::panic::panic_any::<NastyPayload>(NastyPayload))
                .await;
            let second = pool.submit(|| 2).await;
            (first, second)
        })
        .unwrap();
    assert!(
        matches!(first, Err(qtloop::Error::Panicked(_))),
        "{first:?}"
    );
    assert_eq!(second, Ok(2), "the worker survived");
    assert!(matches!(
        futures::executor::block_on(task),
        Err(TaskError::Panicked(_))
    ));
    assert_eq!(reports.get(), 1, "the callback's panic was reported");
    assert_eq!(
        lp.run_until_complete(async { 3 }),
        Ok(3),
        "the loop carries on"
    );
    lp.close().unwrap();
}

fn a_dropped_pool_leaves_no_threads() {
    let threads = || std::fs::read_dir("/proc/self/task").unwrap().count();
    let before = threads();
    let lp = EventLoop::new().unwrap();
    lp.run_until_complete(async {
        for i in 0..20 {
            let pool = qtloop::ThreadPoolExecutor::new(2).unwrap();
            assert_eq!(pool.submit(move || i * 2).await, Ok(i * 2));
            // dropped without shutdown()
        }
    })
    .unwrap();
    lp.close().unwrap();
    let t0 = std::time::Instant::now();
    while threads() > before && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        threads() <= before,
        "{} worker threads outlived their pools",
        threads() - before
    );
}

fn emissions_after_close_warn_once_a_second() {
    let lp = EventLoop::new().unwrap();
    let sig = qtloop::qi::Signal::<u32>::new();
    sig.connect(|_| {});
    lp.close().unwrap();
    crate::take_logs();
    let s = sig.clone();
    std::thread::spawn(move || (0..1000).for_each(|i| s.emit(i)))
        .join()
        .unwrap();
    let warnings = crate::take_logs()
        .iter()
        .filter(|(_, m)| m.contains("emitted after its loop closed"))
        .count();
    assert!(warnings <= 2, "{warnings} warnings for 1000 emissions");
}

fn a_task_joining_itself_would_deadlock() {
    use qtloop::background::{self, BackgroundTask, TaskContext, TaskFailure, TaskRunner};
    type Me = Arc<std::sync::Mutex<Option<TaskRunner<(), ()>>>>;
    struct SelfJoin(Me, Arc<std::sync::Mutex<Option<Result<(), TaskFailure>>>>);
    impl BackgroundTask for SelfJoin {
        type Settings = ();
        type Status = ();
        fn run(&mut self, _: &TaskContext<(), ()>) -> Result<(), TaskFailure> {
            let me = self.0.lock().unwrap().clone().expect("the runner");
            *self.1.lock().unwrap() = Some(me.join()); // used to panic
            Ok(())
        }
    }
    let me: Me = Arc::default();
    let seen = Arc::new(std::sync::Mutex::new(None));
    let runner = background::spawn("self-join", SelfJoin(me.clone(), seen.clone()));
    *me.lock().unwrap() = Some(runner.clone());
    runner.start().unwrap();
    assert_eq!(runner.join(), Ok(()), "the task ended normally");
    assert_eq!(*seen.lock().unwrap(), Some(Err(TaskFailure::WouldDeadlock)));
    me.lock().unwrap().take();
}
