//! The serving side: the two builders (single- and multi-threaded), their
//! members and signals, registration, and the registered [`Service`]. How
//! calls are answered is in `dispatch.rs`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::FutureExt;
use serde::{de::DeserializeOwned, Serialize};
use zbus::zvariant::Type;
use zbus::{Connection, Message, MessageStream};

use super::dispatch::{
    answer, answer_when_done, args, dispatcher, route, send_in_order, Dispatch, LocalDispatch,
    LocalHandler, Reply, SharedDispatch, SharedHandler,
};
use super::introspect::{self, Member};
use super::{member_name, Address, Bus, MethodError, DEFAULT_LOCK_TIMEOUT};
use crate::error::{Error, Result};
use crate::executor::ThreadPoolExecutor;
use crate::get_event_loop;
use crate::qi;

/// Connects a declared signal to the bus at registration; gives back what
/// disconnects it.
type SignalHook =
    Box<dyn FnOnce(Arc<Address>, mpsc::UnboundedSender<Message>) -> Box<dyn FnOnce() + Send>>;

/// What both builders share: names, bus, members, signals.
struct Spec {
    name: String,
    path: Option<String>,
    interface: Option<String>,
    bus: Bus,
    members: Vec<Member>,
    signals: Vec<SignalHook>,
    /// The first bad member name, reported by `register`.
    bad: Option<Error>,
}

impl Spec {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            path: None,
            interface: None,
            bus: Bus::Session,
            members: Vec::new(),
            signals: Vec::new(),
            bad: None,
        }
    }

    fn add_member(&mut self, member: Member) {
        if let Err(e) = member_name(&member.name) {
            self.bad.get_or_insert(e);
        } else if self.members.iter().any(|m| m.name == member.name) {
            self.bad
                .get_or_insert(Error::DuplicateName(format!("member '{}'", member.name)));
        }
        self.members.push(member);
    }

    fn signal<T>(&mut self, name: &str) -> qi::Signal<T>
    where
        T: Serialize + Type + Clone + Send + Sync + 'static,
    {
        self.add_member(Member::signal(name, T::SIGNATURE));
        let sig = qi::Signal::<T>::with_home(None);
        let (s, member) = (sig.clone(), name.to_owned());
        self.signals.push(Box::new(move |addr, out| {
            let link = s.connect(move |value: &T| {
                let msg = Message::signal(&addr.path, &addr.interface, member.as_str())
                    .and_then(|b| b.build(value));
                match msg {
                    Ok(msg) => {
                        let _ = out.unbounded_send(msg);
                    }
                    Err(e) => log::error!("signal {member} not sent: {e}"),
                }
            });
            Box::new(move || {
                s.disconnect(link);
            })
        }));
        sig
    }

    /// Connects, starts the router, claims the name. Calls that arrive
    /// before the name is ours cannot exist, so none is lost.
    async fn serve(self, dispatch: Arc<dyn Dispatch>) -> Result<Service> {
        if let Some(e) = self.bad {
            return Err(e);
        }
        let addr = Arc::new(Address::parse(
            &self.name,
            self.path.as_deref(),
            self.interface.as_deref(),
        )?);
        let conn = self.bus.connect().await?;
        let xml = introspect::xml(&addr.interface, &self.members);
        // Replies and signals leave through one queue, so a signal emitted
        // by a handler reaches the caller before the handler's reply.
        let (out, rx) = mpsc::unbounded();
        let emitter = conn
            .executor()
            .spawn(send_in_order(conn.clone(), rx), "qtloop service sender");
        let stream = MessageStream::from(&conn);
        let router = conn.executor().spawn(
            route(
                stream,
                conn.clone(),
                out.clone(),
                addr.clone(),
                Arc::new(xml),
                dispatch,
            ),
            "qtloop service router",
        );
        let disconnects = self
            .signals
            .into_iter()
            .map(|hook| hook(addr.clone(), out.clone()))
            .collect();
        // From here on, dropping `service` undoes all of the above.
        let service = Service {
            conn,
            addr,
            _router: router,
            _emitter: emitter,
            disconnects,
        };
        let flags = zbus::fdo::RequestNameFlags::DoNotQueue.into();
        match service
            .connection()
            .request_name_with_flags(service.addr.name.clone(), flags)
            .await
        {
            Ok(zbus::fdo::RequestNameReply::PrimaryOwner) => Ok(service),
            Ok(_) | Err(zbus::Error::NameTaken) => Err(Error::DuplicateName(format!(
                "the service name {} is owned by another connection",
                service.addr.name
            ))),
            Err(e) => Err(super::bus_error(e)),
        }
    }
}

