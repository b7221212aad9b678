//! Child processes on the loop's reactor (asyncio `create_subprocess_exec`).
//!
//! [`Command`] mirrors `std::process::Command`. The child's piped stdin,
//! stdout and stderr are non-blocking pipes that the loop waits on
//! ([`ChildStdin`] is `futures::io::AsyncWrite`, [`ChildStdout`] and
//! [`ChildStderr`] are `AsyncRead`), and [`Child::wait`] waits for the exit
//! on a `pidfd` (Linux 5.3 and later) or, where there is none, on a SIGCHLD
//! self-pipe: no thread per child. A child dropped before it was waited for
//! is reaped anyway (on a small thread, after `kill` with
//! [`Command::kill_on_drop`]), so no zombie is left behind.
//!
//! ```
//! use futures::io::AsyncReadExt;
//! use qtloop::process::{Command, Stdio};
//! qtloop::run(async {
//!     let out = Command::new("/bin/sh").arg("-c").arg("echo hi; exit 3").output().await?;
//!     assert_eq!(out.stdout, b"hi\n");
//!     assert_eq!(out.status.code(), Some(3));
//!
//!     let mut child = Command::new("/bin/echo").arg("piped").stdout(Stdio::piped()).spawn()?;
//!     let mut text = String::new();
//!     child.stdout.take().unwrap().read_to_string(&mut text).await?;
//!     assert!(child.wait().await?.success());
//!     assert_eq!(text, "piped\n");
//!     Ok::<_, std::io::Error>(())
//! })??;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod pipe;

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{self as sys, ExitStatus, Output};

pub use pipe::{ChildStderr, ChildStdin, ChildStdout};
pub use std::process::Stdio;

use crate::net::Async;

/// A process builder, as `std::process::Command`, whose children are
/// awaited on the loop.
#[derive(Debug)]
pub struct Command {
    inner: sys::Command,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    kill_on_drop: bool,
}

impl Command {
    /// A command for the program `program` (found on `PATH` if it has no
    /// slash).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            inner: sys::Command::new(program),
            stdin: None,
            stdout: None,
            stderr: None,
            kill_on_drop: false,
        }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable of the child.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env(key, value);
        self
    }

    /// Removes an environment variable of the child.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Sets the child's working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// The child's stdin (`Stdio::piped()` gives [`Child::stdin`]).
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.stdin = Some(cfg.into());
        self
    }

    /// The child's stdout (`Stdio::piped()` gives [`Child::stdout`]).
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.stdout = Some(cfg.into());
        self
    }

    /// The child's stderr (`Stdio::piped()` gives [`Child::stderr`]).
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.stderr = Some(cfg.into());
        self
    }

    /// Kill the child (SIGKILL) when its [`Child`] is dropped before it
    /// exited. Off by default, as in tokio: a dropped child keeps running
    /// (and is reaped when it exits).
    pub fn kill_on_drop(&mut self, yes: bool) -> &mut Command {
        self.kill_on_drop = yes;
        self
    }

    /// Starts the child. Pipes are registered with this thread's loop;
    /// without an open loop on this thread nothing is started.
    pub fn spawn(&mut self) -> io::Result<Child> {
        crate::get_event_loop().map_err(crate::net::loop_error)?;
        if let Some(s) = self.stdin.take() {
            self.inner.stdin(s);
        }
        if let Some(s) = self.stdout.take() {
            self.inner.stdout(s);
        }
        if let Some(s) = self.stderr.take() {
            self.inner.stderr(s);
        }
        let mut child = self.inner.spawn()?;
        let stdin = child.stdin.take().map(ChildStdin::new).transpose();
        let stdout = child.stdout.take().map(ChildStdout::new).transpose();
        let stderr = child.stderr.take().map(ChildStderr::new).transpose();
        let exit = ExitWatch::new(&child);
        let mut child = Child {
            child: Some(child),
            exit: None,
            status: None,
            kill_on_drop: self.kill_on_drop,
            stdin: None,
            stdout: None,
            stderr: None,
        };
        // Any failure from here on still reaps the child (Child's drop).
        child.exit = Some(exit?);
        child.stdin = stdin?;
        child.stdout = stdout?;
        child.stderr = stderr?;
        Ok(child)
    }

    /// Runs the child to its end and collects its stdout and stderr
    /// (captured unless set otherwise; stdin is null unless set).
    pub async fn output(&mut self) -> io::Result<Output> {
        self.stdin.get_or_insert_with(Stdio::null);
        self.stdout.get_or_insert_with(Stdio::piped);
        self.stderr.get_or_insert_with(Stdio::piped);
        let mut child = self.spawn()?;
        child.wait_with_output().await
    }

    /// Runs the child to its end (inheriting stdio unless set).
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait().await
    }
}

