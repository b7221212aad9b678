//! A reply in flight: what Qt has reported so far, and the futures and
//! streams that read it. Everything lives on the loop's thread.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use cxx::UniquePtr;
use futures::Stream;

use crate::driver::net::{HttpReply, ReplyEvents};
use crate::error::{Error, Result};

/// The status line and headers.
#[derive(Clone, Debug, Default)]
pub(crate) struct Meta {
    pub(crate) status: u16,
    pub(crate) reason: String,
    pub(crate) headers: Vec<(String, String)>,
}

/// One direction's progress events, in order, for every stream that reads
/// them (each keeps its own place).
#[derive(Default)]
pub(crate) struct ProgressLog {
    events: Vec<(u64, Option<u64>)>,
    wakers: Vec<Waker>,
}

impl ProgressLog {
    fn push(&mut self, done: i64, total: i64) {
        let event = (done.max(0) as u64, (total >= 0).then_some(total as u64));
        let last = self.events.last().copied();
        // Qt repeats the last figure at the end, and reports an upload as
        // (0, 0) once it is over: neither is news.
        let done_reset = event == (0, Some(0)) && last.is_some_and(|l| l.0 > 0);
        if last != Some(event) && !done_reset {
            self.events.push(event);
        }
    }

    fn register(&mut self, waker: &Waker) {
        if !self.wakers.iter().any(|w| w.will_wake(waker)) {
            self.wakers.push(waker.clone());
        }
    }
}

#[derive(Default)]
pub(crate) struct State {
    meta: Option<Meta>,
    /// Qt's error code and text once `finished` came.
    finished: Option<(i32, String)>,
    destroyed: bool,
    body_waker: Option<Waker>,
    pub(crate) download: ProgressLog,
    pub(crate) upload: ProgressLog,
}

impl State {
    /// The failure that ends the reply, if it ended in one. An HTTP error
    /// status is not: Qt reports 4xx and 5xx as errors (201-299, 401-499,
    /// and others such as 302 for a 400 or 105 for a 407), but the body
    /// is complete.
    fn failure(&self) -> Option<Error> {
        if let Some((code, message)) = &self.finished {
            let status = self.meta.as_ref().map_or(0, |m| m.status);
            let http_status =
                status >= 400 || (status > 0 && matches!(code, 201..=299 | 401..=499));
            if *code != 0 && !http_status {
                return Some(Error::Network {
                    code: *code,
                    message: message.clone(),
                });
            }
            None
        } else if self.destroyed {
            Some(Error::ObjectDestroyed)
        } else {
            None
        }
    }

    fn ended(&self) -> bool {
        self.finished.is_some() || self.destroyed
    }
}

pub(crate) type Shared = Rc<RefCell<State>>;

/// Gives the reply's signals to the shared state and wakes its readers.
pub(crate) struct Events(pub(crate) Shared);

