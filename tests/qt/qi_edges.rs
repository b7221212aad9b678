//! libqi and QMI semantics at their edges (issue 14, items 12–17):
//! continuation chains that never grow the stack, awaiters that leave no
//! waker behind, a disconnected subscriber that is never called again,
//! compensated periodic tasks without catch-up bursts, one task per name
//! in a registry, and sleeps that do not wake their thread.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use qtloop::background::{self, BackgroundTask, Registry, TaskContext, TaskFailure};
use qtloop::qi::{PeriodicTask, Promise, Signal};
use qtloop::{Error, EventLoop};

cases!(qi_edges:
    a_chain_of_100k_thens_runs_on_the_loop_without_recursion,
    a_chain_of_100k_thens_off_any_loop_does_not_overflow,
    breaking_or_cancelling_a_long_chain_does_not_overflow,
    continuations_never_run_inside_the_setter,
    dropped_awaiters_leave_no_waker,
    a_subscriber_disconnected_during_an_emission_is_not_called,
    disconnect_off_the_loop_thread_waits_for_a_running_call,
    an_emission_from_another_thread_reaches_only_those_connected_then,
    subscribers_disconnecting_each_other_on_two_threads_do_not_deadlock,
    a_continuation_added_off_any_loop_is_scheduled_on_the_setters_loop,
    thens_chained_from_inside_continuations_do_not_overflow,
    local_subscribers_hold_gui_state_and_are_dropped_on_their_thread,
    a_wait_inside_a_continuation_off_any_loop_runs_what_it_waits_for,
    a_promise_broken_by_a_thread_locals_destructor_does_not_abort,
    a_compensated_task_after_an_overrun_does_not_burst,
    racing_spawns_of_one_name_construct_one_task,
    ctx_sleep_does_not_wake_its_thread,
);

const CHAIN: u32 = 100_000;

fn chain_of(root: &qtloop::qi::Future<u32>) -> qtloop::qi::Future<u32> {
    let mut f = root.clone();
    for _ in 0..CHAIN {
        f = f.and_then(|v| v + 1);
    }
    f
}

fn a_chain_of_100k_thens_runs_on_the_loop_without_recursion() {
    let lp = EventLoop::new().unwrap();
    let p = Promise::<u32>::new();
    let leaf = chain_of(&p.future());
    // Set from another thread and from the loop: both schedule the links.
    std::thread::spawn(move || p.set_value(0).unwrap());
    assert_eq!(lp.run_until_complete(leaf).unwrap(), Ok(CHAIN));
    lp.close().unwrap();
}

fn a_chain_of_100k_thens_off_any_loop_does_not_overflow() {
    // A thread without a loop (and its small default stack): the links run
    // in the setter's thread, one after another, not one inside the other.
    let got = std::thread::spawn(|| {
        let p = Promise::<u32>::new();
        let leaf = chain_of(&p.future());
        p.set_value(5).unwrap();
        leaf.value(0.0)
    })
    .join()
    .expect("the setter's thread overflowed its stack");
    assert_eq!(got, Ok(5 + CHAIN));
}

fn breaking_or_cancelling_a_long_chain_does_not_overflow() {
    let lp = EventLoop::new().unwrap();
    // Broken: the root's last promise is dropped.
    let p = Promise::<u32>::new();
    let leaf = chain_of(&p.future());
    drop(p);
    let r = lp.run_until_complete(leaf).unwrap();
    assert!(
        matches!(&r, Err(Error::Failed(m)) if m.contains("Promise broken")),
        "{r:?}"
    );
    // Cancelled from the leaf: the request climbs 100k links to the root,
    // whose on_cancel cancels it; the cancellation then runs down again.
    let p = Promise::<u32>::with_on_cancel(|p| {
        let _ = p.set_canceled();
    });
    let root = p.future();
    let leaf = chain_of(&root);
    leaf.cancel();
    assert!(root.is_canceled());
    assert_eq!(lp.run_until_complete(leaf).unwrap(), Err(Error::Cancelled));
    lp.close().unwrap();
}

