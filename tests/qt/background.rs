//! QMI's background tasks (ports of QMI's tests/core/test_tasks.py, plus
//! the registry; loop tasks are in loop_tasks.rs).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use qtloop::background::{self, BackgroundTask, Registry, TaskContext, TaskFailure};
use qtloop::{Error, EventLoop};

cases!(background:
    double_start_is_an_error,
    stop_before_start_skips_run,
    run_to_completion,
    run_to_stopped,
    errors_in_run_and_construction,
    settings_pending_active_latest_wins,
    signals_arrive_on_the_loop_thread,
    stop_interrupts_sleep_and_wait,
    dropping_a_started_runner_joins_it,
    registry_refuses_duplicate_names,
);

/// QMI's SimpleTestTask: waits `duration` (taking settings every 10 ms),
/// then sets its status to the settings' value.
struct Simple {
    duration: Duration,
    fail: bool,
    ran: Arc<AtomicBool>,
}

impl BackgroundTask for Simple {
    type Settings = i32;
    type Status = i32;
    fn initial_settings(&self) -> i32 {
        7
    }
    fn run(&mut self, ctx: &TaskContext<i32, i32>) -> Result<(), TaskFailure> {
        self.ran.store(true, Ordering::SeqCst);
        if self.fail {
            return Err("this error originates from run()".into());
        }
        let until = Instant::now() + self.duration;
        while Instant::now() < until {
            ctx.update_settings();
            ctx.sleep(Duration::from_millis(10))?;
        }
        ctx.set_status(ctx.settings());
        ctx.publish_status();
        Ok(())
    }
}

fn simple(duration_ms: u64) -> (Simple, Arc<AtomicBool>) {
    let ran = Arc::new(AtomicBool::new(false));
    (
        Simple {
            duration: Duration::from_millis(duration_ms),
            fail: false,
            ran: ran.clone(),
        },
        ran,
    )
}

fn double_start_is_an_error() {
    let (t, _) = simple(10);
    let r = background::spawn("double", t);
    r.start().unwrap();
    assert_eq!(r.start(), Err(Error::AlreadyStarted));
    r.join().unwrap();
}

fn stop_before_start_skips_run() {
    let (t, ran) = simple(10);
    let r = background::spawn("stopped-early", t);
    r.stop();
    r.start().unwrap(); // the stop came first: nothing to start
    let t0 = Instant::now();
    assert_eq!(r.join(), Ok(()));
    assert!(t0.elapsed() < Duration::from_millis(100));
    assert!(!ran.load(Ordering::SeqCst), "run was skipped");
    assert!(!r.is_running());
}

fn run_to_completion() {
    let (t, _) = simple(100);
    let r = background::spawn("complete", t);
    assert_eq!(r.name(), "complete");
    assert!(r.task_class_name().ends_with("Simple"));
    assert!(!r.is_running());
    assert_eq!(r.join(), Err(TaskFailure::NotStarted));
    r.start().unwrap();
    assert!(r.is_running(), "running right after start");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!r.is_running());
    let t0 = Instant::now();
    r.join().unwrap();
    assert!(t0.elapsed() < Duration::from_millis(100), "join is fast");
    assert_eq!(r.get_status(), 7);
}

fn run_to_stopped() {
    let (t, _) = simple(10_000);
    let r = background::spawn("stopped", t);
    r.start().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert!(r.is_running());
    let t0 = Instant::now();
    r.stop();
    assert!(
        t0.elapsed() < Duration::from_millis(100),
        "stop returns at once"
    );
    let t0 = Instant::now();
    assert_eq!(r.join(), Ok(()), "a stop is a normal end");
    assert!(
        t0.elapsed() < Duration::from_millis(100),
        "join returns soon after stop"
    );
    assert!(!r.is_running());
}

struct Panicky;
impl BackgroundTask for Panicky {
    type Settings = ();
    type Status = ();
    fn run(&mut self, _: &TaskContext<(), ()>) -> Result<(), TaskFailure> {
        panic!("run panicked")
    }
}

fn errors_in_run_and_construction() {
    let ran = Arc::new(AtomicBool::new(false));
    let failing = Simple {
        duration: Duration::ZERO,
        fail: true,
        ran,
    };
    let r = background::spawn("fails", failing);
    r.start().unwrap();
    assert_eq!(
        r.join(),
        Err(TaskFailure::Failed(
            "this error originates from run()".into()
        ))
    );
    let p = background::spawn("panics", Panicky);
    p.start().unwrap();
    assert_eq!(p.join(), Err(TaskFailure::Panicked("run panicked".into())));
    let bad = background::spawn_with("bad-init", || -> Result<Simple, TaskFailure> {
        Err("no instrument".into())
    });
    assert!(matches!(bad.start(), Err(Error::TaskInit(m)) if m.contains("no instrument")));
    assert!(matches!(bad.join(), Err(TaskFailure::Init(m)) if m.contains("no instrument")));
    let boom = background::spawn_with("panicking-init", || -> Result<Simple, TaskFailure> {
        panic!("constructor panicked")
    });
    assert!(matches!(boom.join(), Err(TaskFailure::Init(m)) if m.contains("constructor panicked")));
}

