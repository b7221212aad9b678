//! The calling side: [`service`] gives a [`Proxy`]; its calls are awaitable
//! from loop tasks or a [`qi::Future`], its signals a `Stream` or a
//! [`qi::Signal`] delivered on the caller's loop thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::channel::mpsc;
use futures::future::{self, Either, FutureExt};
use futures::{Stream, StreamExt};
use serde::{de::DeserializeOwned, Serialize};
use zbus::proxy::CacheProperties;
use zbus::zvariant::Type;
use zbus::Message;

use super::{bus_error, has_owner, member_name, Address, Bus, DEFAULT_CALL_TIMEOUT};
use crate::core::sync::lock;
use crate::error::{BusError, Error, Result};
use crate::{get_event_loop, qi, AbortHandle};

/// A proxy for the service `name` on the session bus, at the object path
/// and interface made from the name (libqi's `session.service("foo")`).
///
/// Fails with [`Error::BadName`] for a malformed name and
/// [`Error::NoSuchService`] when nobody owns the name.
pub async fn service(name: &str) -> Result<Proxy> {
    ProxyBuilder::new(name).connect().await
}

/// Sets up a [`Proxy`] other than [`service`]'s defaults.
#[derive(Debug, Clone)]
pub struct ProxyBuilder {
    name: String,
    path: Option<String>,
    interface: Option<String>,
    bus: Bus,
    timeout: Duration,
}

impl ProxyBuilder {
    /// For the service `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            path: None,
            interface: None,
            bus: Bus::Session,
            timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    /// The object path, instead of the one made from the name.
    pub fn path(mut self, path: &str) -> Self {
        self.path = Some(path.to_owned());
        self
    }

    /// The interface, instead of the service name.
    pub fn interface(mut self, interface: &str) -> Self {
        self.interface = Some(interface.to_owned());
        self
    }

    /// The bus, instead of the session bus.
    pub fn bus(mut self, bus: Bus) -> Self {
        self.bus = bus;
        self
    }

    /// How long a call may take before it fails with [`Error::Timeout`]
    /// (25 s unless set, D-Bus's default).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects and checks that the service is there.
    pub async fn connect(self) -> Result<Proxy> {
        let addr = Address::parse(&self.name, self.path.as_deref(), self.interface.as_deref())?;
        let timeout = self.timeout;
        let setup = async move {
            let conn = self.bus.connect().await?;
            if !has_owner(&conn, &addr.name).await? {
                return Err(Error::NoSuchService(format!(
                    "nobody owns {} on the bus (is the service running?)",
                    addr.name
                )));
            }
            let proxy = zbus::proxy::Builder::<zbus::Proxy<'static>>::new(&conn)
                .destination(addr.name.clone())
                .and_then(|b| b.path(addr.path.clone()))
                .and_then(|b| b.interface(addr.interface.clone()))
                .map_err(bus_error)?
                .cache_properties(CacheProperties::No)
                .build()
                .await
                .map_err(bus_error)?;
            Ok(Proxy {
                inner: Arc::new(Inner {
                    proxy,
                    addr,
                    timeout,
                    forwarders: Mutex::new(Vec::new()),
                }),
            })
        };
        within(timeout, setup).await
    }
}

/// A service on the bus, seen from a client. Cheap to clone; `Send` and
/// `Sync`. Signals forwarded to [`qi::Signal`]s stop when the last clone
/// is dropped.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

struct Inner {
    proxy: zbus::Proxy<'static>,
    addr: Address,
    timeout: Duration,
    forwarders: Mutex<Vec<AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for f in lock(&self.forwarders).drain(..) {
            f.cancel();
        }
    }
}

impl Proxy {
    /// The service name.
    pub fn name(&self) -> &str {
        self.inner.addr.name.as_str()
    }

