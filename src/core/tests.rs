//! Unit tests of the core with a plain-Rust driver (no Qt).

use super::*;
use std::any::Any;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Default)]
pub(super) struct Log {
    pub(super) ticks: Cell<usize>,
    pub(super) deferred: Cell<usize>,
    pub(super) armed: Cell<Option<u64>>,
    pub(super) panics: RefCell<Vec<String>>,
    /// What panicked and the line it was scheduled at, beside `panics`.
    pub(super) panic_sites: RefCell<Vec<(String, u32)>>,
    pub(super) slow: Cell<usize>,
    /// Notifier state by (fd, direction): Some(enabled), None = deleted.
    notifiers: RefCell<std::collections::HashMap<(io::Fd, io::Direction), bool>>,
    invalid: RefCell<Vec<io::Fd>>,
}

struct TestDriver(Rc<Log>);
impl Driver for TestDriver {
    fn request_tick(&self) {
        self.0.ticks.set(self.0.ticks.get() + 1);
    }
    fn defer_tick(&self) {
        self.0.deferred.set(self.0.deferred.get() + 1);
    }
    fn arm_timer(&self, wait: u64) {
        self.0.armed.set(Some(wait));
    }
    fn disarm_timer(&self) {
        self.0.armed.set(None);
    }
    fn watch_fd(&self, fd: io::Fd, dir: io::Direction, enable: bool) {
        self.0.notifiers.borrow_mut().insert((fd, dir), enable);
    }
    fn unwatch_fd(&self, fd: io::Fd, dir: io::Direction) {
        self.0.notifiers.borrow_mut().remove(&(fd, dir));
    }
}

