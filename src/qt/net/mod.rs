//! HTTP on Qt's own network stack (`QNetworkAccessManager`): Qt's proxy,
//! TLS and redirect settings apply as they do for any Qt code.
//!
//! ```no_run
//! # async fn demo() -> qtloop::Result<()> {
//! let http = qtloop::qt::net::Http::for_this_thread()?;
//! let response = http.get("http://127.0.0.1:8080/json").header("Accept", "application/json").send().await?;
//! assert_eq!(response.status(), 200);
//! let body = response.text().await?;
//! # Ok(()) }
//! ```
//!
//! Every step is cancellable: dropping the future of `send`, the
//! [`Response`] or its [`Chunks`] aborts the reply, and the server sees the
//! connection close. Transport failures are [`Error::Network`] with Qt's
//! code and text; an HTTP error status is a normal [`Response`]
//! ([`Response::error_for_status`] turns it into [`Error::HttpStatus`]).

mod reply;

use std::cell::RefCell;
use std::future::IntoFuture;
use std::rc::Rc;
use std::time::Duration;

use cxx::UniquePtr;

use crate::driver::net::{self as ffi, Outgoing, QNetworkAccessManager};
use crate::error::{Error, Result};
pub use reply::{Chunks, Progress, Response, ResponseFuture};
use reply::{Events, Reply, Shared};

/// The manager, shared by an `Http`'s clones and the replies in flight;
/// null once closed.
pub(crate) type Manager = Rc<RefCell<UniquePtr<QNetworkAccessManager>>>;

/// A `QNetworkAccessManager` on this thread; clones share it, and so do
/// the requests in flight (`Http::new()?.get(url).await` keeps it alive).
/// [`close`](Self::close) destroys it at once, as Qt code deleting its
/// manager would: the requests in flight then fail with
/// [`Error::ObjectDestroyed`] (Qt destroys a manager's replies with it).
#[derive(Clone)]
pub struct Http {
    manager: Manager,
}

thread_local! {
    static THIS_THREAD: ThreadManager = const { ThreadManager(RefCell::new(None)) };
}

/// The manager of `Http::for_this_thread`. Destroyed with the thread only
/// while the application exists; after it, Qt cannot tear one down, and
/// the process is ending anyway.
struct ThreadManager(RefCell<Option<Http>>);

impl Drop for ThreadManager {
    fn drop(&mut self) {
        if let Some(http) = self.0.get_mut().take() {
            if !crate::driver::app::has_application() {
                std::mem::forget(http);
            }
        }
    }
}

impl Http {
    /// A new manager of its own on this thread (creating the
    /// `QCoreApplication` if there is none).
    pub fn new() -> Result<Self> {
        crate::qt::ensure_core_application();
        let manager = ffi::new_manager();
        if manager.is_null() {
            return Err(Error::Qt("could not create a QNetworkAccessManager".into()));
        }
        Ok(Self {
            manager: Rc::new(RefCell::new(manager)),
        })
    }

    /// This thread's shared manager, made on first use.
    pub fn for_this_thread() -> Result<Self> {
        THIS_THREAD.with(|t| {
            if let Some(http) = t.0.borrow().as_ref() {
                return Ok(http.clone());
            }
            let http = Self::new()?;
            *t.0.borrow_mut() = Some(http.clone());
            Ok(http)
        })
    }

    /// Destroys the manager now: requests in flight fail with
    /// [`Error::ObjectDestroyed`], later ones with [`Error::Closed`].
    pub fn close(&self) {
        let manager = std::mem::replace(&mut *self.manager.borrow_mut(), UniquePtr::null());
        // Dropped outside the borrow: Qt destroys the replies, which report it.
        drop(manager);
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.manager.borrow().is_null()
    }

    /// A request with any method (`"PATCH"`, `"HEAD"`, ...). A method that
    /// is not an HTTP token fails the request with
    /// [`Error::InvalidArgument`] when it is sent.
    pub fn request(&self, method: &str, url: &str) -> Request {
        let invalid = (!is_token(method))
            .then(|| Error::InvalidArgument(format!("{method:?} is not an HTTP method")));
        Request {
            http: self.clone(),
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: None,
            timeout: None,
            state: Shared::default(),
            invalid,
            sent: false,
        }
    }

