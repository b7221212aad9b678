//! asyncio's ordering and Qt's share of the thread under load (issue 14,
//! items 19, 20, 23 and 24): negative delays keep their order, local and
//! posted work share one FIFO, and neither a million due timers nor slow
//! callbacks keep a 1 ms `QTimer` from ticking.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qtloop::qt::TimerProbe;
use qtloop::EventLoop;

cases!(fairness:
    negative_delays_run_in_deadline_order,
    threadsafe_then_call_soon_is_one_fifo,
    a_post_from_another_thread_that_finished_first_runs_first,
    a_post_runs_before_a_timer_that_falls_due_after_it,
    due_timers_do_not_freeze_qt,
    slow_callbacks_give_qt_its_turn_after_each,
    slow_callbacks_after_quick_ones_give_qt_its_turn,
    a_flood_of_posts_does_not_freeze_qt,
    cancelled_timers_at_the_head_do_not_freeze_qt,
);

fn negative_delays_run_in_deadline_order() {
    let lp = EventLoop::new().unwrap();
    let order = Rc::new(RefCell::new(Vec::new()));
    let (o1, o2, o3) = (order.clone(), order.clone(), order.clone());
    lp.call_later(-1.0, move || o1.borrow_mut().push("a"))
        .unwrap();
    lp.call_later(-2.0, move || o2.borrow_mut().push("b"))
        .unwrap();
    // Far before the clock's origin (loop time starts near 0.0).
    lp.call_at(-1e6, move || o3.borrow_mut().push("c")).unwrap();
    let l = lp.clone();
    lp.call_later(0.0, move || l.stop()).unwrap();
    lp.run_forever().unwrap();
    assert_eq!(*order.borrow(), ["c", "b", "a"]);
    lp.close().unwrap();
}

/// Runs `schedule` inside a running loop, with a `push(name)` that makes
/// a callback recording `name`; the names in the order they ran.
fn order_of(
    schedule: impl FnOnce(&EventLoop, &dyn Fn(&'static str) -> Box<dyn FnOnce() + Send>) + 'static,
) -> Vec<&'static str> {
    let lp = EventLoop::new().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    let l = lp.clone();
    lp.call_soon(move || {
        let push = move |name: &'static str| -> Box<dyn FnOnce() + Send> {
            let o = o.clone();
            Box::new(move || o.lock().unwrap().push(name))
        };
        schedule(&l, &push);
        let l2 = l.clone();
        l.call_later(0.001, move || l2.stop()).unwrap();
    })
    .unwrap();
    lp.run_forever().unwrap();
    lp.close().unwrap();
    let v = order.lock().unwrap().clone();
    v
}

fn threadsafe_then_call_soon_is_one_fifo() {
    // Inside a running loop, as in CPython's test of this rule.
    let order = order_of(|l, push| {
        l.handle().call_soon_threadsafe(push("a")).unwrap();
        l.call_soon(push("b")).unwrap();
    });
    assert_eq!(order, ["a", "b"]);
}

fn a_post_from_another_thread_that_finished_first_runs_first() {
    let order = order_of(|l, push| {
        let (h, a) = (l.handle(), push("a"));
        std::thread::spawn(move || h.call_soon_threadsafe(a).unwrap())
            .join()
            .unwrap();
        l.call_soon(push("b")).unwrap();
    });
    assert_eq!(order, ["a", "b"]);
}

fn a_post_runs_before_a_timer_that_falls_due_after_it() {
    // asyncio: "a" is in _ready; the timers fall due at the next iteration
    // and are appended after it.
    let order = order_of(|l, push| {
        l.handle().call_soon_threadsafe(push("a")).unwrap();
        l.call_later(0.0, push("b")).unwrap();
        l.call_later(-1.0, push("c")).unwrap();
    });
    assert_eq!(order, ["a", "c", "b"]);
}

/// The longest gap of a 1 ms `QTimer` while the load that `start_load`
/// starts (20 ms after the timer's first ticks) runs, until `done`.
fn qt_timer_gap_during(
    lp: &EventLoop,
    start_load: impl FnOnce() + 'static,
    done: Rc<Cell<bool>>,
) -> (Duration, u64) {
    let probe = TimerProbe::start(Duration::from_millis(1));
    let start = Instant::now();
    lp.call_later(0.02, start_load).unwrap();
    let l = lp.clone();
    fn check(l: EventLoop, done: Rc<Cell<bool>>) {
        if done.get() {
            l.stop();
        } else {
            let l2 = l.clone();
            l.call_later(0.005, move || check(l2, done)).unwrap();
        }
    }
    lp.call_soon(move || check(l, done)).unwrap();
    lp.run_forever().unwrap();
    assert!(start.elapsed() < Duration::from_secs(30));
    let out = (probe.max_gap(), probe.ticks());
    drop(probe);
    out
}

/// The bound on the `QTimer`'s gap: the 8 ms in optimised builds,
/// more in debug builds (a heap pop costs ~10× more; 40 ms leaves room for
/// a loaded machine, the failures were 48–282 ms) and none under valgrind.
fn gap_bound() -> Duration {
    if !crate::reactor::timing_bounds_apply() {
        Duration::from_secs(3600)
    } else if cfg!(debug_assertions) {
        Duration::from_millis(40)
    } else {
        Duration::from_millis(8)
    }
}

