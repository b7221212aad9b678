#include "qtloop/driver.h"
#include "qtloop/src/bridge/driver.cxx.h"

#include <QtCore/QAbstractEventDispatcher>
#include <QtCore/QCoreApplication>
#include <QtCore/QElapsedTimer>
#include <QtCore/QThread>

#include <cerrno>
#include <string>
#include <cstdlib>
#include <limits>
#include <vector>

#include <fcntl.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/timerfd.h>
#endif

namespace qtloop {

static QEvent::Type tick_event_type()
{
    static const QEvent::Type type = static_cast<QEvent::Type>(QEvent::registerEventType());
    return type;
}

LoopWaker::LoopWaker(QObject *target)
    : target_(target)
{
}

void LoopWaker::wake() const
{
    std::lock_guard<std::mutex> guard(mutex_);
    if (target_ != nullptr) {
        // Thread-safe; Qt takes ownership of the event.
        QCoreApplication::postEvent(target_, new QEvent(tick_event_type()));
    }
}

void LoopWaker::detach() const
{
    std::lock_guard<std::mutex> guard(mutex_);
    target_ = nullptr;
}

LoopDriver::LoopDriver(rust::Box<DriverSink> sink)
    : sink_(std::move(sink))
    , timer_(new QTimer(this))
    , recheck_(new QTimer(this))
    , waker_(std::make_shared<LoopWaker>(this))
{
    // A thread that Qt did not start (std::thread) has no event dispatcher
    // until a QEventLoop is created; the timer needs one now.
    { QEventLoop ensure_dispatcher; }
    timer_->setSingleShot(true);
    timer_->setTimerType(Qt::PreciseTimer);
    QObject::connect(timer_, &QTimer::timeout, this, [this]() {
        check_notifiers();
        checks_owed_ = 2;
        sink_->on_timer();
    });
    recheck_->setSingleShot(true);
    QObject::connect(recheck_, &QTimer::timeout, this, [this]() { check_notifiers(); });
#ifdef __linux__
    // QTLOOP_TIMER=qtimer selects the portable fallback (tested that way).
    const char *choice = std::getenv("QTLOOP_TIMER");
    if (choice == nullptr || std::string(choice) != "qtimer") {
        timerfd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    }
    if (timerfd_ >= 0) {
        timer_notifier_ = new QSocketNotifier(timerfd_, QSocketNotifier::Read, this);
        QObject::connect(timer_notifier_, &QSocketNotifier::activated, this, [this]() {
            std::uint64_t expirations = 0;
            // Non-blocking: EAGAIN after a re-arm that raced the wake-up.
            if (read(timerfd_, &expirations, sizeof expirations) == sizeof expirations) {
                check_notifiers();
                checks_owed_ = 2;
                sink_->on_timer();
            }
        });
    }
#endif
    // Qt's dispatchers disable (with a warning) a notifier whose fd was
    // closed under it, and tell nobody. Look for those before the thread
    // sleeps and at each of our wake-ups (glib's dispatcher does not emit
    // aboutToBlock again until an event was dispatched).
    if (QAbstractEventDispatcher *d = QAbstractEventDispatcher::instance(QThread::currentThread())) {
        QObject::connect(d, &QAbstractEventDispatcher::aboutToBlock, this, [this]() {
            check_notifiers(); // may wake waiters or report: then flush
            flush_deferred();
        });
        QObject::connect(d, &QAbstractEventDispatcher::awake, this, [this]() { flush_deferred(); });
    }
    // The application's exec() is returning: a loop on its thread closes.
    QCoreApplication *app = QCoreApplication::instance();
    if (app != nullptr && app->thread() == QThread::currentThread()) {
        QObject::connect(app, &QCoreApplication::aboutToQuit, this,
                         [this]() { sink_->on_about_to_quit(); });
    }
}

LoopDriver::~LoopDriver()
{
    // After this no other thread can post to us; Qt drops events still queued.
    waker_->detach();
    // The notifiers go before their fds (the watched fds belong to Rust).
    for (auto &entry : notifiers_) {
        delete entry.second.notifier;
    }
    notifiers_.clear();
    delete timer_notifier_;
    if (timerfd_ >= 0) {
        close(timerfd_);
    }
}

void LoopDriver::post_tick() const
{
    QCoreApplication::postEvent(const_cast<LoopDriver *>(this), new QEvent(tick_event_type()));
}

void LoopDriver::defer_tick() const
{
    deferred_ = true;
}

void LoopDriver::flush_deferred() const
{
    if (deferred_) {
        deferred_ = false;
        sink_->on_deferred();
    }
}

void LoopDriver::arm_timer(std::uint64_t nsec) const
{
#ifdef __linux__
    if (timerfd_ >= 0) {
        // Relative to now: the wait Rust computed from its own reading of
        // the same clock, so the expiry is never before the deadline.
        const std::uint64_t max_sec = static_cast<std::uint64_t>(std::numeric_limits<time_t>::max());
        itimerspec spec {};
        const std::uint64_t sec = nsec / 1000000000u;
        spec.it_value.tv_sec = static_cast<time_t>(sec < max_sec ? sec : max_sec);
        spec.it_value.tv_nsec = static_cast<long>(nsec % 1000000000u);
        if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) {
            spec.it_value.tv_nsec = 1; // zero would disarm
        }
        if (timerfd_settime(timerfd_, 0, &spec, nullptr) == 0) {
            return;
        }
    }
#endif
    // Qt timers count whole milliseconds: round up, never early.
    const std::uint64_t msec = nsec / 1000000u + (nsec % 1000000u != 0 ? 1 : 0);
    const auto max = static_cast<std::uint64_t>(std::numeric_limits<int>::max());
    timer_->start(static_cast<int>(msec < max ? msec : max));
}