impl Events {
    fn update(&self, f: impl FnOnce(&mut State)) {
        let wakers: Vec<Waker> = {
            let mut s = self.0.borrow_mut();
            f(&mut s);
            take_wakers(&mut s)
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

/// Everyone waiting on the reply: its body's reader and its progress streams.
fn take_wakers(s: &mut State) -> Vec<Waker> {
    let mut w: Vec<Waker> = s.body_waker.take().into_iter().collect();
    w.append(&mut s.download.wakers);
    w.append(&mut s.upload.wakers);
    w
}

/// Ends a reply that Qt will say no more about (never sent, or dropped:
/// the C++ reply disconnects before it aborts) and wakes its readers.
pub(crate) fn end(state: &Shared, message: &str) {
    let wakers = {
        let mut s = state.borrow_mut();
        if !s.ended() {
            s.finished = Some((5, message.to_owned()));
        }
        take_wakers(&mut s)
    };
    wakers.into_iter().for_each(Waker::wake);
}

impl ReplyEvents for Events {
    fn meta(&self, status: u16, reason: &str, headers: Vec<String>) {
        let mut pairs = Vec::with_capacity(headers.len() / 2);
        let mut it = headers.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            pairs.push((k, v));
        }
        let meta = Meta {
            status,
            reason: reason.to_owned(),
            headers: pairs,
        };
        self.update(|s| s.meta = Some(meta));
    }
    fn readable(&self) {
        self.update(|_| {});
    }
    fn download_progress(&self, received: i64, total: i64) {
        self.update(|s| s.download.push(received, total));
    }
    fn upload_progress(&self, sent: i64, total: i64) {
        self.update(|s| s.upload.push(sent, total));
    }
    fn finished(&self, error: i32, message: String) {
        self.update(|s| s.finished = Some((error, message)));
    }
    fn destroyed(&self) {
        self.update(|s| s.destroyed = true);
    }
}

/// Owns the Qt reply (dropping it aborts an unfinished one), and keeps its
/// manager alive.
pub(crate) struct Reply {
    pub(crate) qt: UniquePtr<HttpReply>,
    pub(crate) state: Shared,
    pub(crate) _manager: super::Manager,
}

impl Drop for Reply {
    fn drop(&mut self) {
        end(&self.state, "Operation canceled");
    }
}

/// The future of `Request::send`: the status and headers, once they
/// arrive. Dropping it aborts the request.
#[must_use = "futures do nothing unless awaited; dropping it aborts the request"]
pub struct ResponseFuture {
    pub(crate) reply: Option<Reply>,
    /// Why the request could not be sent.
    pub(crate) error: Option<Error>,
}

impl Future for ResponseFuture {
    type Output = Result<Response>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Response>> {
        if let Some(e) = self.error.take() {
            return Poll::Ready(Err(e));
        }
        let Some(reply) = self.reply.as_ref() else {
            return Poll::Ready(Err(Error::Failed(
                "ResponseFuture polled after it completed".into(),
            )));
        };
        let meta = {
            let mut s = reply.state.borrow_mut();
            // A redirect's status is not the answer while Qt may still
            // follow it (it says so by finishing, or with later headers).
            let redirect = s.meta.as_ref().is_some_and(|m| {
                (300..400).contains(&m.status)
                    && m.headers
                        .iter()
                        .any(|(k, _)| k.eq_ignore_ascii_case("location"))
            });
            let failure = s.failure();
            if let (true, Some(e)) = (redirect, &failure) {
                // Qt gave up on it (a loop, too many hops).
                return Poll::Ready(Err(e.clone()));
            }
            if let Some(meta) = s.meta.clone().filter(|_| !redirect || s.finished.is_some()) {
                meta
            } else if let Some(e) = failure {
                return Poll::Ready(Err(e));
            } else if s.finished.is_some() {
                // Finished without an HTTP status and without an error.
                Meta::default()
            } else {
                s.body_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
        };
        let reply = self.reply.take().expect("checked above");
        Poll::Ready(Ok(Response { reply, meta }))
    }
}

/// A reply whose status and headers have arrived; its body is read with
/// [`bytes`](Self::bytes), [`text`](Self::text) or [`chunks`](Self::chunks).
/// Dropping it aborts the transfer if it has not finished.
pub struct Response {
    reply: Reply,
    meta: Meta,
}

impl Response {
    /// The HTTP status code (0 for a non-HTTP URL).
    pub fn status(&self) -> u16 {
        self.meta.status
    }

    /// The reason phrase (`"Not Found"`).
    pub fn reason(&self) -> &str {
        &self.meta.reason
    }

    /// The headers as the server sent them.
    pub fn headers(&self) -> &[(String, String)] {
        &self.meta.headers
    }

    /// The first header of that name (ignoring case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.meta
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Err(Error::HttpStatus)` for a 4xx or 5xx status, else the response.
    pub fn error_for_status(self) -> Result<Self> {
        if self.meta.status >= 400 {
            Err(Error::HttpStatus {
                status: self.meta.status,
                reason: self.meta.reason.clone(),
            })
        } else {
            Ok(self)
        }
    }

    /// Download progress `(received, total)` in order, `total` `None` when
    /// the server did not say; ends when the reply does.
    pub fn progress(&self) -> Progress {
        Progress::download(self.reply.state.clone())
    }

    /// The body, whole.
    pub async fn bytes(self) -> Result<Vec<u8>> {
        let mut chunks = self.chunks();
        let mut body = Vec::new();
        while let Some(chunk) = futures::StreamExt::next(&mut chunks).await {
            body.extend_from_slice(&chunk?);
        }
        Ok(body)
    }

    /// The body as UTF-8 text (invalid sequences replaced).
    pub async fn text(self) -> Result<String> {
        let body = self.bytes().await?;
        Ok(String::from_utf8(body)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    /// The body as it arrives; a failure mid-body is the last item.
    pub fn chunks(self) -> Chunks {
        Chunks {
            reply: Some(self.reply),
        }
    }

    /// Aborts the transfer now (the body then ends with Qt's
    /// "Operation canceled", code 5).
    pub fn abort(&self) {
        if let Some(qt) = self.reply.qt.as_ref() {
            qt.abort();
        }
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.meta.status)
            .field("reason", &self.meta.reason)
            .field("headers", &self.meta.headers.len())
            .finish()
    }
}

/// The body of a [`Response`] as a [`Stream`] of chunks; dropping it
/// aborts an unfinished transfer.
#[must_use = "streams do nothing unless polled; dropping it aborts the transfer"]
pub struct Chunks {
    reply: Option<Reply>,
}

impl Stream for Chunks {
    type Item = Result<Vec<u8>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Vec<u8>>>> {
        let Some(reply) = self.reply.as_ref() else {
            return Poll::Ready(None);
        };
        // Pulled from Qt's bounded buffer as it is consumed: a slow reader
        // makes Qt stop reading the socket, not the queue grow.
        let chunk = reply
            .qt
            .as_ref()
            .map(|qt| crate::driver::net::read(qt, CHUNK))
            .unwrap_or_default();
        if !chunk.is_empty() {
            return Poll::Ready(Some(Ok(chunk)));
        }
        let mut s = reply.state.borrow_mut();
        if s.ended() {
            let failure = s.failure();
            drop(s);
            self.reply = None;
            return Poll::Ready(failure.map(Err));
        }
        s.body_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// The most a chunk of the body holds.
const CHUNK: usize = 64 * 1024;

/// Progress of a transfer: `(done, total)` in order, `total` `None` when
/// unknown; ends when the reply ends. Every stream of a reply sees every
/// event.
#[must_use = "streams do nothing unless polled"]
pub struct Progress {
    state: Shared,
    upload: bool,
    next: usize,
}

impl Progress {
    pub(crate) fn download(state: Shared) -> Self {
        Self {
            state,
            upload: false,
            next: 0,
        }
    }

    pub(crate) fn upload(state: Shared) -> Self {
        Self {
            state,
            upload: true,
            next: 0,
        }
    }
}

impl Stream for Progress {
    type Item = (u64, Option<u64>);

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let mut s = this.state.borrow_mut();
        let ended = s.ended();
        let log = if this.upload {
            &mut s.upload
        } else {
            &mut s.download
        };
        if let Some(e) = log.events.get(this.next).copied() {
            this.next += 1;
            return Poll::Ready(Some(e));
        }
        if ended {
            return Poll::Ready(None);
        }
        log.register(cx.waker());
        Poll::Pending
    }
}