fn continuations_never_run_inside_the_setter() {
    let lp = EventLoop::new().unwrap();
    let p = Promise::<u32>::new();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    p.future()
        .add_callback(move |_| r.store(true, Ordering::SeqCst));
    let next = p.future().and_then(|v| v * 2);
    let l = lp.clone();
    let (ran2, next2) = (ran.clone(), next.clone());
    let seen_inside = lp
        .run_until_complete(async move {
            p.set_value(21).unwrap();
            // As asyncio's call_soon: scheduled, not run by set_value.
            let inside = (ran2.load(Ordering::SeqCst), next2.is_finished());
            qtloop::sleep(0.0).await.unwrap();
            drop(l);
            inside
        })
        .unwrap();
    assert_eq!(seen_inside, (false, false));
    assert!(ran.load(Ordering::SeqCst));
    assert_eq!(next.value(0.0), Ok(42));
    lp.close().unwrap();
}

struct CountingWake;
impl Wake for CountingWake {
    fn wake(self: Arc<Self>) {}
}

fn dropped_awaiters_leave_no_waker() {
    let lp = EventLoop::new().unwrap();
    let p = Promise::<u32>::new();
    let waker_data = Arc::new(CountingWake);
    let waker = Waker::from(waker_data.clone());
    for _ in 0..20_000 {
        let mut f = std::pin::pin!(p.future());
        let polled = f.as_mut().poll(&mut Context::from_waker(&waker));
        assert!(polled.is_pending());
        // Dropped without an outcome: a timed-out await.
    }
    drop(waker);
    assert_eq!(
        Arc::strong_count(&waker_data),
        1,
        "the promise still holds wakers of dropped awaiters"
    );
    // Timed-out awaits through the loop, too: the value still arrives.
    let f = p.future();
    let timed_out = lp
        .run_until_complete(qtloop::timeout(0.001, f.clone()))
        .unwrap();
    assert!(timed_out.is_err());
    p.set_value(3).unwrap();
    assert_eq!(lp.run_until_complete(f).unwrap(), Ok(3));
    lp.close().unwrap();
}

use std::future::Future as _;

fn a_subscriber_disconnected_during_an_emission_is_not_called() {
    let lp = EventLoop::new().unwrap();
    let sig = Signal::<u32>::new();
    let second_calls = Arc::new(AtomicU32::new(0));
    let second = Arc::new(Mutex::new(None));
    let (s, sec) = (sig.clone(), second.clone());
    // The first subscriber disconnects the second during the emission.
    sig.connect(move |_| {
        if let Some(link) = sec.lock().unwrap().take() {
            assert!(s.disconnect(link));
        }
    });
    let c = second_calls.clone();
    let link = sig.connect(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    *second.lock().unwrap() = Some(link);
    sig.emit(1);
    sig.emit(2);
    assert_eq!(second_calls.load(Ordering::SeqCst), 0);
    lp.close().unwrap();
}

fn disconnect_off_the_loop_thread_waits_for_a_running_call() {
    let lp = EventLoop::new().unwrap();
    let sig = Signal::<u32>::new();
    let running = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let (r, f) = (running.clone(), finished.clone());
    let link = sig.connect(move |_| {
        r.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        f.store(true, Ordering::SeqCst);
    });
    let (s, r) = (sig.clone(), running.clone());
    let disconnector = std::thread::spawn(move || {
        while !r.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let was = s.disconnect(link);
        (was, Instant::now())
    });
    sig.emit(1); // on the loop thread: the call runs here for 100 ms
    let done_at = Instant::now();
    let (was, returned_at) = disconnector.join().unwrap();
    assert!(was && finished.load(Ordering::SeqCst));
    assert!(
        returned_at >= done_at - Duration::from_millis(5),
        "disconnect returned while the subscriber was still running"
    );
    lp.close().unwrap();
}

fn a_compensated_task_after_an_overrun_does_not_burst() {
    let lp = EventLoop::new().unwrap();
    let task = Arc::new(PeriodicTask::new());
    let starts = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let s = starts.clone();
    let period = Duration::from_millis(10);
    task.set_callback(move || {
        let mut s = s.lock().unwrap();
        s.push(Instant::now());
        if s.len() == 2 {
            drop(s);
            std::thread::sleep(period * 50); // blocks for 50 periods
        }
    })
    .unwrap();
    task.compensate_callback_time(true);
    task.set_period(period).unwrap();
    task.start(true).unwrap();
    let s = starts.clone();
    lp.run_until_complete(async move {
        while s.lock().unwrap().len() < 8 {
            qtloop::sleep(0.005).await.unwrap();
        }
    })
    .unwrap();
    task.stop();
    let starts = starts.lock().unwrap();
    // After the overrun (the second call): one call at once, then the
    // normal cadence, not 50 back-to-back catch-up calls.
    let gaps: Vec<Duration> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[1] >= period * 50, "{gaps:?}");
    for g in &gaps[3..7] {
        assert!(*g >= period - Duration::from_millis(1), "a burst: {gaps:?}");
    }
    lp.close().unwrap();
}

