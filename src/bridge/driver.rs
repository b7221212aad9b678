//! The cxx bridge to the C++ shim in `cpp/driver.{h,cpp}`.

// SAFETY (whole bridge): the C++ declarations below match `cpp/driver.h`
// one for one; cxx checks the signatures at build time. Every C++ method
// is const and touches only its own object; the thread rules are kept by
// the Rust wrappers (`LoopDriver` is `!Send` and only used on its thread,
// `LoopWaker` is internally locked).
#[cxx::bridge(namespace = "qtloop")]
pub(crate) mod bridge {
    extern "Rust" {
        type DriverSink;
        fn on_tick(self: &DriverSink);
        fn on_timer(self: &DriverSink);
        fn on_about_to_quit(self: &DriverSink);
        fn on_fd(self: &DriverSink, fd: i32, dir: u8);
        fn on_fd_invalid(self: &DriverSink, fd: i32);
        fn on_deferred(self: &DriverSink);

        type ThreadBody;
        fn run_thread_body(body: Box<ThreadBody>);
    }

    unsafe extern "C++" {
        include!("qtloop/driver.h");

        type LoopDriver;
        type LoopWaker;
        type NestedLoop;
        type TimerProbe;
        type QtThread;

        fn spawn_qthread(body: Box<ThreadBody>, name: &str) -> UniquePtr<QtThread>;
        fn is_finished(self: &QtThread) -> bool;
        fn wait(self: &QtThread);
        fn is_current(self: &QtThread) -> bool;
        fn current_qthread_name() -> String;
        type ObjectHandle = super::super::signal::ObjectHandle;
        fn qthread_object(thread: &QtThread) -> UniquePtr<ObjectHandle>;

        fn new_loop_driver(sink: Box<DriverSink>) -> UniquePtr<LoopDriver>;
        fn dispose_loop_driver(driver: UniquePtr<LoopDriver>);
        fn post_tick(self: &LoopDriver);
        fn defer_tick(self: &LoopDriver);
        fn arm_timer(self: &LoopDriver, nsec: u64);
        fn disarm_timer(self: &LoopDriver);
        fn uses_timerfd(self: &LoopDriver) -> bool;
        fn watch_fd(self: &LoopDriver, fd: i32, dir: u8, enable: bool);
        fn unwatch_fd(self: &LoopDriver, fd: i32, dir: u8);
        fn notifier_count(self: &LoopDriver) -> usize;
        fn exec_loop(self: &LoopDriver);
        fn exit_loop(self: &LoopDriver);
        fn waker(self: &LoopDriver) -> SharedPtr<LoopWaker>;

        fn wake(self: &LoopWaker);

        fn new_nested_loop() -> UniquePtr<NestedLoop>;
        fn exec(self: &NestedLoop) -> bool;
        fn exit(self: &NestedLoop);
        fn is_running(self: &NestedLoop) -> bool;

        fn new_timer_probe(msec: i32) -> UniquePtr<TimerProbe>;
        fn ticks(self: &TimerProbe) -> u64;
        fn max_gap_ns(self: &TimerProbe) -> u64;

        fn posted_event_round_trips(count: u64) -> u64;

        fn fd_is_open(fd: i32) -> bool;
        fn ensure_core_application() -> bool;
        fn has_application() -> bool;
        fn on_application_thread() -> bool;
        fn exec_application() -> i32;
        fn quit_application();
        fn exit_application(code: i32);
        fn process_events(max_msec: i32);
    }
}

// SAFETY: `LoopWaker` guards its only state (the target pointer) with a
// mutex, and `QCoreApplication::postEvent` is thread-safe; the driver
// detaches the waker (under that mutex) before it is destroyed.
unsafe impl Send for bridge::LoopWaker {}
// SAFETY: as above; every method takes the mutex.
unsafe impl Sync for bridge::LoopWaker {}

// SAFETY: a `QtThread` only wraps a `QThread*`; `isFinished`, `wait` and
// `currentThread` comparisons are thread-safe in Qt, and the handle is
// destroyed after `wait` (or, on the thread itself, hands the deletion to
// the QThread object's own thread once it has finished).
unsafe impl Send for bridge::QtThread {}

pub(crate) use bridge::*;

/// What the C++ driver reports (implemented by the driver floor, which
/// keeps panics from unwinding into C++).
pub(crate) trait DriverEvents {
    fn tick(&self);
    fn timer(&self);
    fn about_to_quit(&self);
    /// `dir`: 0 read, 1 write.
    fn fd(&self, fd: i32, dir: u8);
    fn fd_invalid(&self, fd: i32);
    fn deferred(&self);
}

/// The Rust object the C++ driver owns and calls.
pub(crate) struct DriverSink(pub(crate) Box<dyn DriverEvents>);

impl DriverSink {
    fn on_tick(&self) {
        self.0.tick();
    }
    fn on_timer(&self) {
        self.0.timer();
    }
    fn on_about_to_quit(&self) {
        self.0.about_to_quit();
    }
    fn on_fd(&self, fd: i32, dir: u8) {
        self.0.fd(fd, dir);
    }
    fn on_fd_invalid(&self, fd: i32) {
        self.0.fd_invalid(fd);
    }
    fn on_deferred(&self) {
        self.0.deferred();
    }
}

/// What a `QThread` runs, once (it catches its own panics).
pub(crate) struct ThreadBody(pub(crate) Box<dyn FnOnce() + Send>);

/// Called by C++ on the new `QThread`.
#[allow(clippy::boxed_local)] // cxx passes Rust-owned values as a Box
fn run_thread_body(body: Box<ThreadBody>) {
    (body.0)();
}
