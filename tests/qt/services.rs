//! D-Bus services (seed 001) against a real `dbus-daemon`: a private bus
//! for this test binary, the service in its own process (this binary again,
//! in service mode), the client here on the test's loop.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cxx_qt_lib::QImage;
use futures::future::join_all;
use futures::StreamExt;
use qtloop::service::{self, Bus, MethodError, ProxyBuilder, ServiceBuilder};
use qtloop::{Error, EventLoop};

use crate::service_probe::{
    bus, bus_address, connect, on_main_thread, run, start_service, with_proxy, ServiceProcess,
};

cases!(services:
    calls_signals_and_threads,
    single_threaded_serializes_100_calls,
    multi_threaded_runs_100_calls_in_parallel,
    lock_timeout_reports_possible_deadlock,
    async_handler_frees_the_object,
    killed_service_fails_the_call,
    errors_are_clear,
    qi_future_form,
    in_process_service_and_unregister,
    closed_loop_answers_service_closed,
    dbus_send_interop,
    foo_examples_across_processes,
    gui_service_is_driven_from_another_process,
);

/// Methods with several arguments and results; a single-threaded service's
/// handlers run on its loop thread, a multi-threaded one's elsewhere; the
/// signal arrives as a Stream and as a qi::Signal on this loop's thread,
/// in order.
fn calls_signals_and_threads() {
    let single = start_service("single", 20_000);
    let multi = start_service("multi", 20_000);
    let (single_name, multi_name) = (single.name.clone(), multi.name.clone());
    run(async move {
        let p = connect(&single_name).await;
        let echoed: (String, i32) = p.call("echo", &(7, "seven")).await.unwrap();
        assert_eq!(echoed, ("seven".to_owned(), 7));
        assert_eq!(p.call::<String>("ping", &()).await.unwrap(), "pong");
        assert!(p.call::<bool>("onLoopThread", &()).await.unwrap());
        let m = connect(&multi_name).await;
        assert!(!m.call::<bool>("onLoopThread", &()).await.unwrap());

        let mut bangs = p.signal_stream::<i32>("onBang").await.unwrap();
        let sig = p.signal::<i32>("onBang").await.unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        sig.connect(move |v| s.lock().unwrap().push((*v, on_main_thread())));
        let next = sig.next();
        let (r, _) = futures::join!(p.call::<()>("bang", &()), next);
        r.unwrap();
        assert_eq!(bangs.next().await.unwrap().unwrap(), 42);
        assert_eq!(*seen.lock().unwrap(), [(42, true)]);

        // A handler's signals reach the caller before its reply: the
        // connection receives them in that order.
        let mut ticks = p.signal_stream::<(u32, String)>("tick").await.unwrap();
        let mut raw = zbus::MessageStream::from(p.zbus().connection());
        let reply = p.zbus().call_method("ticks", &(3u32,)).await.unwrap();
        // The serial of our call: other replies (zbus's own calls about the
        // name's owner) may come and go meanwhile.
        let ours = reply.header().reply_serial();
        let mut before_reply = 0;
        while let Some(Ok(m)) = raw.next().await {
            let h = m.header();
            match m.message_type() {
                zbus::message::Type::Signal if h.member().unwrap() == "tick" => {
                    before_reply += 1;
                }
                zbus::message::Type::MethodReturn if h.reply_serial() == ours => break,
                _ => {}
            }
        }
        drop(raw);
        assert_eq!(
            before_reply, 3,
            "the reply came before the handler's signals"
        );
        for i in 0..3 {
            assert_eq!(ticks.next().await.unwrap().unwrap().0, i);
        }

        assert_eq!(p.call::<u32>("ticks", &(200u32,)).await.unwrap(), 200);
        for i in 0..200 {
            assert_eq!(
                ticks.next().await.unwrap().unwrap(),
                (i, format!("tick {i}"))
            );
        }
    });
}

/// 100 calls of 10 ms at once to a `mode` service: each is answered, once
/// (the sequence numbers are 1..=100). Gives the time they took and how
/// many ran at once at most.
fn hundred_calls(mode: &str) -> (Duration, u32) {
    with_proxy(mode, 20_000, |p| async move {
        let t0 = Instant::now();
        let calls = (0..100).map(|_| p.call::<u32>("work", &(10u64,)));
        let mut seqs: Vec<u32> = join_all(calls)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let took = t0.elapsed();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=100).collect::<Vec<_>>(), "none lost, none twice");
        let (calls, max_active): (u32, u32) = p.call("stats", &()).await.unwrap();
        assert_eq!(calls, 100);
        (took, max_active)
    })
}

