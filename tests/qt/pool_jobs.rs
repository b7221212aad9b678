//! Pool jobs with a token: cancellation they can see, progress that comes
//! back coalesced on the loop thread, and `JobContext::run_blocking`
//! wired to a QML `AsyncJob`'s progress and Cancel.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use futures::StreamExt;
use qtloop::qml::{register_job, QmlApp};
use qtloop::{Error, EventLoop, JobToken, ThreadPoolExecutor};

use crate::qml::{flag, job_window, started, string, wait_until};

cases!(pool_jobs:
    dropping_the_future_tells_a_running_job_to_stop,
    cancel_wakes_a_token_sleep_at_once,
    progress_arrives_on_the_loop_thread_latest_wins,
    a_blocked_loop_sees_only_the_latest_progress,
    jobs_without_a_token_have_no_progress,
    submit_with_on_an_executor_and_after_shutdown,
    run_blocking_drives_the_items_progress_and_cancel,
);

fn dropping_the_future_tells_a_running_job_to_stop() {
    let lp = EventLoop::new().unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    let started = Arc::new(AtomicBool::new(false));
    let s = started.clone();
    let seen = started.clone();
    let job = lp.run_in_executor_with(move |token: JobToken| {
        s.store(true, Ordering::SeqCst);
        let t0 = Instant::now();
        while !token.is_cancelled() && t0.elapsed() < Duration::from_secs(20) {
            std::hint::spin_loop();
        }
        let _ = done_tx.send(token.is_cancelled());
    });
    lp.run_until_complete(async move {
        while !seen.load(Ordering::SeqCst) {
            qtloop::sleep(0.001).await.unwrap();
        }
    })
    .unwrap();
    drop(job);
    // The worker stops at once instead of burning a core for 20 s.
    assert_eq!(done_rx.recv_timeout(Duration::from_secs(5)), Ok(true));
    lp.close().unwrap();
}

fn cancel_wakes_a_token_sleep_at_once() {
    let lp = EventLoop::new().unwrap();
    let out = lp
        .run_until_complete(async {
            let lp = qtloop::get_running_loop().unwrap();
            let job = lp.run_in_executor_with(|token| {
                let t0 = Instant::now();
                let r = token.sleep(Duration::from_secs(30));
                (r, t0.elapsed(), token.check())
            });
            while !job.is_started() {
                qtloop::sleep(0.001).await.unwrap();
            }
            qtloop::sleep(0.01).await.unwrap();
            // A running job is not stopped by force: cancel() says so, and
            // the job's own answer still comes back.
            assert!(!job.cancel());
            job.await
        })
        .unwrap();
    let (slept, took, check) = out.unwrap();
    assert_eq!(slept, Err(Error::Cancelled));
    assert_eq!(check, Err(Error::Cancelled));
    assert!(took < Duration::from_secs(5), "{took:?}");
    lp.close().unwrap();
}

fn progress_arrives_on_the_loop_thread_latest_wins() {
    let lp = EventLoop::new().unwrap();
    let loop_thread = std::thread::current().id();
    let (seen, out) = lp
        .run_until_complete(async move {
            let lp = qtloop::get_running_loop().unwrap();
            let job = lp.run_in_executor_with(|token| {
                for i in 1..=20 {
                    token.set_progress(i as f64 / 20.0);
                    std::thread::sleep(Duration::from_millis(2));
                }
                "done"
            });
            let mut progress = job.progress();
            let mut seen = Vec::new();
            while let Some(p) = progress.next().await {
                assert_eq!(std::thread::current().id(), loop_thread);
                seen.push(p);
            }
            (seen, job.await)
        })
        .unwrap();
    assert_eq!(out, Ok("done"));
    assert!(seen.len() >= 2 && seen.len() <= 20, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order: {seen:?}");
    assert_eq!(seen.last(), Some(&1.0), "the last value is never lost");
    lp.close().unwrap();
}

fn a_blocked_loop_sees_only_the_latest_progress() {
    let lp = EventLoop::new().unwrap();
    let job = lp.run_in_executor_with(|token| {
        for i in 1..=100_000u32 {
            token.set_progress(i as f64);
        }
    });
    // The loop thread is busy while the job reports 100,000 times.
    let t0 = Instant::now();
    while !job.is_done() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut progress = job.progress();
    let seen: Vec<f64> = lp
        .run_until_complete(async move {
            let mut seen = Vec::new();
            while let Some(p) = progress.next().await {
                seen.push(p);
            }
            seen
        })
        .unwrap();
    assert_eq!(seen, [100_000.0]);
    lp.close().unwrap();
}

fn jobs_without_a_token_have_no_progress() {
    let lp = EventLoop::new().unwrap();
    let job = lp.run_in_executor(|| 5);
    let mut progress = job.progress();
    let (first, out) = lp
        .run_until_complete(async move { (progress.next().await, job.await) })
        .unwrap();
    assert_eq!(first, None);
    assert_eq!(out, Ok(5));
    lp.close().unwrap();
}

fn submit_with_on_an_executor_and_after_shutdown() {
    let pool = ThreadPoolExecutor::new(1).unwrap();
    // A job queued behind a busy worker and cancelled never starts.
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let busy = pool.submit(move || go_rx.recv().ok());
    let ran = Arc::new(AtomicU32::new(0));
    let r = ran.clone();
    let queued = pool.submit_with(move |_token| r.fetch_add(1, Ordering::SeqCst));
    let mut progress = queued.progress();
    assert!(queued.cancel());
    assert_eq!(futures::executor::block_on(queued), Err(Error::Cancelled));
    assert_eq!(futures::executor::block_on(progress.next()), None);
    go_tx.send(()).unwrap();
    assert_eq!(futures::executor::block_on(busy), Ok(Some(())));
    pool.shutdown(true, false);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    let late = pool.submit_with(|token| token.is_cancelled());
    assert_eq!(
        futures::executor::block_on(late),
        Err(Error::ExecutorShutdown)
    );
}

fn run_blocking_drives_the_items_progress_and_cancel() {
    let mut app = QmlApp::new().unwrap();
    let lp = EventLoop::new().unwrap();
    let stopped = Arc::new(AtomicBool::new(false));
    let s = stopped.clone();
    register_job("t_blocking", move |ctx| {
        let s = s.clone();
        async move {
            let n = ctx
                .run_blocking(move |token| {
                    let mut n = 0u32;
                    while token.sleep(Duration::from_millis(2)).is_ok() {
                        n += 1;
                        token.set_progress((n as f64 / 1000.0).min(1.0));
                    }
                    s.store(true, Ordering::SeqCst);
                    n
                })
                .await?;
            Ok::<_, Error>(cxx_qt_lib::QVariant::from(&(n as i32)))
        }
    });
    app.load_source(&job_window("t_blocking", ""), "blocking.qml")
        .unwrap();
    assert!(started(&app, "start(null)"));
    let progress = |app: &QmlApp| {
        app.property("job", "progress")
            .unwrap()
            .value::<f64>()
            .unwrap()
    };
    assert!(wait_until(&lp, 10.0, || progress(&app) >= 0.02));
    assert!(!stopped.load(Ordering::SeqCst));
    app.evaluate("job", "cancel()").unwrap();
    assert!(!flag(&app, "job", "running"));
    // The worker saw the cancel and stopped (no core burnt behind a
    // cancelled item).
    assert!(wait_until(&lp, 5.0, || stopped.load(Ordering::SeqCst)));
    assert_eq!(string(&app, "job", "status"), "cancelled");
    drop(app);
    lp.close().unwrap();
}