void LoopDriver::disarm_timer() const
{
#ifdef __linux__
    if (timerfd_ >= 0) {
        itimerspec spec {};
        timerfd_settime(timerfd_, 0, &spec, nullptr);
    }
#endif
    timer_->stop();
}

bool LoopDriver::uses_timerfd() const
{
    return timerfd_ >= 0;
}

void LoopDriver::watch_fd(std::int32_t fd, std::uint8_t dir, bool enable) const
{
    const std::uint64_t key = static_cast<std::uint64_t>(fd) * 2u + dir;
    auto it = notifiers_.find(key);
    if (it == notifiers_.end()) {
        if (!enable) {
            return;
        }
        auto *self = const_cast<LoopDriver *>(this);
        auto *n = new QSocketNotifier(fd, dir == 0 ? QSocketNotifier::Read : QSocketNotifier::Write, self);
        QObject::connect(n, &QSocketNotifier::activated, self, [this, n, fd, dir]() {
            // Rust decides whether it stays on (watch_fd) while it runs.
            const std::uint64_t k = static_cast<std::uint64_t>(fd) * 2u + dir;
            auto w = notifiers_.find(k);
            if (w == notifiers_.end() || w->second.notifier != n) {
                n->setEnabled(false);
                return;
            }
            checks_owed_ = 2;
            sink_->on_fd(fd, dir);
        });
        it = notifiers_.emplace(key, Watch { n, true }).first;
        return;
    }
    it->second.wanted = enable;
    it->second.notifier->setEnabled(enable);
}

void LoopDriver::unwatch_fd(std::int32_t fd, std::uint8_t dir) const
{
    const std::uint64_t key = static_cast<std::uint64_t>(fd) * 2u + dir;
    auto it = notifiers_.find(key);
    if (it == notifiers_.end()) {
        return;
    }
    QSocketNotifier *n = it->second.notifier;
    notifiers_.erase(it);
    // Later: it may be inside its own activated() (a reader that removes
    // itself), or further up the stack of a nested loop.
    n->setEnabled(false);
    n->deleteLater();
}

std::size_t LoopDriver::notifier_count() const
{
    return notifiers_.size();
}

void LoopDriver::check_notifiers() const
{
    if (notifiers_.empty()) {
        checks_owed_ = 0;
        return;
    }
    if (checks_owed_ == 0) {
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now < next_check_) {
        // Throttled: but the thread may sleep now, so check a bit later.
        if (!recheck_->isActive()) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next_check_ - now);
            recheck_->start(static_cast<int>(left.count()) + 1);
        }
        return;
    }
    next_check_ = now + std::chrono::milliseconds(10);
    if (--checks_owed_ > 0 && !recheck_->isActive()) {
        recheck_->start(10);
    }
    std::vector<std::int32_t> invalid;
    for (auto &entry : notifiers_) {
        Watch &w = entry.second;
        if (w.wanted && !w.notifier->isEnabled()) {
            w.wanted = false;
            invalid.push_back(static_cast<std::int32_t>(entry.first / 2u));
        }
    }
    for (std::int32_t fd : invalid) {
        sink_->on_fd_invalid(fd);
    }
}

void LoopDriver::exec_loop() const
{
    QEventLoop loop;
    QEventLoop *previous = running_;
    running_ = &loop;
    loop.exec();
    running_ = previous;
}

void LoopDriver::exit_loop() const
{
    if (running_ != nullptr) {
        running_->exit(0);
    }
}

std::shared_ptr<LoopWaker> LoopDriver::waker() const
{
    return waker_;
}

bool LoopDriver::event(QEvent *event)
{
    if (event->type() == tick_event_type()) {
        check_notifiers();
        checks_owed_ = 2;
        sink_->on_tick();
        return true;
    }
    return QObject::event(event);
}

std::unique_ptr<LoopDriver> new_loop_driver(rust::Box<DriverSink> sink)
{
    return std::make_unique<LoopDriver>(std::move(sink));
}

void LoopDriver::dispose() const
{
    waker_->detach();
    disarm_timer();
    if (timer_notifier_ != nullptr) {
        timer_notifier_->setEnabled(false);
    }
    for (auto &entry : notifiers_) {
        entry.second.notifier->setEnabled(false);
        entry.second.wanted = false;
    }
    recheck_->stop();
}

