//! Any signal of any QObject, by its signature: `qt::signal(&obj,
//! "valueChanged(int)")`, awaited once or as a `Stream`.
//!
//! A small C++ forwarder connects to the signal through its `QMetaMethod`
//! and copies each emission's arguments into `QVariant`s. The waiting task
//! is then woken through the loop's queue: it never resumes inside the
//! emitter (QCoro's #221/#231). An emission on another thread is queued by
//! Qt to the loop's thread. The sender's destruction ends the stream and
//! fails a pending `next()` with [`Error::ObjectDestroyed`] at once;
//! dropping the source disconnects.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use cxx::UniquePtr;
use cxx_qt_lib::{QVariant, QVariantValue};
use futures::{Stream, StreamExt};

use super::object::AsQObject;
use crate::driver::signal::{self as ffi, SignalEvents, SignalForwarder};
use crate::error::{Error, Result};

#[derive(Default)]
struct State {
    emissions: VecDeque<Vec<QVariant>>,
    destroyed: bool,
    waker: Option<Waker>,
}

struct Events(Rc<RefCell<State>>);

impl Events {
    fn update(&self, f: impl FnOnce(&mut State)) {
        let waker = {
            let mut s = self.0.borrow_mut();
            f(&mut s);
            s.waker.take()
        };
        // Wakes the task through the loop's queue: it runs later, not here.
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl SignalEvents for Events {
    fn emitted(&self, args: Vec<QVariant>) {
        self.update(|s| s.emissions.push_back(args));
    }
    fn destroyed(&self) {
        self.update(|s| s.destroyed = true);
    }
}

/// Connects to the signal `signature` of `object`: a full signature
/// (`"valueChanged(int)"`, normalized as Qt does) or a bare name
/// (`"clicked"`) when the class has one signal of that name.
///
/// Works for any QObject: one found in a QML scene
/// ([`QmlView::find_object`](crate::qml::QmlView::find_object)), a Qt class,
/// or a cxx-qt QObject.
///
/// # Errors
/// [`Error::NoSuchSignal`] naming the class and its closest signals;
/// [`Error::ObjectDestroyed`] if the object is gone.
///
/// ```ignore
/// let button = view.find_object("okButton")?;
/// qtloop::qt::signal(&button, "clicked()")?.next().await?;
/// let (value,): (f64,) = qtloop::qt::signal(&slider, "moved")?.next_as().await?;
/// ```
pub fn signal(object: &impl AsQObject, signature: &str) -> Result<SignalSource> {
    let obj = object.as_qobject().ok_or(Error::ObjectDestroyed)?;
    let signals = ffi::signatures(obj);
    let class = ffi::class_name(obj);
    let full = resolve(&signals, signature).ok_or_else(|| Error::NoSuchSignal {
        class: class.clone(),
        signature: signature.to_owned(),
        similar: similar(&signals, signature),
    })?;
    let state = Rc::new(RefCell::new(State::default()));
    let forwarder = ffi::connect(obj, &full, Box::new(Events(state.clone()))).ok_or_else(|| {
        Error::NoSuchSignal {
            class,
            signature: signature.to_owned(),
            similar: similar(&signals, signature),
        }
    })?;
    Ok(SignalSource {
        state,
        forwarder,
        signature: full,
    })
}

/// How many [`SignalSource`]s hold a connection in this process (for
/// tests: a dropped source leaves none behind).
#[cfg(any(test, feature = "testing"))]
pub fn live_signal_connections() -> usize {
    ffi::live_forwarders()
}

fn name_of(signature: &str) -> &str {
    signature.split('(').next().unwrap_or(signature).trim()
}

/// The signature to connect to: as given when it has arguments (Qt
/// normalizes it), else the class's only signal of that name.
fn resolve(signals: &[String], asked: &str) -> Option<String> {
    if asked.contains('(') {
        return Some(asked.to_owned());
    }
    let mut named = signals.iter().filter(|s| name_of(s) == asked.trim());
    let first = named.next()?;
    // Overloads (`clicked()` and `clicked(bool)`): the name alone is
    // ambiguous, and the error lists them.
    named.next().is_none().then(|| first.clone())
}

/// Up to six signals whose names are closest to the one asked for.
fn similar(signals: &[String], asked: &str) -> Vec<String> {
    let asked = name_of(asked).to_lowercase();
    let mut scored: Vec<(f64, &String)> = signals
        .iter()
        .map(|s| (strsim::jaro_winkler(&asked, &name_of(s).to_lowercase()), s))
        .filter(|(score, _)| *score >= 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out: Vec<String> = Vec::new();
    for (_, s) in scored {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out.truncate(6);
    out
}

/// The emissions of one signal of one object; dropping it disconnects.
/// A [`Stream`] of each emission's arguments, ending when the sender is
/// destroyed.
#[must_use = "dropping the source disconnects it"]
pub struct SignalSource {
    state: Rc<RefCell<State>>,
    forwarder: UniquePtr<SignalForwarder>,
    signature: String,
}

impl SignalSource {
    /// The next emission's arguments (queued emissions first); fails with
    /// [`Error::ObjectDestroyed`] once the sender is gone and nothing is
    /// queued. Cancel-safe: dropping the future loses no emission.
    #[allow(clippy::should_implement_trait)] // API.md's name; it is a Stream too
    pub fn next(&mut self) -> NextEmission<'_> {
        NextEmission { source: self }
    }

    /// The next emission, converted to a tuple of Rust values:
    /// `let (v,): (i32,) = source.next_as().await?`.
    pub async fn next_as<T: FromSignalArgs>(&mut self) -> Result<T> {
        let args = self.next().await?;
        T::from_args(&args)
    }

    /// The emissions as a [`Stream`] (the source itself is one).
    pub fn stream(self) -> impl Stream<Item = Vec<QVariant>> {
        self
    }

    /// The emissions as a [`Stream`] of converted tuples.
    pub fn stream_as<T: FromSignalArgs>(self) -> impl Stream<Item = Result<T>> {
        self.map(|args| T::from_args(&args))
    }

    /// The signature connected to.
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// Whether more emissions can come (connected, sender alive).
    pub fn is_connected(&self) -> bool {
        !self.state.borrow().destroyed && self.forwarder.as_ref().is_some_and(|f| f.is_connected())
    }

    /// Emissions received and not yet read.
    pub fn pending(&self) -> usize {
        self.state.borrow().emissions.len()
    }

    fn poll_emission(&self, cx: &mut Context<'_>) -> Poll<Option<Vec<QVariant>>> {
        let mut s = self.state.borrow_mut();
        if let Some(args) = s.emissions.pop_front() {
            return Poll::Ready(Some(args));
        }
        if s.destroyed {
            return Poll::Ready(None);
        }
        match &s.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => s.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl std::fmt::Debug for SignalSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalSource")
            .field("signature", &self.signature)
            .field("pending", &self.pending())
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl Stream for SignalSource {
    type Item = Vec<QVariant>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Vec<QVariant>>> {
        self.poll_emission(cx)
    }
}

/// The future of [`SignalSource::next`].
#[must_use = "futures do nothing unless awaited"]
pub struct NextEmission<'a> {
    source: &'a SignalSource,
}

impl Future for NextEmission<'_> {
    type Output = Result<Vec<QVariant>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.source
            .poll_emission(cx)
            .map(|e| e.ok_or(Error::ObjectDestroyed))
    }
}

/// A signal's arguments as Rust values: tuples of up to four types that a
/// `QVariant` converts to (`i32`, `f64`, `bool`, `QString`, ...).
pub trait FromSignalArgs: Sized {
    /// Converts one emission's arguments.
    fn from_args(args: &[QVariant]) -> Result<Self>;
}

fn arity(args: &[QVariant], n: usize) -> Result<()> {
    if args.len() == n {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "the signal has {} argument(s), the tuple {n}",
            args.len()
        )))
    }
}

