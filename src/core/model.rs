//! Model-based tests: random programs run on the core and on a tiny
//! reference scheduler must give identical traces.
//!
//! The reference is deliberately naive (vectors scanned linearly, a set of
//! cancelled ids, no lazy removal or compaction) and follows asyncio's rule
//! as written: an iteration moves the due timers (deadline order, then
//! scheduling order) behind what is ready, then runs exactly what was ready
//! when it began. A callback may schedule, cancel, stop the loop, or run a
//! nested dispatch (a callback spinning a Qt loop), which continues the
//! current iteration. The clock is paused; idle with only timers pending,
//! it jumps to the next deadline.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;

use proptest::prelude::*;

use super::*;
use std::any::Any;

/// What a callback does when it runs.
#[derive(Debug, Clone)]
enum Act {
    Soon,
    Later(u64),
    Cancel(usize),
    Stop,
    Nested,
}

/// A top-level step of a program.
#[derive(Debug, Clone)]
enum Op {
    Soon(Vec<Act>),
    At(u64, Vec<Act>),
    Cancel(usize),
    Dispatch,
    Advance(u64),
}

/// What the trace records.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    /// Callback `id` ran in iteration group `iter` at loop time `now`.
    Ran { id: usize, iter: u64, now: u64 },
    /// A dispatch returned `Flow::Stop`.
    Stopped,
}

/// Delays in ns: at and around the clock resolution (1 ns), and realistic
/// milliseconds (equal deadlines are frequent either way).
fn delay() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..3, (1u64..3).prop_map(|ms| ms * 1_000_000)]
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        3 => Just(Act::Soon),
        3 => delay().prop_map(Act::Later),
        2 => (0usize..64).prop_map(Act::Cancel),
        1 => Just(Act::Stop),
        1 => Just(Act::Nested),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let acts = || proptest::collection::vec(act(), 0..3);
    prop_oneof![
        4 => acts().prop_map(Op::Soon),
        4 => (delay(), acts()).prop_map(|(d, a)| Op::At(d, a)),
        2 => (0usize..64).prop_map(Op::Cancel),
        2 => Just(Op::Dispatch),
        1 => delay().prop_map(Op::Advance),
    ]
}

/// Normalises iteration numbers to their rank (empty iterations, which the
/// core may run where the reference does not, do not matter).
fn normalise(trace: &[Ev]) -> Vec<Ev> {
    let mut seen: Vec<u64> = Vec::new();
    trace
        .iter()
        .map(|e| match e {
            Ev::Ran { id, iter, now } => {
                if seen.last() != Some(iter) {
                    seen.push(*iter);
                }
                Ev::Ran {
                    id: *id,
                    iter: seen.len() as u64,
                    now: *now,
                }
            }
            Ev::Stopped => Ev::Stopped,
        })
        .collect()
}

// ---------------------------------------------------------------- the core

struct NullDriver;
impl Driver for NullDriver {
    fn request_tick(&self) {}
    fn defer_tick(&self) {}
    fn arm_timer(&self, _: u64) {}
    fn disarm_timer(&self) {}
    fn watch_fd(&self, _: io::Fd, _: io::Direction, _: bool) {}
    fn unwatch_fd(&self, _: io::Fd, _: io::Direction) {}
}
struct NullWake;
impl RemoteWake for NullWake {
    fn wake(&self) {}
}
struct NullHooks;
impl Hooks for NullHooks {
    fn panicked(&self, _: &'static str, _: &'static Location<'static>, p: Box<dyn Any + Send>) {
        std::panic::resume_unwind(p)
    }
    fn slow_callback(&self, _: &'static str, _: &'static Location<'static>, _: Duration) {}
    fn fd_invalid(&self, _: io::Fd) {}
}

enum AnyHandle {
    Soon(Handle),
    Timer(TimerHandle),
}

struct CoreRun {
    core: Core,
    /// The paused clock's value at the start (the reference starts at 0).
    t0: u64,
    trace: RefCell<Vec<Ev>>,
    handles: RefCell<Vec<AnyHandle>>,
    next_id: Cell<usize>,
}

impl CoreRun {
    fn new() -> Rc<Self> {
        let core = Core::new(
            Box::new(NullDriver),
            Box::new(NullWake),
            Box::new(NullHooks),
        );
        core.clock().pause();
        core.set_budget(Duration::from_secs(3600));
        core.set_running(true);
        Rc::new(Self {
            t0: core.now(),
            core,
            trace: RefCell::default(),
            handles: RefCell::default(),
            next_id: Cell::new(0),
        })
    }

