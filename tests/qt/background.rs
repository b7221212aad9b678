//! QMI's background tasks (ports of QMI's tests/core/test_tasks.py, plus
//! Burst, statistics, the registry and the on-loop variant).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use qtloop::background::{
    self, BackgroundTask, LoopRunner, LoopTask, MissedLoopPolicy, Registry, TaskContext,
    TaskFailure,
};
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
    loop_task_three_periods_in_order,
    immediate_loses_no_iteration,
    skip_gives_qmi_sequence,
    terminate_stops_after_first_miss,
    policies_on_a_long_iteration,
    dropping_a_started_runner_joins_it,
    registry_refuses_duplicate_names,
    on_loop_variant_runs_on_the_loop_thread,
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
    let r2 = r.clone();
    lp.run_until_complete(async move { r2.finished().await })
        .unwrap()
        .unwrap()
        .unwrap();
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
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

/// Records the order of hooks and what was published.
struct Recorder {
    events: Arc<Mutex<Vec<String>>>,
    loops: u32,
    work: Duration,
    n: u32,
}

impl Recorder {
    fn new(loops: u32, work_ms: u64) -> (Self, Arc<Mutex<Vec<String>>>) {
        let events = Arc::new(Mutex::new(Vec::new()));
        (
            Self {
                events: events.clone(),
                loops,
                work: Duration::from_millis(work_ms),
                n: 0,
            },
            events,
        )
    }
    fn log(&self, e: impl Into<String>) {
        self.events.lock().unwrap().push(e.into());
    }
}

impl LoopTask for Recorder {
    type Settings = u32;
    type Status = u32;
    fn loop_prepare(&mut self, _: &TaskContext<u32, u32>) -> Result<(), TaskFailure> {
        self.log("prepare");
        Ok(())
    }
    fn process_new_settings(&mut self, ctx: &TaskContext<u32, u32>) -> Result<(), TaskFailure> {
        self.log(format!("settings {}", ctx.settings()));
        Ok(())
    }
    fn loop_iteration(&mut self, ctx: &TaskContext<u32, u32>) -> Result<(), TaskFailure> {
        self.n += 1;
        self.log(format!("iteration {}", self.n));
        std::thread::sleep(self.work);
        if self.n >= self.loops {
            ctx.request_stop();
        }
        Ok(())
    }
    fn update_status(&mut self, ctx: &TaskContext<u32, u32>) -> bool {
        ctx.set_status(self.n * 10);
        true
    }
    fn publish_signals(&mut self, _: &TaskContext<u32, u32>) -> Result<(), TaskFailure> {
        self.log("publish");
        Ok(())
    }
    fn loop_finalize(&mut self, ctx: &TaskContext<u32, u32>) {
        ctx.set_status(1);
        self.log("finalize");
    }
}

fn loop_task_three_periods_in_order() {
    let lp = EventLoop::new().unwrap();
    let (task, events) = Recorder::new(3, 0);
    let period = Duration::from_millis(200);
    let r = background::spawn(
        "loop",
        LoopRunner::new(task, period, MissedLoopPolicy::Immediate).unwrap(),
    );
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let s = statuses.clone();
    r.status_updated()
        .connect(move |v| s.lock().unwrap().push(*v));
    r.set_settings(5);
    let t0 = Instant::now();
    r.start().unwrap();
    let r2 = r.clone();
    lp.run_until_complete(async move { r2.finished().await })
        .unwrap()
        .unwrap()
        .unwrap();
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
    let took = t0.elapsed();
    assert!(took >= period * 2 && took < period * 4, "{took:?}");
    assert_eq!(
        *events.lock().unwrap(),
        [
            "prepare",
            "settings 5",
            "iteration 1",
            "publish",
            "iteration 2",
            "publish",
            "iteration 3",
            "publish",
            "finalize"
        ]
    );
    assert_eq!(*statuses.lock().unwrap(), [10, 20, 30]);
    assert_eq!(r.get_status(), 1, "finalize ran last");
    let stats = r.loop_stats();
    assert_eq!((stats.iterations, stats.missed), (3, 0));
    assert!(
        stats.samples >= 2 && stats.max_lateness < Duration::from_millis(50),
        "{stats:?}"
    );
    lp.close().unwrap();
}