fn convert<T: QVariantValue>(args: &[QVariant], i: usize) -> Result<T> {
    args[i].value::<T>().ok_or_else(|| {
        Error::InvalidArgument(format!(
            "signal argument {i} does not convert to {}",
            std::any::type_name::<T>()
        ))
    })
}

impl FromSignalArgs for () {
    fn from_args(args: &[QVariant]) -> Result<Self> {
        arity(args, 0)
    }
}

macro_rules! tuple_args {
    ($n:expr; $($t:ident $i:tt),+) => {
        impl<$($t: QVariantValue),+> FromSignalArgs for ($($t,)+) {
            fn from_args(args: &[QVariant]) -> Result<Self> {
                arity(args, $n)?;
                Ok(($(convert::<$t>(args, $i)?,)+))
            }
        }
    };
}

tuple_args!(1; A 0);
tuple_args!(2; A 0, B 1);
tuple_args!(3; A 0, B 1, C 2);
tuple_args!(4; A 0, B 1, C 2, D 3);

#[cfg(test)]
mod tests {
    use super::*;

    fn sigs() -> Vec<String> {
        [
            "destroyed(QObject*)",
            "destroyed()",
            "objectNameChanged(QString)",
            "clicked()",
            "valueChanged(int)",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn a_bare_name_resolves_unless_overloaded() {
        assert_eq!(resolve(&sigs(), "clicked").as_deref(), Some("clicked()"));
        assert_eq!(resolve(&sigs(), "destroyed"), None);
        assert_eq!(resolve(&sigs(), "nope"), None);
        assert_eq!(
            resolve(&sigs(), "valueChanged( int )").as_deref(),
            Some("valueChanged( int )")
        );
    }

    #[test]
    fn similar_names_come_first() {
        let s = similar(&sigs(), "valuChanged(int)");
        assert_eq!(s.first().map(String::as_str), Some("valueChanged(int)"));
        assert!(similar(&sigs(), "zzzz").is_empty());
    }
}
