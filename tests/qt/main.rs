//! Integration tests on real Qt (`QT_QPA_PLATFORM=offscreen`).
//!
//! Qt wants its application object once per process, on the main thread:
//! this binary has its own `main` (libtest-mimic, `harness = false`) that
//! runs every case on the main thread, one after the other, each with a
//! fresh `EventLoop`. `cargo test` and `cargo nextest` both run it.

/// `cases!(module: fn_a, fn_b)`: the cases of a module, named `module::fn_a`.
macro_rules! cases {
    ($module:ident: $($case:ident),* $(,)?) => {
        pub const CASES: &[(&str, fn())] = &[
            $((concat!(stringify!($module), "::", stringify!($case)), $case as fn()),)*
        ];
    };
}

mod background;
mod combinators;
mod ecosystem;
mod edges;
mod embedding;
mod executor;
mod fairness;
#[path = "../../examples/common/http.rs"]
mod http;
mod io_examples;
mod loop_tasks;
mod net;
mod periodic;
mod pool_jobs;
mod process;
mod qi;
mod qi_edges;
#[cfg(feature = "qmetaobject")]
mod qmeta;
mod qml;
mod qml_app;
mod qml_edges;
mod qt_http;
mod qt_integration;
mod qt_signals;
mod reactor;
mod reliability;
mod scheduling;
#[cfg(feature = "dbus")]
mod service_probe;
#[cfg(feature = "dbus")]
mod services;
mod structured;
mod tasks;
mod teardown;
#[cfg(feature = "tokio")]
mod tokio_bridge;

use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};

/// Log records captured for the assertions (level, message).
pub fn logs() -> &'static Mutex<Vec<(log::Level, String)>> {
    static LOGS: OnceLock<Mutex<Vec<(log::Level, String)>>> = OnceLock::new();
    LOGS.get_or_init(Mutex::default)
}

struct Capture;
impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        logs()
            .lock()
            .unwrap()
            .push((r.level(), r.args().to_string()));
    }
    fn flush(&self) {}
}

/// Takes the captured records.
pub fn take_logs() -> Vec<(log::Level, String)> {
    std::mem::take(&mut *logs().lock().unwrap())
}

type Case = fn();

/// Panics "<name> dropped" when dropped (a hostile `Drop`).
pub struct PanicOnDrop(pub &'static str);
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("{} dropped", self.0);
    }
}

