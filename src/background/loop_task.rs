//! QMI's loop tasks: hooks called every period, with a policy for missed
//! periods, in a thread or on the event loop.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::context::{lock, Phase, Shared};
use super::{
    finish_result, new_shared, short_type_name, BackgroundTask, RunnerInner, TaskContext,
    TaskFailure, TaskRunner,
};
use crate::error::Result;
use crate::get_event_loop;

/// What a loop task does when an iteration ends after the next one was due
/// (QMI's `QMI_LoopTaskMissedLoopPolicy`, plus `Burst`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedLoopPolicy {
    /// Run the late iteration now and re-base the schedule on it.
    #[default]
    Immediate,
    /// Run the late iteration now, keep the phase, skip the missed slots.
    Skip,
    /// Stop the task (as QMI does: a warning is logged, `loop_finalize`
    /// runs, `join` returns `Ok`); [`LoopStats::terminated`] tells how late
    /// the iteration that ended it was.
    Terminate,
    /// Catch up: run one iteration for every missed slot, back to back.
    Burst,
}

/// Per-iteration lateness of a loop task (how late each iteration started
/// after its planned time), readable with `TaskRunner::loop_stats`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoopStats {
    /// Iterations run.
    pub iterations: u64,
    /// Iterations that ended after the next one was due.
    pub missed: u64,
    /// Lateness samples recorded.
    pub samples: u64,
    /// The sum of the samples (for the mean).
    pub total_lateness: Duration,
    /// The largest sample.
    pub max_lateness: Duration,
    /// The latest sample.
    pub last_lateness: Duration,
    /// Set when `MissedLoopPolicy::Terminate` stopped the task: how late
    /// the missed iteration was.
    pub terminated: Option<Duration>,
}

impl LoopStats {
    fn record(&mut self, late: Duration) {
        self.samples += 1;
        self.total_lateness += late;
        self.max_lateness = self.max_lateness.max(late);
        self.last_lateness = late;
    }

    /// The mean lateness.
    pub fn mean_lateness(&self) -> Duration {
        if self.samples == 0 {
            Duration::ZERO
        } else {
            self.total_lateness / self.samples as u32
        }
    }
}

/// A loop task (QMI's `QMI_LoopTask`): hooks that a [`LoopRunner`] calls in
/// QMI's order. `loop_prepare`; then every period: `process_new_settings`
/// (when `update_settings()` found new ones), `loop_iteration`,
/// `update_status` (publishes the status when it returns true),
/// `publish_signals`; `loop_finalize` always runs at the end, also after
/// an error, a panic or a stop.
#[allow(unused_variables)]
pub trait LoopTask: Send + 'static {
    /// What others may change while the task runs.
    type Settings: Clone + Send + Default + 'static;
    /// What the task exposes of its activity.
    type Status: Clone + Send + Default + 'static;

    /// Once, before the first iteration.
    fn loop_prepare(
        &mut self,
        ctx: &TaskContext<Self::Settings, Self::Status>,
    ) -> std::result::Result<(), TaskFailure> {
        Ok(())
    }
    /// When new settings became active (`ctx.settings()`).
    fn process_new_settings(
        &mut self,
        ctx: &TaskContext<Self::Settings, Self::Status>,
    ) -> std::result::Result<(), TaskFailure> {
        Ok(())
    }
    /// The work of one period.
    fn loop_iteration(
        &mut self,
        ctx: &TaskContext<Self::Settings, Self::Status>,
    ) -> std::result::Result<(), TaskFailure>;
    /// Sets a new status (`ctx.set_status`) and returns true to publish it.
    fn update_status(&mut self, ctx: &TaskContext<Self::Settings, Self::Status>) -> bool {
        false
    }
    /// Publishes other signals.
    fn publish_signals(
        &mut self,
        ctx: &TaskContext<Self::Settings, Self::Status>,
    ) -> std::result::Result<(), TaskFailure> {
        Ok(())
    }
    /// Once, at the end, whatever happened.
    fn loop_finalize(&mut self, ctx: &TaskContext<Self::Settings, Self::Status>) {}
    /// The settings before the first update.
    fn initial_settings(&self) -> Self::Settings {
        Self::Settings::default()
    }
    /// The status before the first update.
    fn initial_status(&self) -> Self::Status {
        Self::Status::default()
    }
}

/// Runs a [`LoopTask`] every `period` with a [`MissedLoopPolicy`]: in its
/// own thread (`background::spawn(name, runner)`) or on the event loop
/// ([`spawn_on_loop`](Self::spawn_on_loop), for GUI-bound work).
pub struct LoopRunner<L: LoopTask> {
    task: L,
    period: Duration,
    policy: MissedLoopPolicy,
}

impl<L: LoopTask> LoopRunner<L> {
    /// A runner for `task` with `period` (zero is `Error::InvalidPeriod`).
    pub fn new(task: L, period: Duration, policy: MissedLoopPolicy) -> Result<Self> {
        if period.is_zero() {
            return Err(crate::Error::InvalidPeriod);
        }
        Ok(Self {
            task,
            period,
            policy,
        })
    }

