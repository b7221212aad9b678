//! The tokio bridge (feature `tokio`): reqwest against a real HTTP server
//! on 127.0.0.1, tokio's timers and channels awaited from loop tasks, and
//! aborts that reach the server as a closed connection.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use qtloop::tokio::{compat, spawn, TokioExt};
use qtloop::{EventLoop, TaskError};

use crate::{process_cpu as cpu, server, server_count, server_saw_more};

cases!(tokio_bridge:
    reqwest_get_and_post_from_a_local_task,
    spawn_runs_on_tokio_and_resumes_on_the_loop,
    a_cancelled_download_closes_the_connection,
    a_dropped_tokio_task_is_aborted,
    dropping_aborts_even_while_the_loop_is_busy,
    tokio_sleep_and_channels_from_a_loop_task,
    a_panic_on_tokio_ends_the_task_panicked,
    waiting_on_tokio_costs_no_cpu,
    fetch_example_cancels_then_fills_the_list,
    the_applications_own_runtime,
);

fn reqwest_get_and_post_from_a_local_task() {
    let lp = EventLoop::new().unwrap();
    let loop_thread = std::thread::current().id();
    // `!Send` state held across the awaits: the task stays on this thread.
    let seen = Rc::new(Cell::new(0));
    let s = seen.clone();
    let (json, echo, method) = lp
        .run_until_complete(async move {
            let resp = compat(reqwest::get(server().url("/json"))).await.unwrap();
            assert_eq!(resp.status(), 200);
            let text = resp.text().compat().await.unwrap();
            s.set(s.get() + 1);
            assert_eq!(std::thread::current().id(), loop_thread);
            let client = reqwest::Client::new();
            let resp = client
                .post(server().url("/echo"))
                .body("hello from the GUI thread")
                .send()
                .compat()
                .await
                .unwrap();
            let method = resp.headers()["x-echo-method"]
                .to_str()
                .unwrap()
                .to_string();
            let echo = resp.text().compat().await.unwrap();
            s.set(s.get() + 1);
            (text, echo, method)
        })
        .unwrap();
    assert_eq!(seen.get(), 2);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["instruments"][0]["name"], "cryostat");
    assert_eq!(echo, "hello from the GUI thread");
    assert_eq!(method, "POST");
    lp.close().unwrap();
}

fn spawn_runs_on_tokio_and_resumes_on_the_loop() {
    let lp = EventLoop::new().unwrap();
    let loop_thread = std::thread::current().id();
    let (name, after) = lp
        .run_until_complete(async move {
            let name = spawn(async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                std::thread::current().name().map(String::from)
            })
            .await
            .unwrap();
            (name, std::thread::current().id())
        })
        .unwrap();
    assert_eq!(name.as_deref(), Some("qtloop-tokio"));
    assert_eq!(after, loop_thread);
    lp.close().unwrap();
}

fn a_cancelled_download_closes_the_connection() {
    let lp = EventLoop::new().unwrap();
    let (closed_before, completed_before) = (
        server_count("closed after"),
        server_count("completed /slow"),
    );
    let got = Rc::new(Cell::new(0usize));
    let g = got.clone();
    let task = lp.create_task(compat(async move {
        let mut resp = reqwest::get(server().url("/slow?kib=400&delay_ms=10"))
            .await
            .unwrap();
        while let Some(chunk) = resp.chunk().await.unwrap() {
            g.set(g.get() + chunk.len());
        }
    }));
    let g = got.clone();
    lp.run_until_complete(async move {
        while g.get() < 8 * 1024 {
            qtloop::sleep(0.005).await.unwrap();
        }
        task.cancel();
        assert_eq!(task.await, Err(TaskError::Cancelled));
    })
    .unwrap();
    assert!(
        server_saw_more("closed after", closed_before),
        "the server saw no hang-up: {:?}",
        server().events()
    );
    assert_eq!(server_count("completed /slow"), completed_before);
    assert!(got.get() < 400 * 1024, "the whole body arrived");
    lp.close().unwrap();
}

