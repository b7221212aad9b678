//! The seed's services on D-Bus, served from the qtloop thread: `bang`
//! emits `onBang(42)` (MyFooService); `bar` blocks the service's thread for
//! its delay while `betterBar` answers after the same delay without
//! blocking anything (Foo). Run `foo_client` against it.
//!
//! ```text
//! cargo run --features dbus --example foo_service -- [--delay-ms 500]
//! ```
//! It serves `org.qtloop.Foo` on the session bus until Ctrl+C.

use std::time::Duration;

use qtloop::service::ServiceBuilder;
use qtloop::RunOptions;

/// The service's state: it lives on the loop thread.
#[derive(Default)]
struct Foo {
    bangs: u32,
}

/// libqi's `mycrazydelay`: takes its time, then gives the delay back.
fn crazy_delay(delay: Duration) -> u32 {
    std::thread::sleep(delay);
    delay.as_millis() as u32
}

async fn serve(delay: Duration) -> qtloop::Result<()> {
    let mut builder = ServiceBuilder::new("org.qtloop.Foo", Foo::default());
    let on_bang = builder.signal::<i32>("onBang");
    builder.method("bang", move |state: &mut Foo, (): ()| {
        state.bangs += 1;
        on_bang.emit(42);
        Ok(state.bangs)
    });
    // Blocks the service's (loop) thread, as the seed's `bar` does.
    builder.method("bar", move |_: &mut Foo, (): ()| Ok(crazy_delay(delay)));
    // Returns at once; the reply goes when the future finishes.
    builder.async_method("betterBar", move |_: &mut Foo, (): ()| async move {
        qtloop::sleep(delay).await?;
        Ok(delay.as_millis() as u32)
    });
    let svc = builder.register().await?;
    println!(
        "serving {} at {} as {} (delay {} ms); Ctrl+C stops",
        svc.name(),
        svc.path(),
        svc.connection()
            .unique_name()
            .map_or("?".into(), |n| n.to_string()),
        delay.as_millis()
    );
    std::future::pending::<()>().await;
    Ok(())
}

fn main() -> qtloop::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let delay_ms = args
        .iter()
        .position(|a| a == "--delay-ms")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(500), |v| v.parse::<u64>())
        .map_err(|e| qtloop::Error::InvalidArgument(format!("--delay-ms: {e}")))?;
    let opts = RunOptions {
        keep_running: true,
        handle_sigint: true,
        ..RunOptions::default()
    };
    match qtloop::run_with(serve(Duration::from_millis(delay_ms)), opts) {
        // Ctrl+C stops the loop before `serve` ends: that is the way out.
        Err(qtloop::Error::StoppedBeforeComplete) => Ok(()),
        r => r?,
    }
}