    /// Runs the hooks on this thread's event loop instead of a thread: the
    /// loop's timers pace them, so they may touch loop-thread state; they
    /// must not block. `join` on that loop thread gives
    /// `TaskFailure::WouldDeadlock`: await `finished()` there.
    pub fn spawn_on_loop(self, name: &str) -> Result<TaskRunner<L::Settings, L::Status>> {
        let lp = get_event_loop()?;
        let shared = new_shared::<L::Settings, L::Status>(name, short_type_name::<L>());
        *lock(&shared.settings) = self.task.initial_settings();
        *lock(&shared.status) = self.task.initial_status();
        shared.set_phase(Phase::Ready);
        let handle = lp.handle();
        let sh = shared.clone();
        let start: Box<dyn FnOnce() + Send> = Box::new(move || {
            handle.spawn(drive_on_loop(self, sh)).detach();
        });
        Ok(TaskRunner {
            inner: Arc::new(RunnerInner {
                shared,
                thread: Mutex::new(None),
                thread_id: None,
                on_loop: Some(lp.handle()),
                start_on_loop: Mutex::new(Some(start)),
            }),
        })
    }
}

/// The loop schedule: QMI's `next_time` and its missed-loop rules.
struct Schedule {
    period: Duration,
    policy: MissedLoopPolicy,
    /// When the next iteration is due.
    next: Instant,
    /// The "Missed loop time" warning is logged at most once a second.
    warned_at: Option<Instant>,
    /// Misses since the last warning.
    unwarned: u64,
}

enum Next {
    SleepUntil(Instant),
    Now,
    /// `MissedLoopPolicy::Terminate` ends the loop.
    Stop,
}

impl Schedule {
    fn after_iteration<S: Clone + Send + 'static, St: Clone + Send + 'static>(
        &mut self,
        sh: &Shared<S, St>,
        now: Instant,
    ) -> std::result::Result<Next, TaskFailure> {
        lock(&sh.stats).iterations += 1;
        if self.next > now {
            let until = self.next;
            self.next += self.period;
            return Ok(Next::SleepUntil(until));
        }
        let late = now - self.next;
        if self.policy == MissedLoopPolicy::Terminate {
            log::warn!(
                "[{}] Missed loop time: {:.3} seconds late; terminating the loop task",
                sh.name,
                late.as_secs_f64()
            );
            let mut stats = lock(&sh.stats);
            stats.missed += 1;
            stats.record(late);
            stats.terminated = Some(late);
            return Ok(Next::Stop);
        }
        if self
            .warned_at
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            let more = match std::mem::take(&mut self.unwarned) {
                0 => String::new(),
                n => format!(" ({n} more missed since the last warning)"),
            };
            log::warn!(
                "[{}] Missed loop time: {:.3} seconds late{more}",
                sh.name,
                late.as_secs_f64()
            );
            self.warned_at = Some(now);
        } else {
            self.unwarned += 1;
        }
        {
            let mut stats = lock(&sh.stats);
            stats.missed += 1;
            stats.record(late);
        }
        match self.policy {
            MissedLoopPolicy::Immediate => self.next = now + self.period,
            MissedLoopPolicy::Skip => {
                let missed = 1 + late.as_nanos() / self.period.as_nanos();
                let missed = u32::try_from(missed).unwrap_or(u32::MAX);
                self.next += self.period.saturating_mul(missed);
            }
            MissedLoopPolicy::Burst => self.next += self.period,
            MissedLoopPolicy::Terminate => unreachable!("handled above"),
        }
        Ok(Next::Now)
    }

    fn woke<S: Clone + Send + 'static, St: Clone + Send + 'static>(
        &self,
        sh: &Shared<S, St>,
        planned: Instant,
    ) {
        lock(&sh.stats).record(Instant::now().saturating_duration_since(planned));
    }
}

/// One period's hooks, in QMI's order.
fn iterate<L: LoopTask>(
    task: &mut L,
    ctx: &TaskContext<L::Settings, L::Status>,
) -> std::result::Result<(), TaskFailure> {
    if ctx.update_settings() {
        task.process_new_settings(ctx)?;
    }
    task.loop_iteration(ctx)?;
    if task.update_status(ctx) {
        ctx.publish_status();
    }
    task.publish_signals(ctx)
}

impl<L: LoopTask> BackgroundTask for LoopRunner<L> {
    type Settings = L::Settings;
    type Status = L::Status;

    fn initial_settings(&self) -> L::Settings {
        self.task.initial_settings()
    }

    fn initial_status(&self) -> L::Status {
        self.task.initial_status()
    }

