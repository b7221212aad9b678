//! Structured concurrency: TaskGroup (fail-fast, completion order, abort
//! on drop), yield_now, cancel_on_drop, and current_task as a handle.

use std::cell::RefCell;
use std::rc::Rc;

use qtloop::{EventLoop, ExceptionContext, LoopHandle, TaskError, TaskGroup, TaskStatus};

cases!(structured:
    join_next_gives_completion_order_then_none,
    wait_gives_spawn_order,
    a_panic_cancels_the_siblings,
    try_wait_returns_the_first_error,
    dropping_the_group_cancels_what_is_left,
    abort_all_then_join_next_sees_cancellations,
    tasks_from_elsewhere_join_the_group,
    yield_now_lets_others_run_in_fifo_order,
    cancel_on_drop_and_detach,
    current_task_is_a_handle_that_names_and_cancels,
    a_timed_out_wait_loses_no_output,
    later_panics_of_a_failed_group_reach_the_handler,
    a_cancelled_task_whose_drop_panics_says_panicked,
    on_cancel_runs_once_on_the_cancelling_thread,
    a_panics_payload_comes_back_with_into_panic,
    reset_exception_handler_restores_the_default,
);

/// Records its drop (the task's future was dropped).
struct Dropped(&'static str, Rc<RefCell<Vec<&'static str>>>);
impl Drop for Dropped {
    fn drop(&mut self) {
        self.1.borrow_mut().push(self.0);
    }
}

fn join_next_gives_completion_order_then_none() {
    let lp = EventLoop::new().unwrap();
    let order = lp
        .run_until_complete(async {
            let mut g = TaskGroup::new();
            for ms in [30u64, 10, 20] {
                g.spawn(async move {
                    qtloop::sleep(ms as f64 / 1000.0).await.unwrap();
                    ms
                });
            }
            assert_eq!(g.len(), 3);
            let mut order = Vec::new();
            while let Some(r) = g.join_next().await {
                order.push(r.unwrap());
            }
            assert!(g.is_empty());
            assert!(g.join_next().await.is_none());
            order
        })
        .unwrap();
    assert_eq!(order, [10, 20, 30]);
    lp.close().unwrap();
}

fn wait_gives_spawn_order() {
    let lp = EventLoop::new().unwrap();
    let out = lp
        .run_until_complete(async {
            let mut g = TaskGroup::new();
            for i in 0..200u32 {
                g.spawn(async move {
                    qtloop::sleep(((200 - i) % 7) as f64 / 1000.0)
                        .await
                        .unwrap();
                    i
                });
            }
            // One taken from the middle first.
            let first = g.join_next().await.unwrap().unwrap();
            let rest = g.wait().await.unwrap();
            (first, rest)
        })
        .unwrap();
    let (first, rest) = out;
    let mut expected: Vec<u32> = (0..200).filter(|&i| i != first).collect();
    expected.sort();
    assert_eq!(rest, expected);
    lp.close().unwrap();
}

fn a_panic_cancels_the_siblings() {
    let lp = EventLoop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let r = lp
        .run_until_complete(async move {
            let mut g = TaskGroup::new();
            for name in ["a", "b"] {
                let l = l.clone();
                g.spawn(async move {
                    let _d = Dropped(name, l);
                    qtloop::sleep(30.0).await.unwrap();
                });
            }
            g.spawn(async {
                qtloop::sleep(0.01).await.unwrap();
                panic!("sensor unplugged");
            });
            let t0 = std::time::Instant::now();
            let r = g.wait().await;
            (r, t0.elapsed())
        })
        .unwrap();
    let (r, took) = r;
    match r {
        Err(TaskError::Panicked(m)) => assert!(m.contains("sensor unplugged"), "{m}"),
        other => panic!("expected the panic, got {other:?}"),
    }
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    // wait() joined the cancelled siblings: their futures are gone.
    let mut dropped = log.borrow().clone();
    dropped.sort();
    assert_eq!(dropped, ["a", "b"]);
    lp.close().unwrap();
}

