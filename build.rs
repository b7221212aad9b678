//! Builds the C++ shim (`cpp/`), the cxx bridge, and the `Qtloop` QML module.

use cxx_qt_build::{CxxQtBuilder, QmlModule};

fn main() {
    CxxQtBuilder::new_qml_module(QmlModule::new("Qtloop").qml_files(["qml/LoopStatus.qml"]))
        // Only `cpp/` is the include root: watching the whole crate (target/
        // included) would re-run this script on every build.
        .crate_include_root(Some("cpp".into()))
        .file("src/bridge/driver.rs")
        .file("src/bridge/qml.rs")
        .file("src/bridge/job.rs")
        .file("src/bridge/signal.rs")
        .file("src/bridge/net.rs")
        .cpp_file("cpp/driver.cpp")
        .cpp_file("cpp/qml.cpp")
        .cpp_file("cpp/signal.cpp")
        .cpp_file("cpp/net.cpp")
        .qt_module("Gui")
        .qt_module("Quick")
        .qt_module("Network")
        .build();
}