struct Counted;
impl BackgroundTask for Counted {
    type Settings = ();
    type Status = ();
    fn run(&mut self, ctx: &TaskContext<(), ()>) -> Result<(), TaskFailure> {
        ctx.sleep(Duration::from_secs(30))?;
        Ok(())
    }
}

fn racing_spawns_of_one_name_construct_one_task() {
    let registry = Arc::new(Registry::new());
    let constructed = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (reg, n, b) = (registry.clone(), constructed.clone(), barrier.clone());
            std::thread::spawn(move || {
                b.wait();
                reg.spawn_with("the-one", move || {
                    n.fetch_add(1, Ordering::SeqCst);
                    Ok(Counted)
                })
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1);
    let losers = results
        .iter()
        .filter(|r| matches!(r, Err(Error::DuplicateName(_))));
    assert_eq!(losers.count(), 7);
    // The winner's task is constructed in its thread: give it the time.
    winners[0].start().unwrap();
    winners[0].stop();
    assert_eq!(winners[0].join(), Ok(()));
    assert_eq!(
        constructed.load(Ordering::SeqCst),
        1,
        "losers constructed theirs"
    );
}

/// The voluntary context switches of this thread so far.
fn context_switches() -> u64 {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

fn ctx_sleep_does_not_wake_its_thread() {
    struct Sleeper(Arc<Mutex<Option<u64>>>);
    impl BackgroundTask for Sleeper {
        type Settings = ();
        type Status = ();
        fn run(&mut self, ctx: &TaskContext<(), ()>) -> Result<(), TaskFailure> {
            let before = context_switches();
            ctx.sleep(Duration::from_millis(300))?;
            *self.0.lock().unwrap() = Some(context_switches() - before);
            Ok(())
        }
    }
    let switches = Arc::new(Mutex::new(None));
    let r = background::spawn("sleeper", Sleeper(switches.clone()));
    r.start().unwrap();
    assert_eq!(r.join(), Ok(()));
    let n = switches.lock().unwrap().unwrap();
    // Polling every 10 ms woke it ~30 times.
    assert!(n <= 5, "the sleeping thread woke {n} times in 300 ms");
}

fn an_emission_from_another_thread_reaches_only_those_connected_then() {
    let lp = EventLoop::new().unwrap();
    let sig = Signal::<u32>::new();
    let s = sig.clone();
    std::thread::spawn(move || s.emit(1)).join().unwrap();
    let seen = Arc::new(AtomicU32::new(0));
    let c = seen.clone();
    sig.connect(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    lp.run_until_complete(qtloop::sleep(0.02)).unwrap().unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 0, "connected after the emit");
    lp.close().unwrap();
}

fn subscribers_disconnecting_each_other_on_two_threads_do_not_deadlock() {
    // A signal without a loop calls subscribers in the emitting thread.
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let sig = Signal::<u32>::with_home(None);
        let links = Arc::new(Mutex::new(Vec::new()));
        let barrier = Arc::new(Barrier::new(2));
        for me in 0..2usize {
            let (s, l, b) = (sig.clone(), links.clone(), barrier.clone());
            let link = sig.connect(move |v| {
                if *v as usize == me {
                    b.wait(); // both are running now
                    let other = l.lock().unwrap()[1 - me];
                    s.disconnect(other);
                }
            });
            links.lock().unwrap().push(link);
        }
        let emitters: Vec<_> = (0..2u32)
            .map(|v| {
                let s = sig.clone();
                std::thread::spawn(move || s.emit(v))
            })
            .collect();
        for e in emitters {
            e.join().unwrap();
        }
        done.send(sig.subscriber_count()).unwrap();
    });
    let left = wait
        .recv_timeout(Duration::from_secs(10))
        .expect("the two disconnects waited for each other");
    assert_eq!(left, 0);
}