/// A single-threaded service takes the 100 calls one at a time.
fn single_threaded_serializes_100_calls() {
    let (took, max_active) = hundred_calls("single");
    assert_eq!(max_active, 1, "serialized");
    assert!(
        took >= Duration::from_millis(1000),
        "100 x 10 ms in a row took {took:?}"
    );
}

/// A multi-threaded service runs them in parallel.
fn multi_threaded_runs_100_calls_in_parallel() {
    let (took, max_active) = hundred_calls("multi");
    assert!(
        max_active >= 2,
        "calls ran in parallel (at most {max_active} at once)"
    );
    assert!(
        took < Duration::from_millis(800),
        "in parallel 100 x 10 ms took {took:?}"
    );
}

/// While the single-threaded object is held (a handler blocks its loop
/// thread for 2 s), another call is answered "Deadlock?" after the lock
/// time-out, not after 2 s; the held call still succeeds, and the object
/// serves again afterwards.
fn lock_timeout_reports_possible_deadlock() {
    with_proxy("single", 300, |p| async move {
        let held = p.call::<u32>("work", &(2000u64,));
        let probe = async {
            qtloop::sleep(0.1).await.unwrap();
            let t0 = Instant::now();
            let r = p.call::<String>("ping", &()).await;
            (r, t0.elapsed())
        };
        let (held, (r, took)) = futures::join!(held, probe);
        assert_eq!(held.unwrap(), 1);
        match r {
            Err(Error::PossibleDeadlock(m)) => {
                assert!(m.contains("'ping'") && m.contains("Deadlock?"), "{m}");
            }
            other => panic!("expected a possible deadlock, got {other:?}"),
        }
        assert!(
            took >= Duration::from_millis(250),
            "answered early: {took:?}"
        );
        assert!(
            took < Duration::from_millis(1500),
            "answered late: {took:?}"
        );
        assert_eq!(p.call::<String>("ping", &()).await.unwrap(), "pong");
    });
}

/// libqi's betterBar: an async handler frees the single-threaded object at
/// once, so three 500 ms calls overlap and a ping goes through meanwhile.
fn async_handler_frees_the_object() {
    with_proxy("single", 300, |p| async move {
        let t0 = Instant::now();
        let slow = join_all((0..3).map(|_| p.call::<u64>("slowAsync", &(500u64,))));
        let ping = async {
            qtloop::sleep(0.1).await.unwrap();
            let r = p.call::<String>("ping", &()).await;
            (r, t0.elapsed())
        };
        let (slow, (pong, pinged)) = futures::join!(slow, ping);
        assert!(slow.into_iter().all(|r| r.unwrap() == 500));
        assert_eq!(pong.unwrap(), "pong");
        assert!(
            pinged < Duration::from_millis(450),
            "ping waited for the async calls"
        );
        let took = t0.elapsed();
        assert!(
            took < Duration::from_millis(1200),
            "the async calls did not overlap: {took:?}"
        );
    });
}

/// The service process is killed while a call runs: the call fails with
/// PeerVanished at once, not at the call time-out.
fn killed_service_fails_the_call() {
    let mut svc = start_service("single", 20_000);
    let name = svc.name.clone();
    let pid = svc.child.id();
    run(async move {
        let p = connect(&name).await;
        let t0 = Instant::now();
        let call = p.call::<u32>("work", &(10_000u64,));
        let kill = async {
            qtloop::sleep(0.3).await.unwrap();
            Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .unwrap();
        };
        let (r, ()) = futures::join!(call, kill);
        match r {
            Err(Error::PeerVanished(m)) => assert!(m.contains("work"), "{m}"),
            other => panic!("expected PeerVanished, got {other:?}"),
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "took {:?}",
            t0.elapsed()
        );
    });
    let _ = svc.child.wait();
}