fn settings_pending_active_latest_wins() {
    // A task that takes settings only when told to.
    struct Slow(Arc<AtomicBool>);
    impl BackgroundTask for Slow {
        type Settings = i32;
        type Status = i32;
        fn run(&mut self, ctx: &TaskContext<i32, i32>) -> Result<(), TaskFailure> {
            loop {
                if self.0.swap(false, Ordering::SeqCst) {
                    ctx.update_settings();
                }
                ctx.sleep(Duration::from_millis(5))?;
            }
        }
    }
    let take = Arc::new(AtomicBool::new(false));
    let r = background::spawn("settings", Slow(take.clone()));
    r.start().unwrap();
    r.set_settings(1);
    r.set_settings(2);
    r.set_settings(3);
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(r.get_settings(), 0, "still the old settings");
    assert_eq!(r.get_pending_settings(), Some(3), "the latest wins");
    take.store(true, Ordering::SeqCst);
    let t0 = Instant::now();
    while r.get_settings() != 3 {
        assert!(t0.elapsed() < Duration::from_secs(2));
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(r.get_pending_settings(), None);
    r.stop();
    r.join().unwrap();
}

fn signals_arrive_on_the_loop_thread() {
    let lp = EventLoop::new().unwrap();
    let loop_thread = std::thread::current().id();
    let (t, _) = simple(30);
    let r = background::spawn("signals", t);
    type Seen = Arc<Mutex<Vec<(&'static str, i32, ThreadId)>>>;
    let got: Seen = Arc::default();
    let g = got.clone();
    r.settings_updated().connect(move |v| {
        g.lock()
            .unwrap()
            .push(("settings", *v, std::thread::current().id()))
    });
    let g = got.clone();
    r.status_updated().connect(move |v| {
        g.lock()
            .unwrap()
            .push(("status", *v, std::thread::current().id()))
    });
    r.set_settings(42);
    r.start().unwrap();
    run_to_end(&lp, &r);
    let got = got.lock().unwrap();
    assert_eq!(
        got.iter().map(|(k, v, _)| (*k, *v)).collect::<Vec<_>>(),
        [("settings", 42), ("status", 42)]
    );
    assert!(
        got.iter().all(|(_, _, t)| *t == loop_thread),
        "delivered on the loop thread"
    );
    lp.close().unwrap();
}

fn stop_interrupts_sleep_and_wait() {
    struct Sleeper {
        wait: bool,
    }
    impl BackgroundTask for Sleeper {
        type Settings = ();
        type Status = ();
        fn run(&mut self, ctx: &TaskContext<(), ()>) -> Result<(), TaskFailure> {
            if self.wait {
                let r = ctx.wait_for(|| false, Duration::from_secs(10));
                assert_eq!(r, Err(background::TaskStopped));
                r?;
            }
            ctx.sleep(Duration::from_secs(10))?;
            Err("sleep was not interrupted".into())
        }
    }
    for wait in [false, true] {
        let r = background::spawn("sleeper", Sleeper { wait });
        r.start().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let t0 = Instant::now();
        r.stop();
        assert_eq!(r.join(), Ok(()));
        assert!(
            t0.elapsed() < Duration::from_millis(100),
            "{:?}",
            t0.elapsed()
        );
    }
}

fn dropping_a_started_runner_joins_it() {
    struct Flagged(Arc<AtomicBool>);
    impl BackgroundTask for Flagged {
        type Settings = ();
        type Status = ();
        fn run(&mut self, ctx: &TaskContext<(), ()>) -> Result<(), TaskFailure> {
            let r = ctx.sleep(Duration::from_secs(30));
            self.0.store(true, Ordering::SeqCst);
            r.map_err(Into::into)
        }
    }
    let ended = Arc::new(AtomicBool::new(false));
    let r = background::spawn("dropped", Flagged(ended.clone()));
    r.start().unwrap();
    let clone = r.clone();
    drop(r);
    assert!(!ended.load(Ordering::SeqCst), "a clone keeps it alive");
    let t0 = Instant::now();
    drop(clone);
    assert!(
        ended.load(Ordering::SeqCst),
        "the last drop stopped and joined it"
    );
    assert!(t0.elapsed() < Duration::from_secs(1));
}

fn registry_refuses_duplicate_names() {
    let reg = Registry::new();
    let (t1, _) = simple(10);
    let (t2, _) = simple(10);
    let a = reg.spawn("instrument", t1).unwrap();
    assert_eq!(
        reg.spawn("instrument", t2).unwrap_err(),
        Error::DuplicateName("instrument".into())
    );
    assert_eq!(reg.names(), ["instrument"]);
    a.stop();
    a.join().unwrap();
    drop(a);
    let (t3, _) = simple(10);
    let again = reg.spawn("instrument", t3).unwrap();
    again.stop();
    again.join().unwrap();
}

/// Runs the loop until `runner`'s task has ended (`Ok`), then a little more
/// so that the signals it emitted last are delivered.
pub fn run_to_end<S: Clone + Send + 'static, St: Clone + Send + 'static>(
    lp: &EventLoop,
    runner: &background::TaskRunner<S, St>,
) {
    let r = runner.clone();
    lp.run_until_complete(async move { r.finished().await })
        .unwrap()
        .unwrap()
        .unwrap();
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
}
