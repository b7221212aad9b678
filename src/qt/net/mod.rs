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

/// A `QNetworkAccessManager` on this thread; clones share it. Requests
/// started from it end with [`Error::ObjectDestroyed`] if the last clone is
/// dropped while they are in flight (Qt destroys a manager's replies with
/// it).
#[derive(Clone)]
pub struct Http {
    manager: Rc<UniquePtr<QNetworkAccessManager>>,
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
            manager: Rc::new(manager),
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

    /// A request with any method (`"PATCH"`, `"HEAD"`, ...).
    pub fn request(&self, method: &str, url: &str) -> Request {
        Request {
            http: self.clone(),
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: None,
            timeout: None,
            state: Shared::default(),
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
}

impl Request {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
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
    /// transfer timeout); it then fails with [`Error::Network`]. For a
    /// deadline on the whole exchange, wrap it in [`crate::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
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
    /// status and headers arrive. Dropping the future aborts it.
    pub fn send(self) -> ResponseFuture {
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
        let qt = ffi::start(
            &self.http.manager,
            &out,
            Box::new(Events(self.state.clone())),
        );
        ResponseFuture {
            reply: Some(Reply {
                qt,
                state: self.state,
            }),
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
