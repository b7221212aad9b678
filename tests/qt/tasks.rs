//! Tasks, time, run().

use crate::DropFlag;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use qtloop::{
    Error, EventLoop, ExceptionContext, MissedTickBehavior, RunOptions, TaskError, TaskStatus,
};

cases!(tasks:
    create_task_and_spawn_local,
    cancel_drops_the_future,
    awaited_panic_is_an_error,
    detached_panic_reaches_handler,
    a_panic_seen_at_a_drop_on_another_thread_reaches_the_handler,
    dropping_a_task_detaches_it,
    names_all_tasks_current_task,
    spawn_from_another_thread,
    close_cancels_pending_tasks,
    sleep_timeout_and_errors,
    paused_clock_runs_10s_of_timers_fast,
    interval_missed_tick_behaviours,
    run_and_run_with,
);

fn create_task_and_spawn_local() {
    let lp = EventLoop::new().unwrap();
    let v = lp
        .run_until_complete(async {
            let a = qtloop::spawn_local(async { 20 });
            let l = qtloop::get_running_loop().unwrap();
            let b = l.create_task(async {
                qtloop::sleep(0.001).await.unwrap();
                22
            });
            a.await.unwrap() + b.await.unwrap()
        })
        .unwrap();
    assert_eq!(v, 42);
    lp.close().unwrap();
}

fn cancel_drops_the_future() {
    let lp = EventLoop::new().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let t = lp.create_task(async move {
        let _f = flag;
        qtloop::sleep(10.0).await.unwrap();
        1
    });
    let d = dropped.clone();
    let r = lp
        .run_until_complete(async move {
            qtloop::sleep(0.005).await.unwrap();
            assert!(!d.get());
            t.cancel();
            t.await
        })
        .unwrap();
    assert_eq!(r, Err(TaskError::Cancelled));
    assert!(dropped.get());
    // Cancelling before the first poll works too.
    let t2 = lp.create_task(async { 5 });
    t2.cancel();
    let r2 = lp.run_until_complete(t2).unwrap();
    assert_eq!(r2, Err(TaskError::Cancelled));
    lp.close().unwrap();
}

fn awaited_panic_is_an_error() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(Cell::new(0));
    let s = seen.clone();
    lp.set_exception_handler(Some(move |_: &EventLoop, _: &ExceptionContext| {
        s.set(s.get() + 1)
    }));
    let r = lp
        .run_until_complete(async {
            let t = qtloop::spawn_local(async {
                qtloop::sleep(0.001).await.unwrap();
                panic!("task went wrong");
            });
            t.await
        })
        .unwrap();
    assert_eq!(r, Err(TaskError::Panicked("task went wrong".into())));
    assert_eq!(seen.get(), 0, "an awaited panic is not reported again");
    let r = lp.run_until_complete(async { panic!("top-level") });
    assert_eq!(r, Err(Error::Panicked("top-level".into())));
    lp.close().unwrap();
}

fn detached_panic_reaches_handler() {
    let lp = EventLoop::new().unwrap();
    let got: Rc<RefCell<Vec<ExceptionContext>>> = Rc::default();
    let g = got.clone();
    lp.set_exception_handler(Some(move |_: &EventLoop, c: &ExceptionContext| {
        g.borrow_mut().push(c.clone())
    }));
    let t = lp.create_task(async { panic!("nobody awaits me") });
    t.set_name("orphan");
    drop(t);
    // Finished before the handle is dropped: reported at the drop.
    let t2 = lp.create_task(async { panic!("seen at drop") });
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
    assert!(t2.is_done());
    drop(t2);
    let got = got.borrow();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].message, "Task exception was never retrieved");
    assert_eq!(got[0].panic.as_deref(), Some("nobody awaits me"));
    assert!(got[0].task.as_deref().unwrap().contains("orphan"));
    assert_eq!(got[1].panic.as_deref(), Some("seen at drop"));
    lp.close().unwrap();
}

