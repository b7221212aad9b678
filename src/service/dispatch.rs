//! How a call is answered: the router on zbus's executor thread (names,
//! introspection, the lock time-out, the ordered queue of replies and
//! signals), the single-threaded object's dispatcher task on the loop
//! thread, and the multi-threaded object's hand-off to the pool.
//!
//! A call travels: zbus's socket reader → [`route`] (zbus's thread) → the
//! dispatcher task on the loop thread, or the thread pool → a reply
//! [`Message`] built where the handler ran → back to zbus's thread, which
//! queues it behind the signals the handler emitted. The loop thread never
//! does I/O, and a stuck loop thread cannot stop the time-out from being
//! answered.

use std::collections::{HashMap, HashSet};
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

use super::{Address, MethodError, FAILED, PANICKED, POSSIBLE_DEADLOCK, SERVICE_CLOSED};
use crate::error::panic_message;
use crate::executor::ThreadPoolExecutor;
use crate::runtime::exception::ExceptionContext;
use crate::runtime::report::report;
use crate::{LoopHandle, Task};

pub(super) type Reply = std::result::Result<Message, MethodError>;
pub(super) type LocalSync<S> = Box<dyn FnMut(&mut S, &Message) -> Reply>;
pub(super) type LocalAsync<S> = Box<
    dyn FnMut(&mut S, &Message) -> std::result::Result<LocalBoxFuture<'static, Reply>, MethodError>,
>;
pub(super) type SharedSync<S> = Arc<dyn Fn(&S, &Message) -> Reply + Send + Sync>;
pub(super) type SharedAsync<S> = Arc<
    dyn Fn(&S, &Message) -> std::result::Result<BoxFuture<'static, Reply>, MethodError>
        + Send
        + Sync,
>;

pub(super) enum LocalHandler<S> {
    Sync(LocalSync<S>),
    Async(LocalAsync<S>),
}

pub(super) enum SharedHandler<S> {
    Sync(SharedSync<S>),
    Async(SharedAsync<S>),
}

/// The method's arguments, or `InvalidArgs`.
pub(super) fn args<A: DeserializeOwned + Type>(
    msg: &Message,
) -> std::result::Result<A, MethodError> {
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
pub(super) fn answer<R: Serialize + Type>(
    call: &Message,
    result: std::result::Result<R, MethodError>,
) -> Reply {
    let value = result?;
    Message::method_return(&call.header())
        .and_then(|b| b.build(&value))
        .map_err(|e| MethodError::failed(format!("the reply could not be encoded: {e}")))
}

/// The reply to `call`, once `fut` (an async handler's future) finishes.
pub(super) async fn answer_when_done<R: Serialize + Type>(
    call: Message,
    fut: impl std::future::Future<Output = std::result::Result<R, MethodError>>,
) -> Reply {
    answer(&call, fut.await)
}

/// Where the router sends a call to the service's interface.
pub(super) trait Dispatch: Send + Sync + 'static {
    /// Starts the call to `member`; the future gives its reply. `None`
    /// when the service has no such method.
    fn dispatch(&self, member: &str, msg: Message) -> Option<BoxFuture<'static, Reply>>;
}

/// The single-threaded object: calls go to its dispatcher task.
pub(super) struct LocalDispatch {
    /// The methods, so unknown ones are answered without the object.
    pub(super) names: HashSet<String>,
    pub(super) calls: mpsc::UnboundedSender<Call>,
    pub(super) lock_timeout: Option<Duration>,
}

/// A call on its way to the loop thread. `claim` is `WAITING` until either
/// the dispatcher takes it (`TAKEN`) or the lock time-out answers it
/// (`TIMED_OUT`); whoever swaps first wins.
pub(super) struct Call {
    msg: Message,
    member: String,
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
    fn dispatch(&self, member: &str, msg: Message) -> Option<BoxFuture<'static, Reply>> {
        if !self.names.contains(member) {
            return None;
        }
        let claim = Arc::new(AtomicU8::new(WAITING));
        let (tx, rx) = oneshot::channel();
        let member = member.to_owned();
        let closed = || {
            MethodError::new(
                SERVICE_CLOSED,
                "the service was closed before it answered".to_owned(),
            )
        };
        let call = Call {
            msg,
            member: member.clone(),
            claim: claim.clone(),
            reply: tx,
        };
        if self.calls.unbounded_send(call).is_err() {
            return Some(future::ready(Err(closed())).boxed());
        }
        let Some(limit) = self.lock_timeout else {
            return Some(rx.map(move |r| r.unwrap_or_else(|_| Err(closed()))).boxed());
        };
        let reply = async move {
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
        };
        Some(reply.boxed())
    }
}