struct TestWake(Arc<AtomicUsize>);
impl RemoteWake for TestWake {
    fn wake(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct TestHooks(Rc<Log>);
impl Hooks for TestHooks {
    fn panicked(&self, what: &'static str, at: &'static Location<'static>, p: Box<dyn Any + Send>) {
        self.0
            .panics
            .borrow_mut()
            .push(crate::error::panic_message(&*p));
        self.0
            .panic_sites
            .borrow_mut()
            .push((what.to_owned(), at.line()));
    }
    fn slow_callback(&self, _: &'static str, _: &'static Location<'static>, _: Duration) {
        self.0.slow.set(self.0.slow.get() + 1);
    }
    fn fd_invalid(&self, fd: io::Fd) {
        self.0.invalid.borrow_mut().push(fd);
    }
}

pub(super) fn core() -> (Rc<Core>, Rc<Log>, Arc<AtomicUsize>) {
    let log = Rc::new(Log::default());
    let wakes = Arc::new(AtomicUsize::new(0));
    let core = Core::new(
        Box::new(TestDriver(log.clone())),
        Box::new(TestWake(wakes.clone())),
        Box::new(TestHooks(log.clone())),
    );
    (Rc::new(core), log, wakes)
}

pub(super) fn here() -> &'static Location<'static> {
    Location::caller()
}

pub(super) type Trace = Rc<RefCell<Vec<u32>>>;

pub(super) fn push(trace: &Trace, v: u32) -> impl FnOnce() + 'static {
    let t = trace.clone();
    move || t.borrow_mut().push(v)
}

/// Dispatches until nothing is ready and no timer is due.
pub(super) fn drain(core: &Core) {
    for _ in 0..10_000 {
        core.dispatch();
        if !core.has_work_now() {
            return;
        }
    }
    panic!("the core never went idle");
}

#[test]
fn call_soon_is_fifo_under_100k() {
    let (core, log, _) = core();
    let trace: Trace = Rc::default();
    for i in 0..100_000 {
        core.call_soon(push(&trace, i), here()).unwrap();
    }
    assert_eq!(log.ticks.get(), 1, "one tick requested for a burst");
    drain(&core);
    let t = trace.borrow();
    assert_eq!(t.len(), 100_000);
    assert!(t.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn scheduled_during_an_iteration_runs_in_the_next() {
    let (core, _, _) = core();
    let seen: Rc<RefCell<Vec<(u32, u64)>>> = Rc::default();
    let (c, s) = (core.clone(), seen.clone());
    core.call_soon(
        move || {
            s.borrow_mut().push((1, c.iterations()));
            let s2 = s.clone();
            let c2 = c.clone();
            c.call_soon(move || s2.borrow_mut().push((3, c2.iterations())), here())
                .unwrap();
        },
        here(),
    )
    .unwrap();
    let (c, s) = (core.clone(), seen.clone());
    core.call_soon(move || s.borrow_mut().push((2, c.iterations())), here())
        .unwrap();
    drain(&core);
    let seen = seen.borrow();
    assert_eq!(seen.iter().map(|x| x.0).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(seen[0].1, seen[1].1, "1 and 2 run in the same iteration");
    assert_eq!(seen[2].1, seen[0].1 + 1, "3 runs in the next iteration");
}

#[test]
fn timers_run_by_deadline_then_by_scheduling_order() {
    let (core, _, _) = core();
    core.clock().pause();
    let now = core.now();
    let trace: Trace = Rc::default();
    core.call_at(now + 200, push(&trace, 1), here()).unwrap();
    core.call_at(now + 100, push(&trace, 2), here()).unwrap();
    core.call_at(now + 100, push(&trace, 3), here()).unwrap();
    // Negative delays clamp to deadline 0: due now, in scheduling order.
    core.call_at(0, push(&trace, 4), here()).unwrap();
    core.call_at(0, push(&trace, 5), here()).unwrap();
    core.call_soon(push(&trace, 6), here()).unwrap();
    core.dispatch();
    // Iteration 1: what was ready, then the timers already due (asyncio).
    assert_eq!(*trace.borrow(), [6, 4, 5]);
    // Idle with only timers pending, the paused clock jumps to each deadline.
    drain(&core);
    assert_eq!(*trace.borrow(), [6, 4, 5, 2, 3, 1]);
    assert_eq!(
        core.now(),
        now + 200,
        "the clock jumped exactly to the last deadline"
    );
}

#[test]
fn cancelled_handles_and_timers_never_run() {
    let (core, _, _) = core();
    let trace: Trace = Rc::default();
    let h = core.call_soon(push(&trace, 1), here()).unwrap();
    let t = core.call_at(0, push(&trace, 2), here()).unwrap();
    core.call_soon(push(&trace, 3), here()).unwrap();
    h.cancel();
    t.cancel();
    assert!(h.cancelled() && t.cancelled());
    drain(&core);
    assert_eq!(*trace.borrow(), [3]);
    // Cancelling after the run is a no-op.
    h.cancel();
    assert_eq!(*trace.borrow(), [3]);
}

#[test]
fn cancelling_drops_the_closure_at_once() {
    let (core, _, _) = core();
    let token = Rc::new(());
    let held = token.clone();
    let h = core.call_soon(move || drop(held), here()).unwrap();
    assert_eq!(Rc::strong_count(&token), 2);
    h.cancel();
    assert_eq!(Rc::strong_count(&token), 1);
}

#[test]
fn cancelled_timers_are_compacted() {
    let (core, _, _) = core();
    let handles: Vec<_> = (0..1000)
        .map(|i| {
            core.call_at(core.now() + 1_000_000_000_000 + i, || {}, here())
                .unwrap()
        })
        .collect();
    for h in &handles[..900] {
        h.cancel();
    }
    assert_eq!(core.timers_len(), 1000);
    core.dispatch();
    assert_eq!(core.timers_len(), 100, "cancelled timers were dropped");
    for h in &handles[900..] {
        assert!(!h.cancelled());
    }
}

#[test]
fn posts_from_threads_coalesce_into_one_wake_and_lose_nothing() {
    let (core, _, wakes) = core();
    let inbox = core.inbox().clone();
    let count = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let inbox = inbox.clone();
            let count = count.clone();
            std::thread::spawn(move || {
                for _ in 0..10_000 {
                    let c = count.clone();
                    Core::post_shared(
                        &inbox,
                        move || {
                            c.fetch_add(1, Ordering::Relaxed);
                        },
                        here(),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(wakes.load(Ordering::SeqCst), 1, "one wake for the burst");
    drain(&core);
    assert_eq!(count.load(Ordering::Relaxed), 40_000);
    // The next post wakes again.
    Core::post_shared(&inbox, || {}, here()).unwrap();
    assert_eq!(wakes.load(Ordering::SeqCst), 2);
}

#[test]
fn panics_reach_the_hooks_and_the_loop_goes_on() {
    let (core, log, _) = core();
    let trace: Trace = Rc::default();
    core.call_soon(push(&trace, 1), here()).unwrap();
    core.call_soon(|| panic!("boom"), here()).unwrap();
    core.call_soon(push(&trace, 2), here()).unwrap();
    drain(&core);
    assert_eq!(*trace.borrow(), [1, 2]);
    assert_eq!(*log.panics.borrow(), ["boom"]);
}

#[test]
fn budget_pauses_an_iteration_and_resumes_it_in_order() {
    let (core, log, _) = core();
    core.set_budget(Duration::ZERO);
    let trace: Trace = Rc::default();
    for i in 0..1000 {
        core.call_soon(push(&trace, i), here()).unwrap();
    }
    let ticks = log.ticks.get();
    core.dispatch();
    let ran = trace.borrow().len();
    assert!(
        ran > 0 && ran < 1000,
        "one dispatch ran part of the batch: {ran}"
    );
    assert!(log.ticks.get() > ticks, "the rest asked for another tick");
    drain(&core);
    assert_eq!(*trace.borrow(), (0..1000).collect::<Vec<_>>());
    assert_eq!(core.iterations(), 1, "still a single iteration");
}

#[test]
fn nested_dispatch_runs_others_and_never_reenters() {
    let (core, _, _) = core();
    let trace: Trace = Rc::default();
    let (c, t) = (core.clone(), trace.clone());
    let entered = Rc::new(Cell::new(0));
    let e = entered.clone();
    core.call_soon(
        move || {
            e.set(e.get() + 1);
            t.borrow_mut().push(1);
            // A nested Qt loop would dispatch the core again from here.
            c.dispatch();
            c.dispatch();
            t.borrow_mut().push(99);
        },
        here(),
    )
    .unwrap();
    core.call_soon(push(&trace, 2), here()).unwrap();
    core.call_at(0, push(&trace, 3), here()).unwrap();
    drain(&core);
    assert_eq!(entered.get(), 1);
    assert_eq!(*trace.borrow(), [1, 2, 3, 99]);
}

#[test]
fn stop_ends_dispatch_after_the_current_iteration() {
    let (core, _, _) = core();
    core.set_running(true);
    let trace: Trace = Rc::default();
    let (c, t) = (core.clone(), trace.clone());
    core.call_soon(
        move || {
            t.borrow_mut().push(1);
            c.stop();
            let t2 = t.clone();
            c.call_soon(move || t2.borrow_mut().push(3), here())
                .unwrap();
        },
        here(),
    )
    .unwrap();
    core.call_soon(push(&trace, 2), here()).unwrap();
    assert_eq!(core.dispatch(), Flow::Stop);
    assert_eq!(*trace.borrow(), [1, 2]);
    assert_eq!(core.ready_len(), 1, "the next iteration's callback waits");
}

#[test]
fn timers_arm_the_whole_wait_in_nanoseconds() {
    // The driver sleeps for the whole wait: no tick is requested for the
    // sub-millisecond rest (the old plan spun through it with ticks).
    let (core, log, _) = core();
    core.call_at(core.now() + 5_500_000, || {}, here()).unwrap();
    core.dispatch();
    let wait = log.armed.get().expect("a timer is armed");
    assert!(
        (5_000_000..=5_500_000).contains(&wait),
        "armed for {wait} ns"
    );
    let ticks = log.ticks.get();
    core.dispatch(); // nothing is due: the plan stays, no tick
    assert_eq!(log.ticks.get(), ticks, "waiting requests no ticks");
    let (core, log, _) = self::core();
    core.call_at(core.now() + 300_000, || {}, here()).unwrap();
    core.dispatch();
    let ticks = log.ticks.get();
    assert!(log.armed.get().is_some_and(|w| w > 0 && w <= 300_000));
    core.dispatch();
    assert_eq!(log.ticks.get(), ticks, "a 0.3 ms wait sleeps too");
}

#[test]
fn closed_core_refuses_work_and_drops_what_was_queued() {
    let (core, _, _) = core();
    let token = Rc::new(());
    let (a, b) = (token.clone(), token.clone());
    core.call_soon(move || drop(a), here()).unwrap();
    core.call_at(u64::MAX / 4, move || drop(b), here()).unwrap();
    core.close();
    core.close();
    assert_eq!(Rc::strong_count(&token), 1);
    assert!(matches!(core.call_soon(|| {}, here()), Err(Error::Closed)));
    assert!(matches!(
        Core::post_shared(core.inbox(), || {}, here()),
        Err(Error::Closed)
    ));
}

#[test]
fn debug_mode_reports_slow_callbacks() {
    let (core, log, _) = core();
    core.set_debug(true);
    core.set_slow_callback_duration(Duration::from_millis(5));
    core.call_soon(|| std::thread::sleep(Duration::from_millis(10)), here())
        .unwrap();
    core.call_soon(|| {}, here()).unwrap();
    drain(&core);
    assert_eq!(log.slow.get(), 1);
}

// ------------------------------------------------------------ readiness

fn notifier(log: &Log, fd: io::Fd, dir: io::Direction) -> Option<bool> {
    log.notifiers.borrow().get(&(fd, dir)).copied()
}

/// A notifier fires (only an enabled one can): the driver tells the core,
/// which dispatches at once.
fn fire(core: &Core, log: &Log, fd: io::Fd, dir: io::Direction) {
    if let Some(on) = log.notifiers.borrow().get(&(fd, dir)) {
        assert!(*on, "a disabled notifier cannot fire");
    }
    core.fd_ready(fd, dir);
}

#[test]
fn fd_callbacks_run_through_the_fifo_and_are_level_triggered() {
    use io::Direction::Read;
    let (core, log, _) = core();
    let trace: Trace = Rc::default();
    let t = trace.clone();
    core.set_fd_callback(7, Read, Rc::new(move || t.borrow_mut().push(7)), here())
        .unwrap();
    assert_eq!(notifier(&log, 7, Read), Some(true), "listening at once");
    core.call_soon(push(&trace, 1), here()).unwrap();
    fire(&core, &log, 7, Read);
    assert_eq!(*trace.borrow(), [1, 7], "readiness queues behind call_soon");
    assert_eq!(notifier(&log, 7, Read), Some(true), "listening again");
    fire(&core, &log, 7, Read); // still ready: runs again
    assert_eq!(*trace.borrow(), [1, 7, 7]);
}

#[test]
fn a_second_callback_replaces_the_first_and_stale_runs_are_dropped() {
    use io::Direction::{Read, Write};
    // A run queued for a callback that is replaced before it runs is
    // stale: the registry refuses it, and the new callback listens at once.
    let mut reg = io::IoRegistry::default();
    let (_, change) = reg.set_callback(3, Read, Rc::new(|| {}), here());
    assert_eq!(change, io::NotifierChange::Enable(true));
    let (_, event, change) = reg.ready(3, Read);
    let stale = event.expect("a run is queued");
    assert_eq!(
        change,
        io::NotifierChange::Enable(false),
        "off while queued"
    );
    let (old, change) = reg.set_callback(3, Read, Rc::new(|| {}), here());
    assert!(old.is_some());
    assert_eq!(change, io::NotifierChange::Enable(true));
    assert!(reg.take_run(stale).is_none(), "the stale run is dropped");

    let (core, log, _) = core();
    let trace: Trace = Rc::default();
    let (a, b) = (trace.clone(), trace.clone());
    core.set_fd_callback(3, Read, Rc::new(move || a.borrow_mut().push(1)), here())
        .unwrap();
    core.set_fd_callback(3, Read, Rc::new(move || b.borrow_mut().push(2)), here())
        .unwrap();
    fire(&core, &log, 3, Read);
    assert_eq!(*trace.borrow(), [2]);
    assert!(core.remove_fd_callback(3, Read));
    assert!(!core.remove_fd_callback(3, Read), "removing twice: false");
    assert!(!core.remove_fd_callback(3, Write));
    assert_eq!(notifier(&log, 3, Read), None, "the notifier is deleted");
    assert_eq!(core.watched_fds(), 0);
}

#[test]
fn removing_a_reader_from_its_own_callback_is_safe() {
    use io::Direction::Read;
    let (core, log, _) = core();
    let runs = Rc::new(Cell::new(0));
    let (c, r) = (Rc::downgrade(&core), runs.clone());
    core.set_fd_callback(
        4,
        Read,
        Rc::new(move || {
            r.set(r.get() + 1);
            c.upgrade().unwrap().remove_fd_callback(4, Read);
        }),
        here(),
    )
    .unwrap();
    fire(&core, &log, 4, Read);
    core.dispatch();
    fire(&core, &log, 4, Read); // a late event for a removed fd: ignored
    core.dispatch();
    assert_eq!(runs.get(), 1);
    assert_eq!(notifier(&log, 4, Read), None);
}

#[test]
fn fd_callback_panics_reach_the_hooks_and_the_reader_stays() {
    use io::Direction::Read;
    let (core, log, _) = core();
    core.set_fd_callback(5, Read, Rc::new(|| panic!("reader broke")), here())
        .unwrap();
    fire(&core, &log, 5, Read);
    core.dispatch();
    assert_eq!(*log.panics.borrow(), ["reader broke"]);
    assert_eq!(notifier(&log, 5, Read), Some(true), "still listening");
}

#[test]
fn waiters_are_woken_once_and_dropped_waiters_stop_listening() {
    use io::Direction::Write;
    let (core, log, _) = core();
    let woken = Arc::new(AtomicUsize::new(0));
    let waker = counting_waker(woken.clone());
    let k1 = core.wait_fd(9, Write, None, &waker).unwrap();
    let k2 = core.wait_fd(9, Write, None, &waker).unwrap();
    assert_eq!(core.wait_fd(9, Write, Some(k1), &waker).unwrap(), k1);
    assert_eq!(notifier(&log, 9, Write), Some(true));
    core.cancel_fd_wait(9, Write, k2);
    fire(&core, &log, 9, Write);
    assert_eq!(woken.load(Ordering::SeqCst), 1, "k2 was dropped before");
    assert_eq!(core.fd_wait_state(9, Write, k1), io::WaitState::Ready);
    assert_eq!(
        notifier(&log, 9, Write),
        Some(true),
        "on: k1 will wait again"
    );
    fire(&core, &log, 9, Write); // nobody waits now: it goes off
    assert_eq!(notifier(&log, 9, Write), Some(false), "kept, but off");
    assert_eq!(woken.load(Ordering::SeqCst), 1);
    core.release_fd(9);
    assert_eq!(notifier(&log, 9, Write), None);
}

#[test]
fn an_invalid_fd_drops_its_listeners_and_is_reported() {
    use io::Direction::Read;
    let (core, log, _) = core();
    assert_eq!(
        core.set_fd_callback(-1, Read, Rc::new(|| {}), here()),
        Err(Error::InvalidFd(-1))
    );
    let dropped = Rc::new(Cell::new(false));
    struct OnDrop(Rc<Cell<bool>>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let guard = OnDrop(dropped.clone());
    core.set_fd_callback(
        6,
        Read,
        Rc::new(move || {
            let _ = &guard;
        }),
        here(),
    )
    .unwrap();
    core.fd_invalid(6);
    assert!(dropped.get());
    assert_eq!(*log.invalid.borrow(), [6]);
    assert_eq!(notifier(&log, 6, Read), None);
}

#[test]
fn closing_drops_fd_callbacks_and_refuses_new_ones() {
    use io::Direction::Read;
    let (core, _, _) = core();
    let dropped = Rc::new(Cell::new(0));
    struct OnDrop(Rc<Cell<u32>>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let g = OnDrop(dropped.clone());
    core.set_fd_callback(
        8,
        Read,
        Rc::new(move || {
            let _ = &g;
        }),
        here(),
    )
    .unwrap();
    core.close();
    assert_eq!(dropped.get(), 1);
    assert_eq!(
        core.set_fd_callback(8, Read, Rc::new(|| {}), here()),
        Err(Error::Closed)
    );
}

fn counting_waker(n: Arc<AtomicUsize>) -> std::task::Waker {
    struct W(Arc<AtomicUsize>);
    impl std::task::Wake for W {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    std::task::Waker::from(Arc::new(W(n)))
}

#[test]
fn work_scheduled_during_a_dispatch_posts_no_tick_unless_a_nested_loop_waits() {
    let (core, log, _) = core();
    let trace: Trace = Rc::default();
    let (c, t) = (Rc::downgrade(&core), trace.clone());
    core.call_soon(
        move || {
            let core = c.upgrade().unwrap();
            for i in 0..3 {
                core.call_soon(push(&t, i), here()).unwrap();
            }
        },
        here(),
    )
    .unwrap();
    let ticks = log.ticks.get();
    core.dispatch();
    assert_eq!(
        *trace.borrow(),
        [0, 1, 2],
        "the dispatch ran what it scheduled"
    );
    // One tick at most: posted before user code runs with more work ready
    // (its nested loop, if it spins one, may not be Qt's); the wakes
    // themselves were deferred.
    assert_eq!(log.ticks.get(), ticks + 1, "one tick for the dispatch");
    assert_eq!(log.deferred.get(), 1, "deferred once");
    // A callback that spins a nested loop: the loop flushes the deferred
    // tick before it waits, and that tick's dispatch runs the work.
    let (c, t) = (Rc::downgrade(&core), trace.clone());
    let l = log.clone();
    core.call_soon(
        move || {
            let core = c.upgrade().unwrap();
            core.call_soon(push(&t, 9), here()).unwrap();
            let before = l.ticks.get();
            core.flush_deferred_tick(); // what the driver does at aboutToBlock
            assert_eq!(l.ticks.get(), before + 1, "the nested loop gets a tick");
            core.dispatch(); // the nested loop delivers it
        },
        here(),
    )
    .unwrap();
    core.dispatch();
    assert_eq!(*trace.borrow(), [0, 1, 2, 9]);
}
