//! libqi's toolkit: async_call/async_delay, Promise/Future, Signal,
//! PeriodicTask (ports of libqi's test_periodictask, test_eventloop's async
//! tests and the python test_promise/test_signal, plus drift and race tests).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qtloop::qi::{self, FutureState, Promise, Signal};
use qtloop::{Error, EventLoop};

cases!(qi:
    promise_value_error_and_double_set,
    broken_promise_is_an_error,
    cancel_goes_to_the_promise,
    value_blocks_only_off_the_loop_thread,
    then_and_then_and_callbacks_on_the_loop,
    async_delay_gives_a_delayed_value,
    async_delay_cancel_before_it_fires,
    async_call_cancel_with_zero_delay,
    async_call_panic_is_an_error,
    signal_connect_emit_disconnect,
    signal_from_another_thread_runs_on_the_loop,
);

fn run_for(lp: &EventLoop, secs: f64) {
    lp.run_until_complete(qtloop::sleep(secs)).unwrap().unwrap();
}

fn promise_value_error_and_double_set() {
    let p = Promise::<i32>::new();
    let f = p.future();
    assert_eq!(f.state(), FutureState::Running);
    p.set_value(42).unwrap();
    assert_eq!(p.set_value(1), Err(Error::PromiseAlreadySet));
    assert_eq!(p.set_error("late"), Err(Error::PromiseAlreadySet));
    assert!(f.has_value() && f.is_finished() && !f.has_error());
    assert_eq!(f.clone().value(0.0), Ok(42), "clones share the outcome");
    let p = Promise::<i32>::new();
    p.set_error("it broke").unwrap();
    let f = p.future();
    assert!(f.has_error());
    assert_eq!(f.error().as_deref(), Some("it broke"));
    assert_eq!(f.value(0.0), Err(Error::Failed("it broke".into())));
}

fn broken_promise_is_an_error() {
    let p = Promise::<String>::new();
    let f = p.future();
    let p2 = p.clone();
    drop(p);
    assert!(!f.is_finished(), "another promise handle is alive");
    drop(p2);
    assert_eq!(
        f.error().as_deref(),
        Some("Promise broken (all promises are destroyed)")
    );
}

fn cancel_goes_to_the_promise() {
    let asked = Arc::new(AtomicU32::new(0));
    let a = asked.clone();
    let p = Promise::<u8>::with_on_cancel(move |p| {
        a.fetch_add(1, Ordering::SeqCst);
        assert!(p.is_cancel_requested());
        p.set_canceled().unwrap();
    });
    let f = p.future();
    f.cancel();
    f.cancel();
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert!(f.is_canceled());
    assert_eq!(f.value(0.0), Err(Error::Cancelled));
    // Without an on_cancel the promise only sees the request.
    let p = Promise::<u8>::new();
    p.future().cancel();
    assert!(p.is_cancel_requested());
    assert!(!p.future().is_finished());
    p.set_value(1).unwrap();
}

fn value_blocks_only_off_the_loop_thread() {
    let lp = EventLoop::new().unwrap();
    let p = Promise::<u32>::new();
    let f = p.future();
    let t = Instant::now();
    assert_eq!(f.value(5.0), Err(Error::WouldDeadlock));
    assert!(t.elapsed() < Duration::from_millis(100), "returned at once");
    // Off the loop thread: blocks, and times out.
    let f2 = f.clone();
    let timed_out = std::thread::spawn(move || f2.value(0.02)).join().unwrap();
    assert_eq!(timed_out, Err(Error::Timeout));
    let f3 = f.clone();
    let waiter = std::thread::spawn(move || (f3.value(5.0), f3.wait(0.0)));
    std::thread::sleep(Duration::from_millis(20));
    p.set_value(9).unwrap();
    assert_eq!(
        waiter.join().unwrap(),
        (Ok(9), FutureState::FinishedWithValue)
    );
    assert_eq!(
        f.value(5.0),
        Ok(9),
        "a finished future reads on the loop thread too"
    );
    lp.close().unwrap();
}

fn then_and_then_and_callbacks_on_the_loop() {
    let lp = EventLoop::new().unwrap();
    let loop_thread = std::thread::current().id();
    let p = Promise::<u32>::new();
    let f = p.future();
    let doubled = f.and_then(|v| v * 2);
    let described = f.then(|fut| format!("{:?}", fut.state()));
    let ran_on = Arc::new(Mutex::new(None));
    let r = ran_on.clone();
    f.add_callback(move |_| *r.lock().unwrap() = Some(std::thread::current().id()));
    std::thread::spawn(move || p.set_value(21).unwrap());
    let (d, s) = lp
        .run_until_complete(async move { (doubled.await, described.await) })
        .unwrap();
    assert_eq!(d, Ok(42));
    assert_eq!(s.as_deref(), Ok("FinishedWithValue"));
    run_for(&lp, 0.005);
    assert_eq!(
        *ran_on.lock().unwrap(),
        Some(loop_thread),
        "callback ran on the loop thread"
    );
    // Errors pass through and_then; panics in then become errors. On a
    // finished future too, the continuation is scheduled, not run here
    // (asyncio's add_done_callback).
    let e = qi::Future::<u32>::from_error("bad").and_then(|v| v + 1);
    let boom = qi::Future::from_value(1u32).then(|_| -> u32 { panic!("in then") });
    assert!(!e.is_finished() && !boom.is_finished());
    run_for(&lp, 0.005);
    assert_eq!(e.error().as_deref(), Some("bad"));
    assert_eq!(boom.error().as_deref(), Some("in then"));
    lp.close().unwrap();
}

