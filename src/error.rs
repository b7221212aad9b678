//! The crate's error type.

use thiserror::Error as ThisError;

/// Everything that can go wrong in qtloop. Each message says what happened
/// and, where it helps, what to do.
#[derive(Debug, Clone, PartialEq, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// The loop was closed; nothing can be scheduled on it any more.
    #[error("Event loop is closed")]
    Closed,
    /// `run_forever`/`run_until_complete` was called while the loop runs.
    #[error("This event loop is already running")]
    AlreadyRunning,
    /// No event loop runs on this thread.
    #[error("no running event loop: call this from a callback or task of an EventLoop, or create one with EventLoop::new()")]
    NoRunningLoop,
    /// `stop()` was called before the future passed to `run_until_complete`
    /// completed.
    #[error("Event loop stopped before Future completed.")]
    StoppedBeforeComplete,
    /// A delay or deadline was NaN or infinite.
    #[error("invalid delay or deadline {0}: it must be a finite number of seconds")]
    InvalidDelay(f64),
    /// A period was zero or negative.
    #[error("invalid period: it must be greater than zero")]
    InvalidPeriod,
    /// An object was used from a thread it does not belong to.
    #[error("wrong thread: {0}")]
    WrongThread(&'static str),
    /// This thread already has an open event loop.
    #[error("this thread already has an open event loop: use get_event_loop() to reach it, or close it before creating a new one")]
    LoopExists,
    /// Waiting here would block the loop thread that has to make progress.
    #[error("this would deadlock: blocking waits are not allowed on the event loop's thread; await the future instead")]
    WouldDeadlock,
    /// The executor was shut down.
    #[error("cannot schedule new futures after shutdown")]
    ExecutorShutdown,
    /// `PeriodicTask::set_callback` was called twice.
    #[error("the callback is already set: a PeriodicTask takes its callback once")]
    CallbackAlreadySet,
    /// A background task was started twice.
    #[error("the task was already started")]
    AlreadyStarted,
    /// An argument is out of range (the message says which and why).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A promise was set twice.
    #[error("the promise is already set: a promise takes one value, error or cancellation")]
    PromiseAlreadySet,
    /// A future finished with an error (libqi's `setError`).
    #[error("{0}")]
    Failed(String),
    /// A background task could not be constructed.
    #[error("the task could not be constructed: {0}")]
    TaskInit(String),
    /// A name is taken already.
    #[error("duplicate name: {0} is taken (names are unique within a registry)")]
    DuplicateName(String),
    /// A wait timed out.
    #[error("timed out")]
    Timeout,
    /// The operation was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// The future passed to `run_until_complete` (or a job) panicked.
    #[error("panicked: {0}")]
    Panicked(String),
    /// Qt refused something.
    #[error("Qt: {0}")]
    Qt(String),
    /// The QObject was destroyed (a signal that can no longer come, an
    /// update to an object that is gone).
    #[error("the QObject was destroyed")]
    ObjectDestroyed,
    /// A QObject has no signal of that signature (`similar` lists the
    /// signals of its class whose names come closest).
    #[error("{class} has no signal `{signature}`{}", did_you_mean(.similar))]
    NoSuchSignal {
        /// The object's class, from its meta-object.
        class: String,
        /// The signature asked for.
        signature: String,
        /// Its class's signals that look alike.
        similar: Vec<String>,
    },
    /// A network request failed below HTTP: connection refused (Qt's code
    /// 1), remote host closed (2), host not found (3), timeout (4),
    /// cancelled or transfer timeout (5), TLS handshake (6), a proxy error
    /// (101-199), a protocol error (301-399). `code` is
    /// `QNetworkReply::NetworkError`, `message` Qt's `errorString()`.
    #[error("network error {code}: {message}")]
    Network {
        /// `QNetworkReply::NetworkError`.
        code: i32,
        /// Qt's text for it.
        message: String,
    },
    /// The server answered with an error status (4xx, 5xx), from
    /// `Response::error_for_status`.
    #[error("HTTP {status} {reason}")]
    HttpStatus {
        /// The status code.
        status: u16,
        /// The reason phrase the server sent.
        reason: String,
    },
    /// A file descriptor is negative or not open.
    #[error("invalid file descriptor {0}: it must be an open fd")]
    InvalidFd(i32),
    /// A D-Bus name (service, path, interface, member) is malformed.
    #[cfg(feature = "dbus")]
    #[error("bad name: {0}")]
    BadName(String),
    /// No process owns this service name on the bus.
    #[cfg(feature = "dbus")]
    #[error("no such service: {0}")]
    NoSuchService(String),
    /// The service went away (exited, crashed, closed its connection)
    /// before it answered.
    #[cfg(feature = "dbus")]
    #[error("the service went away before answering: {0}")]
    PeerVanished(String),
    /// A single-threaded service could not take the call within its lock
    /// time-out (libqi's "Time-out acquiring object lock. Deadlock?").
    #[cfg(feature = "dbus")]
    #[error("possible deadlock: {0}")]
    PossibleDeadlock(String),
    /// The service answered with a D-Bus error.
    #[cfg(feature = "dbus")]
    #[error("the service answered {name}: {message}")]
    Remote {
        /// The D-Bus error name.
        name: String,
        /// Its message.
        message: String,
    },
    /// The message bus failed (connecting, sending, a malformed reply);
    /// `source()` gives zbus's error where there is one.
    #[cfg(feature = "dbus")]
    #[error("D-Bus: {0}")]
    Bus(#[source] BusError),
}

fn did_you_mean(similar: &[String]) -> String {
    if similar.is_empty() {
        String::new()
    } else {
        format!("; its signals include: {}", similar.join(", "))
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The message of a panic payload, which is then dropped under a guard: a
/// payload whose own `Drop` panics must not unwind a second time through
/// the loop, a worker thread or a task's guard. That second panic is caught
/// and its own payload leaked (it could be as nasty); ordinary payloads
/// are freed as usual.
pub fn into_panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let msg = panic_message(&*payload);
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)));
    if let Err(second) = dropped {
        std::mem::forget(second);
    }
    msg
}