/// Builds a **single-threaded** service: its state lives on the loop thread
/// that calls [`register`](Self::register), and its handlers run there one
/// at a time with `&mut S` (libqi's default threading).
///
/// Methods take their arguments as a tuple (`()` for none, `(x,)` for one)
/// and return `Result<R, MethodError>`; any `String` or `&str` error becomes
/// `org.freedesktop.DBus.Error.Failed`.
pub struct ServiceBuilder<S> {
    spec: Spec,
    state: S,
    handlers: HashMap<String, LocalHandler<S>>,
    lock_timeout: Option<Duration>,
}

/// Builds a **multi-threaded** service: `Arc<S>` is shared and calls run in
/// parallel on a thread pool (libqi's `qi.multiThreaded()`); protect the
/// state yourself.
pub struct MultiThreadedBuilder<S> {
    spec: Spec,
    state: Arc<S>,
    handlers: HashMap<String, SharedHandler<S>>,
    pool: Option<ThreadPoolExecutor>,
}

/// The builder methods both kinds share.
macro_rules! common_builder_methods {
    () => {
        /// Serves the object at `path` instead of the one made from the name.
        pub fn path(&mut self, path: &str) -> &mut Self {
            self.spec.path = Some(path.to_owned());
            self
        }

        /// Uses the interface name `interface` instead of the service name.
        pub fn interface(&mut self, interface: &str) -> &mut Self {
            self.spec.interface = Some(interface.to_owned());
            self
        }

        /// Uses `bus` instead of the session bus.
        pub fn bus(&mut self, bus: Bus) -> &mut Self {
            self.spec.bus = bus;
            self
        }

        /// Declares the signal `name` and gives the [`qi::Signal`] that
        /// publishes it: each `emit` is sent on the bus, in order, once the
        /// service is registered.
        pub fn signal<T>(&mut self, name: &str) -> qi::Signal<T>
        where
            T: Serialize + Type + Clone + Send + Sync + 'static,
        {
            self.spec.signal(name)
        }
    };
}

impl<S: 'static> ServiceBuilder<S> {
    /// A single-threaded service named `name` (e.g. `org.example.Foo`)
    /// around `state`.
    pub fn new(name: &str, state: S) -> Self {
        Self {
            spec: Spec::new(name),
            state,
            handlers: HashMap::new(),
            lock_timeout: Some(DEFAULT_LOCK_TIMEOUT),
        }
    }

    /// A multi-threaded service named `name` around `state`.
    pub fn multi_threaded(name: &str, state: S) -> MultiThreadedBuilder<S>
    where
        S: Send + Sync,
    {
        MultiThreadedBuilder {
            spec: Spec::new(name),
            state: Arc::new(state),
            handlers: HashMap::new(),
            pool: None,
        }
    }

    common_builder_methods!();

    /// How long a call may wait for the object before it is answered with
    /// `org.qtloop.Error.PossibleDeadlock`; `None` waits for ever.
    pub fn lock_timeout(&mut self, timeout: Option<Duration>) -> &mut Self {
        self.lock_timeout = timeout;
        self
    }

    /// A method that runs on the loop thread and answers when it returns
    /// (libqi's blocking `bar`).
    pub fn method<A, R, F>(&mut self, name: &str, mut f: F) -> &mut Self
    where
        A: DeserializeOwned + Type,
        R: Serialize + Type,
        F: FnMut(&mut S, A) -> std::result::Result<R, MethodError> + 'static,
    {
        self.spec
            .add_member(Member::method(name, A::SIGNATURE, R::SIGNATURE));
        let h = move |s: &mut S, msg: &Message| -> Reply { answer(msg, f(s, args(msg)?)) };
        self.handlers
            .insert(name.to_owned(), LocalHandler::Sync(Box::new(h)));
        self
    }

    /// A method that returns a future: the object is free again as soon as
    /// the handler returns, and the reply goes when the future finishes
    /// (an asynchronous method, libqi's `betterBar`). The future runs as a
    /// task on the loop.
    pub fn async_method<A, R, F, Fut>(&mut self, name: &str, mut f: F) -> &mut Self
    where
        A: DeserializeOwned + Type,
        R: Serialize + Type + 'static,
        F: FnMut(&mut S, A) -> Fut + 'static,
        Fut: Future<Output = std::result::Result<R, MethodError>> + 'static,
    {
        self.spec
            .add_member(Member::method(name, A::SIGNATURE, R::SIGNATURE));
        let h = move |s: &mut S, msg: &Message| {
            Ok(answer_when_done(msg.clone(), f(s, args(msg)?)).boxed_local())
        };
        self.handlers
            .insert(name.to_owned(), LocalHandler::Async(Box::new(h)));
        self
    }

    /// Puts the service on the bus under its name. Call it from a task of
    /// the loop that is to run the handlers.
    pub async fn register(self) -> Result<Service> {
        let lp = get_event_loop()?;
        let (calls, rx) = mpsc::unbounded();
        let name = self.spec.name.clone();
        let names = self.handlers.keys().cloned().collect();
        let dispatcher = lp.create_task(dispatcher(self.state, self.handlers, rx, name));
        dispatcher.detach();
        let dispatch = Arc::new(LocalDispatch {
            names,
            calls,
            lock_timeout: self.lock_timeout,
        });
        self.spec.serve(dispatch).await
    }
}