    fn run(
        &mut self,
        ctx: &TaskContext<L::Settings, L::Status>,
    ) -> std::result::Result<(), TaskFailure> {
        let body = catch_unwind(AssertUnwindSafe(
            || -> std::result::Result<(), TaskFailure> {
                self.task.loop_prepare(ctx)?;
                let mut sched = Schedule {
                    period: self.period,
                    policy: self.policy,
                    next: Instant::now() + self.period,
                    warned_at: None,
                    unwarned: 0,
                };
                while !ctx.stop_requested() {
                    iterate(&mut self.task, ctx)?;
                    match sched.after_iteration(&ctx.shared, Instant::now())? {
                        Next::Now => {}
                        Next::Stop => break,
                        Next::SleepUntil(until) => {
                            ctx.sleep(until.saturating_duration_since(Instant::now()))?;
                            sched.woke(&ctx.shared, until);
                        }
                    }
                }
                Ok(())
            },
        ));
        let fin = catch_unwind(AssertUnwindSafe(|| self.task.loop_finalize(ctx)));
        let result = finish_result(body);
        match (result, fin) {
            (Err(e), _) => Err(e),
            (Ok(()), Err(p)) => Err(TaskFailure::Panicked(crate::error::into_panic_message(p))),
            (Ok(()), Ok(())) => Ok(()),
        }
    }
}

/// The on-loop driver: the same hooks and schedule, paced by loop timers.
fn drive_on_loop<L: LoopTask>(
    runner: LoopRunner<L>,
    sh: Arc<Shared<L::Settings, L::Status>>,
) -> impl Future<Output = ()> {
    let ctx = TaskContext { shared: sh.clone() };
    let (period, policy) = (runner.period, runner.policy);
    // If the loop closes under the task (or was closed before it started),
    // its future is dropped: the guard still runs `loop_finalize` (if
    // `loop_prepare` ran) and marks the task finished, so `join` returns.
    let mut run = OnLoopRun {
        runner,
        ctx,
        prepared: false,
        finished: false,
    };
    async move { run.drive(sh, period, policy).await }
}

impl<L: LoopTask> OnLoopRun<L> {
    async fn drive(
        &mut self,
        sh: Arc<Shared<L::Settings, L::Status>>,
        period: Duration,
        policy: MissedLoopPolicy,
    ) {
        let run = self;
        let guarded = |f: &mut dyn FnMut() -> std::result::Result<(), TaskFailure>| {
            finish_result(catch_unwind(AssertUnwindSafe(f)))
        };
        run.prepared = true;
        let mut result = guarded(&mut || run.runner.task.loop_prepare(&run.ctx));
        let mut sched = Schedule {
            period,
            policy,
            next: Instant::now() + period,
            warned_at: None,
            unwarned: 0,
        };
        while result.is_ok() && !run.ctx.stop_requested() {
            result = guarded(&mut || iterate(&mut run.runner.task, &run.ctx));
            if result.is_err() {
                break;
            }
            match sched.after_iteration(&sh, Instant::now()) {
                Err(e) => result = Err(e),
                Ok(Next::Stop) => break,
                Ok(Next::Now) => crate::time::sleep(0.0).await.map(drop).unwrap_or(()),
                Ok(Next::SleepUntil(until)) => {
                    if (StopOrSleep {
                        sh: &sh,
                        sleep: crate::time::sleep_until(until),
                    })
                    .await
                    .is_err()
                    {
                        break;
                    }
                    sched.woke(&sh, until);
                }
            }
        }
        run.finish(result);
    }
}

/// What an on-loop loop task holds while it runs; see [`drive_on_loop`].
struct OnLoopRun<L: LoopTask> {
    runner: LoopRunner<L>,
    ctx: TaskContext<L::Settings, L::Status>,
    prepared: bool,
    finished: bool,
}

impl<L: LoopTask> OnLoopRun<L> {
    /// Runs `loop_finalize` (if `loop_prepare` ran) and publishes the end.
    fn finish(&mut self, result: std::result::Result<(), TaskFailure>) {
        self.finished = true;
        let fin = if self.prepared {
            catch_unwind(AssertUnwindSafe(|| {
                self.runner.task.loop_finalize(&self.ctx)
            }))
        } else {
            Ok(())
        };
        let result = match (result, fin) {
            (Err(e), _) => Err(e),
            (Ok(()), Err(p)) => Err(TaskFailure::Panicked(crate::error::into_panic_message(p))),
            (Ok(()), Ok(())) => Ok(()),
        };
        self.ctx.shared.set_phase(Phase::Finished(result));
    }
}

impl<L: LoopTask> Drop for OnLoopRun<L> {
    fn drop(&mut self) {
        if !self.finished {
            self.finish(Err(TaskFailure::Failed(
                "its event loop closed before the loop task ended".into(),
            )));
        }
    }
}

/// A loop-timer sleep that a stop request ends early.
struct StopOrSleep<'a, S: Clone + Send + 'static, St: Clone + Send + 'static> {
    sh: &'a Shared<S, St>,
    sleep: crate::time::Sleep,
}

impl<S: Clone + Send + 'static, St: Clone + Send + 'static> Future for StopOrSleep<'_, S, St> {
    type Output = std::result::Result<(), super::TaskStopped>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.sh.stop_waker.register(cx.waker());
        if lock(&self.sh.state).stop {
            return Poll::Ready(Err(super::TaskStopped));
        }
        match Pin::new(&mut self.sleep).poll(cx) {
            Poll::Ready(_) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }
}
