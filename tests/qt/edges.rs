//! Huge and odd values (issue 14, items 9–11): each saturates or is a clear
//! error, never a panic, a wrap or loop time going backwards.

use std::time::Duration;

use qtloop::qi::PeriodicTask;
use qtloop::EventLoop;

cases!(edges:
    a_huge_dispatch_budget_saturates,
    the_paused_clock_never_wraps_or_goes_back,
    a_sleep_past_the_end_of_time_does_not_spin,
    huge_periods_saturate,
    a_nan_timeout_elapses_at_once,
    a_future_left_by_stopped_run_until_complete_does_not_stop_a_later_run,
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

fn a_sleep_past_the_end_of_time_does_not_spin() {
    let lp = EventLoop::new().unwrap();
    lp.pause_clock();
    lp.advance(Duration::MAX);
    // A deadline past the end of loop time: auto-advance cannot reach it,
    // and the loop must not tick for it again and again.
    lp.create_task(async {
        qtloop::sleep(1e300).await.unwrap();
        unreachable!("a sleep of 1e300 s ended");
    });
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
        "an unreachable deadline used {:.0} % of a core",
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