/// `QTLOOP_CHILD_WAIT=sigchld` makes children wait on the SIGCHLD pipe even
/// where pidfds exist (read once; the tests use it).
fn use_sigchld() -> bool {
    static SIGCHLD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SIGCHLD.get_or_init(|| std::env::var_os("QTLOOP_CHILD_WAIT").is_some_and(|v| v == "sigchld"))
}

/// Waits for the exit of one child: its pidfd, or a SIGCHLD pipe.
#[derive(Debug)]
enum ExitWatch {
    Pidfd(Async<OwnedFd>),
    Signal(pipe::SigchldPipe),
}

impl ExitWatch {
    fn new(child: &sys::Child) -> io::Result<ExitWatch> {
        let pid = rustix::process::Pid::from_child(child);
        if !use_sigchld() {
            if let Ok(fd) = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
                return Ok(ExitWatch::Pidfd(Async::new(fd)?));
            }
        }
        Ok(ExitWatch::Signal(pipe::SigchldPipe::new()?))
    }

    async fn changed(&self) -> io::Result<()> {
        match self {
            ExitWatch::Pidfd(fd) => fd.readable().await,
            ExitWatch::Signal(p) => p.next().await,
        }
    }
}

/// A running (or exited) child process.
#[derive(Debug)]
pub struct Child {
    child: Option<sys::Child>,
    exit: Option<ExitWatch>,
    status: Option<ExitStatus>,
    kill_on_drop: bool,
    /// The child's stdin, if it was piped.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if it was piped.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if it was piped.
    pub stderr: Option<ChildStderr>,
}

impl Child {
    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, sys::Child::id)
    }

    fn inner(&mut self) -> &mut sys::Child {
        self.child.as_mut().expect("present until drop")
    }

    /// Sends SIGKILL (no effect once the child was reaped).
    pub fn kill(&mut self) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        self.inner().kill()
    }

    /// The exit status if the child has exited, without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.inner().try_wait()?;
        }
        Ok(self.status)
    }

    /// Waits for the child to exit. Closes its stdin first (so a child
    /// that reads to the end can finish), as `std` and tokio do.
    /// Cancel-safe: dropping the future leaves the child as it was.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            self.exit.as_ref().expect("set by spawn").changed().await?;
        }
    }

    /// Waits for the exit while reading stdout and stderr to their ends.
    pub async fn wait_with_output(&mut self) -> io::Result<Output> {
        use futures::io::AsyncReadExt;
        drop(self.stdin.take());
        let (mut out, mut err) = (self.stdout.take(), self.stderr.take());
        let read_out = async {
            let mut v = Vec::new();
            if let Some(o) = out.as_mut() {
                o.read_to_end(&mut v).await?;
            }
            Ok::<_, io::Error>(v)
        };
        let read_err = async {
            let mut v = Vec::new();
            if let Some(e) = err.as_mut() {
                e.read_to_end(&mut v).await?;
            }
            Ok::<_, io::Error>(v)
        };
        let (stdout, stderr) = futures::try_join!(read_out, read_err)?;
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if self.status.is_some() {
            return;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        if self.kill_on_drop {
            let _ = child.kill();
        }
        // Not exited yet: reap it when it does, so no zombie stays.
        let reaper = std::thread::Builder::new().name("qtloop-reaper".into());
        if reaper
            .spawn(move || {
                let _ = child.wait();
            })
            .is_err()
        {
            log::warn!("qtloop: could not start a thread to reap a dropped child process");
        }
    }
}

fn nonblocking_file(fd: impl Into<OwnedFd>) -> io::Result<Async<File>> {
    Async::new(File::from(fd.into()))
}
