//! HTTP requests on Qt's `QNetworkAccessManager`, for `qtloop::qt::net`.

use cxx::UniquePtr;

use super::bridge::net as ffi;
pub(crate) use ffi::{HttpReply, QNetworkAccessManager, ReplyEvents};

/// Forwards to `events`, keeping a panic from unwinding into C++.
struct Guarded(Box<dyn ReplyEvents>);

impl ReplyEvents for Guarded {
    fn meta(&self, status: u16, reason: &str, headers: Vec<String>) {
        super::sink::guard(|| self.0.meta(status, reason, headers));
    }
    fn readable(&self) {
        super::sink::guard(|| self.0.readable());
    }
    fn download_progress(&self, received: i64, total: i64) {
        super::sink::guard(|| self.0.download_progress(received, total));
    }
    fn upload_progress(&self, sent: i64, total: i64) {
        super::sink::guard(|| self.0.upload_progress(sent, total));
    }
    fn finished(&self, error: i32, message: String) {
        super::sink::guard(|| self.0.finished(error, message));
    }
    fn destroyed(&self) {
        super::sink::guard(|| self.0.destroyed());
    }
}

/// A new manager, owned by the caller, living on this thread.
pub(crate) fn new_manager() -> UniquePtr<QNetworkAccessManager> {
    ffi::new_network_manager()
}

/// What to send.
pub(crate) struct Outgoing<'a> {
    pub(crate) method: &'a str,
    pub(crate) url: &'a str,
    /// name, value, name, value...
    pub(crate) headers: &'a Vec<String>,
    pub(crate) body: Option<&'a [u8]>,
    /// 0: none.
    pub(crate) timeout_ms: i32,
}

/// Starts a request; `events` hears about its reply on this thread.
/// Dropping the returned reply aborts it if it has not finished.
pub(crate) fn start(
    manager: &QNetworkAccessManager,
    out: &Outgoing<'_>,
    events: Box<dyn ReplyEvents>,
) -> UniquePtr<HttpReply> {
    let sink = Box::new(ffi::ReplySink(Box::new(Guarded(events))));
    ffi::start_request(
        manager,
        out.method,
        out.url,
        out.headers,
        out.body.unwrap_or(&[]),
        out.body.is_some(),
        out.timeout_ms,
        sink,
    )
}

/// Up to `max` bytes of `reply`'s body that Qt has buffered (empty if
/// none), copied once.
pub(crate) fn read(reply: &HttpReply, max: usize) -> Vec<u8> {
    let mut buffer = vec![0; reply.available().min(max)];
    if buffer.is_empty() {
        return buffer;
    }
    let n = reply.read_into(&mut buffer);
    buffer.truncate(n);
    buffer
}