/// Bad names, a missing service, unknown methods, wrong arguments, the
/// service's own errors and panics, and the call time-out: each a clear
/// error; the service keeps serving.
fn errors_are_clear() {
    let svc = start_service("single", 20_000);
    let name = svc.name.clone();
    run(async move {
        let bad = ProxyBuilder::new("foo")
            .bus(bus())
            .connect()
            .await
            .unwrap_err();
        assert!(
            matches!(bad, Error::BadName(ref m) if m.contains("'foo'")),
            "{bad}"
        );
        let missing = ProxyBuilder::new("org.qtloop.Nobody")
            .bus(bus())
            .connect()
            .await;
        assert!(
            matches!(missing, Err(Error::NoSuchService(_))),
            "{missing:?}"
        );
        let nobus = ProxyBuilder::new("org.qtloop.Foo")
            .bus(Bus::Address("unix:path=/nonexistent/bus".into()))
            .connect()
            .await;
        assert!(matches!(nobus, Err(Error::Bus(_))), "{nobus:?}");
        // zbus's error stays reachable as the source.
        let nobus = nobus.unwrap_err();
        let source = std::error::Error::source(&nobus).expect("a source");
        let bus_err = source.downcast_ref::<qtloop::error::BusError>().unwrap();
        assert!(bus_err.zbus().is_some(), "{nobus:?}");
        assert!(std::error::Error::source(bus_err).is_some());

        let p = connect(&name).await;
        let e = p.call::<()>("nope", &()).await.unwrap_err();
        assert!(
            matches!(&e, Error::Remote { name, .. } if name.ends_with("UnknownMethod")),
            "{e}"
        );
        let e = p.call::<String>("ping", &(1,)).await.unwrap_err();
        assert!(
            matches!(&e, Error::Remote { name, .. } if name.ends_with("InvalidArgs")),
            "{e}"
        );
        let e = p.call::<u32>("ping", &()).await.unwrap_err();
        assert!(e.to_string().contains("signature 's', expected 'u'"), "{e}");
        let e = p.call::<()>("refuse", &()).await.unwrap_err();
        assert_eq!(
            e,
            Error::Remote {
                name: "org.qtloop.Test.Refused".into(),
                message: "not today".into()
            }
        );
        let e = p.call::<()>("boom", &()).await.unwrap_err();
        assert!(
            matches!(&e, Error::Remote { name, message } if name == service::PANICKED && message.contains("boom")),
            "{e}"
        );
        let e = p.call::<()>("bad name", &()).await.unwrap_err();
        assert!(matches!(e, Error::BadName(_)), "{e}");
        assert_eq!(p.call::<String>("ping", &()).await.unwrap(), "pong");

        let impatient = ProxyBuilder::new(&name)
            .bus(bus())
            .timeout(Duration::from_millis(200))
            .connect()
            .await
            .unwrap();
        let t0 = Instant::now();
        let e = impatient
            .call::<u32>("work", &(1000u64,))
            .await
            .unwrap_err();
        assert_eq!(e, Error::Timeout);
        assert!(t0.elapsed() < Duration::from_millis(900));
        // The service finishes the abandoned call and serves on.
        assert_eq!(p.call::<String>("ping", &()).await.unwrap(), "pong");
    });
}

/// `call_future` gives a qi::Future: awaited on the loop, waited on from a
/// plain thread, or cancelled.
fn qi_future_form() {
    with_proxy("multi", 20_000, |p| async move {
        let fut = p.call_future::<_, (String, i32)>("echo", (3, "three"));
        assert_eq!(fut.await.unwrap(), ("three".to_owned(), 3));
        let p2 = p.clone();
        let waited =
            std::thread::spawn(move || p2.call_future::<_, u32>("work", (50u64,)).value(5.0));
        let lp = qtloop::get_event_loop().unwrap();
        let r = lp
            .run_in_executor(move || waited.join().unwrap())
            .await
            .unwrap();
        assert!(r.is_ok(), "{r:?}");
        let failed = p.call_future::<_, ()>("refuse", ()).await.unwrap_err();
        assert!(failed.to_string().contains("not today"), "{failed}");
        let cancelled = p.call_future::<_, u32>("work", (300u64,));
        cancelled.cancel();
        assert!(cancelled.is_canceled());
    });
}

