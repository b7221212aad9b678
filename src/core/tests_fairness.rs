//! Unit tests of the core's fairness and memory rules: one FIFO for local
//! and posted work, deadlines in the past keep their order, the dispatch
//! budget holds whatever is due or slow, and queues shrink after a burst.

use super::tests::{core, drain, here, push, Trace};
use super::*;
use std::rc::Rc;
use std::time::Instant;

#[test]
fn posted_work_that_came_first_runs_first() {
    let (core, _, _) = core();
    let trace: Trace = Rc::default();
    let t = trace.clone();
    // A post from another thread that finished before the call_soon.
    let inbox = core.inbox().clone();
    std::thread::spawn(move || {
        let e = handle::SharedEntry::new(|| {}, Location::caller());
        assert!(inbox.post(Posted::Callback(e)).is_ok());
    })
    .join()
    .unwrap();
    // And one from the loop thread itself (call_soon_threadsafe).
    let sent = Arc::new(std::sync::Mutex::new(Vec::<u32>::new()));
    let s = sent.clone();
    Core::post_shared(core.inbox(), move || s.lock().unwrap().push(1), here()).unwrap();
    core.call_soon(
        move || {
            t.borrow_mut().push(2);
        },
        here(),
    )
    .unwrap();
    let (s, t) = (sent.clone(), trace.clone());
    core.call_soon(
        move || t.borrow_mut().push(s.lock().unwrap().len() as u32),
        here(),
    )
    .unwrap();
    drain(&core);
    // The posted callback ran before call_soon's first one: when the
    // second one ran, it saw the post's push.
    assert_eq!(*trace.borrow(), vec![2, 1]);
    assert_eq!(*sent.lock().unwrap(), vec![1]);
}

#[test]
fn deadlines_in_the_past_run_in_deadline_order() {
    let (core, _, _) = core();
    let trace: Trace = Rc::default();
    let now = core.now();
    core.call_at(
        clock::deadline_after(now, -1_000_000_000),
        push(&trace, 1),
        here(),
    )
    .unwrap();
    core.call_at(
        clock::deadline_after(now, -2_000_000_000),
        push(&trace, 2),
        here(),
    )
    .unwrap();
    drain(&core);
    assert_eq!(*trace.borrow(), vec![2, 1]);
}

#[test]
fn moving_many_due_timers_keeps_to_the_budget() {
    let (core, _, _) = core();
    let n = 200_000;
    let ran = Rc::new(Cell::new(0u32));
    let when = core.now();
    for _ in 0..n {
        let r = ran.clone();
        core.call_at(when, move || r.set(r.get() + 1), here())
            .unwrap();
    }
    core.set_budget(Duration::from_micros(500));
    let mut longest = Duration::ZERO;
    let mut dispatches = 0;
    while ran.get() < n {
        let start = Instant::now();
        core.dispatch();
        longest = longest.max(start.elapsed());
        dispatches += 1;
        assert!(dispatches < 100_000, "no progress");
    }
    // Moving them all at once took 180 ms here (debug build); budgeted,
    // the longest dispatch took 2.6 ms.
    assert!(
        longest < Duration::from_millis(40),
        "one dispatch took {longest:?}"
    );
}

#[test]
fn a_slow_callback_ends_the_dispatch_at_once() {
    let (core, _, _) = core();
    let ran = Rc::new(Cell::new(0u32));
    for _ in 0..32 {
        let r = ran.clone();
        core.call_soon(
            move || {
                std::thread::sleep(Duration::from_millis(2));
                r.set(r.get() + 1);
            },
            here(),
        )
        .unwrap();
    }
    core.dispatch();
    assert_eq!(ran.get(), 1, "the budget (1.5 ms) was spent by the first");
    // Quick callbacks after slow ones: the stride grows again.
    for _ in 0..10_000 {
        core.call_soon(|| {}, here()).unwrap();
    }
    drain(&core);
    assert_eq!(ran.get(), 32);
}

#[test]
fn the_iteration_rule_holds_across_a_budget_split_of_due_timers() {
    let (core, _, _) = core();
    let trace: Trace = Rc::default();
    let when = core.now();
    for i in 0..5000 {
        core.call_at(when, push(&trace, i), here()).unwrap();
    }
    core.set_budget(Duration::ZERO);
    drain(&core);
    let t = trace.borrow();
    assert_eq!(t.len(), 5000);
    assert!(t.windows(2).all(|w| w[0] < w[1]), "deadline order kept");
}

#[test]
fn queues_shrink_after_a_burst() {
    let (core, _, _) = core();
    for _ in 0..100_000 {
        core.call_soon(|| {}, here()).unwrap();
    }
    let when = core.now() + 1_000_000_000_000;
    let timers: Vec<_> = (0..100_000)
        .map(|_| core.call_at(when, || {}, here()).unwrap())
        .collect();
    let (ready_cap, timers_cap) = (
        core.ready.borrow().capacity(),
        core.timers.borrow().capacity(),
    );
    assert!(ready_cap >= 100_000 && timers_cap >= 100_000);
    for t in &timers {
        t.cancel();
    }
    drain(&core);
    assert!(core.ready.borrow().capacity() <= SHRINK_MIN * 2);
    assert!(core.timers.borrow().capacity() <= SHRINK_MIN * 2);
}
