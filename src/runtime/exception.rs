//! The exception handler: where panics of callbacks and tasks go.

use std::fmt;
use std::panic::Location;

/// What went wrong, as asyncio's exception-handler context.
#[derive(Debug, Clone, Default)]
pub struct ExceptionContext {
    /// asyncio's `message`, e.g. "Exception in callback ...".
    pub message: String,
    /// The panic message, if a panic caused this.
    pub panic: Option<String>,
    /// The callback's type name.
    pub callback: Option<&'static str>,
    /// Where the callback was scheduled.
    pub location: Option<&'static Location<'static>>,
    /// The task's name or id, if a task caused this.
    pub task: Option<String>,
    /// Another context this one is about (a handler that itself failed).
    pub context: Option<Box<ExceptionContext>>,
}

impl ExceptionContext {
    /// A context with just a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            ..Self::default()
        }
    }
}

impl fmt::Display for ExceptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(cb) = self.callback {
            write!(f, "\ncallback: {cb}")?;
        }
        if let Some(at) = self.location {
            write!(f, "\nscheduled at: {at}")?;
        }
        if let Some(t) = &self.task {
            write!(f, "\ntask: {t}")?;
        }
        if let Some(p) = &self.panic {
            write!(f, "\npanic: {p}")?;
        }
        if let Some(c) = &self.context {
            write!(f, "\nwhile handling: {c}")?;
        }
        Ok(())
    }
}
