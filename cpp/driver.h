// qtloop's C++ shim: the QObject that carries the Rust event loop on Qt's.
//
// Everything here is small on purpose; the logic lives in Rust. All methods
// are const (state is `mutable`) so that Rust only ever needs a shared
// reference, also while a method such as exec_loop() re-enters Rust.
#pragma once

#include <QtCore/QElapsedTimer>
#include <QtCore/QEvent>
#include <QtCore/QEventLoop>
#include <QtCore/QObject>
#include <QtCore/QSocketNotifier>
#include <QtCore/QThread>
#include <QtCore/QTimer>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "qtloop/signal.h"
#include "rust/cxx.h"

namespace qtloop {

struct DriverSink; // Rust: receives ticks and timer expiries
struct ThreadBody; // Rust: what a QThread runs

// Posts a tick to a LoopDriver from any thread; detached when the driver dies.
class LoopWaker {
public:
    explicit LoopWaker(QObject *target);
    void wake() const;
    void detach() const;

private:
    mutable std::mutex mutex_;
    mutable QObject *target_;
};

// Lives in the loop's thread. A posted tick event means "run iterations";
// the deadline timer means "the earliest deadline is due": a timerfd
// (CLOCK_MONOTONIC, nanoseconds) watched by a QSocketNotifier on Linux, else
// a single-shot precise QTimer armed for the wait rounded up to whole ms.
// One QSocketNotifier per watched fd and direction is the reactor: when one
// fires Rust is told, and Rust turns it off or on (watch_fd) as listeners
// come and go. Qt's dispatcher silently disables a notifier whose fd was
// closed; check_notifiers() finds those and tells Rust.
class LoopDriver : public QObject {
public:
    explicit LoopDriver(rust::Box<DriverSink> sink);
    ~LoopDriver() override;

    void post_tick() const;
    // A tick wanted while Rust dispatches: posted only if a nested loop
    // runs before the dispatch returns (at aboutToBlock / awake).
    void defer_tick() const;
    void arm_timer(std::uint64_t nsec) const;
    void disarm_timer() const;
    bool uses_timerfd() const;
    // dir: 0 = read, 1 = write
    void watch_fd(std::int32_t fd, std::uint8_t dir, bool enable) const;
    void unwatch_fd(std::int32_t fd, std::uint8_t dir) const;
    std::size_t notifier_count() const;
    // Runs a QEventLoop until exit_loop() (or QCoreApplication::exit()).
    void exec_loop() const;
    void exit_loop() const;
    std::shared_ptr<LoopWaker> waker() const;
    void dispose() const;

protected:
    bool event(QEvent *event) override;

private:
    void check_notifiers() const;
    void flush_deferred() const;

    rust::Box<DriverSink> sink_;
    QTimer *timer_;
    QTimer *recheck_; // see checks_owed_
    int timerfd_ = -1;
    QSocketNotifier *timer_notifier_ = nullptr;
    std::shared_ptr<LoopWaker> waker_;
    mutable QEventLoop *running_ = nullptr;
    struct Watch {
        QSocketNotifier *notifier;
        bool wanted; // Rust enabled it
    };
    // key: fd * 2 + dir
    mutable std::unordered_map<std::uint64_t, Watch> notifiers_;
    mutable bool deferred_ = false;
    // Checks owed since Rust code last ran (it may have closed a watched
    // fd): one now, and one after Qt's next poll, which is when Qt disables
    // such a notifier. recheck_ runs those the throttle put off.
    mutable int checks_owed_ = 0;
    // check_notifiers() runs at most every 10 ms (its cost grows with fds).
    mutable std::chrono::steady_clock::time_point next_check_ {};
};

std::unique_ptr<LoopDriver> new_loop_driver(rust::Box<DriverSink> sink);
// Stops the timer, detaches the waker and deletes the driver later: it may
// be disposed from inside its own event() (a callback closing the loop).
void dispose_loop_driver(std::unique_ptr<LoopDriver> driver);

// A QEventLoop that Rust can run and leave (nested loops, modal waits).
class NestedLoop {
public:
    bool exec() const;
    void exit() const;
    bool is_running() const;

private:
    mutable QEventLoop loop_;
};

std::unique_ptr<NestedLoop> new_nested_loop();

// A Qt-side precise timer that records the longest gap between its ticks:
// how responsive Qt stays while the Rust loop is busy.
class TimerProbe {
public:
    explicit TimerProbe(std::int32_t msec);
    std::uint64_t ticks() const;
    std::uint64_t max_gap_ns() const;

private:
    QTimer timer_;
    QElapsedTimer clock_; // per probe: probes on other threads share nothing
    std::int64_t last_ns_ = -1;
    std::uint64_t ticks_ = 0;
    std::uint64_t max_gap_ns_ = 0;
};

std::unique_ptr<TimerProbe> new_timer_probe(std::int32_t msec);

// The floor of a Qt wake-up: `count` posted events, each handler posting the
// next one, run on this thread's event loop; returns the total nanoseconds.
std::uint64_t posted_event_round_trips(std::uint64_t count);

// A QThread (started by Qt, with its own event dispatcher) running a Rust
// closure. The owner waits for it before destroying it.
class QtThread {
public:
    QtThread(rust::Box<ThreadBody> body, const rust::Str name);
    ~QtThread();
    bool is_finished() const;
    void wait() const;
    bool is_current() const;
    QThread *thread() const;

private:
    QThread *thread_;
};

std::unique_ptr<QtThread> spawn_qthread(rust::Box<ThreadBody> body, rust::Str name);
// A guarded pointer to the QThread object (its signals, e.g. finished(),
// are emitted on the thread it manages).
std::unique_ptr<ObjectHandle> qthread_object(const QtThread &thread);
// The objectName of the current thread's QThread object.
rust::String current_qthread_name();

// Whether fd is an open file descriptor (fcntl F_GETFD).
bool fd_is_open(std::int32_t fd);

bool ensure_core_application();
bool has_application();
bool on_application_thread();
std::int32_t exec_application();
void quit_application();
void exit_application(std::int32_t code);
void process_events(std::int32_t max_msec);

} // namespace qtloop
