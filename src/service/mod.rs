//! Services advertised to other processes on D-Bus, as libqi (the NAOqi
//! robots' messaging library) has them, served from the qtloop thread
//! (feature `dbus`, on by default).
//!
//! D-Bus is the transport and [`zbus`] speaks it: names, messages,
//! signatures and (de)serialization are zbus's and zvariant's. qtloop adds
//! where the handlers run and libqi's threading model:
//!
//! - A **single-threaded** service ([`ServiceBuilder::new`]) owns its state on
//!   the loop thread that registers it. Its handlers get `&mut S` there, one
//!   call at a time, so they may touch GUI state. A call that cannot get the
//!   object within the lock time-out (20 s unless set) is answered with
//!   libqi's "Time-out acquiring object lock … Deadlock?" error, from zbus's
//!   thread, even while the loop thread is stuck.
//! - A **multi-threaded** service ([`ServiceBuilder::multi_threaded`]) shares
//!   `Arc<S>` and runs its calls in parallel on a thread pool.
//! - **Async handlers** ([`ServiceBuilder::async_method`]) return a future:
//!   the object is free again as soon as the handler returns, and the reply
//!   is sent when the future finishes (an asynchronous API, libqi's
//!   `betterBar`).
//! - **Signals** are [`qi::Signal`](crate::qi::Signal)s: emitting publishes on
//!   the bus, in order. On the client a signal is a `Stream` or a
//!   `qi::Signal` delivered on the client's loop thread.
//! - **Clients** get a [`Proxy`] from [`service`]: calls are awaitable from
//!   loop tasks, or a [`qi::Future`](crate::qi::Future).
//!
//! A name `org.example.Foo` is served at the object path `/org/example/Foo`
//! with the interface `org.example.Foo` unless set otherwise; arguments are a
//! tuple (`()` for none, `(x,)` for one) of zvariant types.
//!
//! ```no_run
//! use qtloop::service::{self, ServiceBuilder};
//!
//! let lp = qtloop::EventLoop::new().unwrap();
//! lp.run_until_complete(async {
//!     let mut builder = ServiceBuilder::new("org.qtloop.Foo", 0u32);
//!     let on_bang = builder.signal::<i32>("onBang");
//!     builder.method("bang", move |bangs: &mut u32, (): ()| {
//!         *bangs += 1;
//!         on_bang.emit(42);
//!         Ok(())
//!     });
//!     let _svc = builder.register().await.unwrap();
//!
//!     let proxy = service::service("org.qtloop.Foo").await.unwrap();
//!     proxy.call::<()>("bang", &()).await.unwrap();
//! })
//! .unwrap();
//! ```

mod client;
mod dispatch;
mod introspect;
mod server;

pub use client::{service, Proxy, ProxyBuilder, SignalStream};
pub use server::{MultiThreadedBuilder, Service, ServiceBuilder};

use std::time::Duration;

use zbus::names::{BusName, InterfaceName, MemberName, WellKnownName};
use zbus::zvariant::ObjectPath;

use crate::error::{BusError, Error, Result};

/// The error name of libqi's "Time-out acquiring object lock" reply.
pub const POSSIBLE_DEADLOCK: &str = "org.qtloop.Error.PossibleDeadlock";
/// The error name of a reply to a call whose handler panicked.
pub const PANICKED: &str = "org.qtloop.Error.Panicked";
/// The error name of a reply to a call the service could not answer
/// because it was closed.
pub const SERVICE_CLOSED: &str = "org.qtloop.Error.ServiceClosed";
/// D-Bus's generic failure, the name of a [`MethodError`] made from a string.
pub const FAILED: &str = "org.freedesktop.DBus.Error.Failed";

/// The lock time-out of a single-threaded service unless set: under D-Bus's
/// default 25 s call time-out, so the caller hears "Deadlock?" first.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(20);
/// A client's call time-out unless set (D-Bus's default).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(25);

/// Which message bus to use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Bus {
    /// The session bus (`DBUS_SESSION_BUS_ADDRESS`).
    #[default]
    Session,
    /// A bus at this address, e.g. what `dbus-daemon --print-address` says.
    Address(String),
}

impl Bus {
    pub(crate) async fn connect(&self) -> Result<zbus::Connection> {
        let builder = match self {
            Bus::Session => zbus::connection::Builder::session(),
            Bus::Address(a) => zbus::connection::Builder::address(a.as_str()),
        }
        .map_err(bus_error)?;
        builder.build().await.map_err(bus_error)
    }
}

/// What a handler answers instead of a value: a D-Bus error name and a
/// message. Strings and [`Error`]s convert into one named
/// `org.freedesktop.DBus.Error.Failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodError {
    /// The D-Bus error name, e.g. `org.example.Error.NotReady`.
    pub name: String,
    /// The human-readable message.
    pub message: String,
}

impl MethodError {
    /// An error with its own D-Bus error name.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            message: message.into(),
        }
    }

    /// `org.freedesktop.DBus.Error.Failed` with `message`.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(FAILED, message)
    }
}

impl std::fmt::Display for MethodError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for MethodError {}

impl From<&str> for MethodError {
    fn from(m: &str) -> Self {
        Self::failed(m)
    }
}

