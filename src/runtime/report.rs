//! Reporting to the exception handler of this thread's loop, for the
//! libraries whose user code panics outside a callback of the core (qi
//! callbacks, signal subscribers, periodic tasks, QML jobs, services).

use super::exception::ExceptionContext;

/// Hands `ctx` to the exception handler of this thread's loop (open or
/// closing), or to the default handler if the thread has none (it logs at
/// ERROR, or prints to stderr without a logger).
pub(crate) fn report(ctx: ExceptionContext) {
    // Also while the loop closes: what its drops report reaches its handler.
    match super::inner::current() {
        Some(inner) => inner.call_exception_handler(ctx),
        None => super::inner::default_handler(&ctx),
    }
}

/// [`report`] for a panic payload.
pub(crate) fn report_panic(message: impl Into<String>, payload: &(dyn std::any::Any + Send)) {
    report(ExceptionContext {
        message: message.into(),
        panic: Some(crate::error::panic_message(payload)),
        ..ExceptionContext::default()
    });
}

/// [`report`] for a panic payload that is consumed: the payload is dropped
/// under a guard (a payload whose `Drop` panics takes nothing down).
pub(crate) fn report_panic_payload(
    message: impl Into<String>,
    payload: Box<dyn std::any::Any + Send>,
) {
    report(ExceptionContext {
        message: message.into(),
        panic: Some(crate::error::into_panic_message(payload)),
        ..ExceptionContext::default()
    });
}