fn try_wait_returns_the_first_error() {
    let lp = EventLoop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let (err, ok) = lp
        .run_until_complete(async move {
            let mut g: TaskGroup<qtloop::Result<u32>> = TaskGroup::new();
            g.spawn(async move {
                let _d = Dropped("slow", l);
                qtloop::sleep(30.0).await?;
                Ok(1)
            });
            g.spawn(async {
                qtloop::sleep(0.005).await?;
                Err(qtloop::Error::Timeout)
            });
            let err = g.try_wait().await;
            let mut g: TaskGroup<qtloop::Result<u32>> = TaskGroup::new();
            g.spawn(async { Ok(1) });
            g.spawn(async { Ok(2) });
            (err, g.try_wait().await)
        })
        .unwrap();
    assert_eq!(err, Err(qtloop::Error::Timeout));
    assert_eq!(*log.borrow(), ["slow"]);
    assert_eq!(ok, Ok(vec![1, 2]));
    lp.close().unwrap();
}

fn dropping_the_group_cancels_what_is_left() {
    let lp = EventLoop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let statuses = lp
        .run_until_complete(async move {
            let mut g = TaskGroup::new();
            let mut handles = Vec::new();
            for name in ["x", "y", "z"] {
                let l = l.clone();
                handles.push(g.spawn(async move {
                    let _d = Dropped(name, l);
                    qtloop::sleep(30.0).await.unwrap();
                }));
            }
            qtloop::sleep(0.01).await.unwrap();
            drop(g);
            qtloop::yield_now().await;
            qtloop::yield_now().await;
            handles.iter().map(|h| h.status()).collect::<Vec<_>>()
        })
        .unwrap();
    assert_eq!(statuses, [TaskStatus::Cancelled; 3]);
    assert_eq!(log.borrow().len(), 3);
    lp.close().unwrap();
}

fn abort_all_then_join_next_sees_cancellations() {
    let lp = EventLoop::new().unwrap();
    let out = lp
        .run_until_complete(async {
            let mut g = TaskGroup::new();
            for _ in 0..5 {
                g.spawn(async {
                    qtloop::sleep(30.0).await.unwrap();
                    1
                });
            }
            g.spawn(async { 2 });
            qtloop::yield_now().await;
            qtloop::yield_now().await;
            g.abort_all();
            let mut out = Vec::new();
            while let Some(r) = g.join_next().await {
                out.push(r);
            }
            out
        })
        .unwrap();
    assert_eq!(out.len(), 6);
    assert_eq!(out.iter().filter(|r| **r == Ok(2)).count(), 1);
    assert_eq!(
        out.iter()
            .filter(|r| **r == Err(TaskError::Cancelled))
            .count(),
        5
    );
    lp.close().unwrap();
}

fn tasks_from_elsewhere_join_the_group() {
    let lp = EventLoop::new().unwrap();
    let handle: LoopHandle = lp.handle();
    let out = lp
        .run_until_complete(async move {
            let mut g = TaskGroup::new();
            let h = handle.clone();
            let from_thread = std::thread::spawn(move || h.spawn(async { 7u32 }))
                .join()
                .unwrap();
            g.add(from_thread);
            g.add(handle.spawn(async { 8u32 }));
            g.wait().await
        })
        .unwrap();
    assert_eq!(out, Ok(vec![7, 8]));
    lp.close().unwrap();
}