fn due_timers_do_not_freeze_qt() {
    let lp = EventLoop::new().unwrap();
    let n = if cfg!(debug_assertions) {
        300_000
    } else {
        1_000_000
    };
    let ran = Rc::new(Cell::new(0u32));
    let done = Rc::new(Cell::new(false));
    // Due once the QTimer ticks (scheduling them takes ~0.3 s in debug).
    let when = lp.time() + 1.0;
    for _ in 0..n {
        let (r, d) = (ran.clone(), done.clone());
        lp.call_at(when, move || {
            r.set(r.get() + 1);
            if r.get() == n {
                d.set(true);
            }
        })
        .unwrap();
    }
    let (gap, ticks) = qt_timer_gap_during(&lp, || {}, done);
    assert_eq!(ran.get(), n);
    // Moving them all to the ready queue at once froze Qt for 180 ms
    // (debug build, 300k) or 245 ms (release, 1M).
    assert!(
        gap <= gap_bound(),
        "the 1 ms QTimer waited {gap:?} ({ticks} ticks)"
    );
    lp.close().unwrap();
}

fn slow_callbacks_give_qt_its_turn_after_each() {
    let lp = EventLoop::new().unwrap();
    let done = Rc::new(Cell::new(false));
    let ran = Rc::new(Cell::new(0));
    let (l, r, d) = (lp.clone(), ran.clone(), done.clone());
    let load = move || {
        for _ in 0..32 {
            let (r, d) = (r.clone(), d.clone());
            l.call_soon(move || {
                std::thread::sleep(Duration::from_millis(2));
                r.set(r.get() + 1);
                d.set(r.get() == 32);
            })
            .unwrap();
        }
    };
    let (gap, ticks) = qt_timer_gap_during(&lp, load, done);
    assert_eq!(ran.get(), 32);
    // Checked every 32 items, the 32 callbacks held Qt for 64 ms.
    let bound = Duration::from_millis(2) + gap_bound();
    assert!(
        gap <= bound,
        "the 1 ms QTimer waited {gap:?} ({ticks} ticks)"
    );
    lp.close().unwrap();
}

fn slow_callbacks_after_quick_ones_give_qt_its_turn() {
    let lp = EventLoop::new().unwrap();
    let done = Rc::new(Cell::new(false));
    let (l, d) = (lp.clone(), done.clone());
    let load = move || {
        // Quick ones first: the budget reads the clock less and less often.
        for _ in 0..40 {
            l.call_soon(|| {}).unwrap();
        }
        for i in 0..32 {
            let d = d.clone();
            l.call_soon(move || {
                std::thread::sleep(Duration::from_millis(2));
                d.set(i == 31);
            })
            .unwrap();
        }
    };
    let (gap, ticks) = qt_timer_gap_during(&lp, load, done);
    // Reading it every 32 items let 24 slow ones run in a row (48 ms).
    let bound = Duration::from_millis(8) + gap_bound();
    assert!(
        gap <= bound,
        "the 1 ms QTimer waited {gap:?} ({ticks} ticks)"
    );
    lp.close().unwrap();
}

fn a_flood_of_posts_does_not_freeze_qt() {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let lp = EventLoop::new().unwrap();
    let n = if cfg!(debug_assertions) {
        300_000
    } else {
        1_000_000
    };
    let ran = Arc::new(AtomicUsize::new(0));
    let done = Rc::new(Cell::new(false));
    let blocked = Rc::new(Cell::new(Duration::ZERO));
    let (h, r, b) = (lp.handle(), ran.clone(), blocked.clone());
    // The loop thread waits while another thread posts them all: when it
    // looks again, the whole flood is in the inbox. (That wait is this
    // test's own freeze; it is subtracted below.)
    let load = move || {
        let start = Instant::now();
        let r = r.clone();
        let h = h.clone();
        std::thread::spawn(move || {
            for _ in 0..n {
                let r = r.clone();
                h.call_soon_threadsafe(move || {
                    r.fetch_add(1, Relaxed);
                })
                .unwrap();
            }
        })
        .join()
        .unwrap();
        b.set(start.elapsed());
    };
    fn watch(l: EventLoop, r: Arc<AtomicUsize>, n: usize, d: Rc<Cell<bool>>) {
        if r.load(Relaxed) == n {
            d.set(true);
        } else {
            let l2 = l.clone();
            l.call_later(0.002, move || watch(l2, r, n, d)).unwrap();
        }
    }
    let (l, r2, d) = (lp.clone(), ran.clone(), done.clone());
    lp.call_soon(move || watch(l, r2, n, d)).unwrap();
    let (gap, ticks) = qt_timer_gap_during(&lp, load, done);
    assert_eq!(ran.load(Relaxed), n);
    // Draining them in one go froze Qt for 112-125 ms more (debug build).
    let bound = blocked.get() + gap_bound();
    assert!(
        gap <= bound,
        "the 1 ms QTimer waited {gap:?} ({ticks} ticks; the posting took {:?})",
        blocked.get()
    );
    lp.close().unwrap();
}

fn cancelled_timers_at_the_head_do_not_freeze_qt() {
    let lp = EventLoop::new().unwrap();
    let t = lp.time();
    // 150k cancelled timers ahead of 150k live ones: dropping the cancelled
    // heads in one go froze Qt (160 ms, debug build).
    let cancelled: Vec<_> = (0..150_000)
        .map(|i| lp.call_at(t + 0.5 + i as f64 * 1e-9, || {}).unwrap())
        .collect();
    for h in &cancelled {
        h.cancel();
    }
    let ran = Rc::new(Cell::new(0u32));
    let done = Rc::new(Cell::new(false));
    for _ in 0..150_000 {
        let (r, d) = (ran.clone(), done.clone());
        lp.call_at(t + 1.0, move || {
            r.set(r.get() + 1);
            d.set(r.get() == 150_000);
        })
        .unwrap();
    }
    let (gap, ticks) = qt_timer_gap_during(&lp, || {}, done);
    assert_eq!(ran.get(), 150_000);
    assert!(
        gap <= gap_bound(),
        "the 1 ms QTimer waited {gap:?} ({ticks} ticks)"
    );
    lp.close().unwrap();
}
