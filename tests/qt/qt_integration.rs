//! `qtloop::qt`: awaiting signals of cxx-qt QObjects, tasks scoped to an
//! object, safe access after awaits, and modal (nested) loops.

use crate::{guarded, register_parked_job};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cxx_qt_lib::{QString, QVariant};
use futures::StreamExt;
use qtloop::qml::{new_async_job, register_job};
use qtloop::qt::{next_signal, run_modal, signal_stream, NestedEventLoop, ObjectRef, TaskScope};
use qtloop::{Error, EventLoop, TaskError};

use cxx_qt::Threading;

cases!(qt_integration:
    next_signal_resolves_with_the_arguments_and_survives_a_move,
    signal_stream_yields_in_order_and_ends_when_the_object_dies,
    dropping_the_stream_or_future_disconnects,
    task_scope_cancels_its_tasks_when_dropped,
    object_ref_updates_after_awaits_and_fails_once_destroyed,
    run_modal_keeps_other_tasks_running_and_the_caller_free,
    about_to_quit_closes_the_loop_cleanly,
    loop_on_a_qthread_uses_its_dispatcher,
);

/// Counts emissions of `message(kind, value)` as `(kind, i32)`.
fn messages_job() {
    register_job("t_count", |ctx| async move {
        let n = ctx.argument().value::<i32>().unwrap_or(3);
        for i in 0..n {
            ctx.send("n", QVariant::from(&i));
            qtloop::sleep(0.001).await?;
        }
        Ok::<_, Error>(QVariant::from(&(n * 10)))
    });
}

fn next_signal_resolves_with_the_arguments_and_survives_a_move() {
    let lp = EventLoop::new().unwrap();
    messages_job();
    let mut job = new_async_job("t_count");
    let fut = next_signal(|tx| {
        job.pin_mut()
            .on_finished(move |_, v| tx.send(v.value::<i32>()))
    });
    // Moved twice before it is first polled: the connection holds a shared
    // queue, not a pointer into the future.
    let boxed = Box::pin(fut);
    let moved = vec![boxed].pop().unwrap();
    assert!(job.pin_mut().start(&QVariant::from(&4i32)));
    let (r, connected) = lp
        .run_until_complete(async move {
            let mut fut = moved;
            let r = (&mut fut).await;
            (r, fut.is_connected())
        })
        .unwrap();
    assert_eq!(r.unwrap(), Some(40));
    assert!(!connected, "disconnected once the signal came");
    drop(job);
    lp.close().unwrap();
}

fn signal_stream_yields_in_order_and_ends_when_the_object_dies() {
    let lp = EventLoop::new().unwrap();
    messages_job();
    let mut job = new_async_job("t_count");
    let mut stream = signal_stream(|tx| {
        job.pin_mut()
            .on_message(move |_, kind, v| tx.send((kind.to_string(), v.value::<i32>().unwrap())))
    });
    assert!(job.pin_mut().start(&QVariant::from(&3i32)));
    let got = lp
        .run_until_complete(async move {
            let mut got = Vec::new();
            for _ in 0..3 {
                got.push(stream.next().await.unwrap());
            }
            (got, stream)
        })
        .unwrap();
    let (got, mut stream) = got;
    assert_eq!(got, vec![("n".into(), 0), ("n".into(), 1), ("n".into(), 2)]);
    assert!(stream.is_connected());
    // The object is destroyed: the stream ends instead of hanging.
    drop(job);
    let end = lp
        .run_until_complete(async move { stream.next().await })
        .unwrap();
    assert_eq!(end, None);
    // And a future waiting for a signal of a destroyed object fails.
    let mut job = new_async_job("t_count");
    let fut = next_signal(|tx| job.pin_mut().on_cancelled(move |_| tx.send(())));
    drop(job);
    assert_eq!(
        lp.run_until_complete(fut).unwrap(),
        Err(Error::ObjectDestroyed)
    );
    lp.close().unwrap();
}

