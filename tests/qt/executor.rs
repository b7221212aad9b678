//! The thread pool and run_in_executor (asyncio's and concurrent.futures'
//! behaviours).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use qtloop::{Error, EventLoop, ThreadPoolExecutor};

cases!(executor:
    result_comes_back_from_another_thread,
    workers_start_lazily_and_are_reused,
    panicking_job_is_an_error,
    cancel_before_start,
    shutdown_cancels_pending_and_refuses_new,
    cancel_shutdown_close_then_nothing_scheduled,
    stuck_job_does_not_block_close_or_shutdown,
    many_results_come_back,
);

fn result_comes_back_from_another_thread() {
    let lp = EventLoop::new().unwrap();
    let main = std::thread::current().id();
    let (job_thread, back_on) = lp
        .run_until_complete({
            let l = lp.clone();
            async move {
                let id = l
                    .run_in_executor(|| std::thread::current().id())
                    .await
                    .unwrap();
                (id, std::thread::current().id())
            }
        })
        .unwrap();
    assert_ne!(job_thread, main, "the job ran on a worker");
    assert_eq!(back_on, main, "the result came back on the loop thread");
    lp.close().unwrap();
}

fn workers_start_lazily_and_are_reused() {
    let pool = ThreadPoolExecutor::new(4).unwrap();
    assert_eq!(pool.workers(), 0, "no thread before work arrives");
    for i in 0..10 {
        assert_eq!(
            futures::executor::block_on(pool.submit(move || i * 2)),
            Ok(i * 2)
        );
    }
    assert_eq!(pool.workers(), 1, "one idle worker is reused");
    let barrier = Arc::new(Barrier::new(5));
    let futs: Vec<_> = (0..4)
        .map(|_| {
            let b = barrier.clone();
            pool.submit(move || {
                b.wait();
            })
        })
        .collect();
    barrier.wait(); // only possible if 4 jobs run at once
    for f in futs {
        futures::executor::block_on(f).unwrap();
    }
    assert_eq!(pool.workers(), 4);
    let more: Vec<_> = (0..20).map(|i| pool.submit(move || i)).collect();
    for f in more {
        futures::executor::block_on(f).unwrap();
    }
    assert_eq!(pool.workers(), 4, "never more than max_workers");
    assert!(ThreadPoolExecutor::new(0).is_err());
    assert!(ThreadPoolExecutor::default_max_workers() <= 32);
    pool.shutdown(true, false);
}

fn panicking_job_is_an_error() {
    let lp = EventLoop::new().unwrap();
    let r = lp
        .run_until_complete(lp.run_in_executor(|| -> u32 { panic!("job failed") }))
        .unwrap();
    assert_eq!(r, Err(Error::Panicked("job failed".into())));
    // The pool survives it.
    let ok = lp.run_until_complete(lp.run_in_executor(|| 5)).unwrap();
    assert_eq!(ok, Ok(5));
    lp.close().unwrap();
}