/// A service and its client in one process on one loop: the handler runs
/// on this thread, a panic goes to the loop's exception handler, and
/// `unregister` gives the name back.
fn in_process_service_and_unregister() {
    let name = format!("org.qtloop.InProcess{}", std::process::id());
    let lp = EventLoop::new().unwrap();
    let reported = Arc::new(Mutex::new(Vec::new()));
    let r = reported.clone();
    lp.set_exception_handler(Some(
        move |_: &EventLoop, ctx: &qtloop::ExceptionContext| {
            r.lock().unwrap().push(ctx.message.clone());
        },
    ));
    let test_thread = std::thread::current().id();
    lp.run_until_complete(async move {
        let mut b = ServiceBuilder::new(&name, 0u32);
        b.bus(bus());
        b.method("count", move |n: &mut u32, (): ()| {
            assert_eq!(std::thread::current().id(), test_thread);
            *n += 1;
            Ok(*n)
        });
        b.method("boom", |_: &mut u32, (): ()| -> Result<(), MethodError> {
            panic!("kaboom")
        });
        let svc = b.register().await.unwrap();
        assert_eq!(svc.name(), name);
        let mut twin = ServiceBuilder::new(&name, ());
        twin.bus(bus());
        let taken = twin.register().await.unwrap_err();
        assert!(matches!(taken, Error::DuplicateName(_)), "{taken}");
        let mut twice = ServiceBuilder::new("org.qtloop.Twice", ());
        twice
            .method("m", |_, (): ()| Ok(1))
            .method("m", |_, (): ()| Ok(2));
        let e = twice.register().await.unwrap_err();
        assert!(
            matches!(e, Error::DuplicateName(ref m) if m.contains("'m'")),
            "{e}"
        );
        let mut spaced = ServiceBuilder::new("org.qtloop.Spaced", ());
        spaced.method("bad name", |_, (): ()| Ok(1));
        let e = spaced.register().await.unwrap_err();
        assert!(matches!(e, Error::BadName(_)), "{e}");
        let p = ProxyBuilder::new(&name).bus(bus()).connect().await.unwrap();
        assert_eq!(p.call::<u32>("count", &()).await.unwrap(), 1);
        assert_eq!(p.call::<u32>("count", &()).await.unwrap(), 2);
        assert!(p.call::<()>("boom", &()).await.is_err());
        svc.unregister().await.unwrap();
        let gone = ProxyBuilder::new(&name).bus(bus()).connect().await;
        assert!(matches!(gone, Err(Error::NoSuchService(_))), "{gone:?}");
        let e = p.call::<u32>("count", &()).await.unwrap_err();
        assert!(
            matches!(e, Error::NoSuchService(_) | Error::PeerVanished(_)),
            "{e:?}"
        );
    })
    .unwrap();
    let reported = reported.lock().unwrap();
    assert!(
        reported
            .iter()
            .any(|m| m.contains("Exception in service method") && m.contains("boom")),
        "{reported:?}"
    );
}

/// A single-threaded service whose loop has closed (its `Service` still
/// alive, here on another thread) answers every call at once with
/// ServiceClosed instead of leaving the caller waiting.
fn closed_loop_answers_service_closed() {
    let name = format!("org.qtloop.Closed{}", std::process::id());
    let n = name.clone();
    let svc = std::thread::spawn(move || {
        let lp = EventLoop::new().unwrap();
        let svc = lp
            .run_until_complete(async move {
                let mut b = ServiceBuilder::new(&n, ());
                b.bus(bus());
                b.method("ping", |_, (): ()| Ok("pong".to_owned()));
                b.register().await
            })
            .unwrap()
            .unwrap();
        lp.close().unwrap();
        svc
    })
    .join()
    .unwrap();
    run(async move {
        let p = connect(&name).await;
        let t0 = Instant::now();
        let e = p.call::<String>("ping", &()).await.unwrap_err();
        assert!(
            matches!(&e, Error::Remote { name, .. } if name == service::SERVICE_CLOSED),
            "{e}"
        );
        assert!(t0.elapsed() < Duration::from_secs(2));
    });
    drop(svc);
}

