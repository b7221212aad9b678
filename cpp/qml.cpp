#include "qtloop/qml.h"
#include "qtloop/src/bridge/job.cxxqt.h"

#include <QtCore/QCoreApplication>
#include <QtGui/QGuiApplication>
#include <QtGui/QMouseEvent>
#include <QtGui/QPointingDevice>
#include <QtQml/QQmlContext>
#include <QtQml/QQmlExpression>
#include <QtQuick/QQuickItem>
#include <QtQuick/QQuickWindow>

namespace qtloop {

namespace {

QQuickWindow *first_window(const QQmlApplicationEngine &engine)
{
    for (QObject *root : engine.rootObjects()) {
        if (auto *w = qobject_cast<QQuickWindow *>(root)) {
            return w;
        }
    }
    return nullptr;
}

// Searches QObject children and, for items, visual children too (items
// made by a Repeater or Loader have only a visual parent).
QObject *find_in(QObject *o, const QString &name)
{
    if (o->objectName() == name) {
        return o;
    }
    for (QObject *child : o->children()) {
        if (QObject *found = find_in(child, name)) {
            return found;
        }
    }
    if (auto *item = qobject_cast<QQuickItem *>(o)) {
        for (QQuickItem *child : item->childItems()) {
            if (child->parent() != o) {
                if (QObject *found = find_in(child, name)) {
                    return found;
                }
            }
        }
    }
    return nullptr;
}

QObject *find_named(const QQmlApplicationEngine &engine, const QString &name)
{
    for (QObject *root : engine.rootObjects()) {
        // A window's content item is its QObject child: covered.
        if (QObject *o = find_in(root, name)) {
            return o;
        }
    }
    return nullptr;
}

} // namespace

std::int32_t ensure_gui_application(bool offscreen)
{
    QCoreApplication *app = QCoreApplication::instance();
    if (app != nullptr) {
        return qobject_cast<QGuiApplication *>(app) != nullptr ? 1 : 2;
    }
    // Lives for the rest of the process, as an application object does (and
    // so do argc/argv, which Qt keeps). Headless: `-platform offscreen`, so
    // that nobody has to set QT_QPA_PLATFORM while threads run.
    static int argc = 1;
    static char name[] = "qtloop";
    static char platform_flag[] = "-platform";
    static char platform[] = "offscreen";
    static char *argv[] = {name, nullptr, nullptr, nullptr};
    if (offscreen) {
        argv[1] = platform_flag;
        argv[2] = platform;
        argc = 3;
    }
    new QGuiApplication(argc, argv);
    return 0;
}

QUrl local_file_url(const QString &path)
{
    return QUrl::fromLocalFile(path);
}

bool save_png(const QImage &image, const QString &path)
{
    return image.save(path, "PNG");
}

std::unique_ptr<AsyncJob> new_async_job()
{
    return std::make_unique<AsyncJob>();
}

std::int32_t root_window_count(const QQmlApplicationEngine &engine)
{
    std::int32_t n = 0;
    for (QObject *root : engine.rootObjects()) {
        if (qobject_cast<QQuickWindow *>(root) != nullptr) {
            ++n;
        }
    }
    return n;
}

void show_root_windows(const QQmlApplicationEngine &engine)
{
    for (QObject *root : engine.rootObjects()) {
        if (auto *w = qobject_cast<QQuickWindow *>(root)) {
            w->show();
        }
    }
}

QImage grab_root_window(const QQmlApplicationEngine &engine)
{
    QQuickWindow *w = first_window(engine);
    return w != nullptr ? w->grabWindow() : QImage();
}

std::unique_ptr<ObjectHandle> find_object(const QQmlApplicationEngine &engine, const QString &name)
{
    QObject *o = find_named(engine, name);
    return o ? std::make_unique<ObjectHandle>(o) : nullptr;
}

bool click_object(const QQmlApplicationEngine &engine, const QString &name)
{
    auto *item = qobject_cast<QQuickItem *>(find_named(engine, name));
    if (item == nullptr || item->window() == nullptr || !item->isVisible()) {
        return false;
    }
    QQuickWindow *w = item->window();
    const QPointF local = item->mapToScene(QPointF(item->width() / 2, item->height() / 2));
    const QPointF global = w->mapToGlobal(local);
    QMouseEvent press(QEvent::MouseButtonPress, local, global, Qt::LeftButton, Qt::LeftButton,
                      Qt::NoModifier);
    QCoreApplication::sendEvent(w, &press);
    QMouseEvent release(QEvent::MouseButtonRelease, local, global, Qt::LeftButton,
                        Qt::NoButton, Qt::NoModifier);
    QCoreApplication::sendEvent(w, &release);
    return true;
}

QVariant read_object_property(const QQmlApplicationEngine &engine, const QString &name,
                              const QString &property, bool &found)
{
    QObject *o = find_named(engine, name);
    found = o != nullptr;
    return found ? o->property(property.toUtf8().constData()) : QVariant();
}

QVariant evaluate_on_object(const QQmlApplicationEngine &engine, const QString &name,
                            const QString &expression, QString &error)
{
    QObject *o = find_named(engine, name);
    if (o == nullptr) {
        error = QStringLiteral("no object with objectName `%1`").arg(name);
        return QVariant();
    }
    QQmlContext *context = qmlContext(o);
    if (context == nullptr) {
        context = engine.rootContext();
    }
    QQmlExpression e(context, o, expression);
    QVariant v = e.evaluate();
    if (e.hasError()) {
        error = e.error().toString();
        return QVariant();
    }
    return v;
}

bool write_object_property(const QQmlApplicationEngine &engine, const QString &name,
                           const QString &property, const QVariant &value)
{
    QObject *o = find_named(engine, name);
    return o != nullptr && o->setProperty(property.toUtf8().constData(), value);
}

} // namespace qtloop
