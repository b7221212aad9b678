//! QMI's loop tasks: hook order, missed-loop policies (ports of QMI's
//! test_loop_timeout_policy_* tests), lateness statistics, and the on-loop
//! variant.

use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use qtloop::background::{self, LoopRunner, LoopTask, MissedLoopPolicy, TaskContext, TaskFailure};
use qtloop::EventLoop;

cases!(loop_tasks:
    missed_loop_warnings_are_rate_limited,
    loop_task_three_periods_in_order,
    immediate_loses_no_iteration,
    skip_gives_qmi_sequence,
    terminate_stops_after_first_miss,
    policies_on_a_long_iteration,
    on_loop_variant_runs_on_the_loop_thread,
);

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
    crate::background::run_to_end(&lp, &r);
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

/// Issue 14, item 26: a task that misses every period warns once a second,
/// not once per miss; the stats still count every miss.
fn missed_loop_warnings_are_rate_limited() {
    crate::take_logs();
    let (task, _) = Recorder::new(60, 3); // 60 iterations of 3 ms, period 1 ms
    let (res, stats) = run_loop(task, 1, MissedLoopPolicy::Immediate);
    assert_eq!(res, Ok(()));
    assert!(stats.missed >= 50, "{stats:?}");
    let warnings = crate::take_logs()
        .iter()
        .filter(|(_, m)| m.contains("Missed loop time"))
        .count();
    assert!(
        (1..=2).contains(&warnings),
        "{warnings} warnings for {} misses",
        stats.missed
    );
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

/// QMI: TERMINATE stops the task after the first missed loop, with a
/// warning; join returns normally (QMI's runner does not raise) and the
/// stats keep the reason.
fn terminate_stops_after_first_miss() {
    let (task, events) = Recorder::new(5, 55);
    crate::take_logs();
    let (res, stats) = run_loop(task, 50, MissedLoopPolicy::Terminate);
    assert_eq!(res, Ok(()));
    assert!(matches!(stats.terminated, Some(late) if late < Duration::from_millis(50)));
    let logs = crate::take_logs();
    assert!(
        logs.iter()
            .any(|(l, m)| *l == log::Level::Warn && m.contains("terminating the loop task")),
        "{logs:?}"
    );
    assert!(
        !logs.iter().any(|(l, _)| *l == log::Level::Error),
        "{logs:?}"
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