fn yield_now_lets_others_run_in_fifo_order() {
    let lp = EventLoop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut tasks = Vec::new();
    for name in ["A", "B"] {
        let log = log.clone();
        tasks.push(lp.create_task(async move {
            for i in 0..3 {
                log.borrow_mut().push(format!("{name}{i}"));
                qtloop::yield_now().await;
            }
        }));
    }
    let l = log.clone();
    lp.call_soon(move || l.borrow_mut().push("cb".into()))
        .unwrap();
    lp.run_until_complete(async move {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .unwrap();
    assert_eq!(*log.borrow(), ["A0", "B0", "cb", "A1", "B1", "A2", "B2"]);
    // Without a loop it still completes (it only wakes itself).
    futures::executor::block_on(qtloop::yield_now());
    lp.close().unwrap();
}

fn cancel_on_drop_and_detach() {
    let lp = EventLoop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let (dropped_one, detached_one) = lp
        .run_until_complete(async move {
            let l2 = l.clone();
            let a = qtloop::spawn_local(async move {
                let _d = Dropped("cancelled", l2);
                qtloop::sleep(30.0).await.unwrap();
            })
            .cancel_on_drop();
            let ha = a.abort_handle();
            let b = qtloop::spawn_local(async move {
                qtloop::sleep(0.02).await.unwrap();
                l.borrow_mut().push("detached ran");
            })
            .cancel_on_drop();
            let hb = b.abort_handle();
            qtloop::yield_now().await; // both have started
            drop(a);
            b.detach();
            qtloop::sleep(0.04).await.unwrap();
            (ha.status(), hb.status())
        })
        .unwrap();
    assert_eq!(dropped_one, TaskStatus::Cancelled);
    assert_eq!(detached_one, TaskStatus::Done);
    assert_eq!(*log.borrow(), ["cancelled", "detached ran"]);
    lp.close().unwrap();
}

fn current_task_is_a_handle_that_names_and_cancels() {
    let lp = EventLoop::new().unwrap();
    let reached = Rc::new(RefCell::new(false));
    let r = reached.clone();
    let task = lp.create_task(async move {
        let me = qtloop::current_task().unwrap();
        me.set_name("self-cancelling");
        assert_eq!(me.info().name.as_deref(), Some("self-cancelling"));
        assert_eq!(me.status(), TaskStatus::Running);
        me.cancel();
        qtloop::sleep(0.001).await.unwrap();
        *r.borrow_mut() = true; // never: cancelled at the await
    });
    let out = lp.run_until_complete(async { (task.name(), task.await) });
    let (name, out) = out.unwrap();
    assert_eq!(name.as_deref(), Some("self-cancelling"));
    assert_eq!(out, Err(TaskError::Cancelled));
    assert!(!*reached.borrow());
    lp.close().unwrap();
}

fn a_timed_out_wait_loses_no_output() {
    let lp = EventLoop::new().unwrap();
    let (timed_out, left, rest) = lp
        .run_until_complete(async {
            let mut g = TaskGroup::new();
            g.spawn(async { 1 });
            g.spawn(async { 2 });
            g.spawn(async {
                qtloop::sleep(0.1).await.unwrap();
                3
            });
            let timed_out = qtloop::timeout(0.02, g.wait()).await.is_err();
            (timed_out, g.len(), g.wait().await)
        })
        .unwrap();
    assert!(timed_out);
    assert_eq!(left, 3, "the finished outputs stay in the group");
    assert_eq!(rest, Ok(vec![1, 2, 3]));
    lp.close().unwrap();
}

fn later_panics_of_a_failed_group_reach_the_handler() {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    lp.set_exception_handler(Some(move |_: &EventLoop, c: &ExceptionContext| {
        s.borrow_mut().push(c.panic.clone().unwrap_or_default());
    }));
    let r = lp
        .run_until_complete(async {
            let mut g = TaskGroup::<()>::new();
            g.spawn(async { panic!("first") });
            g.spawn(async { panic!("second") });
            g.spawn(async {
                let _p = crate::PanicOnDrop("third");
                qtloop::sleep(10.0).await.unwrap();
            });
            g.wait().await
        })
        .unwrap();
    assert!(
        matches!(r, Err(TaskError::Panicked(ref m)) if m.contains("first")),
        "{r:?}"
    );
    let mut seen = seen.borrow().clone();
    seen.sort();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].contains("second") && seen[1].contains("third"),
        "{seen:?}"
    );
    lp.close().unwrap();
}

/// Records `current_task()`'s name when dropped.
struct NameOnDrop(Rc<RefCell<Option<String>>>);
impl Drop for NameOnDrop {
    fn drop(&mut self) {
        *self.0.borrow_mut() = qtloop::current_task().and_then(|t| t.name());
    }
}

