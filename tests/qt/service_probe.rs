//! What the D-Bus service cases share: a private `dbus-daemon` for this
//! test binary, the probe service run in a process of its own (this binary
//! again, in service mode), and helpers to start and wait for processes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::Duration;

use qtloop::service::{Bus, MethodError, Proxy, ProxyBuilder, ServiceBuilder};
use qtloop::EventLoop;

// ---- the private bus ----------------------------------------------------

static DAEMON: Mutex<Option<Child>> = Mutex::new(None);

/// The address of this binary's own `dbus-daemon`, started on first use.
pub fn bus_address() -> &'static str {
    static ADDRESS: OnceLock<String> = OnceLock::new();
    ADDRESS.get_or_init(|| {
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .stdout(Stdio::piped())
            // it says it cannot raise its fd limit when not root: harmless
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package dbus; scripts/setup installs it)");
        let out = child.stdout.take().unwrap();
        let line = read_line_within(out, Duration::from_secs(10)).expect("dbus-daemon's address");
        *DAEMON.lock().unwrap() = Some(child);
        line
    })
}

/// Stops the private bus (at the end of the run).
pub fn stop_bus() {
    if let Some(mut d) = DAEMON.lock().unwrap().take() {
        let _ = d.kill();
        let _ = d.wait();
    }
}

pub fn bus() -> Bus {
    Bus::Address(bus_address().to_owned())
}

/// The first line `r` writes, or `None` after `limit`; the rest is drained.
pub fn read_line_within(r: impl std::io::Read + Send + 'static, limit: Duration) -> Option<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(r).lines();
        if let Some(Ok(l)) = lines.next() {
            let _ = tx.send(l);
        }
        for _ in lines {}
    });
    rx.recv_timeout(limit).ok()
}

// ---- the service process ------------------------------------------------

/// The probe's state: counts calls and how many run at once.
#[derive(Default)]
pub struct Probe {
    calls: AtomicU32,
    active: AtomicU32,
    max_active: AtomicU32,
}

impl Probe {
    /// Holds the calling thread `ms` (like libqi's blocking `bar`); gives
    /// the call's sequence number.
    fn work(&self, ms: u64) -> u32 {
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_active.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(ms));
        self.active.fetch_sub(1, Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::SeqCst) + 1
    }
}

pub fn on_main_thread() -> bool {
    std::thread::current().name() == Some("main")
}

/// The same methods on either kind of builder (their handlers take `&mut
/// Probe` or `&Probe`).
macro_rules! probe_methods {
    ($b:expr) => {{
        let b = $b;
        let on_bang = b.signal::<i32>("onBang");
        let tick = b.signal::<(u32, String)>("tick");
        b.method("ping", |_, (): ()| Ok("pong".to_owned()));
        b.method("echo", |_, (n, s): (i32, String)| Ok((s, n)));
        b.method("onLoopThread", |_, (): ()| Ok(on_main_thread()));
        b.method("work", |p, (ms,): (u64,)| Ok(p.work(ms)));
        b.method("stats", |p, (): ()| {
            Ok((
                p.calls.load(Ordering::SeqCst),
                p.max_active.load(Ordering::SeqCst),
            ))
        });
        b.method("boom", |_, (): ()| -> Result<(), MethodError> {
            panic!("boom")
        });
        b.method("refuse", |_, (): ()| -> Result<(), MethodError> {
            Err(MethodError::new("org.qtloop.Test.Refused", "not today"))
        });
        b.method("bang", move |_, (): ()| {
            on_bang.emit(42);
            Ok(())
        });
        b.async_method("slowAsync", |_, (ms,): (u64,)| async move {
            qtloop::sleep(ms as f64 / 1000.0).await?;
            Ok(ms)
        });
        b.method("ticks", move |_, (n,): (u32,)| {
            for i in 0..n {
                tick.emit((i, format!("tick {i}")));
            }
            Ok(n)
        });
    }};
}

