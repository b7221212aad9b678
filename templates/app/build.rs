//! Registers the app's QML module: `import com.example.app` gives the
//! `Greeter` type of `src/greeter.rs`, and `qml/main.qml` is compiled into
//! the binary at `qrc:/qt/qml/com/example/app/qml/main.qml` (the URI with
//! `/` for `.`, then the file's path).

use cxx_qt_build::{CxxQtBuilder, QmlModule};

fn main() {
    CxxQtBuilder::new_qml_module(QmlModule::new("com.example.app").qml_files(["qml/main.qml"]))
        .file("src/greeter.rs")
        .build();
}