/// Set when dropped; `Send`, as a signal closure must be.
struct Dropped(Arc<AtomicBool>);
impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn dropping_the_stream_or_future_disconnects() {
    let lp = EventLoop::new().unwrap();
    messages_job();
    let mut job = new_async_job("t_count");
    let gone = Arc::new(AtomicBool::new(false));
    let flag = Dropped(gone.clone());
    let stream = signal_stream(|tx| {
        job.pin_mut().on_message(move |_, _, _| {
            let _ = &flag;
            tx.send(())
        })
    });
    assert!(!gone.load(Ordering::SeqCst));
    drop(stream);
    assert!(
        gone.load(Ordering::SeqCst),
        "Qt dropped the closure: disconnected"
    );
    // Same for a future dropped before its signal came.
    let gone2 = Arc::new(AtomicBool::new(false));
    let flag2 = Dropped(gone2.clone());
    let fut = next_signal(|tx| {
        job.pin_mut().on_finished(move |_, _| {
            let _ = &flag2;
            tx.send(())
        })
    });
    assert!(fut.is_connected());
    drop(fut);
    assert!(gone2.load(Ordering::SeqCst));
    // Emitting afterwards reaches nobody and breaks nothing.
    assert!(job.pin_mut().start(&QVariant::from(&2i32)));
    let done = next_signal(|tx| job.pin_mut().on_finished(move |_, _| tx.send(())));
    lp.run_until_complete(done).unwrap().unwrap();
    drop(job);
    lp.close().unwrap();
}

fn task_scope_cancels_its_tasks_when_dropped() {
    let lp = EventLoop::new().unwrap();
    let scope = TaskScope::new();
    let ran = Rc::new(Cell::new(0));
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let r = ran.clone();
        tasks.push(scope.spawn(async move {
            qtloop::sleep(60.0).await.unwrap();
            r.set(r.get() + 1);
        }));
    }
    let quick = scope.spawn(async { 7 });
    assert_eq!(lp.run_until_complete(quick).unwrap(), Ok(7));
    assert_eq!(scope.len(), 3, "finished tasks are not counted");
    drop(scope);
    for t in tasks {
        assert_eq!(lp.run_until_complete(t).unwrap(), Err(TaskError::Cancelled));
    }
    assert_eq!(ran.get(), 0);
    // The AsyncJob item holds its task the same way: destroying it cancels.
    let dropped = Rc::new(Cell::new(false));
    register_parked_job("t_long", &dropped);
    let mut job = new_async_job("t_long");
    assert!(job.pin_mut().start(&QVariant::default()));
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
    drop(job);
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
    assert!(
        dropped.get(),
        "the job's future was dropped with its object"
    );
    lp.close().unwrap();
}

fn object_ref_updates_after_awaits_and_fails_once_destroyed() {
    let lp = EventLoop::new().unwrap();
    let mut job = new_async_job("t_ref");
    let obj = ObjectRef::new(job.pin_mut().qt_thread());
    let o = obj.clone();
    // A task updates the object between awaits, never holding it.
    let task = lp.create_task(async move {
        let mut n = 0;
        loop {
            qtloop::sleep(0.002).await.unwrap();
            n += 1;
            let name = QString::from(format!("t_ref {n}").as_str());
            if let Err(e) = o.update(move |mut job| job.as_mut().set_job(name)).await {
                return (n, e);
            }
        }
    });
    lp.run_until_complete(qtloop::sleep(0.03)).unwrap().unwrap();
    let o2 = obj.clone();
    let seen = lp
        .run_until_complete(async move { o2.update(|job| job.job().to_string()).await })
        .unwrap()
        .unwrap();
    assert!(seen.starts_with("t_ref "), "{seen}");
    // A panicking update (issue 14, item 5) is an error for the caller and a
    // report for the handler; it used to abort in cxx-qt's trampoline.
    let reports = Rc::new(Cell::new(0));
    let r = reports.clone();
    lp.set_exception_handler(Some(move |_: &EventLoop, _: &qtloop::ExceptionContext| {
        r.set(r.get() + 1)
    }));
    let o3 = obj.clone();
    let failed = lp
        .run_until_complete(async move { o3.update(|_| -> () { panic!("update broke") }).await })
        .unwrap();
    assert_eq!(failed, Err(Error::Panicked("update broke".into())));
    assert!(obj.post(|_| panic!("post broke")));
    lp.run_until_complete(qtloop::sleep(0.02)).unwrap().unwrap();
    assert_eq!(reports.get(), 2, "both panics were reported");
    lp.set_exception_handler(None::<fn(&EventLoop, &qtloop::ExceptionContext)>);
    assert!(!obj.is_destroyed());
    drop(job);
    assert!(obj.is_destroyed());
    // The updating task ends by itself with a clear error.
    let (n, e) = lp.run_until_complete(task).unwrap().unwrap();
    assert!(n >= 2, "{n}");
    assert_eq!(e, Error::ObjectDestroyed);
    assert!(!obj.post(|_| {}));
    lp.close().unwrap();
}

