//! `call_soon` handles (sequence numbers in the ready queue, not shared
//! entries), panics of boxed callbacks, and the coarse clock that spares an
//! iteration its precise clock read.

use super::clock::{real_now, real_upper_bound};
use super::tests::{core, drain, here, push, Trace};
use super::*;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn a_handle_cancels_its_own_callback_and_no_other() {
    let (core, _, _) = core();
    let trace: Trace = Rc::default();
    let handles: Vec<Handle> = (1..=5)
        .map(|i| core.call_soon(push(&trace, i), here()).unwrap())
        .collect();
    handles[1].cancel();
    handles[3].cancel();
    handles[3].cancel(); // twice: a no-op
    drain(&core);
    assert_eq!(*trace.borrow(), [1, 3, 5]);
    let cancelled: Vec<bool> = handles.iter().map(Handle::cancelled).collect();
    assert_eq!(cancelled, [false, true, false, true, false]);
}

#[test]
fn cancelling_after_the_run_is_a_no_op_and_says_not_cancelled() {
    let (core, _, _) = core();
    let trace: Trace = Rc::default();
    let h = core.call_soon(push(&trace, 1), here()).unwrap();
    drain(&core);
    h.cancel();
    assert!(!h.cancelled(), "it ran: cancel came too late");
    // A later callback takes the queue positions after it, untouched.
    let later = core.call_soon(push(&trace, 2), here()).unwrap();
    h.cancel();
    drain(&core);
    assert_eq!(*trace.borrow(), [1, 2]);
    assert!(!later.cancelled());
}

#[test]
fn a_callback_cancels_a_later_one_of_the_same_iteration() {
    let (core, _, _) = core();
    let trace: Trace = Rc::default();
    let victim: Rc<RefCell<Option<Handle>>> = Rc::default();
    let v = victim.clone();
    let t = trace.clone();
    core.call_soon(
        move || {
            t.borrow_mut().push(1);
            v.borrow().as_ref().unwrap().cancel();
        },
        here(),
    )
    .unwrap();
    *victim.borrow_mut() = Some(core.call_soon(push(&trace, 2), here()).unwrap());
    core.call_soon(push(&trace, 3), here()).unwrap();
    core.dispatch();
    assert_eq!(*trace.borrow(), [1, 3], "one iteration, the victim skipped");
    assert!(victim.borrow().as_ref().unwrap().cancelled());
}

#[test]
fn a_handle_keeps_neither_the_callback_nor_the_loop_alive() {
    let (core, _, _) = core();
    let token = Rc::new(());
    let held = token.clone();
    let h = core.call_soon(move || drop(held), here()).unwrap();
    drain(&core);
    assert_eq!(Rc::strong_count(&token), 1, "run and dropped");
    let held = token.clone();
    let pending = core.call_soon(move || drop(held), here()).unwrap();
    drop(core);
    assert_eq!(Rc::strong_count(&token), 1, "dropped with the loop");
    // Handles of a loop that is gone do nothing and do not panic.
    h.cancel();
    pending.cancel();
    assert!(!pending.cancelled());
    assert!(format!("{pending:?}").contains("cancelled: false"));
}

/// Schedules on the core when dropped.
struct ScheduleOnDrop(Rc<Core>, Trace);
impl Drop for ScheduleOnDrop {
    fn drop(&mut self) {
        let t = self.1.clone();
        self.0
            .call_soon(move || t.borrow_mut().push(9), here())
            .unwrap();
    }
}

#[test]
fn a_closure_dropped_by_cancel_may_schedule() {
    let (core, _, _) = core();
    let trace: Trace = Rc::default();
    let guard = ScheduleOnDrop(core.clone(), trace.clone());
    let h = core.call_soon(move || drop(guard), here()).unwrap();
    h.cancel(); // the drop schedules while the queue is not borrowed
    drain(&core);
    assert_eq!(*trace.borrow(), [9]);
}

#[test]
fn debug_names_a_queued_callback() {
    let (core, _, _) = core();
    let h = core.call_soon(|| {}, here()).unwrap();
    let s = format!("{h:?}");
    assert!(
        s.contains("tests_handles") && s.contains("scheduled_at"),
        "{s}"
    );
    drain(&core);
    assert!(!format!("{h:?}").contains("scheduled_at"), "gone once run");
}

struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("drop of a captured value");
    }
}

#[test]
fn a_panic_in_a_callback_or_its_captured_drop_is_reported_with_its_place() {
    let (core, log, _) = core();
    let trace: Trace = Rc::default();
    let (first, second) = (Location::caller(), Location::caller());
    core.call_soon(|| panic!("boom"), first).unwrap();
    let guard = PanicOnDrop;
    core.call_soon(move || drop(guard), second).unwrap();
    core.call_soon(push(&trace, 1), here()).unwrap();
    drain(&core);
    assert_eq!(*trace.borrow(), [1], "the loop carried on");
    let (r, m) = (log.panic_sites.borrow(), log.panics.borrow());
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r[0].0.contains("tests_handles"), "{r:?}");
    assert_eq!((r[0].1, m[0].as_str()), (first.line(), "boom"));
    assert_eq!(r[1].1, second.line());
    assert_eq!(m[1], "drop of a captured value");
}

