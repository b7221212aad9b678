//! The cxx bridge to the HTTP reply in `cpp/net.{h,cpp}`.

// SAFETY (whole bridge): the declarations match `cpp/net.h` one for one and
// cxx checks them at build time. The manager and every reply live and die
// on the loop's thread (the Rust wrappers are `!Send`); a reply holds its
// QNetworkReply by QPointer, so a reply destroyed with its manager is seen
// as gone, never used after free; the reply disconnects its callbacks
// before it aborts, so Rust is never called from its destructor.
#[cxx::bridge(namespace = "qtloop")]
pub(crate) mod bridge {
    extern "Rust" {
        type ReplySink;
        fn on_meta(self: &ReplySink, status: i32, reason: &str, headers: Vec<String>);
        fn on_readable(self: &ReplySink);
        fn on_download_progress(self: &ReplySink, received: i64, total: i64);
        fn on_upload_progress(self: &ReplySink, sent: i64, total: i64);
        fn on_finished(self: &ReplySink, error: i32, message: String);
        fn on_destroyed(self: &ReplySink);
    }

    unsafe extern "C++" {
        include!("qtloop/net.h");

        #[namespace = ""]
        type QNetworkAccessManager;
        type HttpReply;

        fn new_network_manager() -> UniquePtr<QNetworkAccessManager>;
        #[allow(clippy::too_many_arguments)]
        fn start_request(
            manager: &QNetworkAccessManager,
            method: &str,
            url: &str,
            headers: &Vec<String>,
            body: &[u8],
            has_body: bool,
            timeout_ms: i32,
            sink: Box<ReplySink>,
        ) -> UniquePtr<HttpReply>;
        fn abort(self: &HttpReply);
        fn available(self: &HttpReply) -> usize;
        fn read_into(self: &HttpReply, buffer: &mut [u8]) -> usize;
    }
}

pub(crate) use bridge::*;

/// What a reply reports (given behaviour by the driver floor).
pub(crate) trait ReplyEvents {
    fn meta(&self, status: u16, reason: &str, headers: Vec<String>);
    /// Qt has body bytes to read (`HttpReply::read`).
    fn readable(&self);
    fn download_progress(&self, received: i64, total: i64);
    fn upload_progress(&self, sent: i64, total: i64);
    fn finished(&self, error: i32, message: String);
    fn destroyed(&self);
}

/// The Rust object a reply owns and calls, on the loop's thread.
pub(crate) struct ReplySink(pub(crate) Box<dyn ReplyEvents>);

impl ReplySink {
    fn on_meta(&self, status: i32, reason: &str, headers: Vec<String>) {
        self.0
            .meta(u16::try_from(status).unwrap_or(0), reason, headers);
    }
    fn on_readable(&self) {
        self.0.readable();
    }
    fn on_download_progress(&self, received: i64, total: i64) {
        self.0.download_progress(received, total);
    }
    fn on_upload_progress(&self, sent: i64, total: i64) {
        self.0.upload_progress(sent, total);
    }
    fn on_finished(&self, error: i32, message: String) {
        self.0.finished(error, message);
    }
    fn on_destroyed(&self) {
        self.0.destroyed();
    }
}
