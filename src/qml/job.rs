//! `AsyncJob`: QML starts, cancels and watches Rust async work.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;

use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::{QString, QVariant};
use futures::channel::mpsc;
use futures::future::LocalBoxFuture;
use futures::FutureExt;

use crate::driver::qml::{AsyncJob, AsyncJobRust};
use crate::qt::TaskScope;
use crate::runtime::report::report_panic;

type JobOutcome = Result<QVariant, String>;
type Factory = Rc<dyn Fn(JobContext) -> LocalBoxFuture<'static, JobOutcome>>;

thread_local! {
    static JOBS: RefCell<HashMap<String, Factory>> = RefCell::new(HashMap::new());
}

/// Registers the async job that QML's `AsyncJob { job: "name" }` starts.
///
/// `factory` is called on every `start(argument)` with a [`JobContext`]; the
/// future it returns runs as a task on this thread's
/// [`EventLoop`](crate::EventLoop). Its `Ok` value becomes the item's
/// `result` (and the `finished` signal), its `Err` the `error` (and
/// `failed`). Registering a name again replaces the factory for later
/// starts. Jobs are per thread: register them on the GUI thread.
///
/// ```no_run
/// use cxx_qt_lib::QVariant;
/// qtloop::qml::register_job("answer", |ctx| async move {
///     ctx.set_progress(0.5);
///     qtloop::sleep(0.1).await.map_err(|e| e.to_string())?;
///     Ok::<_, String>(QVariant::from(&42i32))
/// });
/// ```
pub fn register_job<F, Fut, E>(name: &str, factory: F)
where
    F: Fn(JobContext) -> Fut + 'static,
    Fut: Future<Output = Result<QVariant, E>> + 'static,
    E: Display + 'static,
{
    let factory: Factory = Rc::new(move |ctx| {
        let fut = factory(ctx);
        async move { fut.await.map_err(|e| e.to_string()) }.boxed_local()
    });
    JOBS.with(|j| j.borrow_mut().insert(name.to_owned(), factory));
}

/// Removes a registered job; running instances go on. True if it existed.
pub fn unregister_job(name: &str) -> bool {
    JOBS.with(|j| j.borrow_mut().remove(name).is_some())
}

/// What a running job uses to talk to its QML item. Updates are queued to
/// the item through Qt's event loop (in order); after the item is
/// destroyed, or the job cancelled or restarted, they are dropped.
#[derive(Clone)]
pub struct JobContext {
    thread: cxx_qt::CxxQtThread<AsyncJob>,
    generation: u64,
    argument: QVariant,
    inbox: Rc<Cell<Option<JobInbox>>>,
}

/// What QML sent to a running job with `post(kind, value)`, in order; ends
/// when the job's item is destroyed or the job restarted.
pub type JobInbox = mpsc::UnboundedReceiver<(String, QVariant)>;

impl JobContext {
    /// The argument QML passed to `start(argument)`.
    pub fn argument(&self) -> &QVariant {
        &self.argument
    }

    /// Sets the item's `progress` (clamped to 0..=1; NaN is ignored).
    pub fn set_progress(&self, progress: f64) {
        if progress.is_nan() {
            return;
        }
        let p = progress.clamp(0.0, 1.0);
        self.update(move |obj| obj.set_progress(p));
    }

    /// Emits the item's `message(kind, value)` signal.
    pub fn send(&self, kind: &str, value: QVariant) {
        let kind = QString::from(kind);
        self.update(move |obj| obj.message(&kind, &value));
    }

    /// The messages QML sends with `post(kind, value)` (taken once; later
    /// calls give `None`).
    pub fn take_inbox(&self) -> Option<JobInbox> {
        self.inbox.take()
    }