fn a_panic_seen_at_a_drop_on_another_thread_reaches_the_handler() {
    // A `Send` task's handle dropped on another thread after the task
    // panicked: the report goes to the task's loop's handler (posted there),
    // not to the log of a thread that has no loop.
    let lp = EventLoop::new().unwrap();
    let got: Rc<RefCell<Vec<ExceptionContext>>> = Rc::default();
    let g = got.clone();
    lp.set_exception_handler(Some(move |_: &EventLoop, c: &ExceptionContext| {
        g.borrow_mut().push(c.clone())
    }));
    let t = lp.handle().spawn(async { panic!("dropped far away") });
    t.set_name("far");
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
    assert!(t.is_done());
    std::thread::spawn(move || drop(t)).join().unwrap();
    assert!(
        got.borrow().is_empty(),
        "posted, not run on the other thread"
    );
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
    let got = got.borrow();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].message, "Task exception was never retrieved");
    assert_eq!(got[0].panic.as_deref(), Some("dropped far away"));
    assert!(got[0].task.as_deref().unwrap().contains("far"));
    lp.close().unwrap();
}

fn dropping_a_task_detaches_it() {
    let lp = EventLoop::new().unwrap();
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    drop(lp.create_task(async move {
        qtloop::sleep(0.005).await.unwrap();
        d.set(true);
    }));
    lp.run_until_complete(qtloop::sleep(0.02)).unwrap().unwrap();
    assert!(done.get());
    lp.close().unwrap();
}

fn names_all_tasks_current_task() {
    let lp = EventLoop::new().unwrap();
    assert!(qtloop::current_task().is_none());
    let a = lp.create_task(async {
        let me = qtloop::current_task().unwrap().info();
        qtloop::sleep(0.05).await.unwrap();
        me
    });
    a.set_name("worker-a");
    assert_eq!(a.name().as_deref(), Some("worker-a"));
    let a_id = a.id();
    let snapshot = lp
        .run_until_complete(async move {
            qtloop::sleep(0.01).await.unwrap();
            let all = qtloop::get_running_loop().unwrap().all_tasks();
            let me = qtloop::current_task().unwrap().info();
            (all, me, a.await.unwrap())
        })
        .unwrap();
    let (all, me, a_info) = snapshot;
    assert_eq!(a_info.id, a_id);
    assert_eq!(a_info.name.as_deref(), Some("worker-a"));
    let a_row = all.iter().find(|t| t.id == a_id).expect("a is listed");
    assert_eq!(a_row.status, TaskStatus::Pending);
    let me_row = all
        .iter()
        .find(|t| t.id == me.id)
        .expect("the caller is listed");
    assert_eq!(me_row.status, TaskStatus::Running);
    assert!(lp.all_tasks().is_empty(), "finished tasks leave the list");
    lp.close().unwrap();
}

fn spawn_from_another_thread() {
    let lp = EventLoop::new().unwrap();
    let h = lp.handle();
    let loop_thread = std::thread::current().id();
    let t = std::thread::spawn(move || {
        h.spawn(async move {
            qtloop::sleep(0.002).await.unwrap();
            std::thread::current().id()
        })
    })
    .join()
    .unwrap();
    let ran_on = lp.run_until_complete(t).unwrap().unwrap();
    assert_eq!(ran_on, loop_thread, "Send tasks run on the loop thread");
    lp.close().unwrap();
}

fn close_cancels_pending_tasks() {
    let lp = EventLoop::new().unwrap();
    let flags: Vec<_> = (0..100).map(|_| Rc::new(Cell::new(false))).collect();
    for f in &flags {
        let flag = DropFlag(f.clone());
        drop(lp.create_task(async move {
            let _f = flag;
            qtloop::sleep(100.0).await.unwrap();
        }));
    }
    lp.run_until_complete(qtloop::sleep(0.005))
        .unwrap()
        .unwrap();
    assert_eq!(lp.all_tasks().len(), 100);
    lp.close().unwrap();
    assert!(
        flags.iter().all(|f| f.get()),
        "every pending future was dropped"
    );
}

