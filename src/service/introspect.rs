//! The introspection XML of a service (`org.freedesktop.DBus.Introspectable`),
//! made from the members it declares, so `busctl introspect`, `gdbus` and
//! `dbus-send` see its methods and signals with their signatures.

use std::fmt::Write;

use zbus::zvariant::Signature;

/// A declared method or signal.
pub(crate) struct Member {
    pub name: String,
    /// The argument signatures; for a method, `(inputs, outputs)`.
    args: Vec<String>,
    outs: Option<Vec<String>>,
}

impl Member {
    pub fn method(name: &str, args: &Signature, ret: &Signature) -> Self {
        Self {
            name: name.to_owned(),
            args: parts(args),
            outs: Some(parts(ret)),
        }
    }

    pub fn signal(name: &str, args: &Signature) -> Self {
        Self {
            name: name.to_owned(),
            args: parts(args),
            outs: None,
        }
    }
}

/// A tuple's fields are the arguments; `()` is none; anything else is one.
fn parts(sig: &Signature) -> Vec<String> {
    match sig {
        Signature::Unit => Vec::new(),
        Signature::Structure(fields) => fields.iter().map(|s| s.to_string()).collect(),
        s => vec![s.to_string()],
    }
}

/// The document `Introspect` answers.
pub(crate) fn xml(interface: &str, members: &[Member]) -> String {
    let mut x = String::from(
        "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n \
         \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n<node>\n",
    );
    for (name, body) in [
        (
            "org.freedesktop.DBus.Introspectable",
            "    <method name=\"Introspect\">\n      <arg type=\"s\" direction=\"out\"/>\n    </method>\n",
        ),
        ("org.freedesktop.DBus.Peer", "    <method name=\"Ping\"/>\n"),
    ] {
        let _ = write!(x, "  <interface name=\"{name}\">\n{body}  </interface>\n");
    }
    let _ = writeln!(x, "  <interface name=\"{interface}\">");
    for m in members {
        let kind = if m.outs.is_some() { "method" } else { "signal" };
        let _ = writeln!(x, "    <{kind} name=\"{}\">", m.name);
        for a in &m.args {
            let dir = if m.outs.is_some() {
                " direction=\"in\""
            } else {
                ""
            };
            let _ = writeln!(x, "      <arg type=\"{a}\"{dir}/>");
        }
        for a in m.outs.iter().flatten() {
            let _ = writeln!(x, "      <arg type=\"{a}\" direction=\"out\"/>");
        }
        let _ = writeln!(x, "    </{kind}>");
    }
    x.push_str("  </interface>\n</node>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::zvariant::Type;

    #[test]
    fn members_show_their_signatures() {
        let members = [
            Member::method("bar", <()>::SIGNATURE, i32::SIGNATURE),
            Member::method("add", <(i32, String)>::SIGNATURE, <(i64, bool)>::SIGNATURE),
            Member::signal("onBang", i32::SIGNATURE),
        ];
        let x = xml("org.qtloop.Foo", &members);
        assert!(x.contains("<interface name=\"org.qtloop.Foo\">"));
        assert!(x.contains(
            "<method name=\"bar\">\n      <arg type=\"i\" direction=\"out\"/>\n    </method>"
        ));
        assert!(x.contains(
            "<arg type=\"i\" direction=\"in\"/>\n      <arg type=\"s\" direction=\"in\"/>\n      \
             <arg type=\"x\" direction=\"out\"/>\n      <arg type=\"b\" direction=\"out\"/>"
        ));
        assert!(x.contains("<signal name=\"onBang\">\n      <arg type=\"i\"/>\n    </signal>"));
    }
}