fn a_cancelled_task_whose_drop_panics_says_panicked() {
    let lp = EventLoop::new().unwrap();
    let name = Rc::new(RefCell::new(None));
    let n = name.clone();
    let (status, out, named) = lp
        .run_until_complete(async move {
            let t = qtloop::spawn_local(async {
                let _p = crate::PanicOnDrop("x");
                qtloop::sleep(10.0).await.unwrap();
            });
            let named = qtloop::spawn_local(async move {
                let _n = NameOnDrop(n);
                qtloop::sleep(10.0).await.unwrap();
            });
            named.set_name("cleanup");
            qtloop::yield_now().await;
            t.cancel();
            named.cancel();
            let h = t.abort_handle();
            let out = t.await;
            (h.status(), out, named.await)
        })
        .unwrap();
    assert!(matches!(out, Err(TaskError::Panicked(_))), "{out:?}");
    assert_eq!(status, TaskStatus::Panicked, "status and result agree");
    assert_eq!(named, Err(TaskError::Cancelled));
    // The future's Drop ran inside its task, as asyncio's `finally:`.
    assert_eq!(name.borrow().as_deref(), Some("cleanup"));
    lp.close().unwrap();
}

fn on_cancel_runs_once_on_the_cancelling_thread() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};
    let lp = EventLoop::new().unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let thread = Arc::new(Mutex::new(None));
    let (c, th) = (calls.clone(), thread.clone());
    let task = lp.create_task(qtloop::sleep(10.0)).on_cancel(move || {
        c.fetch_add(1, Ordering::SeqCst);
        *th.lock().unwrap() = std::thread::current().name().map(String::from);
    });
    let abort = task.abort_handle();
    // The loop is not running: the hook runs right away, on the canceller.
    std::thread::Builder::new()
        .name("canceller".into())
        .spawn(move || {
            abort.cancel();
            abort.cancel();
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(thread.lock().unwrap().as_deref(), Some("canceller"));
    assert_eq!(
        lp.run_until_complete(task).unwrap(),
        Err(TaskError::Cancelled)
    );
    // A task that finishes never calls it; one cancelled before the hook is
    // set calls it at once.
    let (c1, c2) = (calls.clone(), calls.clone());
    let done = lp.create_task(async {}).on_cancel(move || {
        c1.fetch_add(10, Ordering::SeqCst);
    });
    lp.run_until_complete(done).unwrap().unwrap();
    let early = lp.create_task(qtloop::sleep(10.0));
    early.cancel();
    let early = early.on_cancel(move || {
        c2.fetch_add(100, Ordering::SeqCst);
    });
    assert_eq!(calls.load(Ordering::SeqCst), 101);
    let _ = lp.run_until_complete(early);
    lp.close().unwrap();
}

#[derive(Debug, PartialEq)]
struct Code(u32);

fn a_panics_payload_comes_back_with_into_panic() {
    let lp = EventLoop::new().unwrap();
    let r = lp
        .run_until_complete(lp.create_task(async { std::panic::panic_any(Code(7)) }))
        .unwrap();
    let Err(TaskError::Panicked(p)) = r else {
        panic!("expected a panic: {r:?}")
    };
    let payload = p.clone().into_panic();
    assert_eq!(payload.downcast_ref::<Code>(), Some(&Code(7)));
    // The payload went to the first taker; the others get the message.
    let again = p.into_panic();
    assert_eq!(
        again.downcast_ref::<String>().map(String::as_str),
        Some("Box<dyn Any>")
    );
    // Re-raised in another task, it keeps its type.
    let r = lp
        .run_until_complete(lp.create_task(async move { std::panic::resume_unwind(payload) }))
        .unwrap();
    let Err(TaskError::Panicked(p)) = r else {
        panic!("expected a panic: {r:?}")
    };
    assert_eq!(p.into_panic().downcast_ref::<Code>(), Some(&Code(7)));
    lp.close().unwrap();
}

fn reset_exception_handler_restores_the_default() {
    let lp = EventLoop::new().unwrap();
    let custom = Rc::new(RefCell::new(0));
    let c = custom.clone();
    lp.set_exception_handler(Some(move |_: &EventLoop, _: &ExceptionContext| {
        *c.borrow_mut() += 1;
    }));
    lp.call_soon(|| panic!("to the custom handler")).unwrap();
    lp.run_until_complete(qtloop::yield_now()).unwrap();
    assert_eq!(*custom.borrow(), 1);
    lp.reset_exception_handler();
    crate::take_logs();
    lp.call_soon(|| panic!("to the default handler")).unwrap();
    lp.run_until_complete(qtloop::yield_now()).unwrap();
    assert_eq!(*custom.borrow(), 1);
    assert!(crate::take_logs()
        .iter()
        .any(|(_, m)| m.contains("to the default handler")));
    lp.close().unwrap();
}