    fn callback(self: &Rc<Self>, acts: Vec<Act>) -> impl FnOnce() + 'static {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let me = self.clone();
        move || {
            let ev = Ev::Ran {
                id,
                iter: me.core.iterations(),
                now: me.core.now() - me.t0,
            };
            me.trace.borrow_mut().push(ev);
            for a in acts {
                me.act(a);
            }
        }
    }

    fn act(self: &Rc<Self>, a: Act) {
        match a {
            Act::Soon => self.soon(vec![]),
            Act::Later(d) => self.at(d, vec![]),
            Act::Cancel(i) => self.cancel(i),
            Act::Stop => self.core.stop(),
            Act::Nested => self.dispatch(),
        }
    }

    fn soon(self: &Rc<Self>, acts: Vec<Act>) {
        let f = self.callback(acts);
        let h = self.core.call_soon(f, Location::caller()).unwrap();
        self.handles.borrow_mut().push(AnyHandle::Soon(h));
    }

    fn at(self: &Rc<Self>, delay: u64, acts: Vec<Act>) {
        let f = self.callback(acts);
        let when = self.core.now() + delay;
        let h = self.core.call_at(when, f, Location::caller()).unwrap();
        self.handles.borrow_mut().push(AnyHandle::Timer(h));
    }

    fn cancel(&self, i: usize) {
        let handles = self.handles.borrow();
        if handles.is_empty() {
            return;
        }
        match &handles[i % handles.len()] {
            AnyHandle::Soon(h) => h.cancel(),
            AnyHandle::Timer(h) => h.cancel(),
        }
    }

    fn dispatch(&self) {
        if self.core.dispatch() == Flow::Stop {
            self.trace.borrow_mut().push(Ev::Stopped);
        }
    }

    fn run(self: &Rc<Self>, ops: &[Op]) -> Vec<Ev> {
        for op in ops {
            match op {
                Op::Soon(a) => self.soon(a.clone()),
                Op::At(d, a) => self.at(*d, a.clone()),
                Op::Cancel(i) => self.cancel(*i),
                Op::Dispatch => self.dispatch(),
                Op::Advance(d) => self.core.clock().advance(*d),
            }
        }
        for _ in 0..10_000 {
            if !self.core.has_work_now() && self.core.next_deadline().is_none() {
                break;
            }
            self.dispatch();
        }
        self.trace.take()
    }
}

// ------------------------------------------------------- the reference

#[derive(Clone)]
struct Job {
    id: usize,
    acts: Vec<Act>,
}

#[derive(Default)]
struct Reference {
    now: u64,
    seq: u64,
    /// (sequence number, job)
    ready: Vec<(u64, Job)>,
    pushed: u64,
    /// (when, scheduling order, job)
    timers: Vec<(u64, u64, Job)>,
    cancelled: HashSet<usize>,
    ran: HashSet<usize>,
    /// Ids of every scheduled job, in scheduling order (for Cancel(i)).
    handles: Vec<usize>,
    next_id: usize,
    iter_end: Option<u64>,
    iterations: u64,
    stopping: bool,
    trace: Vec<Ev>,
}

impl Reference {
    fn job(&mut self, acts: Vec<Act>) -> Job {
        let id = self.next_id;
        self.next_id += 1;
        self.handles.push(id);
        Job { id, acts }
    }

    fn push_ready(&mut self, job: Job) {
        self.ready.push((self.pushed, job));
        self.pushed += 1;
    }

    fn soon(&mut self, acts: Vec<Act>) {
        let j = self.job(acts);
        self.push_ready(j);
    }

    fn at(&mut self, delay: u64, acts: Vec<Act>) {
        let j = self.job(acts);
        self.seq += 1;
        self.timers.push((self.now + delay, self.seq, j));
    }

    fn cancel(&mut self, i: usize) {
        if !self.handles.is_empty() {
            let id = self.handles[i % self.handles.len()];
            if !self.ran.contains(&id) {
                self.cancelled.insert(id);
            }
        }
    }

    fn live_timers(&self) -> impl Iterator<Item = &(u64, u64, Job)> {
        self.timers
            .iter()
            .filter(|t| !self.cancelled.contains(&t.2.id))
    }

    /// asyncio: a timer is due if its deadline is within the clock
    /// resolution of now.
    fn due(&self, when: u64) -> bool {
        when <= self.now + CLOCK_RESOLUTION
    }

    fn work_now(&self) -> bool {
        self.iter_end.is_some()
            || !self.ready.is_empty()
            || self.live_timers().any(|t| self.due(t.0))
    }

