#include "qtloop/driver.h"
#include "qtloop/src/bridge/driver.cxx.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QElapsedTimer>
#include <QtCore/QThread>

#include <limits>

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
    , waker_(std::make_shared<LoopWaker>(this))
{
    // A thread that Qt did not start (std::thread) has no event dispatcher
    // until a QEventLoop is created; the timer needs one now.
    { QEventLoop ensure_dispatcher; }
    timer_->setSingleShot(true);
    timer_->setTimerType(Qt::PreciseTimer);
    QObject::connect(timer_, &QTimer::timeout, this, [this]() { sink_->on_timer(); });
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
}

void LoopDriver::post_tick() const
{
    QCoreApplication::postEvent(const_cast<LoopDriver *>(this), new QEvent(tick_event_type()));
}

void LoopDriver::arm_timer(std::uint64_t msec) const
{
    const auto max = static_cast<std::uint64_t>(std::numeric_limits<int>::max());
    timer_->start(static_cast<int>(msec < max ? msec : max));
}

void LoopDriver::disarm_timer() const
{
    timer_->stop();
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
    timer_->stop();
}

void dispose_loop_driver(std::unique_ptr<LoopDriver> driver)
{
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
    QObject::connect(&timer_, &QTimer::timeout, [this]() {
        static QElapsedTimer clock;
        if (!clock.isValid()) {
            clock.start();
        }
        const std::int64_t now = clock.nsecsElapsed();
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
    thread_->wait();
    delete thread_;
}

bool QtThread::is_finished() const
{
    return thread_->isFinished();
}

void QtThread::wait() const
{
    thread_->wait();
}

std::unique_ptr<QtThread> spawn_qthread(rust::Box<ThreadBody> body, rust::Str name)
{
    return std::make_unique<QtThread>(std::move(body), name);
}

rust::String current_qthread_name()
{
    return rust::String(QThread::currentThread()->objectName().toStdString());
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