    /// Runs blocking `f` on the loop's thread pool, wired to the item:
    /// `token.set_progress(p)` sets its `progress` (the latest value wins),
    /// and QML's `cancel()` (or the item's destruction) drops this future,
    /// which makes `token.is_cancelled()` true and `token.sleep` return
    /// `Err(Cancelled)`, so the job stops instead of burning a core.
    ///
    /// ```rust,ignore
    /// register_job("hash", |ctx| async move {
    ///     let path: String = ctx.argument().value::<QString>().unwrap_or_default().into();
    ///     let digest = ctx.run_blocking(move |token| hash_file(&path, &token)).await??;
    ///     Ok::<_, qtloop::Error>(QVariant::from(&QString::from(digest.as_str())))
    /// });
    /// ```
    pub async fn run_blocking<T, F>(&self, f: F) -> crate::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(crate::JobToken) -> T + Send + 'static,
    {
        use futures::StreamExt;
        let job = crate::get_event_loop()?.run_in_executor_with(f);
        let mut progress = job.progress();
        while let Some(p) = progress.next().await {
            self.set_progress(p);
        }
        job.await
    }

    /// Whether the item still exists.
    pub fn is_alive(&self) -> bool {
        !self.thread.is_destroyed()
    }

    fn update(&self, f: impl FnOnce(Pin<&mut AsyncJob>) + Send + 'static) {
        let generation = self.generation;
        // An Err means the item is gone: nothing to update.
        let _ = self.thread.queue(move |obj| {
            if obj.generation == generation {
                f(obj);
            }
        });
    }
}

/// What a job item keeps for its running job, in `AsyncJobRust::run`.
#[derive(Default)]
struct JobRun {
    /// The running job's task: cancelled by `cancel()`, and when the item
    /// is destroyed (the scope is dropped with it).
    tasks: TaskScope,
    inbox: Option<mpsc::UnboundedSender<(String, QVariant)>>,
}

/// The item's [`JobRun`], made on first use.
fn job_run(state: &mut AsyncJobRust) -> &mut JobRun {
    state
        .run
        .get_or_insert_with(|| Box::new(JobRun::default()))
        .downcast_mut()
        .expect("only qml::job stores an AsyncJob's run")
}

/// A change of an `AsyncJob`'s properties, applied as one step: every
/// property is written first, and only then are the final signal and the
/// notify signals emitted. A QML handler may restart or cancel the job from
/// any of them: nothing written afterwards overwrites what it did.
#[derive(Default)]
struct Change {
    running: Option<bool>,
    status: Option<&'static str>,
    progress: Option<f64>,
    error: Option<QString>,
    result: Option<QVariant>,
    then: Option<Outcome>,
}

/// The signal that ends a change.
enum Outcome {
    Finished(QVariant),
    Failed(QString),
    Cancelled,
}

impl AsyncJob {
    fn apply(mut self: Pin<&mut Self>, change: Change) {
        let (mut running, mut status, mut progress, mut error, mut result) =
            (false, false, false, false, false);
        {
            let mut r = self.as_mut().rust_mut();
            if let Some(v) = change.running {
                running = r.running != v;
                r.running = v;
            }
            if let Some(v) = change.status.map(QString::from) {
                status = r.status != v;
                r.status = v;
            }
            if let Some(v) = change.progress {
                progress = r.progress != v;
                r.progress = v;
            }
            if let Some(v) = change.error {
                error = r.error != v;
                r.error = v;
            }
            if let Some(v) = change.result {
                result = true;
                r.result = v;
            }
        }
        // Emitted last, from this snapshot: handlers see the whole change.
        // The outcome first: a handler of a notify signal below may start a
        // new run, and the old run's outcome must not follow it.
        match change.then {
            Some(Outcome::Finished(v)) => self.as_mut().finished(&v),
            Some(Outcome::Failed(e)) => self.as_mut().failed(&e),
            Some(Outcome::Cancelled) => self.as_mut().cancelled(),
            None => {}
        }
        if result {
            self.as_mut().result_changed();
        }
        if progress {
            self.as_mut().progress_changed();
        }
        if error {
            self.as_mut().error_changed();
        }
        if running {
            self.as_mut().running_changed();
        }
        if status {
            self.status_changed();
        }
    }

    fn set_progress(self: Pin<&mut Self>, progress: f64) {
        self.apply(Change {
            progress: Some(progress),
            ..Change::default()
        });
    }

