//! Every bridge to C++ (cxx and cxx-qt) lives here: the only `unsafe` of
//! the crate. cxx-qt-build wants the bridge files of a QML module in one
//! directory. It is a private module of the driver floor (declared there),
//! and it imports nothing of the crate: the Rust types that C++ calls are
//! declared here, as data, and the driver gives them their behaviour.

pub(crate) mod driver;
pub(crate) mod job;
pub(crate) mod net;
pub(crate) mod qml;
pub(crate) mod signal;