impl<S: Send + Sync + 'static> MultiThreadedBuilder<S> {
    common_builder_methods!();

    /// Runs the calls on `pool` instead of a pool of its own (of
    /// [`ThreadPoolExecutor::default_max_workers`] threads).
    pub fn executor(&mut self, pool: ThreadPoolExecutor) -> &mut Self {
        self.pool = Some(pool);
        self
    }

    /// A method that runs on a pool thread; calls run in parallel.
    pub fn method<A, R, F>(&mut self, name: &str, f: F) -> &mut Self
    where
        A: DeserializeOwned + Type,
        R: Serialize + Type,
        F: Fn(&S, A) -> std::result::Result<R, MethodError> + Send + Sync + 'static,
    {
        self.spec
            .add_member(Member::method(name, A::SIGNATURE, R::SIGNATURE));
        let h = move |s: &S, msg: &Message| -> Reply { answer(msg, f(s, args(msg)?)) };
        self.handlers
            .insert(name.to_owned(), SharedHandler::Sync(Arc::new(h)));
        self
    }

    /// A method that returns a future, run as a task on the loop that
    /// registered the service; no thread waits for it.
    pub fn async_method<A, R, F, Fut>(&mut self, name: &str, f: F) -> &mut Self
    where
        A: DeserializeOwned + Type,
        R: Serialize + Type + Send + 'static,
        F: Fn(&S, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<R, MethodError>> + Send + 'static,
    {
        self.spec
            .add_member(Member::method(name, A::SIGNATURE, R::SIGNATURE));
        let h =
            move |s: &S, msg: &Message| Ok(answer_when_done(msg.clone(), f(s, args(msg)?)).boxed());
        self.handlers
            .insert(name.to_owned(), SharedHandler::Async(Arc::new(h)));
        self
    }

    /// Puts the service on the bus under its name. Call it from a task of a
    /// loop: async handlers and panic reports go to that loop.
    pub async fn register(self) -> Result<Service> {
        let home = get_event_loop()?.handle();
        let pool = self.pool.unwrap_or_default();
        let dispatch = Arc::new(SharedDispatch {
            state: self.state,
            handlers: self.handlers,
            pool,
            home,
            name: self.spec.name.clone(),
        });
        self.spec.serve(dispatch).await
    }
}

/// A registered service. It stays on the bus until this is dropped (or
/// [`unregister`](Self::unregister)ed); then its name is released and its
/// state dropped on its loop. If that loop closes first, calls are answered
/// `org.qtloop.Error.ServiceClosed` at once.
pub struct Service {
    conn: Connection,
    addr: Arc<Address>,
    _router: zbus::Task<()>,
    _emitter: zbus::Task<()>,
    disconnects: Vec<Box<dyn FnOnce() + Send>>,
}

impl Service {
    /// The well-known name it is registered under.
    pub fn name(&self) -> &str {
        self.addr.name.as_str()
    }

    /// The object path it serves.
    pub fn path(&self) -> &str {
        self.addr.path.as_str()
    }

    /// The zbus connection it is served on (its unique name, for instance).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Releases the name and waits until the bus has taken it back. Calls
    /// still in flight fail for their callers ([`Error::PeerVanished`]).
    pub async fn unregister(self) -> Result<()> {
        self.conn
            .release_name(self.addr.name.clone())
            .await
            .map_err(super::bus_error)?;
        Ok(())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        for d in self.disconnects.drain(..) {
            d();
        }
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.name())
            .field("path", &self.path())
            .finish()
    }
}
