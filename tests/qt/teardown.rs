//! Teardown edges (issue 14, items 1 and 6): drops that panic while a loop
//! closes, a `QThreadHandle` dropped by its own thread, and an on-loop loop
//! task whose loop closes under it.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use qtloop::background::{LoopRunner, LoopTask, MissedLoopPolicy, TaskContext, TaskFailure};
use qtloop::{Error, EventLoop, ExceptionContext};

cases!(teardown:
    close_reports_task_drops_that_panic_and_drops_the_rest,
    a_qthread_handle_dropped_by_its_own_thread,
    an_on_loop_loop_task_finishes_when_its_loop_closes,
    an_on_loop_loop_task_started_after_close_finishes,
);

use crate::PanicOnDrop;

fn close_reports_task_drops_that_panic_and_drops_the_rest() {
    let lp = EventLoop::new().unwrap();
    let reports = Rc::new(RefCell::new(Vec::new()));
    let r = reports.clone();
    lp.set_exception_handler(Some(move |_: &EventLoop, c: &ExceptionContext| {
        r.borrow_mut().push(c.panic.clone().unwrap_or_default());
    }));
    let parked = |name: &'static str| {
        let bomb = PanicOnDrop(name);
        async move {
            let _bomb = bomb;
            std::future::pending::<()>().await
        }
    };
    // Two parked tasks, one never polled (its runnable queued at close),
    // and a well-behaved one between them.
    lp.create_task(parked("parked 1"));
    let fine = Rc::new(std::cell::Cell::new(false));
    lp.create_task(crate::guarded(&fine, std::future::pending::<()>()));
    lp.create_task(parked("parked 2"));
    lp.run_until_complete(qtloop::sleep(0.01)).unwrap().unwrap();
    lp.create_task(parked("queued"));
    // async-task aborted the process here.
    assert_eq!(lp.close(), Ok(()));
    let mut got = reports.borrow().clone();
    got.sort();
    assert_eq!(
        got,
        ["parked 1 dropped", "parked 2 dropped", "queued dropped"]
    );
    assert!(fine.get(), "the others were dropped too");
}

fn a_qthread_handle_dropped_by_its_own_thread() {
    let (give, take) = mpsc::channel::<qtloop::qt::QThreadHandle<()>>();
    let (report, outcome) = mpsc::channel();
    let handle = qtloop::qt::spawn_qthread("self-dropping", move || {
        let me = take.recv().unwrap();
        // join consumes (and drops) the handle on the thread it manages:
        // Qt's qFatal "Destroyed while thread is still running" before.
        report.send(me.join()).unwrap();
    });
    give.send(handle).unwrap();
    let joined = outcome
        .recv_timeout(Duration::from_secs(10))
        .expect("the QThread reported");
    assert!(matches!(joined, Err(Error::WouldDeadlock)), "{joined:?}");
    // The QThread object is deleted later by this thread's event loop.
    let lp = EventLoop::new().unwrap();
    lp.run_until_complete(qtloop::sleep(0.05)).unwrap().unwrap();
    lp.close().unwrap();
}

struct Ticker {
    finalized: Arc<AtomicBool>,
}
impl LoopTask for Ticker {
    type Settings = ();
    type Status = ();
    fn loop_iteration(&mut self, _: &TaskContext<(), ()>) -> Result<(), TaskFailure> {
        Ok(())
    }
    fn loop_finalize(&mut self, _: &TaskContext<(), ()>) {
        self.finalized.store(true, Ordering::SeqCst);
    }
}

/// A 5 ms loop task on this thread's loop, and its "finalized" flag.
fn ticker_on_loop(name: &str) -> (qtloop::background::TaskRunner<(), ()>, Arc<AtomicBool>) {
    let finalized = Arc::new(AtomicBool::new(false));
    let task = Ticker {
        finalized: finalized.clone(),
    };
    let runner = LoopRunner::new(task, Duration::from_millis(5), MissedLoopPolicy::Skip)
        .unwrap()
        .spawn_on_loop(name)
        .unwrap();
    (runner, finalized)
}

/// `join` on a helper thread, so that a hang fails this case only.
fn join_within(
    runner: qtloop::background::TaskRunner<(), ()>,
    limit: Duration,
) -> Result<(), TaskFailure> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(runner.join()));
    rx.recv_timeout(limit).expect("join() never returned")
}

fn an_on_loop_loop_task_finishes_when_its_loop_closes() {
    let lp = EventLoop::new().unwrap();
    let (runner, finalized) = ticker_on_loop("ticker");
    runner.start().unwrap();
    lp.run_until_complete(qtloop::sleep(0.03)).unwrap().unwrap();
    lp.close().unwrap(); // the task's future is dropped here
    assert!(
        finalized.load(Ordering::SeqCst),
        "loop_finalize did not run"
    );
    let r = join_within(runner, Duration::from_secs(5));
    assert!(
        matches!(&r, Err(TaskFailure::Failed(m)) if m.contains("loop closed")),
        "{r:?}"
    );
}

fn an_on_loop_loop_task_started_after_close_finishes() {
    let lp = EventLoop::new().unwrap();
    let (runner, finalized) = ticker_on_loop("late");
    lp.close().unwrap();
    let started = Mutex::new(runner.start());
    let r = join_within(runner, Duration::from_secs(5));
    assert!(
        r.is_err(),
        "{r:?} (start gave {:?})",
        started.lock().unwrap()
    );
    assert!(
        !finalized.load(Ordering::SeqCst),
        "loop_finalize ran without loop_prepare"
    );
}