    /// The zbus proxy underneath, for what this one does not cover.
    pub fn zbus(&self) -> &zbus::Proxy<'static> {
        &self.inner.proxy
    }

    /// Calls `method` with `args` (a tuple: `&()` for none, `&(x,)` for
    /// one) and gives its reply as `R`.
    ///
    /// Errors: [`Error::Remote`] for the service's own error,
    /// [`Error::PossibleDeadlock`] when a single-threaded service could not
    /// take the call in time, [`Error::PeerVanished`] when the service went
    /// away first, [`Error::Timeout`] past the proxy's time-out.
    pub async fn call<R>(&self, method: &str, args: &(impl Serialize + Type + Sync)) -> Result<R>
    where
        R: DeserializeOwned + Type,
    {
        let member = member_name(method)?;
        let call = self.inner.proxy.call_method(member, args);
        let reply: Message = within(self.inner.timeout, call.map(|r| r.map_err(bus_error)))
            .await
            .map_err(|e| self.context(method, e))?;
        reply.body().deserialize::<R>().map_err(|e| {
            Error::Bus(BusError::new(format!(
                "the reply of {}.{method} has signature '{}', expected '{}': {e}",
                self.name(),
                reply.body().signature(),
                R::SIGNATURE
            )))
        })
    }

    /// [`call`](Self::call) as a libqi future, for callers that prefer
    /// `value()`, `then` and callbacks. It runs on zbus's own thread, so
    /// any thread may wait on it (except a loop thread: await it there).
    pub fn call_future<A, R>(&self, method: &str, args: A) -> qi::Future<R>
    where
        A: Serialize + Type + Send + Sync + 'static,
        R: DeserializeOwned + Type + Clone + Send + 'static,
    {
        let promise = qi::Promise::with_on_cancel(|p: &qi::Promise<R>| {
            let _ = p.set_canceled();
        });
        let fut = promise.future();
        let (this, method) = (self.clone(), method.to_owned());
        let run = async move {
            // A cancelled future refuses the value: nothing to do then.
            let _ = match this.call::<R>(&method, &args).await {
                Ok(v) => promise.set_value(v),
                Err(e) => promise.set_error(e.to_string()),
            };
        };
        self.inner
            .proxy
            .connection()
            .executor()
            .spawn(run, "qtloop call_future")
            .detach();
        fut
    }

    /// The signal `name` as a stream of its arguments `T`; an emission
    /// whose arguments are not a `T` gives an `Err`.
    ///
    /// Emissions are taken off the connection as they arrive and queued
    /// here (unbounded, like a Qt queued connection): a stream that is not
    /// polled for a while never stalls the proxy's calls.
    pub async fn signal_stream<T>(&self, name: &str) -> Result<SignalStream<T>>
    where
        T: DeserializeOwned + Type,
    {
        let member = member_name(name)?.into_owned();
        let mut inner = self
            .inner
            .proxy
            .receive_signal(member)
            .await
            .map_err(bus_error)?;
        let (tx, rx) = mpsc::unbounded();
        let pump = async move {
            while let Some(msg) = inner.next().await {
                if tx.unbounded_send(msg).is_err() {
                    break;
                }
            }
        };
        let pump = self
            .inner
            .proxy
            .connection()
            .executor()
            .spawn(pump, "qtloop signal pump");
        Ok(SignalStream {
            rx,
            _pump: pump,
            name: name.to_owned(),
            _t: std::marker::PhantomData,
        })
    }

    /// The signal `name` as a [`qi::Signal`] whose subscribers run on this
    /// thread's loop. It is fed until the last clone of the proxy is
    /// dropped; emissions that are not a `T` are logged and skipped.
    pub async fn signal<T>(&self, name: &str) -> Result<qi::Signal<T>>
    where
        T: DeserializeOwned + Type + Clone + Send + 'static,
    {
        let lp = get_event_loop()?;
        let mut stream = self.signal_stream::<T>(name).await?;
        let sig = qi::Signal::with_home(Some(lp.handle()));
        let out = sig.clone();
        let task = lp.create_task(async move {
            while let Some(v) = stream.next().await {
                match v {
                    Ok(v) => out.emit(v),
                    Err(e) => log::warn!("{e}"),
                }
            }
        });
        lock(&self.inner.forwarders).push(task.abort_handle());
        task.detach();
        Ok(sig)
    }

    /// Names the service and method in errors that would not say it.
    fn context(&self, method: &str, e: Error) -> Error {
        let at = format!("{}.{method}", self.name());
        match e {
            Error::PeerVanished(m) => Error::PeerVanished(format!("{at}: {m}")),
            Error::NoSuchService(m) => Error::NoSuchService(format!("{at}: {m}")),
            Error::Bus(m) => Error::Bus(m.context(&at)),
            e => e,
        }
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("name", &self.name())
            .field("path", &self.inner.addr.path.as_str())
            .finish()
    }
}

/// A signal of a service as a `Stream` of its arguments
/// ([`Proxy::signal_stream`]). Dropping it unsubscribes.
pub struct SignalStream<T> {
    rx: mpsc::UnboundedReceiver<Message>,
    /// Moves emissions from zbus's bounded queue to `rx`; dropped, it
    /// unsubscribes.
    _pump: zbus::Task<()>,
    name: String,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + Type> Stream for SignalStream<T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        let msg = match self.rx.poll_next_unpin(cx) {
            Poll::Ready(Some(msg)) => msg,
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        let item = msg.body().deserialize::<T>().map_err(|e| {
            Error::Bus(BusError::new(format!(
                "signal {} carried '{}', expected '{}': {e}",
                self.name,
                msg.body().signature(),
                T::SIGNATURE
            )))
        });
        Poll::Ready(Some(item))
    }
}

/// `fut`, or [`Error::Timeout`] after `limit`; the timer runs on async-io's
/// thread, so this works on any executor.
async fn within<T>(limit: Duration, fut: impl Future<Output = Result<T>>) -> Result<T> {
    let fut = std::pin::pin!(fut);
    match future::select(fut, async_io::Timer::after(limit)).await {
        Either::Left((r, _)) => r,
        Either::Right(_) => Err(Error::Timeout),
    }
}