/// The single-threaded object's task on the loop thread: takes the calls
/// in order, one at a time.
pub(super) async fn dispatcher<S>(
    mut state: S,
    mut handlers: HashMap<String, LocalHandler<S>>,
    mut calls: mpsc::UnboundedReceiver<Call>,
    service: String,
) {
    while let Some(call) = calls.next().await {
        if !try_claim(&call.claim, TAKEN) {
            continue; // answered by the lock time-out
        }
        let Call {
            msg, member, reply, ..
        } = call;
        // The router only passes the methods in `handlers`.
        let Some(handler) = handlers.get_mut(&member) else {
            let _ = reply.send(Err(unknown_method(&member, &msg)));
            continue;
        };
        let what = || format!("{service}.{member}");
        match handler {
            LocalHandler::Sync(f) => {
                let r = guard(what, || f(&mut state, &msg));
                let _ = reply.send(r);
            }
            LocalHandler::Async(f) => match guard(what, || f(&mut state, &msg)) {
                Ok(fut) => {
                    let what = what();
                    crate::spawn_local(async move {
                        let r = AssertUnwindSafe(fut).catch_unwind().await;
                        let _ = reply.send(r.unwrap_or_else(|p| Err(panicked(&what, &*p, None))));
                    })
                    .detach();
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
        }
    }
}

/// The multi-threaded object: calls go to the pool (or, async, the loop).
pub(super) struct SharedDispatch<S> {
    pub(super) state: Arc<S>,
    pub(super) handlers: HashMap<String, SharedHandler<S>>,
    pub(super) pool: ThreadPoolExecutor,
    pub(super) home: LoopHandle,
    pub(super) name: String,
}

impl<S: Send + Sync + 'static> Dispatch for SharedDispatch<S> {
    fn dispatch(&self, member: &str, msg: Message) -> Option<BoxFuture<'static, Reply>> {
        let handler = self.handlers.get(member)?;
        let what = format!("{}.{member}", self.name);
        let home = Some(self.home.clone());
        let reply = match handler {
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
        };
        Some(reply)
    }
}

/// Runs a handler; a panic goes to the loop's exception handler and
/// becomes an `org.qtloop.Error.Panicked` reply (`what` names the method).
fn guard<T>(
    what: impl FnOnce() -> String,
    f: impl FnOnce() -> std::result::Result<T, MethodError>,
) -> std::result::Result<T, MethodError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panicked(&what(), &*p, None)))
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
pub(super) async fn route(
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
            } else {
                let call = if iface.is_none_or(|i| i == addr.interface.as_str()) {
                    dispatch.dispatch(member, msg.clone())
                } else {
                    None
                };
                call.unwrap_or_else(|| future::ready(Err(unknown_method(member, &msg))).boxed())
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
    let reply = reply.await;
    if call
        .primary_header()
        .flags()
        .contains(Flags::NoReplyExpected)
    {
        return;
    }
    let reply = match reply {
        Ok(m) => Ok(m),
        Err(e) => {
            // A handler's own error name may be malformed: then it is sent
            // as Failed, with the name kept in the message.
            match Message::error(&call.header(), e.name.as_str()) {
                Ok(b) => b.build(&(e.message,)),
                Err(_) => {
                    Message::error(&call.header(), FAILED).and_then(|b| b.build(&(e.to_string(),)))
                }
            }
        }
    };
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
pub(super) async fn send_in_order(conn: Connection, mut rx: mpsc::UnboundedReceiver<Message>) {
    while let Some(msg) = rx.next().await {
        if let Err(e) = conn.send(&msg).await {
            log::warn!("a service message was not sent: {e}");
        }
    }
}