/// The service process: `QTLOOP_TEST_CHILD=service`, with the bus address,
/// the name, `single`/`multi` and the lock time-out in ms in the
/// environment. Prints "ready" once the name is on the bus.
pub fn service_child() {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let (addr, name, mode) = (
        env("QTLOOP_TEST_BUS"),
        env("QTLOOP_TEST_NAME"),
        env("QTLOOP_TEST_MODE"),
    );
    let lock_ms: u64 = env("QTLOOP_TEST_LOCK_MS").parse().unwrap_or(20_000);
    // One line per panic, as the harness prints them (`boom` panics).
    std::panic::set_hook(Box::new(|info| eprintln!("  service panic: {info}")));
    let lp = EventLoop::new().unwrap();
    let run = async move {
        let bus = Bus::Address(addr);
        let _svc = if mode == "multi" {
            let mut b = ServiceBuilder::multi_threaded(&name, Probe::default());
            b.bus(bus);
            probe_methods!(&mut b);
            b.register().await.unwrap()
        } else {
            let mut b = ServiceBuilder::new(&name, Probe::default());
            b.bus(bus)
                .lock_timeout(Some(Duration::from_millis(lock_ms)));
            probe_methods!(&mut b);
            b.register().await.unwrap()
        };
        println!("ready");
        std::future::pending::<()>().await;
    };
    lp.run_until_complete(run).unwrap();
}

/// A service process; killed when dropped.
pub struct ServiceProcess {
    pub child: Child,
    pub name: String,
}

impl ServiceProcess {
    /// Starts `cmd` on the private bus as the service `name`; gives the
    /// process and the first line it prints (its "ready" line; empty if
    /// none came within 20 s).
    pub fn spawn(cmd: &mut Command, name: &str) -> (ServiceProcess, String) {
        let mut child = cmd
            .env("DBUS_SESSION_BUS_ADDRESS", bus_address())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let svc = ServiceProcess {
            child,
            name: name.to_owned(),
        };
        let ready = read_line_within(out, Duration::from_secs(20)).unwrap_or_default();
        (svc, ready)
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static NEXT: AtomicU32 = AtomicU32::new(1);

/// Starts the probe service (`single` or `multi`) under a fresh name.
pub fn start_service(mode: &str, lock_ms: u64) -> ServiceProcess {
    let name = format!(
        "org.qtloop.Test{}N{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let (svc, ready) = ServiceProcess::spawn(
        Command::new(std::env::current_exe().unwrap())
            .env("QTLOOP_TEST_CHILD", "service")
            .env("QTLOOP_TEST_BUS", bus_address())
            .env("QTLOOP_TEST_NAME", &name)
            .env("QTLOOP_TEST_MODE", mode)
            .env("QTLOOP_TEST_LOCK_MS", lock_ms.to_string())
            .env("RUST_BACKTRACE", "0"),
        &name,
    );
    assert_eq!(ready, "ready", "the service process did not start");
    svc
}

pub async fn connect(name: &str) -> Proxy {
    ProxyBuilder::new(name).bus(bus()).connect().await.unwrap()
}

/// Starts the probe service (`mode`, lock time-out `lock_ms`) and runs `f`
/// with a proxy for it on a loop of this thread; the service process is
/// killed afterwards.
pub fn with_proxy<F, Fut>(mode: &str, lock_ms: u64, f: F) -> Fut::Output
where
    F: FnOnce(Proxy) -> Fut + 'static,
    Fut: std::future::Future + 'static,
    Fut::Output: 'static,
{
    let svc = start_service(mode, lock_ms);
    let name = svc.name.clone();
    let out = run(async move { f(connect(&name).await).await });
    drop(svc);
    out
}

pub fn run<F: std::future::Future + 'static>(fut: F) -> F::Output
where
    F::Output: 'static,
{
    let lp = EventLoop::new().unwrap();
    lp.run_until_complete(fut).unwrap()
}