    fn fail(self: Pin<&mut Self>, message: String) {
        let error = QString::from(&message);
        self.apply(Change {
            running: Some(false),
            status: Some("failed"),
            error: Some(error.clone()),
            then: Some(Outcome::Failed(error)),
            ..Change::default()
        });
    }

    /// QML: `start(argument)`.
    pub fn start(mut self: Pin<&mut Self>, argument: &QVariant) -> bool {
        if self.running {
            log::warn!("AsyncJob `{}`: start() while running is ignored", self.job);
            return false;
        }
        let name = self.job.to_string();
        let Some(factory) = JOBS.with(|j| j.borrow().get(&name).cloned()) else {
            self.fail(format!(
                "no job named `{name}` is registered (qtloop::qml::register_job)"
            ));
            return false;
        };
        if crate::get_event_loop().is_err() {
            self.fail("there is no qtloop EventLoop on the GUI thread".into());
            return false;
        }
        let generation = self.generation + 1;
        self.as_mut().rust_mut().generation = generation;
        let (inbox_tx, inbox_rx) = mpsc::unbounded();
        job_run(&mut self.as_mut().rust_mut()).inbox = Some(inbox_tx);
        let ctx = JobContext {
            thread: self.qt_thread(),
            generation,
            argument: argument.clone(),
            inbox: Rc::new(Cell::new(Some(inbox_rx))),
        };
        let thread = ctx.thread.clone();
        // Calling the factory is user code too: a panic there fails the job.
        let fut = match std::panic::catch_unwind(AssertUnwindSafe(|| factory(ctx))) {
            Ok(fut) => fut,
            Err(p) => {
                report_panic(format!("Exception in AsyncJob `{name}`"), &*p);
                self.fail(format!("panicked: {}", crate::error::into_panic_message(p)));
                return false;
            }
        };
        let label = name.clone();
        let task = job_run(&mut self.as_mut().rust_mut())
            .tasks
            .spawn(async move {
                let outcome = match AssertUnwindSafe(fut).catch_unwind().await {
                    Ok(r) => r,
                    Err(p) => {
                        report_panic(format!("Exception in AsyncJob `{label}`"), &*p);
                        Err(format!("panicked: {}", crate::error::into_panic_message(p)))
                    }
                };
                let _ = thread.queue(move |obj| obj.complete(generation, outcome));
            });
        task.set_name(format!("AsyncJob `{name}`"));
        self.apply(Change {
            running: Some(true),
            status: Some("running"),
            progress: Some(0.0),
            error: Some(QString::default()),
            ..Change::default()
        });
        true
    }

    /// QML: `post(kind, value)`.
    pub fn post(mut self: Pin<&mut Self>, kind: &QString, value: &QVariant) -> bool {
        self.running
            && job_run(&mut self.as_mut().rust_mut())
                .inbox
                .as_ref()
                .is_some_and(|tx| tx.unbounded_send((kind.to_string(), value.clone())).is_ok())
    }

    /// QML: `cancel()`.
    pub fn cancel(mut self: Pin<&mut Self>) {
        if !self.running {
            return;
        }
        job_run(&mut self.as_mut().rust_mut()).tasks.cancel_all();
        // Updates still queued by the cancelled run are dropped.
        self.as_mut().rust_mut().generation += 1;
        job_run(&mut self.as_mut().rust_mut()).inbox = None;
        self.apply(Change {
            running: Some(false),
            status: Some("cancelled"),
            then: Some(Outcome::Cancelled),
            ..Change::default()
        });
    }

    fn complete(mut self: Pin<&mut Self>, generation: u64, outcome: JobOutcome) {
        if self.generation != generation {
            return;
        }
        job_run(&mut self.as_mut().rust_mut()).inbox = None;
        match outcome {
            Ok(value) => self.apply(Change {
                running: Some(false),
                status: Some("finished"),
                progress: Some(1.0),
                result: Some(value.clone()),
                then: Some(Outcome::Finished(value)),
                ..Change::default()
            }),
            Err(message) => self.fail(message),
        }
    }
}