impl From<String> for MethodError {
    fn from(m: String) -> Self {
        Self::failed(m)
    }
}

impl From<Error> for MethodError {
    fn from(e: Error) -> Self {
        Self::failed(e.to_string())
    }
}

/// The names a service is reached by.
#[derive(Debug, Clone)]
pub(crate) struct Address {
    pub name: WellKnownName<'static>,
    pub path: ObjectPath<'static>,
    pub interface: InterfaceName<'static>,
}

impl Address {
    /// `org.example.Foo` → path `/org/example/Foo`, interface `org.example.Foo`.
    pub fn parse(name: &str, path: Option<&str>, interface: Option<&str>) -> Result<Self> {
        let name = WellKnownName::try_from(name.to_owned()).map_err(|e| {
            Error::BadName(format!(
                "'{name}' is not a D-Bus service name ({e}); names look like org.example.Foo"
            ))
        })?;
        let default_path = format!("/{}", name.replace(['.', '-'], "/"));
        let path = path.map_or(default_path, str::to_owned);
        let path = ObjectPath::try_from(path.clone())
            .map_err(|e| Error::BadName(format!("'{path}' is not a D-Bus object path ({e})")))?;
        let interface = interface.unwrap_or(name.as_str()).to_owned();
        let interface = InterfaceName::try_from(interface.clone()).map_err(|e| {
            Error::BadName(format!("'{interface}' is not a D-Bus interface name ({e})"))
        })?;
        Ok(Self {
            name,
            path,
            interface,
        })
    }
}

/// Checks a method or signal name.
pub(crate) fn member_name(name: &str) -> Result<MemberName<'_>> {
    MemberName::try_from(name)
        .map_err(|e| Error::BadName(format!("'{name}' is not a D-Bus member name ({e})")))
}

/// Whether `name` has an owner on the bus.
pub(crate) async fn has_owner(conn: &zbus::Connection, name: &WellKnownName<'_>) -> Result<bool> {
    let dbus = zbus::fdo::DBusProxy::new(conn).await.map_err(bus_error)?;
    dbus.name_has_owner(BusName::from(name.as_ref()))
        .await
        .map_err(|e| bus_error(e.into()))
}

/// zbus's error in qtloop's terms.
pub(crate) fn bus_error(e: zbus::Error) -> Error {
    match e {
        zbus::Error::MethodError(name, message, _) => {
            remote_error(name.as_str(), message.unwrap_or_default())
        }
        zbus::Error::FDO(e) => {
            use zbus::DBusError;
            let name = e.name().to_string();
            remote_error(&name, e.description().unwrap_or_default().to_owned())
        }
        zbus::Error::InputOutput(io) if io.kind() == std::io::ErrorKind::TimedOut => Error::Timeout,
        e => Error::Bus(BusError::from_zbus(e)),
    }
}

/// A D-Bus error reply in qtloop's terms.
fn remote_error(name: &str, message: String) -> Error {
    match name {
        "org.freedesktop.DBus.Error.NoReply" | "org.freedesktop.DBus.Error.Disconnected" => {
            Error::PeerVanished(message)
        }
        "org.freedesktop.DBus.Error.ServiceUnknown"
        | "org.freedesktop.DBus.Error.NameHasNoOwner" => Error::NoSuchService(message),
        "org.freedesktop.DBus.Error.Timeout" | "org.freedesktop.DBus.Error.TimedOut" => {
            Error::Timeout
        }
        POSSIBLE_DEADLOCK => Error::PossibleDeadlock(message),
        _ => Error::Remote {
            name: name.to_owned(),
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_well_known_name() {
        let a = Address::parse("org.qtloop.Foo", None, None).unwrap();
        assert_eq!(a.path.as_str(), "/org/qtloop/Foo");
        assert_eq!(a.interface.as_str(), "org.qtloop.Foo");
        let a = Address::parse("org.qtloop.my-app", Some("/x"), Some("a.B")).unwrap();
        assert_eq!(a.path.as_str(), "/x");
        assert_eq!(a.interface.as_str(), "a.B");
        assert_eq!(a.name.as_str(), "org.qtloop.my-app");
    }

    #[test]
    fn bad_names_are_clear_errors() {
        for (name, path) in [("foo", None), ("org..x", None), ("org.x", Some("no-slash"))] {
            let e = Address::parse(name, path, None).unwrap_err();
            assert!(matches!(e, Error::BadName(_)), "{e}");
        }
        assert!(member_name("not a member").is_err());
        assert!(member_name("betterBar").is_ok());
    }

    #[test]
    fn error_replies_map_to_errors() {
        let e = remote_error("org.freedesktop.DBus.Error.NoReply", "gone".into());
        assert_eq!(e, Error::PeerVanished("gone".into()));
        let e = remote_error(POSSIBLE_DEADLOCK, "Deadlock?".into());
        assert_eq!(e, Error::PossibleDeadlock("Deadlock?".into()));
        let e = remote_error("org.x.Error.Y", "m".into());
        assert!(matches!(e, Error::Remote { .. }));
        assert_eq!(e.to_string(), "the service answered org.x.Error.Y: m");
    }
}