/// A client that is not qtloop (`dbus-send`) calls the service and reads
/// its introspection.
fn dbus_send_interop() {
    let svc = start_service("single", 20_000);
    let send = |args: &[&str]| {
        let out = Command::new("dbus-send")
            .env("DBUS_SESSION_BUS_ADDRESS", bus_address())
            .args([
                "--session",
                "--print-reply",
                &format!("--dest={}", svc.name),
            ])
            .args(args)
            .output()
            .expect("dbus-send (Debian package dbus-bin)");
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    let path = format!("/{}", svc.name.replace('.', "/"));
    let iface = svc.name.clone();
    let out = send(&[&path, &format!("{iface}.echo"), "int32:5", "string:five"]);
    assert!(
        out.contains("string \"five\"") && out.contains("int32 5"),
        "{out}"
    );
    let out = send(&[&path, "org.freedesktop.DBus.Introspectable.Introspect"]);
    assert!(out.contains("<method name=\"echo\">"), "{out}");
    assert!(out.contains("<arg type=\"i\" direction=\"in\"/>"), "{out}");
    assert!(out.contains("<signal name=\"tick\">"), "{out}");
    let out = send(&[&path, "org.freedesktop.DBus.Peer.Ping"]);
    assert!(out.contains("method return"), "{out}");
    let out = send(&["/elsewhere", &format!("{iface}.ping")]);
    assert!(out.contains("UnknownObject"), "{out}");
}

/// The seed's two programs across two processes: the client sees the
/// signal, the same answers from `bar` and `betterBar`, and that only
/// `bar` holds the service's thread.
fn foo_examples_across_processes() {
    let (svc, ready) = ServiceProcess::spawn(
        crate::embedding::example_command("foo_service").args(["--delay-ms", "300"]),
        "org.qtloop.Foo",
    );
    assert!(
        ready.starts_with("serving org.qtloop.Foo at /org/qtloop/Foo"),
        "{ready}"
    );
    let out = crate::embedding::example_command("foo_client")
        .env("DBUS_SESSION_BUS_ADDRESS", bus_address())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..5],
        [
            "bang: 42",
            "bang called (1 so far)",
            "bar() = 300",
            "betterBar() = 300",
            "qi future: betterBar() = 300"
        ]
    );
    let delays = |line: &str| -> f64 {
        let tail = line.rsplit(" in ").next().unwrap();
        tail.trim_end_matches(" delays").parse().unwrap()
    };
    assert!(
        lines[5].starts_with("3 x betterBar() at once: [300, 300, 300]"),
        "{text}"
    );
    assert!(
        lines[6].starts_with("3 x bar() at once: [300, 300, 300]"),
        "{text}"
    );
    assert!(delays(lines[5]) < 2.0, "{text}");
    assert!(delays(lines[6]) >= 2.9, "{text}");
    drop(svc);
}

/// `service_panel`: a QML window that is a service. Its handlers set the
/// window's properties on the GUI thread; its button, pressed through a
/// call, reaches this process as the `pressed` signal; the screenshot
/// shows the calls' effect (the counter box turns green).
fn gui_service_is_driven_from_another_process() {
    let shot = std::env::temp_dir().join(format!("qtloop-panel-{}.png", std::process::id()));
    let (mut panel, ready) = ServiceProcess::spawn(
        crate::embedding::example_command("service_panel")
            .arg("--screenshot")
            .arg(&shot),
        "org.qtloop.Panel",
    );
    assert!(ready.starts_with("serving org.qtloop.Panel"), "{ready}");
    run(async move {
        let p = connect("org.qtloop.Panel").await;
        let mut bangs = p.signal_stream::<i32>("onBang").await.unwrap();
        let pressed = p.signal::<u32>("pressed").await.unwrap();
        p.call::<()>("say", &("Hello from another process",))
            .await
            .unwrap();
        for n in 1..=3u32 {
            assert_eq!(p.call::<u32>("bang", &()).await.unwrap(), n);
            assert_eq!(bangs.next().await.unwrap().unwrap(), 42);
        }
        let shown: (String, u32) = p.call("shown", &()).await.unwrap();
        assert_eq!(shown, ("Hello from another process".to_owned(), 3));
        let (r, first) = futures::join!(p.call::<()>("pressButton", &()), pressed.next());
        r.unwrap();
        assert_eq!(first, 1);
        p.call::<()>("finish", &()).await.unwrap();
    });
    let status = crate::wait_within(&mut panel.child, Duration::from_secs(20), "service_panel");
    assert!(status.success(), "service_panel exited with {status}");
    let image = QImage::from_data(&std::fs::read(&shot).unwrap(), Some("PNG")).unwrap();
    let _ = std::fs::remove_file(&shot);
    let counter = crate::qml::rgb_at(&image, 130, 65);
    assert!(
        crate::qml::close_to(counter, (0x2e, 0x7d, 0x32)),
        "the counter box is {counter:?}, not green"
    );
}