#[test]
fn a_queue_slot_is_a_wide_pointer_and_a_tag() {
    assert!(std::mem::size_of::<Ready>() <= 24);
    // A call_soon callback is one allocation: the closure and its place.
    let entry = handle::SoonEntry::new(|| {}, here());
    assert_eq!(std::mem::size_of_val(&*entry), 8);
}

#[test]
fn the_coarse_bound_is_never_below_the_clock_and_stays_close() {
    for _ in 0..100_000 {
        let bound = real_upper_bound();
        let now = real_now();
        assert!(bound >= now, "{bound} < {now}");
        // Twice the tick plus the tick it may lag: under 100 ms anywhere.
        assert!(bound - now < 100_000_000);
    }
}

#[test]
fn a_timer_coming_due_during_a_chain_runs_in_the_next_iteration() {
    // A chain of callbacks, each 200 µs long, and a timer 2 ms ahead (real
    // clock): the iteration that begins after the deadline runs it, though
    // it skips the precise clock read while the timer is far.
    let (core, _, _) = core();
    let fired: Rc<Cell<Option<u32>>> = Rc::default();
    let f = fired.clone();
    let hops: Rc<Cell<u32>> = Rc::default();
    let h = hops.clone();
    let deadline = core.now() + 2_000_000;
    core.call_at(deadline, move || f.set(Some(h.get())), here())
        .unwrap();
    let late_hops: Rc<Cell<u32>> = Rc::default();
    fn hop(
        core: Rc<Core>,
        hops: Rc<Cell<u32>>,
        late: Rc<Cell<u32>>,
        deadline: Nanos,
        fired: Rc<Cell<Option<u32>>>,
    ) {
        if fired.get().is_some() || hops.get() > 1000 {
            return;
        }
        // An iteration that began at least 100 µs after the deadline.
        if core.now() > deadline + 100_000 {
            late.set(late.get() + 1);
        }
        hops.set(hops.get() + 1);
        std::thread::sleep(Duration::from_micros(200));
        let c = core.clone();
        core.call_soon(move || hop(c, hops, late, deadline, fired), here())
            .unwrap();
    }
    hop(
        core.clone(),
        hops.clone(),
        late_hops.clone(),
        deadline,
        fired.clone(),
    );
    drain(&core);
    assert!(fired.get().is_some(), "the timer ran");
    assert!(
        late_hops.get() <= 1,
        "{} hops began after it was due",
        late_hops.get()
    );
}

#[test]
fn a_draining_queue_keeps_its_buffer_until_nearly_empty() {
    // Shrinking at a quarter full copied a draining queue again and again;
    // now it keeps its buffer until it is 1/64 full, then gives it back.
    let (core, _, _) = core();
    for _ in 0..100_000 {
        core.call_soon(|| {}, here()).unwrap();
    }
    let peak = core.ready.borrow().capacity();
    core.set_budget(Duration::from_micros(200));
    while core.ready_len() > 20_000 {
        core.dispatch();
    }
    assert_eq!(
        core.ready.borrow().capacity(),
        peak,
        "not copied while draining"
    );
    drain(&core);
    assert!(core.ready.borrow().capacity() <= 2 * SHRINK_MIN);
}

#[test]
fn a_post_caught_between_push_and_flag_does_not_keep_the_loop_busy() {
    // The drain leaves a post whose flag is not set yet (its poster wakes
    // the loop when it sets it): the loop must not take it for work now,
    // or it runs empty iterations until the poster gets there.
    let (core, _, _) = core();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let entry = handle::SharedEntry::new(
        move || {
            r.fetch_add(1, Ordering::SeqCst);
        },
        here(),
    );
    core.inbox()
        .push_without_flag(inbox::Posted::Callback(entry));
    assert!(!core.has_work_now(), "no work until the flag is set");
    core.dispatch();
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn a_paused_clock_plans_its_jump_though_the_timer_is_armed_for_the_head() {
    // Armed for a timer in real time, then paused: a callback that may
    // spin a nested loop must still leave a tick asked for, so the paused
    // clock jumps to the timer inside the nested loop (the armed timer
    // would only fire in real time).
    let (core, log, _) = core();
    core.call_at(core.now() + 10_000_000_000, || {}, here())
        .unwrap();
    drain(&core);
    assert!(log.armed.get().is_some(), "armed for the timer");
    core.clock().pause();
    let seen: Rc<Cell<usize>> = Rc::default();
    let (s, l) = (seen.clone(), log.clone());
    core.call_soon(move || s.set(l.ticks.get() + l.deferred.get()), here())
        .unwrap();
    let before = log.ticks.get() + log.deferred.get();
    core.dispatch();
    assert!(
        seen.get() > before,
        "a tick was asked for before the callback ran"
    );
}
