//! The serving side: the builder, the router on zbus's executor thread
//! (names, introspection, the lock time-out, replies) and the dispatcher on
//! the loop thread (single-threaded handlers).
//!
//! A call travels: zbus's socket reader → [`route`] (zbus's thread) → the
//! dispatcher task on the loop thread, or the thread pool → a reply
//! [`Message`] built where the handler ran → back to zbus's thread, which
//! sends it. The loop thread never does I/O, and a stuck loop thread cannot
//! stop the time-out from being answered.

use std::collections::HashMap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::future::{self, BoxFuture, Either, FutureExt, LocalBoxFuture};
use futures::StreamExt;
use serde::{de::DeserializeOwned, Serialize};
use zbus::message::{Flags, Type as MessageType};
use zbus::zvariant::Type;
use zbus::{Connection, Message, MessageStream};

use super::introspect::{self, Member};
use super::{
    member_name, Address, Bus, MethodError, DEFAULT_LOCK_TIMEOUT, PANICKED, POSSIBLE_DEADLOCK,
    SERVICE_CLOSED,
};
use crate::error::{panic_message, Error, Result};
use crate::executor::ThreadPoolExecutor;
use crate::qi;
use crate::runtime::exception::{report, ExceptionContext};
use crate::{get_event_loop, LoopHandle, Task};

type Reply = std::result::Result<Message, MethodError>;
type LocalSync<S> = Box<dyn FnMut(&mut S, &Message) -> Reply>;
type LocalAsync<S> = Box<
    dyn FnMut(&mut S, &Message) -> std::result::Result<LocalBoxFuture<'static, Reply>, MethodError>,
>;
type SharedSync<S> = Arc<dyn Fn(&S, &Message) -> Reply + Send + Sync>;
type SharedAsync<S> = Arc<
    dyn Fn(&S, &Message) -> std::result::Result<BoxFuture<'static, Reply>, MethodError>
        + Send
        + Sync,
>;

enum LocalHandler<S> {
    Sync(LocalSync<S>),
    Async(LocalAsync<S>),
}

enum SharedHandler<S> {
    Sync(SharedSync<S>),
    Async(SharedAsync<S>),
}

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
            conn: Some(conn),
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
    /// (libqi's `betterBar`). The future runs as a task on the loop.
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
            let fut = f(s, args(msg)?);
            let msg = msg.clone();
            Ok(async move { answer(&msg, fut.await) }.boxed_local())
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
        let h = move |s: &S, msg: &Message| {
            let fut = f(s, args(msg)?);
            let msg = msg.clone();
            Ok(async move { answer(&msg, fut.await) }.boxed())
        };
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
/// state dropped on its loop.
pub struct Service {
    conn: Option<Connection>,
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
        self.conn.as_ref().expect("the connection lives until drop")
    }

    /// Releases the name and waits until the bus has taken it back; calls
    /// still queued are answered `org.qtloop.Error.ServiceClosed`.
    pub async fn unregister(mut self) -> Result<()> {
        let conn = self.conn.take().expect("the connection lives until drop");
        conn.release_name(self.addr.name.clone())
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

/// The method's arguments, or `InvalidArgs`.
fn args<A: DeserializeOwned + Type>(msg: &Message) -> std::result::Result<A, MethodError> {
    msg.body().deserialize::<A>().map_err(|e| {
        MethodError::new(
            "org.freedesktop.DBus.Error.InvalidArgs",
            format!(
                "expected arguments '{}', got '{}' ({e})",
                A::SIGNATURE,
                msg.body().signature()
            ),
        )
    })
}

/// The reply to `call` carrying `result`.
fn answer<R: Serialize + Type>(
    call: &Message,
    result: std::result::Result<R, MethodError>,
) -> Reply {
    let value = result?;
    Message::method_return(&call.header())
        .and_then(|b| b.build(&value))
        .map_err(|e| MethodError::failed(format!("the reply could not be encoded: {e}")))
}

/// Where the router sends a call that names one of the service's methods.
trait Dispatch: Send + Sync + 'static {
    fn has(&self, member: &str) -> bool;
    /// Starts the call; the future gives its reply.
    fn dispatch(&self, msg: Message) -> BoxFuture<'static, Reply>;
}

/// The single-threaded object: calls go to its dispatcher task.
struct LocalDispatch {
    /// The methods, so unknown ones are answered without the object.
    names: std::collections::HashSet<String>,
    calls: mpsc::UnboundedSender<Call>,
    lock_timeout: Option<Duration>,
}

/// A call on its way to the loop thread. `claim` is `WAITING` until either
/// the dispatcher takes it (`TAKEN`) or the lock time-out answers it
/// (`TIMED_OUT`); whoever swaps first wins.
struct Call {
    msg: Message,
    claim: Arc<AtomicU8>,
    reply: oneshot::Sender<Reply>,
}