fn sleep_timeout_and_errors() {
    let lp = EventLoop::new().unwrap();
    let (elapsed, ok, nan, inf) = lp
        .run_until_complete(async {
            let start = Instant::now();
            qtloop::sleep(Duration::from_millis(20)).await.unwrap();
            let elapsed = start.elapsed();
            let ok = qtloop::timeout(1.0, async { 7 }).await;
            let nan = qtloop::sleep(f64::NAN).await;
            let inf = qtloop::wait_for(qtloop::sleep(10.0), f64::INFINITY).await;
            (elapsed, ok, nan, inf)
        })
        .unwrap();
    assert!(elapsed >= Duration::from_millis(20), "{elapsed:?}");
    assert_eq!(ok, Ok(7));
    assert!(matches!(nan, Err(Error::InvalidDelay(_))));
    assert_eq!(inf, Err(qtloop::Elapsed));
    let t = lp
        .run_until_complete(qtloop::timeout(0.01, qtloop::sleep(5.0)))
        .unwrap();
    assert_eq!(t, Err(qtloop::Elapsed));
    lp.close().unwrap();
}

fn paused_clock_runs_10s_of_timers_fast() {
    let lp = EventLoop::new().unwrap();
    lp.pause_clock();
    let t0 = lp.time();
    let trace: Rc<RefCell<Vec<f64>>> = Rc::default();
    fn chain(lp: EventLoop, trace: Rc<RefCell<Vec<f64>>>, left: u32) {
        trace.borrow_mut().push(lp.time());
        if left > 0 {
            let l = lp.clone();
            lp.call_later(1.0, move || chain(l, trace, left - 1))
                .unwrap();
        }
    }
    let (l, t) = (lp.clone(), trace.clone());
    lp.call_soon(move || chain(l, t, 10)).unwrap();
    let wall = Instant::now();
    lp.run_until_complete(qtloop::sleep(10.5)).unwrap().unwrap();
    assert!(
        wall.elapsed() < Duration::from_secs(2),
        "{:?}",
        wall.elapsed()
    );
    let trace = trace.borrow();
    assert_eq!(trace.len(), 11);
    for (i, at) in trace.iter().enumerate() {
        assert!((at - t0 - i as f64).abs() < 1e-6, "tick {i} at {}", at - t0);
    }
    assert!((lp.time() - t0 - 10.5).abs() < 1e-6);
    lp.resume_clock();
    lp.close().unwrap();
}

fn interval_missed_tick_behaviours() {
    // Ticks of a 10 ms interval whose consumer stalls 35 ms after tick 1.
    fn ticks(b: MissedTickBehavior) -> Vec<u64> {
        let lp = EventLoop::new().unwrap();
        lp.pause_clock();
        let l = lp.clone();
        let out = lp
            .run_until_complete(async move {
                let t0 = l.time();
                let mut iv = qtloop::interval(Duration::from_millis(10)).unwrap();
                iv.set_missed_tick_behavior(b);
                let mut out = vec![];
                for i in 0..5 {
                    iv.next().await.unwrap();
                    out.push(((l.time() - t0) * 1000.0).round() as u64);
                    if i == 1 {
                        l.advance(Duration::from_millis(35));
                    }
                }
                out
            })
            .unwrap();
        lp.close().unwrap();
        out
    }
    assert_eq!(ticks(MissedTickBehavior::Burst), [0, 10, 45, 45, 45]);
    assert_eq!(ticks(MissedTickBehavior::Delay), [0, 10, 45, 55, 65]);
    assert_eq!(ticks(MissedTickBehavior::Skip), [0, 10, 45, 50, 60]);
    assert!(qtloop::interval(0.0).is_err());
}

fn run_and_run_with() {
    assert_eq!(qtloop::run(async { 3 }), Ok(3));
    assert!(
        qtloop::get_event_loop().is_err(),
        "run() closes the loop it made"
    );
    // keep_running: the loop runs on after the future until stop().
    let after = Rc::new(Cell::new(false));
    let a = after.clone();
    let r = qtloop::run_with(
        async move {
            let lp = qtloop::get_running_loop().unwrap();
            let l = lp.clone();
            lp.call_later(0.01, move || {
                a.set(true);
                l.stop();
            })
            .unwrap();
            "done"
        },
        RunOptions {
            keep_running: true,
            debug: true,
            ..RunOptions::default()
        },
    );
    assert_eq!(r, Ok("done"));
    assert!(
        after.get(),
        "the loop kept running after the future completed"
    );
    // An existing loop is used and left open.
    let lp = EventLoop::new().unwrap();
    assert_eq!(qtloop::run(async { 4 }), Ok(4));
    assert!(!lp.is_closed());
    lp.close().unwrap();
}
