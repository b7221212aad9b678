//! `run`, `run_with` and `run_forever`: QtAsyncio's `run()`.

use std::future::Future;

use super::event_loop::{get_event_loop, EventLoop};
use crate::error::{Error, Result};

/// How [`run_with`] runs a future (QtAsyncio's `run()` arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Keep the loop running after the future completes, until `stop()` or
    /// the application quits (QtAsyncio's default is `true`; `run()` uses
    /// `false`).
    pub keep_running: bool,
    /// Quit the Q*Application when the loop stops.
    pub quit_qapp: bool,
    /// Stop the loop gracefully on Ctrl+C (SIGINT): tasks are cancelled and
    /// the loop is closed, instead of the process being killed.
    pub handle_sigint: bool,
    /// Turn on debug mode (slow-callback warnings).
    pub debug: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            keep_running: false,
            quit_qapp: true,
            handle_sigint: false,
            debug: false,
        }
    }
}

/// Runs `fut` to completion on this thread's loop and returns its output
/// (QtAsyncio's `run(coro, keep_running=False)`).
///
/// Uses the thread's open loop if it has one (and leaves it open), else
/// creates one and closes it at the end, cancelling leftover tasks.
pub fn run<F>(fut: F) -> Result<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    run_with(fut, RunOptions::default())
}

/// Runs `fut` as [`RunOptions`] say.
pub fn run_with<F>(fut: F, opts: RunOptions) -> Result<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    with_loop(opts, |lp| {
        if opts.keep_running {
            let mut task = lp.create_task(fut);
            lp.run_forever()?;
            match task.take_output() {
                Some(r) => r.map_err(Error::from),
                None => Err(Error::StoppedBeforeComplete),
            }
        } else {
            lp.run_until_complete(fut)
        }
    })
}

/// Runs this thread's loop until `stop()` (QtAsyncio's `run()` with no
/// coroutine).
pub fn run_forever() -> Result<()> {
    with_loop(
        RunOptions {
            keep_running: true,
            ..RunOptions::default()
        },
        |lp| lp.run_forever(),
    )
}

fn with_loop<T>(opts: RunOptions, body: impl FnOnce(&EventLoop) -> Result<T>) -> Result<T> {
    let (lp, created) = match get_event_loop() {
        Ok(lp) if lp.is_running() => return Err(Error::AlreadyRunning),
        Ok(lp) => (lp, false),
        Err(_) => (EventLoop::new()?, true),
    };
    let debug_before = lp.get_debug();
    if opts.debug {
        lp.set_debug(true);
    }
    let sigint = if opts.handle_sigint {
        Some(SigintGuard::install(&lp)?)
    } else {
        None
    };
    let result = body(&lp);
    drop(sigint);
    lp.set_debug(debug_before);
    if created {
        lp.close()?;
    }
    if opts.quit_qapp {
        crate::driver::app::quit_application();
    }
    result
}

/// Turns SIGINT into `stop()` while it lives.
struct SigintGuard {
    handle: signal_hook::iterator::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SigintGuard {
    fn install(lp: &EventLoop) -> Result<Self> {
        let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT])
            .map_err(|e| Error::Qt(format!("cannot install the SIGINT handler: {e}")))?;
        let handle = signals.handle();
        let remote = lp.handle();
        let thread = std::thread::Builder::new()
            .name("qtloop-sigint".into())
            .spawn(move || {
                let mut first = true;
                for sig in signals.forever() {
                    if first {
                        log::info!("SIGINT: stopping the event loop (again to kill)");
                        remote.stop();
                        first = false;
                    } else {
                        // A second Ctrl+C does what Ctrl+C always does.
                        let _ = signal_hook::low_level::emulate_default_handler(sig);
                    }
                }
            })
            .map_err(|e| Error::Qt(format!("cannot start the SIGINT thread: {e}")))?;
        Ok(Self {
            handle,
            thread: Some(thread),
        })
    }
}

impl Drop for SigintGuard {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