const WAITING: u8 = 0;
const TAKEN: u8 = 1;
const TIMED_OUT: u8 = 2;

fn try_claim(claim: &AtomicU8, to: u8) -> bool {
    claim
        .compare_exchange(WAITING, to, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

impl Dispatch for LocalDispatch {
    fn has(&self, member: &str) -> bool {
        self.names.contains(member)
    }

    fn dispatch(&self, msg: Message) -> BoxFuture<'static, Reply> {
        let claim = Arc::new(AtomicU8::new(WAITING));
        let (tx, rx) = oneshot::channel();
        let member = member_of(&msg);
        let closed = || {
            MethodError::new(
                SERVICE_CLOSED,
                "the service was closed before it answered".to_owned(),
            )
        };
        let call = Call {
            msg,
            claim: claim.clone(),
            reply: tx,
        };
        if self.calls.unbounded_send(call).is_err() {
            return future::ready(Err(closed())).boxed();
        }
        let Some(limit) = self.lock_timeout else {
            return rx.map(move |r| r.unwrap_or_else(|_| Err(closed()))).boxed();
        };
        async move {
            let timer = async_io::Timer::after(limit);
            let reply = match future::select(rx, timer).await {
                Either::Left((r, _)) => r,
                Either::Right((_, rx)) => {
                    if try_claim(&claim, TIMED_OUT) {
                        return Err(MethodError::new(
                            POSSIBLE_DEADLOCK,
                            format!(
                                "Time-out acquiring object lock when calling method '{member}' \
                                 (waited {} ms for the single-threaded object). Deadlock?",
                                limit.as_millis()
                            ),
                        ));
                    }
                    rx.await
                }
            };
            reply.unwrap_or_else(|_| Err(closed()))
        }
        .boxed()
    }
}

/// The single-threaded object's task on the loop thread: takes the calls
/// in order, one at a time.
async fn dispatcher<S>(
    mut state: S,
    mut handlers: HashMap<String, LocalHandler<S>>,
    mut calls: mpsc::UnboundedReceiver<Call>,
    service: String,
) {
    while let Some(call) = calls.next().await {
        if !try_claim(&call.claim, TAKEN) {
            continue; // answered by the lock time-out
        }
        let member = member_of(&call.msg);
        let Some(handler) = handlers.get_mut(&member) else {
            let _ = call.reply.send(Err(unknown_method(&member, &call.msg)));
            continue;
        };
        let what = format!("{service}.{member}");
        match handler {
            LocalHandler::Sync(f) => {
                let r = guard(&what, || f(&mut state, &call.msg));
                let _ = call.reply.send(r);
            }
            LocalHandler::Async(f) => match guard(&what, || f(&mut state, &call.msg)) {
                Ok(fut) => {
                    let reply = call.reply;
                    crate::spawn_local(async move {
                        let r = AssertUnwindSafe(fut).catch_unwind().await;
                        let _ = reply.send(r.unwrap_or_else(|p| Err(panicked(&what, &*p, None))));
                    })
                    .detach();
                }
                Err(e) => {
                    let _ = call.reply.send(Err(e));
                }
            },
        }
    }
}

/// The multi-threaded object: calls go to the pool (or, async, the loop).
struct SharedDispatch<S> {
    state: Arc<S>,
    handlers: HashMap<String, SharedHandler<S>>,
    pool: ThreadPoolExecutor,
    home: LoopHandle,
    name: String,
}

impl<S: Send + Sync + 'static> Dispatch for SharedDispatch<S> {
    fn has(&self, member: &str) -> bool {
        self.handlers.contains_key(member)
    }

    fn dispatch(&self, msg: Message) -> BoxFuture<'static, Reply> {
        let member = member_of(&msg);
        let what = format!("{}.{member}", self.name);
        let home = Some(self.home.clone());
        let Some(handler) = self.handlers.get(&member) else {
            return future::ready(Err(unknown_method(&member, &msg))).boxed();
        };
        match handler {
            SharedHandler::Sync(f) => {
                let (f, state) = (f.clone(), self.state.clone());
                let job = self.pool.submit(move || {
                    catch_unwind(AssertUnwindSafe(|| f(&state, &msg)))
                        .unwrap_or_else(|p| Err(panicked(&what, &*p, home)))
                });
                job.map(|r| r.unwrap_or_else(|e| Err(MethodError::failed(e.to_string()))))
                    .boxed()
            }
            SharedHandler::Async(f) => {
                match catch_unwind(AssertUnwindSafe(|| f(&self.state, &msg))) {
                    Ok(Ok(fut)) => {
                        let task: Task<Reply> = self.home.spawn(async move {
                            let r = AssertUnwindSafe(fut).catch_unwind().await;
                            r.unwrap_or_else(|p| Err(panicked(&what, &*p, None)))
                        });
                        task.map(|r| r.unwrap_or_else(|e| Err(MethodError::failed(e.to_string()))))
                            .boxed()
                    }
                    Ok(Err(e)) => future::ready(Err(e)).boxed(),
                    Err(p) => future::ready(Err(panicked(&what, &*p, home))).boxed(),
                }
            }
        }
    }
}