fn cancel_before_start() {
    let pool = ThreadPoolExecutor::new(1).unwrap();
    let (release, wait) = mpsc::channel::<()>();
    let blocker = pool.submit(move || wait.recv().unwrap());
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let queued = pool.submit(move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    let r = ran.clone();
    let dropped = pool.submit(move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    while !blocker.is_started() {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(queued.cancel());
    assert!(!blocker.cancel(), "a running job cannot be cancelled");
    drop(dropped); // dropping the future cancels a job that has not started
    release.send(()).unwrap();
    futures::executor::block_on(blocker).unwrap();
    assert_eq!(futures::executor::block_on(queued), Err(Error::Cancelled));
    pool.shutdown(true, false);
    assert_eq!(ran.load(Ordering::SeqCst), 0, "cancelled jobs never ran");
}

fn shutdown_cancels_pending_and_refuses_new() {
    let pool = ThreadPoolExecutor::new(1).unwrap();
    let (release, wait) = mpsc::channel::<()>();
    let running = pool.submit(move || wait.recv().unwrap());
    let pending: Vec<_> = (0..5).map(|i| pool.submit(move || i)).collect();
    while !running.is_started() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let p = pool.clone();
    let t = std::thread::spawn(move || p.shutdown(true, true));
    std::thread::sleep(Duration::from_millis(20));
    assert!(!t.is_finished(), "shutdown(wait) waits for the running job");
    release.send(()).unwrap();
    t.join().unwrap();
    assert_eq!(futures::executor::block_on(running), Ok(()));
    for f in pending {
        assert_eq!(futures::executor::block_on(f), Err(Error::Cancelled));
    }
    assert_eq!(
        futures::executor::block_on(pool.submit(|| 1)),
        Err(Error::ExecutorShutdown)
    );
    assert!(pool.is_shutdown());
}

/// asyncio's test_run_in_executor_cancel: a cancelled job, the executor
/// shut down, the loop closed; then nothing is scheduled on it for 0.4 s.
fn cancel_shutdown_close_then_nothing_scheduled() {
    let lp = EventLoop::new().unwrap();
    let finished = Arc::new(AtomicUsize::new(0));
    let f = finished.clone();
    let fut = lp.run_in_executor(move || {
        std::thread::sleep(Duration::from_millis(50));
        f.fetch_add(1, Ordering::SeqCst);
    });
    fut.cancel();
    drop(fut);
    let start = Instant::now();
    lp.run_until_complete(lp.shutdown_default_executor())
        .unwrap()
        .unwrap();
    let waited = start.elapsed();
    let handle = lp.handle();
    lp.close().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(handle.is_closed());
    assert_eq!(
        handle.call_soon_threadsafe(|| {}).unwrap_err(),
        Error::Closed
    );
    // The job had started (so it ran to its end) or was cancelled; either
    // way shutdown_default_executor waited for it.
    assert!(finished.load(Ordering::SeqCst) <= 1);
    if finished.load(Ordering::SeqCst) == 1 {
        assert!(waited >= Duration::from_millis(40), "{waited:?}");
    }
    let after = EventLoop::new().unwrap();
    assert_eq!(
        after
            .run_until_complete(async {
                let l = qtloop::get_running_loop().unwrap();
                let f = l.shutdown_default_executor();
                f.await.unwrap();
                l.run_in_executor(|| 1).await
            })
            .unwrap(),
        Err(Error::ExecutorShutdown)
    );
    after.close().unwrap();
}

fn stuck_job_does_not_block_close_or_shutdown() {
    let lp = EventLoop::new().unwrap();
    let (_keep, never) = mpsc::channel::<()>();
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    // A job that never returns (its channel never gets a message).
    let stuck = lp.run_in_executor(move || {
        s.fetch_add(1, Ordering::SeqCst);
        let _ = never.recv();
    });
    while started.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let t = Instant::now();
    let r = lp
        .run_until_complete(lp.shutdown_default_executor_timeout(Duration::from_millis(50)))
        .unwrap();
    assert_eq!(r, Err(Error::Timeout));
    assert!(t.elapsed() < Duration::from_secs(2));
    let warned = crate::take_logs()
        .iter()
        .any(|(l, m)| *l == log::Level::Warn && m.contains("did not finish joining"));
    assert!(warned);
    drop(stuck);
    let t = Instant::now();
    lp.close().unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "close() does not wait for jobs"
    );
}

fn many_results_come_back() {
    let lp = EventLoop::new().unwrap();
    lp.set_default_executor(ThreadPoolExecutor::new(4).unwrap());
    let total = lp
        .run_until_complete({
            let l = lp.clone();
            async move {
                let futs: Vec<_> = (0..1000u64).map(|i| l.run_in_executor(move || i)).collect();
                let mut sum = 0;
                for f in futs {
                    sum += f.await.unwrap();
                }
                sum
            }
        })
        .unwrap();
    assert_eq!(total, 999 * 1000 / 2);
    lp.close().unwrap();
}