/// Sets its flag when dropped: shows that a future (or closure) was dropped.
pub struct DropFlag(pub std::rc::Rc<std::cell::Cell<bool>>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// `fut`, which sets `flag` when it is dropped (finished or cancelled).
pub fn guarded<F: std::future::Future>(
    flag: &std::rc::Rc<std::cell::Cell<bool>>,
    fut: F,
) -> impl std::future::Future<Output = F::Output> {
    let guard = DropFlag(flag.clone());
    async move {
        let _guard = guard;
        fut.await
    }
}

/// Registers the QML job `name`: it waits a minute, and sets `dropped` when
/// its future is dropped.
pub fn register_parked_job(name: &str, dropped: &std::rc::Rc<std::cell::Cell<bool>>) {
    let d = dropped.clone();
    qtloop::qml::register_job(name, move |_ctx| {
        guarded(&d, async {
            qtloop::sleep(60.0).await?;
            Ok::<_, qtloop::Error>(cxx_qt_lib::QVariant::default())
        })
    });
}

/// Runs this test binary again as the child scenario `name` (see `main`),
/// without the environment variables `unset`; asserts that it succeeded
/// and gives its standard error.
pub fn child_stderr(name: &str, unset: &[&str]) -> String {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.env("QTLOOP_TEST_CHILD", name);
    for var in unset {
        cmd.env_remove(var);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the child `{name}` failed: {stderr}");
    stderr
}

/// Runs `fut` to its end on a fresh loop, which is closed afterwards.
pub fn run_on_a_new_loop<T: 'static>(fut: impl std::future::Future<Output = T> + 'static) -> T {
    let lp = qtloop::EventLoop::new().unwrap();
    let out = lp.run_until_complete(fut).unwrap();
    lp.close().unwrap();
    out
}

/// Panics printed in the current case (many cases panic on purpose).
/// Waits for `child` to exit, at most `limit`; past it, kills it and fails
/// the case, naming `what`.
pub fn wait_within(
    child: &mut std::process::Child,
    limit: Duration,
    what: &str,
) -> std::process::ExitStatus {
    let t0 = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("{what} did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One local HTTP server (127.0.0.1) for the whole suite.
pub fn server() -> &'static http::Server {
    static SERVER: std::sync::OnceLock<http::Server> = std::sync::OnceLock::new();
    SERVER.get_or_init(http::Server::start)
}

/// How many of the suite server's log lines start with `prefix` (the
/// server is shared: compare with a count taken before).
pub fn server_count(prefix: &str) -> usize {
    server()
        .events()
        .iter()
        .filter(|e| e.starts_with(prefix))
        .count()
}

/// Whether, within 10 s, more than `before` log lines start with `prefix`.
pub fn server_saw_more(prefix: &str, before: usize) -> bool {
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while server_count(prefix) <= before {
        if std::time::Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// The process's CPU time (all threads, user and system).
pub fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

static PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn trial(name: &'static str, case: Case) -> Trial {
    Trial::test(name, move || {
        take_logs();
        PANICS.store(0, std::sync::atomic::Ordering::Relaxed);
        // A hung case must fail the run, not hang CI.
        // Cases that build a package (the template app) may compile for
        // minutes on a cold tree.
        let limit = if name.contains("_builds_") { 900 } else { 60 };
        let (done, wait) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if wait.recv_timeout(Duration::from_secs(limit)).is_err() {
                eprintln!("test {name} did not finish within {limit} s: aborting");
                std::process::exit(101);
            }
        });
        let r = std::panic::catch_unwind(case);
        let _ = done.send(());
        // Whatever the case left behind, the next one starts with no loop.
        if let Ok(lp) = qtloop::get_event_loop() {
            let _ = lp.close();
        }
        r.map_err(|p| Failed::from(qtloop::error::panic_message(&*p)))
    })
}

fn main() {
    // Child processes started by some cases run a scenario and exit.
    let child: Option<fn()> = match std::env::var("QTLOOP_TEST_CHILD").as_deref() {
        Ok("sigchld_fallback") => Some(process::sigchld_fallback_child),
        Ok("qtimer_fallback") => Some(reactor::qtimer_fallback_child),
        Ok("offscreen") => Some(qml_edges::offscreen_child),
        Ok("app_race") => Some(qml_edges::app_race_child),
        Ok("stuck_job") => Some(reliability::stuck_job_child),
        Ok("panic_without_logger") => Some(scheduling::panic_without_logger_child),
        #[cfg(feature = "dbus")]
        Ok("service") => Some(service_probe::service_child),
        _ => None,
    };
    if let Some(child) = child {
        child();
        return;
    }
    if std::env::var_os("QT_QPA_PLATFORM").is_none() {
        std::env::set_var("QT_QPA_PLATFORM", "offscreen");
    }
    // Many cases panic on purpose; one line each is enough (failures carry
    // their message in the report).
    std::panic::set_hook(Box::new(|info| {
        let n = PANICS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n < 10 {
            eprintln!("  panic: {info}");
        } else if n == 10 {
            eprintln!("  (more panics in this case are not shown)");
        }
    }));
    // QML windows need a QGuiApplication, made before any EventLoop.
    qtloop::qml::ensure_gui_application().expect("a QGuiApplication");
    let _ = log::set_logger(&Capture).map(|()| log::set_max_level(log::LevelFilter::Debug));
    let mut args = Arguments::from_args();
    args.test_threads = Some(1); // Qt: everything on the main thread
    let mut cases: Vec<(&'static str, Case)> = Vec::new();
    cases.extend(scheduling::CASES);
    cases.extend(tasks::CASES);
    cases.extend(embedding::CASES);
    cases.extend(executor::CASES);
    cases.extend(qi::CASES);
    cases.extend(periodic::CASES);
    cases.extend(background::CASES);
    cases.extend(loop_tasks::CASES);
    cases.extend(reliability::CASES);
    cases.extend(qml::CASES);
    cases.extend(qml_app::CASES);
    cases.extend(qt_integration::CASES);
    cases.extend(reactor::CASES);
    cases.extend(net::CASES);
    cases.extend(process::CASES);
    cases.extend(io_examples::CASES);
    cases.extend(edges::CASES);
    cases.extend(fairness::CASES);
    cases.extend(qi_edges::CASES);
    cases.extend(teardown::CASES);
    cases.extend(qml_edges::CASES);
    cases.extend(structured::CASES);
    cases.extend(pool_jobs::CASES);
    cases.extend(ecosystem::CASES);
    cases.extend(qt_signals::CASES);
    cases.extend(qt_http::CASES);
    cases.extend(combinators::CASES);
    #[cfg(feature = "qmetaobject")]
    cases.extend(qmeta::CASES);
    #[cfg(feature = "dbus")]
    cases.extend(services::CASES);
    #[cfg(feature = "tokio")]
    cases.extend(tokio_bridge::CASES);
    let trials = cases.into_iter().map(|(n, c)| trial(n, c)).collect();
    let conclusion = libtest_mimic::run(&args, trials);
    #[cfg(feature = "dbus")]
    service_probe::stop_bus();
    conclusion.exit();
}