/// The message of a panic payload (`&str` or `String`), or a placeholder.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

/// A panic that qtloop caught (in a task): its message, and its payload
/// for `std::panic::resume_unwind` ([`Panic::into_panic`], as tokio's
/// `JoinError::into_panic`). Reads as its message (`Deref<Target = str>`,
/// `Display`); clones share the payload, and equality is by message.
#[derive(Clone)]
pub struct Panic {
    message: String,
    payload: std::sync::Arc<PanicPayload>,
}

/// Dropped under a guard, as [`into_panic_message`] drops payloads.
struct PanicPayload(std::sync::Mutex<Option<Box<dyn std::any::Any + Send>>>);

impl Drop for PanicPayload {
    fn drop(&mut self) {
        let payload = self.0.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(p) = payload {
            let _ = into_panic_message(p);
        }
    }
}

impl Panic {
    /// Keeps `payload` and its message.
    pub fn new(payload: Box<dyn std::any::Any + Send>) -> Self {
        Self {
            message: panic_message(&*payload),
            payload: std::sync::Arc::new(PanicPayload(std::sync::Mutex::new(Some(payload)))),
        }
    }

    /// The panic's message (`&str` and `String` payloads; a placeholder
    /// for others).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The original payload, to re-raise the panic with
    /// `std::panic::resume_unwind(p.into_panic())`. The first call among
    /// clones gets it; later ones (and panics made from a message) get a
    /// `String` payload with the message.
    pub fn into_panic(self) -> Box<dyn std::any::Any + Send> {
        let taken = crate::core::sync::lock(&self.payload.0).take();
        taken.unwrap_or_else(|| Box::new(self.message.clone()))
    }
}

impl std::ops::Deref for Panic {
    type Target = str;
    fn deref(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for Panic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::fmt::Debug for Panic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.message)
    }
}

impl PartialEq for Panic {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

impl Eq for Panic {}

impl From<String> for Panic {
    fn from(message: String) -> Self {
        Self {
            message,
            payload: std::sync::Arc::new(PanicPayload(std::sync::Mutex::new(None))),
        }
    }
}

impl From<&str> for Panic {
    fn from(message: &str) -> Self {
        Self::from(message.to_owned())
    }
}

/// The message bus failed: what happened, and zbus's error behind it
/// (its `source()`, and [`BusError::zbus`]). Equality is by message.
#[cfg(feature = "dbus")]
#[derive(Clone)]
pub struct BusError {
    message: String,
    zbus: Option<std::sync::Arc<zbus::Error>>,
}

#[cfg(feature = "dbus")]
impl BusError {
    /// An error with a message and no zbus error behind it.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            zbus: None,
        }
    }

    /// zbus's error, keeping it as the source.
    pub fn from_zbus(e: zbus::Error) -> Self {
        Self {
            message: e.to_string(),
            zbus: Some(std::sync::Arc::new(e)),
        }
    }

    /// The same error with `context` before its message.
    pub fn context(self, context: &str) -> Self {
        Self {
            message: format!("{context}: {}", self.message),
            ..self
        }
    }

    /// What happened.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// zbus's error, if it came from zbus.
    pub fn zbus(&self) -> Option<&zbus::Error> {
        self.zbus.as_deref()
    }
}

#[cfg(feature = "dbus")]
impl std::fmt::Display for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(feature = "dbus")]
impl std::fmt::Debug for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.message)
    }
}

#[cfg(feature = "dbus")]
impl std::error::Error for BusError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.zbus.as_deref().map(|e| e as _)
    }
}

#[cfg(feature = "dbus")]
impl PartialEq for BusError {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}
