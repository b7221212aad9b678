//! A reply in flight: what Qt has reported so far, and the futures and
//! streams that read it. Everything lives on the loop's thread.

use std::cell::RefCell;
use std::collections::VecDeque;
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

/// One direction's progress events, in order.
#[derive(Default)]
pub(crate) struct ProgressQueue {
    events: VecDeque<(u64, Option<u64>)>,
    last: Option<(u64, Option<u64>)>,
    waker: Option<Waker>,
}

impl ProgressQueue {
    fn push(&mut self, done: i64, total: i64) {
        let event = (done.max(0) as u64, (total >= 0).then_some(total as u64));
        // Qt repeats the last figure at the end, and reports an upload as
        // (0, 0) once it is over: neither is news.
        let done_reset = event == (0, Some(0)) && self.last.is_some_and(|l| l.0 > 0);
        if self.last != Some(event) && !done_reset {
            self.last = Some(event);
            self.events.push_back(event);
        }
    }
}

#[derive(Default)]
pub(crate) struct State {
    meta: Option<Meta>,
    chunks: VecDeque<Vec<u8>>,
    /// Qt's error code and text once `finished` came.
    finished: Option<(i32, String)>,
    destroyed: bool,
    body_waker: Option<Waker>,
    pub(crate) download: ProgressQueue,
    pub(crate) upload: ProgressQueue,
}

impl State {
    /// The failure that ends the reply, if it ended in one. An HTTP error
    /// status (Qt's 201-299 and 401-499) is not: its body is complete.
    fn failure(&self) -> Option<Error> {
        if let Some((code, message)) = &self.finished {
            let http_status = self.meta.as_ref().is_some_and(|m| m.status > 0)
                && matches!(code, 201..=299 | 401..=499);
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
            let ended = s.ended();
            let mut w: Vec<Waker> = s.body_waker.take().into_iter().collect();
            if ended || !s.download.events.is_empty() {
                w.extend(s.download.waker.take());
            }
            if ended || !s.upload.events.is_empty() {
                w.extend(s.upload.waker.take());
            }
            w
        };
        wakers.into_iter().for_each(Waker::wake);
    }
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
    fn data(&self, data: &[u8]) {
        let chunk = data.to_vec();
        self.update(|s| s.chunks.push_back(chunk));
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

/// Owns the Qt reply (dropping it aborts an unfinished one).
pub(crate) struct Reply {
    pub(crate) qt: UniquePtr<HttpReply>,
    pub(crate) state: Shared,
}

impl Drop for Reply {
    fn drop(&mut self) {
        // The C++ reply disconnects before it aborts: end the progress
        // streams that outlive it here.
        let wakers: Vec<Waker> = {
            let mut s = self.state.borrow_mut();
            if !s.ended() {
                s.finished = Some((5, "Operation canceled".into()));
            }
            [s.download.waker.take(), s.upload.waker.take()]
                .into_iter()
                .flatten()
                .collect()
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

/// The future of `Request::send`: the status and headers, once they
/// arrive. Dropping it aborts the request.
#[must_use = "futures do nothing unless awaited; dropping it aborts the request"]
pub struct ResponseFuture {
    pub(crate) reply: Option<Reply>,
}

impl Future for ResponseFuture {
    type Output = Result<Response>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Response>> {
        let Some(reply) = self.reply.as_ref() else {
            return Poll::Ready(Err(Error::Failed(
                "ResponseFuture polled after it completed".into(),
            )));
        };
        let meta = {
            let mut s = reply.state.borrow_mut();
            if let Some(meta) = s.meta.clone() {
                meta
            } else if let Some(e) = s.failure() {
                return Poll::Ready(Err(e));
            } else if s.finished.is_some() {
                // Finished without HTTP (a file: or data: URL).
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
        let mut s = reply.state.borrow_mut();
        if let Some(chunk) = s.chunks.pop_front() {
            return Poll::Ready(Some(Ok(chunk)));
        }
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

/// Progress of a transfer: `(done, total)` in order, `total` `None` when
/// unknown; ends when the reply ends.
#[must_use = "streams do nothing unless polled"]
pub struct Progress {
    state: Shared,
    upload: bool,
}

impl Progress {
    pub(crate) fn download(state: Shared) -> Self {
        Self {
            state,
            upload: false,
        }
    }

    pub(crate) fn upload(state: Shared) -> Self {
        Self {
            state,
            upload: true,
        }
    }
}

impl Stream for Progress {
    type Item = (u64, Option<u64>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut s = self.state.borrow_mut();
        let ended = s.ended();
        let q = if self.upload {
            &mut s.upload
        } else {
            &mut s.download
        };
        if let Some(e) = q.events.pop_front() {
            return Poll::Ready(Some(e));
        }
        if ended {
            return Poll::Ready(None);
        }
        q.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