/// Sets its flag when dropped (the tokio task's future was dropped).
struct Flag(Arc<AtomicBool>);
impl Drop for Flag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn a_dropped_tokio_task_is_aborted() {
    let lp = EventLoop::new().unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let (dropped_in_time, detached_ran) = lp
        .run_until_complete(async move {
            let task = spawn(async move {
                let _flag = Flag(d);
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
            qtloop::sleep(0.02).await.unwrap();
            drop(task); // not detached: dropping aborts
            let start = Instant::now();
            while !dropped.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(5) {
                qtloop::sleep(0.005).await.unwrap();
            }
            // A detached one runs on.
            let (tx, rx) = tokio::sync::oneshot::channel();
            spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = tx.send(7);
            })
            .detach();
            (dropped.load(Ordering::SeqCst), compat(rx).await)
        })
        .unwrap();
    assert!(dropped_in_time, "the tokio task was not aborted");
    assert_eq!(detached_ran, Ok(7));
    lp.close().unwrap();
}

fn dropping_aborts_even_while_the_loop_is_busy() {
    let lp = EventLoop::new().unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let task = spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        r.store(true, Ordering::SeqCst);
    });
    let abort = task.abort_handle();
    drop(task);
    // The loop thread is blocked: the abort must not wait for it.
    std::thread::sleep(Duration::from_millis(150));
    assert!(
        !ran.load(Ordering::SeqCst),
        "the tokio task ran on after the drop"
    );
    // The same from another thread, through an AbortHandle.
    let ran2 = Arc::new(AtomicBool::new(false));
    let r2 = ran2.clone();
    let task = spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        r2.store(true, Ordering::SeqCst);
    });
    let h = task.abort_handle();
    std::thread::spawn(move || h.cancel()).join().unwrap();
    std::thread::sleep(Duration::from_millis(150));
    assert!(!ran2.load(Ordering::SeqCst));
    assert_eq!(
        lp.run_until_complete(task).unwrap(),
        Err(TaskError::Cancelled)
    );
    drop(abort);
    lp.close().unwrap();
}

fn tokio_sleep_and_channels_from_a_loop_task() {
    let lp = EventLoop::new().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(4);
    std::thread::spawn(move || {
        for i in 0..10 {
            tx.blocking_send(i).unwrap();
        }
    });
    let (slept, sum) = lp
        .run_until_complete(async move {
            let t0 = Instant::now();
            // tokio's `sleep` finds its timer when it is created: inside
            // the compat block.
            compat(async { tokio::time::sleep(Duration::from_millis(30)).await }).await;
            let slept = t0.elapsed();
            let mut sum = 0;
            // tokio's channels need no context: awaited as they are.
            while let Some(i) = rx.recv().await {
                sum += i;
            }
            (slept, sum)
        })
        .unwrap();
    assert!(slept >= Duration::from_millis(30), "{slept:?}");
    assert_eq!(sum, 45);
    lp.close().unwrap();
}

fn a_panic_on_tokio_ends_the_task_panicked() {
    let lp = EventLoop::new().unwrap();
    let r = lp
        .run_until_complete(spawn(async {
            tokio::task::yield_now().await;
            panic!("the sensor is unplugged");
        }))
        .unwrap();
    match r {
        Err(TaskError::Panicked(m)) => assert!(m.contains("the sensor is unplugged"), "{m}"),
        other => panic!("expected a panic, got {other:?}"),
    }
    lp.close().unwrap();
}

fn waiting_on_tokio_costs_no_cpu() {
    let lp = EventLoop::new().unwrap();
    // Warm the runtime up first.
    lp.run_until_complete(spawn(async {})).unwrap().unwrap();
    let c0 = cpu();
    let t0 = Instant::now();
    lp.run_until_complete(async {
        compat(async { tokio::time::sleep(Duration::from_millis(400)).await }).await;
        spawn(async { tokio::time::sleep(Duration::from_millis(100)).await })
            .await
            .unwrap();
    })
    .unwrap();
    let wall = t0.elapsed();
    let used = cpu() - c0;
    assert!(wall >= Duration::from_millis(500), "{wall:?}");
    assert!(
        used < Duration::from_millis(60),
        "{used:?} of CPU in {wall:?} of waiting"
    );
    lp.close().unwrap();
}

fn fetch_example_cancels_then_fills_the_list() {
    crate::qt_http::check_fetch_example("fetch");
}

/// Last in the list: from here on the suite uses this runtime.
fn the_applications_own_runtime() {
    let rt = Box::leak(Box::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("app-tokio")
            .enable_all()
            .build()
            .unwrap(),
    ));
    qtloop::tokio::set_handle(rt.handle().clone());
    let lp = EventLoop::new().unwrap();
    let name = lp
        .run_until_complete(spawn(async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            std::thread::current().name().map(String::from)
        }))
        .unwrap()
        .unwrap();
    assert_eq!(name.as_deref(), Some("app-tokio"));
    lp.close().unwrap();
}