void dispose_loop_driver(std::unique_ptr<LoopDriver> driver)
{
    if (!driver) {
        return;
    }
    driver->dispose();
    driver.release()->deleteLater();
}

bool NestedLoop::exec() const
{
    if (loop_.isRunning()) {
        return false;
    }
    loop_.exec();
    return true;
}

void NestedLoop::exit() const
{
    loop_.exit(0);
}

bool NestedLoop::is_running() const
{
    return loop_.isRunning();
}

std::unique_ptr<NestedLoop> new_nested_loop()
{
    return std::make_unique<NestedLoop>();
}

TimerProbe::TimerProbe(std::int32_t msec)
{
    timer_.setTimerType(Qt::PreciseTimer);
    clock_.start();
    QObject::connect(&timer_, &QTimer::timeout, [this]() {
        const std::int64_t now = clock_.nsecsElapsed();
        if (last_ns_ >= 0) {
            const auto gap = static_cast<std::uint64_t>(now - last_ns_);
            max_gap_ns_ = gap > max_gap_ns_ ? gap : max_gap_ns_;
        }
        last_ns_ = now;
        ++ticks_;
    });
    timer_.start(msec);
}

std::uint64_t TimerProbe::ticks() const
{
    return ticks_;
}

std::uint64_t TimerProbe::max_gap_ns() const
{
    return max_gap_ns_;
}

std::unique_ptr<TimerProbe> new_timer_probe(std::int32_t msec)
{
    return std::make_unique<TimerProbe>(msec);
}

namespace {
class PingPong : public QObject {
public:
    std::uint64_t left = 0;
    QEventLoop *loop = nullptr;
    bool event(QEvent *e) override
    {
        if (e->type() != tick_event_type()) {
            return QObject::event(e);
        }
        if (--left == 0) {
            loop->exit(0);
        } else {
            QCoreApplication::postEvent(this, new QEvent(tick_event_type()));
        }
        return true;
    }
};
} // namespace

std::uint64_t posted_event_round_trips(std::uint64_t count)
{
    if (count == 0) {
        return 0;
    }
    PingPong p;
    QEventLoop loop;
    p.left = count;
    p.loop = &loop;
    QElapsedTimer t;
    t.start();
    QCoreApplication::postEvent(&p, new QEvent(tick_event_type()));
    loop.exec();
    return static_cast<std::uint64_t>(t.nsecsElapsed());
}

QtThread::QtThread(rust::Box<ThreadBody> body, const rust::Str name)
    : thread_(QThread::create([b = std::move(body)]() mutable { run_thread_body(std::move(b)); }))
{
    thread_->setObjectName(QString::fromUtf8(name.data(), static_cast<qsizetype>(name.size())));
    thread_->start();
}

QtThread::~QtThread()
{
    if (QThread::currentThread() == thread_) {
        // Dropped by the thread it manages: waiting for itself would fail
        // and deleting a running QThread is Qt's qFatal. The QThread object
        // is deleted once it has finished, by the thread it belongs to.
        QObject::connect(thread_, &QThread::finished, thread_, &QObject::deleteLater);
        return;
    }
    thread_->wait();
    delete thread_;
}

bool QtThread::is_current() const
{
    return QThread::currentThread() == thread_;
}

bool QtThread::is_finished() const
{
    return thread_->isFinished();
}

void QtThread::wait() const
{
    thread_->wait();
}

QThread *QtThread::thread() const
{
    return thread_;
}

std::unique_ptr<ObjectHandle> qthread_object(const QtThread &thread)
{
    return std::make_unique<ObjectHandle>(thread.thread());
}

std::unique_ptr<QtThread> spawn_qthread(rust::Box<ThreadBody> body, rust::Str name)
{
    return std::make_unique<QtThread>(std::move(body), name);
}

rust::String current_qthread_name()
{
    return rust::String(QThread::currentThread()->objectName().toStdString());
}

bool fd_is_open(std::int32_t fd)
{
    return fd >= 0 && (fcntl(fd, F_GETFD) != -1 || errno != EBADF);
}

bool ensure_core_application()
{
    if (QCoreApplication::instance() != nullptr) {
        return false;
    }
    // Lives for the rest of the process, as an application object does.
    static int argc = 1;
    static char name[] = "qtloop";
    static char *argv[] = {name, nullptr};
    new QCoreApplication(argc, argv);
    return true;
}

bool has_application()
{
    return QCoreApplication::instance() != nullptr;
}

bool on_application_thread()
{
    auto *app = QCoreApplication::instance();
    return app != nullptr && app->thread() == QThread::currentThread();
}

std::int32_t exec_application()
{
    return QCoreApplication::exec();
}

void quit_application()
{
    QCoreApplication::quit();
}

void exit_application(std::int32_t code)
{
    QCoreApplication::exit(code);
}

void process_events(std::int32_t max_msec)
{
    QCoreApplication::processEvents(QEventLoop::AllEvents, max_msec);
}

} // namespace qtloop