fn run_loop(
    task: Recorder,
    period_ms: u64,
    policy: MissedLoopPolicy,
) -> (Result<(), TaskFailure>, background::LoopStats) {
    let r = background::spawn(
        "policy",
        LoopRunner::new(task, Duration::from_millis(period_ms), policy).unwrap(),
    );
    r.start().unwrap();
    let res = r.join();
    (res, r.loop_stats())
}

fn iterations(events: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.starts_with("iteration"))
        .cloned()
        .collect()
}

/// QMI: with IMMEDIATE, every iteration runs even if each takes 1.1 periods.
fn immediate_loses_no_iteration() {
    let (task, events) = Recorder::new(5, 55);
    let t0 = Instant::now();
    let (res, stats) = run_loop(task, 50, MissedLoopPolicy::Immediate);
    assert_eq!(res, Ok(()));
    assert_eq!(iterations(&events).len(), 5);
    assert!(stats.missed >= 3, "{stats:?}");
    assert!(t0.elapsed() >= Duration::from_millis(5 * 55));
    let warned = crate::take_logs().iter().any(|(l, m)| {
        *l == log::Level::Warn && m.contains("Missed loop time") && m.contains("seconds late")
    });
    assert!(warned, "a miss is logged with its lateness");
}

/// QMI's test_loop_timeout_policy_SKIP, ported with its test task: each
/// iteration takes 1.1 periods and its counter skips a slot; the settings
/// values published are [1, 1, 3, 5].
fn skip_gives_qmi_sequence() {
    struct QmiLoopTestTask {
        current_loop: u32,
        published: Arc<Mutex<Vec<u32>>>,
        period: Duration,
    }
    impl LoopTask for QmiLoopTestTask {
        type Settings = u32;
        type Status = u32;
        fn initial_settings(&self) -> u32 {
            1
        }
        fn loop_prepare(&mut self, ctx: &TaskContext<u32, u32>) -> Result<(), TaskFailure> {
            self.published.lock().unwrap().push(ctx.settings());
            Ok(())
        }
        fn loop_iteration(&mut self, ctx: &TaskContext<u32, u32>) -> Result<(), TaskFailure> {
            self.current_loop += 1;
            ctx.set_status(self.current_loop);
            if self.current_loop >= 5 {
                std::thread::sleep(self.period);
                ctx.request_stop();
                return Ok(());
            }
            std::thread::sleep(self.period.mul_f64(1.1)); // miss the loop time
            self.current_loop += 1; // QMI's task skips a loop here
            Ok(())
        }
        fn publish_signals(&mut self, ctx: &TaskContext<u32, u32>) -> Result<(), TaskFailure> {
            // QMI publishes `self.settings.value`, which loop_iteration set
            // to the loop number it ran as.
            let ran_as = if ctx.stop_requested() {
                self.current_loop
            } else {
                self.current_loop - 1
            };
            self.published.lock().unwrap().push(ran_as);
            Ok(())
        }
    }
    let published = Arc::new(Mutex::new(Vec::new()));
    let period = Duration::from_millis(50);
    let task = QmiLoopTestTask {
        current_loop: 0,
        published: published.clone(),
        period,
    };
    let r = background::spawn(
        "skip",
        LoopRunner::new(task, period, MissedLoopPolicy::Skip).unwrap(),
    );
    r.start().unwrap();
    assert_eq!(r.join(), Ok(()), "Skip keeps running after a miss");
    assert_eq!(*published.lock().unwrap(), [1, 1, 3, 5]);
    assert!(r.loop_stats().missed >= 2);
}

/// QMI: TERMINATE stops the task after the first missed loop; join reports it.
fn terminate_stops_after_first_miss() {
    let (task, events) = Recorder::new(5, 55);
    let (res, stats) = run_loop(task, 50, MissedLoopPolicy::Terminate);
    assert!(
        matches!(res, Err(TaskFailure::MissedDeadline(late)) if late < Duration::from_millis(50))
    );
    assert_eq!(iterations(&events), ["iteration 1"]);
    assert_eq!(
        events.lock().unwrap().last().unwrap(),
        "finalize",
        "finalize still ran"
    );
    assert_eq!(stats.missed, 1);
}

