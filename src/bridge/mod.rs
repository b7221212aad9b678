//! Every bridge to C++ (cxx and cxx-qt) lives here: the only `unsafe` of
//! the crate. cxx-qt-build wants the bridge files of a QML module in one
//! directory.

pub(crate) mod driver;
pub mod job;
pub(crate) mod qml;
