// qtloop's QML helpers: the GUI application, and looking at a QML window the
// way a person would (grab its pixels, click an item, read a property).
#pragma once

#include <QtCore/QString>
#include <QtCore/QUrl>
#include <QtCore/QVariant>
#include <QtGui/QImage>
#include <QtQml/QQmlApplicationEngine>

#include <cstdint>
#include <memory>

#include "qtloop/signal.h"

namespace qtloop {

class AsyncJob; // cxx-qt: src/bridge/job.rs

// 0: created a QGuiApplication; 1: one exists already; 2: a non-GUI
// QCoreApplication exists (QML windows cannot be shown).
std::int32_t ensure_gui_application(bool offscreen);

// QUrl::fromLocalFile.
QUrl local_file_url(const QString &path);
// QImage::save as PNG.
bool save_png(const QImage &image, const QString &path);

// An AsyncJob owned by Rust (not created by QML).
std::unique_ptr<AsyncJob> new_async_job();

// The number of QQuickWindows among the engine's root objects.
std::int32_t root_window_count(const QQmlApplicationEngine &engine);
// Shows every root window (they may be declared `visible: false`).
void show_root_windows(const QQmlApplicationEngine &engine);
// Renders the first root window into an image (null if there is none).
QImage grab_root_window(const QQmlApplicationEngine &engine);
// A left click (press and release) at the centre of the item whose
// objectName is `name`, delivered through the window like a real one.
bool click_object(const QQmlApplicationEngine &engine, const QString &name);
// A guarded pointer to the object whose objectName is `name` (null if none).
std::unique_ptr<ObjectHandle> find_object(const QQmlApplicationEngine &engine, const QString &name);
// Reads/writes a property of the object whose objectName is `name`.
QVariant read_object_property(const QQmlApplicationEngine &engine, const QString &name,
                              const QString &property, bool &found);
// Evaluates a JavaScript expression in the scope of the object whose
// objectName is `name` (`start(21)` calls its method, as QML would).
QVariant evaluate_on_object(const QQmlApplicationEngine &engine, const QString &name,
                            const QString &expression, QString &error);
bool write_object_property(const QQmlApplicationEngine &engine, const QString &name,
                           const QString &property, const QVariant &value);

} // namespace qtloop