    /// Step 1 and 2 of an iteration: due timers, in (deadline, order).
    fn begin(&mut self) {
        let now = self.now;
        let mut due: Vec<_> = self
            .timers
            .iter()
            .filter(|t| t.0 <= now + CLOCK_RESOLUTION)
            .cloned()
            .collect();
        self.timers.retain(|t| t.0 > now + CLOCK_RESOLUTION);
        due.sort_by_key(|t| (t.0, t.1));
        for (_, _, j) in due {
            if !self.cancelled.contains(&j.id) {
                self.push_ready(j);
            }
        }
        self.iter_end = Some(self.pushed);
    }

    /// Step 3: run what was ready when the iteration began.
    fn iteration(&mut self) {
        if self.iter_end.is_none() {
            self.begin();
        }
        while let Some(end) = self.iter_end {
            let Some(pos) = self.ready.first().map(|r| r.0) else {
                break;
            };
            if pos >= end {
                break;
            }
            let (_, job) = self.ready.remove(0);
            if self.cancelled.contains(&job.id) {
                continue;
            }
            self.ran.insert(job.id);
            self.trace.push(Ev::Ran {
                id: job.id,
                iter: self.iterations,
                now: self.now,
            });
            for a in job.acts {
                match a {
                    Act::Soon => self.soon(vec![]),
                    Act::Later(d) => self.at(d, vec![]),
                    Act::Cancel(i) => self.cancel(i),
                    Act::Stop => self.stopping = true,
                    Act::Nested => self.dispatch(),
                }
            }
        }
        if self.iter_end.take().is_some() {
            self.iterations += 1;
        }
    }

    fn dispatch(&mut self) {
        let mut stopped = false;
        loop {
            self.iteration();
            if self.stopping {
                self.stopping = false;
                self.trace.push(Ev::Stopped);
                stopped = true;
                break;
            }
            if !self.work_now() {
                break;
            }
        }
        // Idle with only timers pending: the paused clock jumps (not when
        // the loop is leaving run_forever).
        if !stopped && !self.work_now() {
            if let Some(next) = self.live_timers().map(|t| t.0).min() {
                self.now = self.now.max(next);
            }
        }
    }

    fn run(&mut self, ops: &[Op]) -> Vec<Ev> {
        for op in ops {
            match op {
                Op::Soon(a) => self.soon(a.clone()),
                Op::At(d, a) => self.at(*d, a.clone()),
                Op::Cancel(i) => self.cancel(*i),
                Op::Dispatch => self.dispatch(),
                Op::Advance(d) => self.now += d,
            }
        }
        for _ in 0..10_000 {
            if !self.work_now() && self.live_timers().next().is_none() {
                break;
            }
            self.dispatch();
        }
        std::mem::take(&mut self.trace)
    }
}

/// 10,000 programs; 100,000 with QTLOOP_LONG=1; or QTLOOP_MODEL_CASES.
fn cases() -> u32 {
    std::env::var("QTLOOP_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if std::env::var_os("QTLOOP_LONG").is_some() {
            100_000
        } else {
            10_000
        })
}

fn check(ops: &[Op]) -> Result<(), TestCaseError> {
    let core = normalise(&CoreRun::new().run(ops));
    let reference = normalise(&Reference::default().run(ops));
    prop_assert_eq!(core, reference);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    /// ≥ 10,000 random programs (QTLOOP_MODEL_CASES to change it).
    #[test]
    fn core_matches_the_reference(ops in proptest::collection::vec(op(), 1..40)) {
        check(&ops)?;
    }
}

/// Regression cases (shrunk failures and hand-picked corners).
#[test]
fn model_regressions() {
    use Act::*;
    let programs: Vec<Vec<Op>> = vec![
        // A nested dispatch continues the outer iteration.
        vec![
            Op::Soon(vec![Nested, Soon]),
            Op::Soon(vec![]),
            Op::At(0, vec![]),
        ],
        // Stop inside a nested dispatch.
        vec![
            Op::Soon(vec![Nested]),
            Op::Soon(vec![Stop, Soon]),
            Op::Dispatch,
        ],
        // Cancel a timer that another callback scheduled at the same time.
        vec![Op::At(1, vec![Later(0), Cancel(1)]), Op::At(1, vec![])],
        // Equal deadlines keep scheduling order across advances.
        vec![
            Op::At(2, vec![]),
            Op::Advance(1),
            Op::At(1, vec![]),
            Op::At(1, vec![]),
        ],
        // Shrunk: after a stop, a timer due within the clock resolution runs
        // without moving the paused clock (the reference had jumped it).
        vec![
            Op::At(2_000_000, vec![Later(1)]),
            Op::At(2_000_000, vec![Stop]),
        ],
        // Shrunk: a timer 1 ns ahead is due now (asyncio's resolution rule).
        vec![Op::At(0, vec![Later(1)])],
    ];
    for p in programs {
        check(&p).unwrap();
    }
}
