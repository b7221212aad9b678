//! Nested Qt loops, Qt's own exec(), the seed examples.

use crate::DropFlag;
use std::cell::{Cell, RefCell};
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

use qtloop::qt::NestedEventLoop;
use qtloop::EventLoop;

cases!(embedding:
    nested_qeventloop_in_callback_keeps_timers_firing,
    nested_loop_in_task_runs_other_tasks,
    process_events_in_callback,
    qt_exec_runs_the_loop,
    seed_examples_print_in_order,
    loop_on_a_worker_thread,
    dropped_loop_refuses_posts,
    sigint_stops_the_loop_gracefully,
    other_examples_run,
    the_template_app_builds_and_runs_headless,
);

fn nested_qeventloop_in_callback_keeps_timers_firing() {
    let lp = EventLoop::new().unwrap();
    let trace: Rc<RefCell<Vec<&str>>> = Rc::default();
    let nested = Rc::new(NestedEventLoop::new());
    let entered = Rc::new(Cell::new(0));
    let (t, n, e) = (trace.clone(), nested.clone(), entered.clone());
    lp.call_soon(move || {
        e.set(e.get() + 1);
        t.borrow_mut().push("nest:start");
        n.exec().unwrap();
        t.borrow_mut().push("nest:end");
    })
    .unwrap();
    let t = trace.clone();
    lp.call_soon(move || t.borrow_mut().push("soon")).unwrap();
    for ms in [5u32, 10, 15] {
        let t = trace.clone();
        lp.call_later(ms as f64 / 1000.0, move || t.borrow_mut().push("timer"))
            .unwrap();
    }
    let n = nested.clone();
    let t = trace.clone();
    lp.call_later(0.03, move || {
        t.borrow_mut().push("exit");
        n.exit();
    })
    .unwrap();
    let l = lp.clone();
    lp.call_later(0.04, move || l.stop()).unwrap();
    lp.run_forever().unwrap();
    assert_eq!(entered.get(), 1, "the nested callback is never re-entered");
    assert_eq!(
        *trace.borrow(),
        [
            "nest:start",
            "soon",
            "timer",
            "timer",
            "timer",
            "exit",
            "nest:end"
        ]
    );
    lp.close().unwrap();
}

fn nested_loop_in_task_runs_other_tasks() {
    let lp = EventLoop::new().unwrap();
    let polls = Rc::new(Cell::new(0));
    let ticks = Rc::new(Cell::new(0));
    let nested = Rc::new(NestedEventLoop::new());
    let (p, n) = (polls.clone(), nested.clone());
    let modal = lp.create_task(async move {
        p.set(p.get() + 1);
        n.exec().unwrap(); // a modal dialog's exec(), inside a task
        qtloop::sleep(0.001).await.unwrap();
        p.set(p.get() + 1);
    });
    let (tk, n) = (ticks.clone(), nested.clone());
    let other = lp.create_task(async move {
        for _ in 0..5 {
            qtloop::sleep(0.002).await.unwrap();
            tk.set(tk.get() + 1);
        }
        n.exit();
    });
    lp.run_until_complete(async move {
        other.await.unwrap();
        modal.await.unwrap();
    })
    .unwrap();
    assert_eq!(
        ticks.get(),
        5,
        "the other task ran while the modal was open"
    );
    assert_eq!(polls.get(), 2);
    lp.close().unwrap();
}

fn process_events_in_callback() {
    let lp = EventLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let l = lp.clone();
    let out = lp
        .run_until_complete(async move {
            l.call_soon(move || r.set(true)).unwrap();
            // A blocking callback that pumps Qt lets others run meanwhile.
            for _ in 0..20 {
                qtloop::qt::process_events(Duration::from_millis(1));
                if ran.get() {
                    return true;
                }
            }
            false
        })
        .unwrap();
    assert!(out);
    lp.close().unwrap();
}

fn qt_exec_runs_the_loop() {
    // The loop exists before Qt's own exec() runs; exec() then drives it.
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    lp.call_soon(move || s.borrow_mut().push("callback"))
        .unwrap();
    let s = seen.clone();
    let task = lp.create_task(async move {
        qtloop::sleep(0.01).await.unwrap();
        s.borrow_mut().push("task");
        assert!(qtloop::get_running_loop().is_ok(), "running inside exec()");
        qtloop::qt::exit(7);
    });
    let code = qtloop::qt::exec().unwrap();
    assert_eq!(code, 7);
    assert!(task.is_done());
    assert_eq!(*seen.borrow(), ["callback", "task"]);
    assert!(
        !lp.is_running(),
        "is_running is about run_forever, not exec"
    );
    lp.close().unwrap();
}

fn example(name: &str) -> String {
    example_with(name, &[])
}

/// A command that runs an example offscreen; builds the example first if
/// this test binary was built alone.
pub fn example_command(name: &str) -> Command {
    // `cargo test` builds the examples next to this binary's folder; when
    // only this test was asked for, build the one we need.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let dir = profile_dir.join("examples");
    if !dir.join(name).exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "--example", name]);
        if cfg!(feature = "qmetaobject") {
            build.args(["--features", "qmetaobject"]);
        }
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        assert!(
            build.status().unwrap().success(),
            "cannot build example {name}"
        );
    }
    let mut cmd = Command::new(dir.join(name));
    cmd.env("QT_QPA_PLATFORM", "offscreen");
    cmd
}