fn run_modal_keeps_other_tasks_running_and_the_caller_free() {
    let lp = EventLoop::new().unwrap();
    let modal = Rc::new(NestedEventLoop::new());
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    let ticker = lp.create_task(async move {
        loop {
            qtloop::sleep(0.002).await.unwrap();
            t.set(t.get() + 1);
        }
    });
    let m = modal.clone();
    let ticks_in_modal = Rc::new(Cell::new(0));
    let (tim, tk) = (ticks_in_modal.clone(), ticks.clone());
    let caller = lp.create_task(async move {
        // The caller is not stuck inside the modal loop: it can time out.
        let m2 = m.clone();
        let r = qtloop::timeout(
            0.05,
            run_modal(move || {
                let before = tk.get();
                m2.exec().unwrap();
                tim.set(tk.get() - before);
                "dialog closed"
            }),
        )
        .await;
        assert!(r.is_err(), "timed out while the dialog is still open");
        assert!(m.is_running());
        m.exit();
        // Awaited again, a fresh one returns its value.
        run_modal(|| 5).await.unwrap()
    });
    assert_eq!(lp.run_until_complete(caller).unwrap(), Ok(5));
    assert!(
        ticks_in_modal.get() >= 5,
        "other tasks ran during the modal loop: {}",
        ticks_in_modal.get()
    );
    ticker.cancel();
    // A panic in the blocking call is an error for the awaiting task.
    let r = lp
        .run_until_complete(run_modal(|| -> i32 { panic!("dialog crashed") }))
        .unwrap();
    assert_eq!(r, Err(Error::Panicked("dialog crashed".into())));
    lp.close().unwrap();
}

fn about_to_quit_closes_the_loop_cleanly() {
    let lp = EventLoop::new().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let task = lp.create_task(guarded(&dropped, qtloop::sleep(60.0)));
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    lp.call_later(0.01, move || {
        r.set(true);
        qtloop::qt::quit();
    })
    .unwrap();
    assert_eq!(qtloop::qt::exec().unwrap(), 0);
    assert!(ran.get());
    assert!(lp.is_closed(), "aboutToQuit closed the loop");
    assert!(dropped.get(), "its task was cancelled and dropped");
    assert!(task.is_done());
    assert_eq!(lp.call_soon(|| {}).unwrap_err(), Error::Closed);
    lp.close().unwrap();
}

fn loop_on_a_qthread_uses_its_dispatcher() {
    let main_lp = EventLoop::new().unwrap();
    let t = qtloop::qt::spawn_qthread("qtloop-qthread", || {
        let lp = EventLoop::new().unwrap();
        let order = Rc::new(std::cell::RefCell::new(Vec::new()));
        let o = order.clone();
        lp.call_later(0.02, move || o.borrow_mut().push("later"))
            .unwrap();
        let o = order.clone();
        lp.call_soon(move || o.borrow_mut().push("soon")).unwrap();
        let t0 = lp.time();
        lp.run_until_complete(qtloop::sleep(0.03)).unwrap().unwrap();
        let took = lp.time() - t0;
        lp.close().unwrap();
        let order = order.borrow().clone();
        (qtloop::qt::current_qthread_name(), order, took)
    });
    // The GUI thread's loop keeps running meanwhile.
    let ticks = main_lp
        .run_until_complete(async move {
            let mut n = 0;
            while !t.is_finished() {
                qtloop::sleep(0.002).await.unwrap();
                n += 1;
            }
            (n, t.join())
        })
        .unwrap();
    let (n, joined) = ticks;
    let (name, order, took) = joined.unwrap();
    assert_eq!(name, "qtloop-qthread", "ran on the QThread");
    assert_eq!(order, ["soon", "later"]);
    assert!(took >= 0.03, "{took}");
    assert!(n >= 3, "{n}");
    assert_eq!(
        qtloop::qt::current_qthread_name(),
        "",
        "the main thread is not it"
    );
    // A panic in the thread is an error for the joiner, not a crash.
    let bad = qtloop::qt::spawn_qthread("bad", || -> i32 { panic!("qthread body") });
    assert_eq!(bad.join(), Err(Error::Panicked("qthread body".into())));
    main_lp.close().unwrap();
}
