#include "qtloop/signal.h"
#include "qtloop/src/bridge/signal.cxx.h"

#include <QtCore/QByteArray>
#include <QtCore/QMetaObject>

#include <atomic>

namespace qtloop {

namespace {
std::atomic<std::size_t> live_forwarders{0};
} // namespace

std::size_t live_signal_forwarders()
{
    return live_forwarders.load();
}

ObjectHandle::ObjectHandle(QObject *object) : object_(object) {}

const QObject *ObjectHandle::get() const
{
    return object_.data();
}

rust::String ObjectHandle::class_name() const
{
    return object_ ? rust::String(object_->metaObject()->className()) : rust::String();
}

rust::String ObjectHandle::object_name() const
{
    return object_ ? rust::String(object_->objectName().toStdString()) : rust::String();
}

std::unique_ptr<ObjectHandle> object_handle(const QObject &object)
{
    return std::make_unique<ObjectHandle>(const_cast<QObject *>(&object));
}

SignalForwarder::SignalForwarder(const QObject &sender, QMetaMethod signal,
                                 rust::Box<SignalSink> sink)
    : sender_(const_cast<QObject *>(&sender)), signal_(signal), sink_(std::move(sink))
{
    ++live_forwarders;
    // AutoConnection: an emission on this thread is copied at once; one on
    // another thread is queued to this one (Qt copies the arguments), so
    // Rust is only ever called here, on the loop's thread.
    emission_ = QMetaObject::connect(&sender, signal.methodIndex(), this,
                                     QObject::staticMetaObject.methodCount(), Qt::AutoConnection);
    destroyed_ = QObject::connect(&sender, &QObject::destroyed, this,
                                  [this] { sink_->on_destroyed(); });
}

SignalForwarder::~SignalForwarder()
{
    QObject::disconnect(emission_);
    QObject::disconnect(destroyed_);
    --live_forwarders;
}

bool SignalForwarder::is_connected() const
{
    return bool(emission_) && !sender_.isNull();
}

int SignalForwarder::qt_metacall(QMetaObject::Call call, int id, void **args)
{
    id = QObject::qt_metacall(call, id, args);
    if (id < 0 || call != QMetaObject::InvokeMetaMethod) {
        return id;
    }
    if (id == 0) {
        forward(args);
    }
    return id - 1;
}

void SignalForwarder::forward(void **args)
{
    rust::Box<SignalArgs> out = new_signal_args();
    for (int i = 0; i < signal_.parameterCount(); ++i) {
        const QMetaType type = signal_.parameterMetaType(i);
        if (type.id() == QMetaType::QVariant) {
            push_signal_arg(*out, *static_cast<const QVariant *>(args[i + 1]));
        } else {
            push_signal_arg(*out, QVariant(type, args[i + 1]));
        }
    }
    sink_->on_emit(std::move(out));
}

rust::Vec<rust::String> signal_signatures(const QObject &object)
{
    rust::Vec<rust::String> out;
    const QMetaObject *mo = object.metaObject();
    for (int i = 0; i < mo->methodCount(); ++i) {
        const QMetaMethod m = mo->method(i);
        if (m.methodType() == QMetaMethod::Signal) {
            out.push_back(rust::String(m.methodSignature().toStdString()));
        }
    }
    return out;
}

rust::String object_class_name(const QObject &object)
{
    return rust::String(object.metaObject()->className());
}

std::unique_ptr<SignalForwarder> connect_signal(const QObject &sender, rust::Str signature,
                                                rust::Box<SignalSink> sink)
{
    const QByteArray normalized = QMetaObject::normalizedSignature(
        std::string(signature.data(), signature.size()).c_str());
    const int index = sender.metaObject()->indexOfSignal(normalized.constData());
    if (index < 0) {
        return nullptr;
    }
    auto forwarder = std::make_unique<SignalForwarder>(
        sender, sender.metaObject()->method(index), std::move(sink));
    if (!forwarder->is_connected()) {
        return nullptr;
    }
    return forwarder;
}

} // namespace qtloop
