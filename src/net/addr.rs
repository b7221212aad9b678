//! Socket address arguments: numeric ones are used at once, host names are
//! resolved on the loop's thread pool.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs};

use super::loop_error;
use crate::runtime::event_loop::get_event_loop;

/// What an address argument turned into.
pub enum Addrs {
    /// Numeric addresses, ready to use.
    Ready(Vec<SocketAddr>),
    /// A name to look up (`host:port`), off the loop thread.
    Lookup(String),
}

/// An address for `bind` and `connect`: a `SocketAddr`, `(ip, port)`,
/// `"127.0.0.1:80"`, `"example.org:80"`, `("example.org", 80)`, a slice of
/// `SocketAddr`s.
pub trait ToAddrs {
    /// The addresses, or the name to resolve.
    fn to_addrs(&self) -> Addrs;
}

impl ToAddrs for SocketAddr {
    fn to_addrs(&self) -> Addrs {
        Addrs::Ready(vec![*self])
    }
}
impl ToAddrs for SocketAddrV4 {
    fn to_addrs(&self) -> Addrs {
        Addrs::Ready(vec![SocketAddr::V4(*self)])
    }
}
impl ToAddrs for SocketAddrV6 {
    fn to_addrs(&self) -> Addrs {
        Addrs::Ready(vec![SocketAddr::V6(*self)])
    }
}
impl ToAddrs for (IpAddr, u16) {
    fn to_addrs(&self) -> Addrs {
        Addrs::Ready(vec![SocketAddr::new(self.0, self.1)])
    }
}
impl ToAddrs for (Ipv4Addr, u16) {
    fn to_addrs(&self) -> Addrs {
        Addrs::Ready(vec![SocketAddr::new(self.0.into(), self.1)])
    }
}
impl ToAddrs for (Ipv6Addr, u16) {
    fn to_addrs(&self) -> Addrs {
        Addrs::Ready(vec![SocketAddr::new(self.0.into(), self.1)])
    }
}
impl ToAddrs for [SocketAddr] {
    fn to_addrs(&self) -> Addrs {
        Addrs::Ready(self.to_vec())
    }
}
impl ToAddrs for (&str, u16) {
    fn to_addrs(&self) -> Addrs {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => Addrs::Ready(vec![SocketAddr::new(ip, self.1)]),
            Err(_) => Addrs::Lookup(format!("{}:{}", self.0, self.1)),
        }
    }
}
impl ToAddrs for (String, u16) {
    fn to_addrs(&self) -> Addrs {
        (self.0.as_str(), self.1).to_addrs()
    }
}
impl ToAddrs for str {
    fn to_addrs(&self) -> Addrs {
        match self.parse::<SocketAddr>() {
            Ok(addr) => Addrs::Ready(vec![addr]),
            // std's own message for a malformed one comes from the lookup
            Err(_) => Addrs::Lookup(self.to_owned()),
        }
    }
}
impl ToAddrs for String {
    fn to_addrs(&self) -> Addrs {
        self.as_str().to_addrs()
    }
}
impl<T: ToAddrs + ?Sized> ToAddrs for &T {
    fn to_addrs(&self) -> Addrs {
        (**self).to_addrs()
    }
}

/// The addresses of `addr`, resolving a name on the loop's thread pool.
pub(crate) async fn resolve(addr: &(impl ToAddrs + ?Sized)) -> io::Result<Vec<SocketAddr>> {
    let addrs = match addr.to_addrs() {
        Addrs::Ready(v) => v,
        Addrs::Lookup(host) => {
            let lp = get_event_loop().map_err(loop_error)?;
            let lookup = host.clone();
            lp.run_in_executor(move || lookup.to_socket_addrs().map(Vec::from_iter))
                .await
                .map_err(loop_error)?
                .map_err(|e| io::Error::new(e.kind(), format!("could not resolve {host}: {e}")))?
        }
    };
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no addresses to connect or bind to",
        ));
    }
    Ok(addrs)
}

/// `bind` on the first of `addrs` that works; the error names the address
/// that failed last.
pub(crate) fn bind_first<T>(
    addrs: Vec<SocketAddr>,
    bind: impl Fn(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addrs {
        match bind(a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(io::Error::new(e.kind(), format!("bind {a}: {e}"))),
        }
    }
    Err(last.expect("resolve gives at least one address"))
}