/// Runs a handler; a panic goes to the loop's exception handler and
/// becomes an `org.qtloop.Error.Panicked` reply.
fn guard<T>(
    what: &str,
    f: impl FnOnce() -> std::result::Result<T, MethodError>,
) -> std::result::Result<T, MethodError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panicked(what, &*p, None)))
}

/// Reports a handler's panic (on `home`'s loop, or this thread's) and
/// gives the error the caller gets.
fn panicked(
    what: &str,
    payload: &(dyn std::any::Any + Send),
    home: Option<LoopHandle>,
) -> MethodError {
    let message = panic_message(payload);
    let ctx = ExceptionContext {
        panic: Some(message.clone()),
        ..ExceptionContext::new(format!("Exception in service method {what}"))
    };
    match home {
        Some(h) => {
            if h.call_soon_threadsafe(move || report(ctx)).is_err() {
                log::error!("service method {what} panicked: {message}");
            }
        }
        None => report(ctx),
    }
    MethodError::new(PANICKED, format!("{what} panicked: {message}"))
}

fn member_of(msg: &Message) -> String {
    msg.header()
        .member()
        .map_or_else(String::new, |m| m.to_string())
}

fn unknown_method(member: &str, msg: &Message) -> MethodError {
    let h = msg.header();
    let iface = h.interface().map_or_else(String::new, |i| i.to_string());
    MethodError::new(
        "org.freedesktop.DBus.Error.UnknownMethod",
        format!("no method '{member}' in interface '{iface}'"),
    )
}

/// Runs on zbus's executor thread: answers what it can itself (wrong
/// object, introspection, Peer), hands the rest to `dispatch`, and queues
/// the replies on `out`.
async fn route(
    mut stream: MessageStream,
    conn: Connection,
    out: mpsc::UnboundedSender<Message>,
    addr: Arc<Address>,
    xml: Arc<String>,
    dispatch: Arc<dyn Dispatch>,
) {
    while let Some(msg) = stream.next().await {
        let Ok(msg) = msg else { continue };
        if msg.message_type() != MessageType::MethodCall {
            continue;
        }
        let reply: BoxFuture<'static, Reply> = {
            let h = msg.header();
            let member = h.member().map_or("", |m| m.as_str());
            let iface = h.interface().map(|i| i.as_str());
            if h.path() != Some(&addr.path) {
                let path = h.path().map_or_else(String::new, |p| p.to_string());
                future::ready(Err(MethodError::new(
                    "org.freedesktop.DBus.Error.UnknownObject",
                    format!("no object at '{path}' (this service serves {})", addr.path),
                )))
                .boxed()
            } else if iface == Some("org.freedesktop.DBus.Introspectable") && member == "Introspect"
            {
                future::ready(answer(&msg, Ok(xml.as_str()))).boxed()
            } else if iface == Some("org.freedesktop.DBus.Peer") && member == "Ping" {
                future::ready(answer(&msg, Ok(()))).boxed()
            } else if iface.is_some_and(|i| i != addr.interface.as_str()) || !dispatch.has(member) {
                future::ready(Err(unknown_method(member, &msg))).boxed()
            } else {
                dispatch.dispatch(msg.clone())
            }
        };
        conn.executor()
            .spawn(send_reply(out.clone(), msg, reply), "qtloop service reply")
            .detach();
    }
}

/// Queues the reply to `call` (unless the caller asked for none).
async fn send_reply(
    out: mpsc::UnboundedSender<Message>,
    call: Message,
    reply: BoxFuture<'static, Reply>,
) {
    let reply = match reply.await {
        Ok(m) => Ok(m),
        Err(e) => {
            // A handler's own error name may be malformed: then it is sent
            // as Failed, with the name kept in the message.
            match Message::error(&call.header(), e.name.as_str()) {
                Ok(b) => b.build(&(e.message,)),
                Err(_) => Message::error(&call.header(), super::FAILED)
                    .and_then(|b| b.build(&(e.to_string(),))),
            }
        }
    };
    if call
        .primary_header()
        .flags()
        .contains(Flags::NoReplyExpected)
    {
        return;
    }
    match reply {
        Ok(m) => {
            // Fails only once the service is dropped: the bus then tells the
            // caller that the service went away.
            let _ = out.unbounded_send(m);
        }
        Err(e) => log::error!("a service reply could not be built: {e}"),
    }
}

/// Sends replies and signals in the order they were queued.
async fn send_in_order(conn: Connection, mut rx: mpsc::UnboundedReceiver<Message>) {
    while let Some(msg) = rx.next().await {
        if let Err(e) = conn.send(&msg).await {
            log::warn!("a service message was not sent: {e}");
        }
    }
}