/// Builds (if needed) and runs an example offscreen with arguments; its
/// standard output and error. Fails the case if it exits with an error.
pub fn example_output(name: &str, args: &[&str]) -> (String, String) {
    let out = example_command(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run example {name}: {e}"));
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`example_output`]'s standard output.
pub fn example_with(name: &str, args: &[&str]) -> String {
    example_output(name, args).0
}

fn seed_examples_print_in_order() {
    let soon = example("call_soon");
    assert_eq!(
        soon,
        "entering event loop\nregistering callbacks\ncallback invoked with 1 and default\n\
         callback invoked with 2 and not default\nclosing event loop\n"
    );
    let later = example("call_later");
    assert_eq!(
        later,
        "entering event loop\nregistering callbacks\ncallback 3 invoked\ncallback 2 invoked\n\
         callback 1 invoked\nclosing event loop\n"
    );
    let at = example("call_at");
    let lines: Vec<&str> = at.lines().collect();
    assert_eq!(lines[0], "entering event loop");
    assert!(lines[1].starts_with("clock time: "));
    assert!(lines[2].starts_with("loop time: "));
    assert_eq!(lines[3], "registering callbacks");
    let loop_time: f64 = lines[2]["loop time: ".len()..].parse().unwrap();
    let mut times = vec![];
    for (line, n) in lines[4..7].iter().zip([3, 2, 1]) {
        let prefix = format!("callback {n} invoked at ");
        assert!(line.starts_with(&prefix), "{line}");
        times.push(line[prefix.len()..].parse::<f64>().unwrap());
    }
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    assert!(
        times[1] - loop_time >= 0.1 && times[2] - loop_time >= 0.2,
        "{times:?}"
    );
    assert_eq!(lines[7], "closing event loop");
}

fn loop_on_a_worker_thread() {
    // The main thread's loop and a worker thread's loop side by side; the
    // worker's runs on that thread's own Qt event dispatcher.
    let main_lp = EventLoop::new().unwrap();
    let worker = std::thread::spawn(|| {
        let lp = EventLoop::new().unwrap();
        let t0 = lp.time();
        let order = Rc::new(RefCell::new(Vec::new()));
        let o = order.clone();
        lp.call_later(0.02, move || o.borrow_mut().push(2)).unwrap();
        let o = order.clone();
        lp.call_soon(move || o.borrow_mut().push(1)).unwrap();
        let got = lp
            .run_until_complete(async {
                qtloop::sleep(0.03).await.unwrap();
                std::thread::current().name().map(str::to_owned)
            })
            .unwrap();
        let took = lp.time() - t0;
        lp.close().unwrap();
        let order = order.borrow().clone();
        (got, order, took)
    });
    let (name, order, took) = main_lp
        .run_until_complete(async move {
            while !worker.is_finished() {
                qtloop::sleep(0.005).await.unwrap();
            }
            worker.join().unwrap()
        })
        .unwrap();
    assert_eq!(name, None, "ran on the unnamed worker thread");
    assert_eq!(order, [1, 2]);
    assert!(took >= 0.03, "{took}");
    main_lp.close().unwrap();
}

fn dropped_loop_refuses_posts() {
    let lp = EventLoop::new().unwrap();
    let h = lp.handle();
    drop(lp);
    assert!(h.is_closed());
    assert_eq!(
        h.call_soon_threadsafe(|| {}).unwrap_err(),
        qtloop::Error::Closed
    );
    // The thread is free for a new loop.
    EventLoop::new().unwrap().close().unwrap();
}

fn sigint_stops_the_loop_gracefully() {
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let killer = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(50));
        signal_hook::low_level::raise(signal_hook::consts::SIGINT).unwrap();
    });
    let r = qtloop::run_with(
        async move {
            let _f = flag;
            // A pending task that must be cancelled, not leaked.
            qtloop::spawn_local(async { qtloop::sleep(60.0).await }).detach();
            qtloop::sleep(60.0).await
        },
        qtloop::RunOptions {
            handle_sigint: true,
            quit_qapp: false,
            ..qtloop::RunOptions::default()
        },
    );
    killer.join().unwrap();
    assert_eq!(r, Err(qtloop::Error::StoppedBeforeComplete));
    assert!(dropped.get(), "the loop was closed and the future dropped");
    assert!(qtloop::get_event_loop().is_err());
}

fn other_examples_run() {
    let demo = example("tour");
    assert!(demo.contains("call_soon"), "{demo}");
    assert!(demo.contains("100000 callbacks ran: true"), "{demo}");
    let periodic = example("periodic");
    let plain = periodic.lines().filter(|l| l.contains("tick at")).count();
    assert!(plain >= 7, "{periodic}");
    assert!(
        periodic.contains("compensated 1 ms task for 2 s"),
        "{periodic}"
    );
}

/// `templates/app` is what the README tells a new user to copy: it is
/// built (qtloop with default features, as a new app has it) and run
/// headless, where it presses its own buttons and quits.
fn the_template_app_builds_and_runs_headless() {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "--quiet", "-p", "qtloop-app"]);
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    assert!(
        build.status().unwrap().success(),
        "cannot build templates/app"
    );
    let t0 = std::time::Instant::now();
    let out = Command::new(profile_dir.join("qtloop-app"))
        .env("QT_QPA_PLATFORM", "offscreen")
        .arg("--self-test")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The AsyncJob's blocking job on the pool, and the Rust QObject's task.
    assert!(stderr.contains("qml: answer: 42"), "{stderr}");
    assert!(
        stderr.contains("qml: greeting: Hello, template!"),
        "{stderr}"
    );
    assert!(t0.elapsed() < Duration::from_secs(30));
}