fn a_continuation_added_off_any_loop_is_scheduled_on_the_setters_loop() {
    let lp = EventLoop::new().unwrap();
    let p = Promise::<u32>::new();
    let f = p.future();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    std::thread::spawn(move || f.add_callback(move |_| r.store(true, Ordering::SeqCst)))
        .join()
        .unwrap();
    let r = ran.clone();
    let inside = lp
        .run_until_complete(async move {
            p.set_value(1).unwrap();
            r.load(Ordering::SeqCst)
        })
        .unwrap();
    assert!(!inside, "it ran inside set_value");
    lp.run_until_complete(qtloop::sleep(0.0)).unwrap().unwrap();
    assert!(ran.load(Ordering::SeqCst));
    lp.close().unwrap();
}

fn thens_chained_from_inside_continuations_do_not_overflow() {
    // `then` on a finished future, called from inside a continuation, 100k
    // deep, on a thread with a loop and a 2 MiB stack: it ran at once and
    // recursed until the stack overflowed.
    fn step(f: qtloop::qi::Future<u32>, n: u32, out: Arc<AtomicU32>) {
        if n == 0 {
            out.store(f.value(0.0).unwrap(), Ordering::SeqCst);
            return;
        }
        drop(f.then(move |f| {
            step(
                qtloop::qi::Future::from_value(f.value(0.0).unwrap() + 1),
                n - 1,
                out,
            );
            0u32
        }));
    }
    let got = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let lp = EventLoop::new().unwrap();
            let out = Arc::new(AtomicU32::new(0));
            step(qtloop::qi::Future::from_value(0), CHAIN, out.clone());
            let o = out.clone();
            lp.run_until_complete(async move {
                while o.load(Ordering::SeqCst) == 0 {
                    qtloop::sleep(0.001).await.unwrap();
                }
            })
            .unwrap();
            lp.close().unwrap();
            out.load(Ordering::SeqCst)
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(got, CHAIN);
}

fn local_subscribers_hold_gui_state_and_are_dropped_on_their_thread() {
    use std::cell::Cell;
    use std::rc::Rc;
    let lp = EventLoop::new().unwrap();
    let sig = Signal::<u32>::new();
    let total = Rc::new(Cell::new(0)); // not Send: connect() refuses it
    let t = total.clone();
    let link = sig.connect_local(move |v| t.set(t.get() + v)).unwrap();
    assert_eq!(Rc::strong_count(&total), 2);
    sig.emit(1); // here: at once
    let s = sig.clone();
    std::thread::spawn(move || {
        s.emit(10); // from another thread: on the loop thread, later
        assert!(matches!(
            s.connect_local(|_| {}),
            Err(Error::WrongThread(_))
        ));
    })
    .join()
    .unwrap();
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
    assert_eq!(total.get(), 11);
    // Disconnected from another thread: the closure (and its Rc) is
    // dropped on the loop thread.
    let s = sig.clone();
    std::thread::spawn(move || assert!(s.disconnect(link)))
        .join()
        .unwrap();
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
    assert_eq!(Rc::strong_count(&total), 1, "the closure was not dropped");
    sig.emit(100);
    assert_eq!(total.get(), 11);
    let plain = Signal::<u32>::with_home(None);
    assert!(matches!(
        plain.connect_local(|_| {}),
        Err(Error::WrongThread(_))
    ));
    lp.close().unwrap();
}

fn a_wait_inside_a_continuation_off_any_loop_runs_what_it_waits_for() {
    // On a thread without a loop, continuations queue behind the running
    // one: a blocking wait in it must run them, or it waits forever.
    let got = std::thread::spawn(|| {
        let p = Promise::<u32>::new();
        let seen = p.future().then(|_| {
            let p2 = Promise::<u32>::new();
            let f2 = p2.future().then(|f| f.value(0.0).unwrap() + 1);
            p2.set_value(1).unwrap();
            f2.value(5.0)
        });
        p.set_value(0).unwrap();
        seen.value(5.0)
    })
    .join()
    .unwrap();
    assert_eq!(got, Ok(Ok(2)));
}

fn a_promise_broken_by_a_thread_locals_destructor_does_not_abort() {
    thread_local! {
        static HELD: std::cell::RefCell<Option<Promise<u32>>> = const { std::cell::RefCell::new(None) };
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let f = std::thread::spawn(move || {
        let p = Promise::<u32>::new();
        let f = p.future();
        let _chained = f.then(move |f| {
            let _ = tx.send(f.has_error());
            0u32
        });
        HELD.with(|h| *h.borrow_mut() = Some(p));
        f
        // The thread ends: its thread-locals are destroyed, the promise
        // is broken there, and the continuation runs in that destructor.
    })
    .join()
    .expect("the thread aborted");
    assert!(f.has_error(), "broken");
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
}