fn async_delay_gives_a_delayed_value() {
    let lp = EventLoop::new().unwrap();
    let t0 = lp.time();
    let f = qi::async_delay(|| "done", 0.05);
    assert!(!f.is_finished());
    assert_eq!(lp.run_until_complete(f.clone()).unwrap(), Ok("done"));
    assert!(lp.time() - t0 >= 0.05);
    let bad = qi::async_delay(|| 1, f64::NAN);
    assert!(bad.has_error());
    lp.close().unwrap();
    assert!(
        qi::async_call(|| 1).has_error(),
        "no loop: an error, not a panic"
    );
}

fn async_delay_cancel_before_it_fires() {
    let lp = EventLoop::new().unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let f = qi::async_delay(move || r.store(true, Ordering::SeqCst), 0.05);
    run_for(&lp, 0.01);
    f.cancel();
    assert!(f.is_canceled());
    run_for(&lp, 0.1);
    assert!(!ran.load(Ordering::SeqCst), "a canceled call never runs");
    // Once it has run, cancel does nothing.
    let g = qi::async_delay(|| 5, 0.0);
    run_for(&lp, 0.01);
    g.cancel();
    assert_eq!(g.value(0.0), Ok(5));
    lp.close().unwrap();
}

fn async_call_cancel_with_zero_delay() {
    // libqi cannot cancel qi.async(f) with delay 0; here it can, until it runs.
    let lp = EventLoop::new().unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let f = qi::async_call(move || r.store(true, Ordering::SeqCst));
    let f2 = f.clone();
    std::thread::spawn(move || f2.cancel()).join().unwrap();
    run_for(&lp, 0.01);
    assert!(f.is_canceled());
    assert!(!ran.load(Ordering::SeqCst));
    lp.close().unwrap();
}

fn async_call_panic_is_an_error() {
    let lp = EventLoop::new().unwrap();
    let f = qi::async_call(|| -> u32 { panic!("qi boom") });
    let after = qi::async_call(|| 1u32);
    assert_eq!(
        lp.run_until_complete(f).unwrap(),
        Err(Error::Failed("qi boom".into()))
    );
    assert_eq!(
        lp.run_until_complete(after).unwrap(),
        Ok(1),
        "the loop goes on"
    );
    lp.close().unwrap();
}

fn signal_connect_emit_disconnect() {
    let lp = EventLoop::new().unwrap();
    let sig = Signal::<i32>::new();
    let subs = Arc::new(Mutex::new(Vec::new()));
    let s = subs.clone();
    sig.on_subscribers(move |any| s.lock().unwrap().push(any));
    let got = Arc::new(Mutex::new(Vec::new()));
    let (g1, g2) = (got.clone(), got.clone());
    let a = sig.connect(move |v| g1.lock().unwrap().push(("a", *v)));
    let b = sig.connect(move |v| g2.lock().unwrap().push(("b", *v)));
    assert_ne!(a, b);
    sig.emit(1);
    assert!(sig.disconnect(a));
    assert!(!sig.disconnect(a));
    sig.emit(2);
    sig.disconnect_all();
    sig.emit(3);
    assert_eq!(*got.lock().unwrap(), [("a", 1), ("b", 1), ("b", 2)]);
    assert_eq!(*subs.lock().unwrap(), [true, false]);
    // next(): the next emission, then the temporary link is gone.
    let s2 = sig.clone();
    lp.call_later(0.01, move || s2.emit(42)).unwrap();
    assert_eq!(lp.run_until_complete(sig.next()).unwrap(), 42);
    assert_eq!(sig.subscriber_count(), 0);
    lp.close().unwrap();
}

fn signal_from_another_thread_runs_on_the_loop() {
    let lp = EventLoop::new().unwrap();
    let loop_thread = std::thread::current().id();
    let sig = Signal::<u32>::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    sig.connect(move |v| s.lock().unwrap().push((*v, std::thread::current().id())));
    let s2 = sig.clone();
    std::thread::spawn(move || {
        for i in 0..100 {
            s2.emit(i);
        }
    })
    .join()
    .unwrap();
    assert!(
        seen.lock().unwrap().is_empty(),
        "delivered by the loop, not the emitter"
    );
    run_for(&lp, 0.01);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 100);
    assert!(seen
        .iter()
        .enumerate()
        .all(|(i, (v, t))| *v == i as u32 && *t == loop_thread));
    lp.close().unwrap();
}
