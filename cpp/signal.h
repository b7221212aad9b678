// Awaiting any signal of any QObject: a forwarder connected by signature
// (QMetaMethod), and a guarded pointer to an object Rust does not own.
//
// The forwarder is a plain QObject without moc: like QSignalSpy, it is
// connected to a method index just past QObject's own and catches that call
// in qt_metacall, where the signal's arguments arrive as `void **`. They are
// copied into QVariants (by the signal's parameter types) and handed to
// Rust, which queues them; nothing runs inside the emitter but that copy.
#pragma once

#include <QtCore/QMetaMethod>
#include <QtCore/QObject>
#include <QtCore/QPointer>
#include <QtCore/QVariant>

#include <cstdint>
#include <memory>

#include "rust/cxx.h"

namespace qtloop {

struct SignalSink; // Rust: receives emissions and the sender's destruction
struct SignalArgs; // Rust: one emission's arguments

// A QPointer to a QObject that Rust does not own (found in a QML scene, a
// reply, a child): null once Qt destroys it.
class ObjectHandle {
public:
    explicit ObjectHandle(QObject *object);
    // Null if the object is gone.
    const QObject *get() const;
    rust::String class_name() const;
    rust::String object_name() const;

private:
    QPointer<QObject> object_;
};

std::unique_ptr<ObjectHandle> object_handle(const QObject &object);

class SignalForwarder : public QObject {
public:
    SignalForwarder(const QObject &sender, QMetaMethod signal, rust::Box<SignalSink> sink);
    ~SignalForwarder() override;
    int qt_metacall(QMetaObject::Call call, int id, void **args) override;
    bool is_connected() const;

private:
    void forward(void **args);

    QPointer<QObject> sender_;
    QMetaMethod signal_;
    rust::Box<SignalSink> sink_;
    QMetaObject::Connection emission_;
    QMetaObject::Connection destroyed_;
};

// Every signal of the object's class (and its bases), as normalized
// signatures.
rust::Vec<rust::String> signal_signatures(const QObject &object);
rust::String object_class_name(const QObject &object);
// How many forwarders exist (each disconnects when destroyed): for tests.
std::size_t live_signal_forwarders();
// Connects to the signal with this (normalized) signature; null if the
// class has none or Qt refused the connection.
std::unique_ptr<SignalForwarder> connect_signal(const QObject &sender, rust::Str signature,
                                                rust::Box<SignalSink> sink);

} // namespace qtloop
