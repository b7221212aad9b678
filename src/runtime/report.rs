//! Reporting to the exception handler of this thread's loop, for the
//! libraries whose user code panics outside a callback of the core (qi
//! callbacks, signal subscribers, periodic tasks, QML jobs, services).

use super::exception::ExceptionContext;

/// Hands `ctx` to the exception handler of this thread's loop (open or
/// closing), or logs it
/// at ERROR if the thread has none (panics of qi callbacks, signal
/// subscribers and periodic tasks go through here).
pub(crate) fn report(ctx: ExceptionContext) {
    // Also while the loop closes: what its drops report reaches its handler.
    match super::inner::current() {
        Some(inner) => inner.call_exception_handler(ctx),
        None => log::error!("{ctx}"),
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