    /// `GET url`.
    pub fn get(&self, url: &str) -> Request {
        self.request("GET", url)
    }

    /// `POST url` with `body`.
    pub fn post(&self, url: &str, body: impl Into<Vec<u8>>) -> Request {
        self.request("POST", url).body(body)
    }

    /// `PUT url` with `body`.
    pub fn put(&self, url: &str, body: impl Into<Vec<u8>>) -> Request {
        self.request("PUT", url).body(body)
    }

    /// `DELETE url`.
    pub fn delete(&self, url: &str) -> Request {
        self.request("DELETE", url)
    }
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("clones", &Rc::strong_count(&self.manager))
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// A request being built; [`send`](Self::send) (or `.await`) starts it.
#[must_use = "a request does nothing until it is sent"]
pub struct Request {
    http: Http,
    method: String,
    url: String,
    headers: Vec<String>,
    body: Option<Vec<u8>>,
    timeout: Option<Duration>,
    state: Shared,
    /// Why it cannot be sent (a bad method or header), reported by `send`.
    invalid: Option<Error>,
    sent: bool,
}

/// RFC 9110's token: what a method or a header name may be made of.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl Request {
    /// Adds a header. A name that is not an HTTP token, or a value with
    /// CR, LF or NUL (which would inject headers), fails the request with
    /// [`Error::InvalidArgument`] when it is sent.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if !is_token(name) {
            self.invalid.get_or_insert_with(|| {
                Error::InvalidArgument(format!("{name:?} is not an HTTP header name"))
            });
        } else if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            self.invalid.get_or_insert_with(|| {
                Error::InvalidArgument(format!("the value of header {name} has CR, LF or NUL"))
            });
        }
        self.headers.push(name.to_owned());
        self.headers.push(value.to_owned());
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Aborts the transfer when no data moves for `timeout` (Qt's
    /// transfer timeout); it then fails with [`Error::Network`]. Zero means
    /// none (Qt's default). For a deadline on the whole exchange, wrap it
    /// in [`crate::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = (!timeout.is_zero()).then_some(timeout);
        self
    }

    /// Download progress `(received, total)` of this request once sent, in
    /// order; ends when the reply ends.
    pub fn progress(&self) -> Progress {
        Progress::download(self.state.clone())
    }

    /// Upload progress `(sent, total)`, like [`progress`](Self::progress).
    pub fn upload_progress(&self) -> Progress {
        Progress::upload(self.state.clone())
    }

    /// Starts the request now; the future gives the [`Response`] when its
    /// status and headers arrive (after the redirects Qt follows). Dropping
    /// the future aborts it.
    pub fn send(mut self) -> ResponseFuture {
        self.sent = true;
        let failed = |e| ResponseFuture {
            reply: None,
            error: Some(e),
        };
        if let Some(e) = self.invalid.take() {
            reply::end(&self.state, "the request was not sent");
            return failed(e);
        }
        let timeout_ms = self.timeout.map_or(0, |t| {
            i32::try_from(t.as_millis().max(1)).unwrap_or(i32::MAX)
        });
        let out = Outgoing {
            method: &self.method,
            url: &self.url,
            headers: &self.headers,
            body: self.body.as_deref(),
            timeout_ms,
        };
        let events = Box::new(Events(self.state.clone()));
        let qt = {
            let manager = self.http.manager.borrow();
            match manager.as_ref() {
                Some(m) => ffi::start(m, &out, events),
                None => {
                    drop(manager);
                    reply::end(&self.state, "the Http was closed");
                    return failed(Error::Closed);
                }
            }
        };
        ResponseFuture {
            reply: Some(Reply {
                qt,
                state: self.state.clone(),
                _manager: self.http.manager.clone(),
            }),
            error: None,
        }
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        if !self.sent {
            // Its progress streams must not wait for a reply that never comes.
            reply::end(&self.state, "the request was not sent");
        }
    }
}

impl IntoFuture for Request {
    type Output = Result<Response>;
    type IntoFuture = ResponseFuture;

    fn into_future(self) -> ResponseFuture {
        self.send()
    }
}