/// One iteration takes 3.5 periods; where do the next iterations start?
fn policies_on_a_long_iteration() {
    struct Long {
        starts: Arc<Mutex<Vec<Instant>>>,
        period: Duration,
    }
    impl LoopTask for Long {
        type Settings = ();
        type Status = ();
        fn loop_iteration(&mut self, ctx: &TaskContext<(), ()>) -> Result<(), TaskFailure> {
            let mut s = self.starts.lock().unwrap();
            s.push(Instant::now());
            if s.len() == 1 {
                std::thread::sleep(self.period.mul_f64(3.5));
            }
            if s.len() == 6 {
                ctx.request_stop();
            }
            Ok(())
        }
    }
    let period = Duration::from_millis(40);
    let slots = |policy| {
        let starts = Arc::new(Mutex::new(Vec::new()));
        let t = Long {
            starts: starts.clone(),
            period,
        };
        let r = background::spawn("long", LoopRunner::new(t, period, policy).unwrap());
        r.start().unwrap();
        r.join().unwrap();
        let s = starts.lock().unwrap();
        s.iter()
            .map(|t| t.duration_since(s[0]).as_secs_f64() / period.as_secs_f64())
            .collect::<Vec<f64>>()
    };
    let close = |got: &[f64], want: &[f64]| {
        got.len() >= want.len() && got.iter().zip(want).all(|(g, w)| (g - w).abs() < 0.45)
    };
    let burst = slots(MissedLoopPolicy::Burst);
    assert!(
        close(&burst, &[0.0, 3.5, 3.5, 3.5, 4.0, 5.0]),
        "Burst catches up: {burst:?}"
    );
    let skip = slots(MissedLoopPolicy::Skip);
    assert!(
        close(&skip, &[0.0, 3.5, 4.0, 5.0, 6.0]),
        "Skip keeps the phase: {skip:?}"
    );
    let immediate = slots(MissedLoopPolicy::Immediate);
    assert!(
        close(&immediate, &[0.0, 3.5, 4.5, 5.5]),
        "Immediate re-bases: {immediate:?}"
    );
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

fn on_loop_variant_runs_on_the_loop_thread() {
    let lp = EventLoop::new().unwrap();
    let loop_thread = std::thread::current().id();
    struct Gui {
        threads: Arc<Mutex<Vec<ThreadId>>>,
    }
    impl LoopTask for Gui {
        type Settings = u32;
        type Status = u32;
        fn loop_iteration(&mut self, ctx: &TaskContext<u32, u32>) -> Result<(), TaskFailure> {
            self.threads
                .lock()
                .unwrap()
                .push(std::thread::current().id());
            ctx.set_status(ctx.status() + 1);
            Ok(())
        }
        fn update_status(&mut self, _: &TaskContext<u32, u32>) -> bool {
            true
        }
    }
    let threads = Arc::new(Mutex::new(Vec::new()));
    let r = LoopRunner::new(
        Gui {
            threads: threads.clone(),
        },
        Duration::from_millis(10),
        MissedLoopPolicy::Skip,
    )
    .unwrap()
    .spawn_on_loop("gui")
    .unwrap();
    r.start().unwrap();
    assert!(r.is_running());
    lp.run_until_complete(qtloop::sleep(0.1)).unwrap().unwrap();
    assert_eq!(r.join(), Err(TaskFailure::WouldDeadlock));
    r.stop();
    let r2 = r.clone();
    let outcome = lp
        .run_until_complete(async move { r2.finished().await })
        .unwrap()
        .unwrap();
    assert_eq!(outcome, Ok(()));
    assert_eq!(r.join(), Ok(()));
    let threads = threads.lock().unwrap();
    assert!(threads.len() >= 5, "{} iterations", threads.len());
    assert!(threads.iter().all(|t| *t == loop_thread));
    assert_eq!(r.get_status() as usize, threads.len());
    lp.close().unwrap();
}
