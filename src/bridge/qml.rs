//! The cxx bridge to the QML helpers in `cpp/qml.{h,cpp}`.

// SAFETY (whole bridge): the declarations match `cpp/qml.h` one for one and
// cxx checks them at build time. The functions only read the engine they
// are given (by reference, so it outlives the call) and are called on the
// GUI thread by `QmlApp`, which is `!Send`.
#[cxx::bridge(namespace = "qtloop")]
pub(crate) mod bridge {
    unsafe extern "C++" {
        include!("qtloop/qml.h");
        include!("qtloop/src/bridge/job.cxxqt.h");
        include!("cxx-qt-lib/qqmlapplicationengine.h");
        include!("cxx-qt-lib/qimage.h");
        include!("cxx-qt-lib/qstring.h");
        include!("cxx-qt-lib/qvariant.h");
        include!("cxx-qt-lib/qurl.h");

        #[namespace = ""]
        type QQmlApplicationEngine = cxx_qt_lib::QQmlApplicationEngine;
        #[namespace = ""]
        type QImage = cxx_qt_lib::QImage;
        #[namespace = ""]
        type QString = cxx_qt_lib::QString;
        #[namespace = ""]
        type QVariant = cxx_qt_lib::QVariant;
        #[namespace = ""]
        type QUrl = cxx_qt_lib::QUrl;

        type ObjectHandle = super::super::signal::ObjectHandle;
        fn find_object(engine: &QQmlApplicationEngine, name: &QString) -> UniquePtr<ObjectHandle>;

        type AsyncJob = super::super::job::qobject::AsyncJob;
        fn new_async_job() -> UniquePtr<AsyncJob>;

        fn local_file_url(path: &QString) -> QUrl;
        fn save_png(image: &QImage, path: &QString) -> bool;

        fn ensure_gui_application(offscreen: bool) -> i32;
        fn root_window_count(engine: &QQmlApplicationEngine) -> i32;
        fn show_root_windows(engine: &QQmlApplicationEngine);
        fn grab_root_window(engine: &QQmlApplicationEngine) -> QImage;
        fn click_object(engine: &QQmlApplicationEngine, name: &QString) -> bool;
        fn read_object_property(
            engine: &QQmlApplicationEngine,
            name: &QString,
            property: &QString,
            found: &mut bool,
        ) -> QVariant;
        fn evaluate_on_object(
            engine: &QQmlApplicationEngine,
            name: &QString,
            expression: &QString,
            error: &mut QString,
        ) -> QVariant;
        fn write_object_property(
            engine: &QQmlApplicationEngine,
            name: &QString,
            property: &QString,
            value: &QVariant,
        ) -> bool;
    }
}

pub(crate) use bridge::*;
